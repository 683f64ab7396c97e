"""Custom search attributes of a shipment workflow: ops filter by these in the Web UI, e.g.

    TradelaneStatus = "on_hold" AND TradelaneDestination = "JP"
    TradelaneExceptions = "stalled"
    TradelaneFailureCode = "RESTRICTED_GOODS"
"""

from typing import Any

from temporalio.common import SearchAttributeKey, SearchAttributePair, TypedSearchAttributes

from tradelane.enums import Stage, Status
from tradelane.models import ShipmentRequest

STAGE = SearchAttributeKey.for_keyword("TradelaneStage")
STATUS = SearchAttributeKey.for_keyword("TradelaneStatus")
DESTINATION = SearchAttributeKey.for_keyword("TradelaneDestination")
ORIGIN = SearchAttributeKey.for_keyword("TradelaneOrigin")
CARRIER = SearchAttributeKey.for_keyword("TradelaneCarrier")
MODE = SearchAttributeKey.for_keyword("TradelaneMode")
MERCHANT = SearchAttributeKey.for_keyword("TradelaneMerchant")
PENDING_GATE = SearchAttributeKey.for_keyword("TradelanePendingGate")
ESCALATED = SearchAttributeKey.for_bool("TradelaneEscalated")
EXCEPTIONS = SearchAttributeKey.for_keyword_list("TradelaneExceptions")
"""Open exceptions: stalled, late, customs_hold, delivery_failed, carrier_exception."""
ETA = SearchAttributeKey.for_datetime("TradelaneEta")
"""The expected delivery date (UTC midnight) as of the last stage or status change: tracking events revise it in the
state and the read model at once, here with the next upsert (`workflows/shipment/board.py`)."""

FAILURE_CODE = SearchAttributeKey.for_keyword("TradelaneFailureCode")
"""Why a shipment was compensated, rejected or cancelled (a partner's or Tradelane's code), for ops to group by."""

SEARCH_ATTRIBUTES: tuple[SearchAttributeKey, ...] = (
    STAGE, STATUS, DESTINATION, ORIGIN, CARRIER, MODE, MERCHANT, PENDING_GATE, ESCALATED, EXCEPTIONS, ETA,
    FAILURE_CODE,
)


def start_attributes(request: ShipmentRequest) -> tuple[TypedSearchAttributes, dict[str, Any]]:
    """Search attributes and memo a shipment workflow starts with, wherever it is started (API, replenishment).

    The memo is shown in the Web UI: business keys only, never names or addresses.
    """
    attributes = TypedSearchAttributes([
        SearchAttributePair(STAGE, Stage.BOOKING.value), SearchAttributePair(STATUS, Status.IN_PROGRESS.value),
        SearchAttributePair(DESTINATION, request.destination.country),
        SearchAttributePair(ORIGIN, request.origin.country), SearchAttributePair(MERCHANT, request.merchant_id),
    ])
    memo = {"order_ref": request.order_ref, "merchant_id": request.merchant_id,
            "lane": f"{request.origin.country}->{request.destination.country}",
            "service_level": request.service_level.value, "preference": request.preference.value,
            "incoterm": request.incoterm.value, "declared_value": f"{request.declared_value} {request.currency}"}
    for name in ("origin_warehouse", "destination_warehouse"):
        if getattr(request, name) is not None:
            memo[name] = getattr(request, name)
    return attributes, memo
