"""Custom search attributes of a shipment workflow: ops filter by these in the Web UI, e.g.

    TradelaneStatus = "on_hold" AND TradelaneDestination = "JP"
    TradelaneExceptions = "stalled"
    TradelaneFailureCode = "RESTRICTED_GOODS"
"""

from temporalio.common import SearchAttributeKey

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
"""The expected delivery date (UTC midnight), revised on every tracking event."""

FAILURE_CODE = SearchAttributeKey.for_keyword("TradelaneFailureCode")
"""Why a shipment was compensated, rejected or cancelled (a partner's or Tradelane's code), for ops to group by."""

SEARCH_ATTRIBUTES: tuple[SearchAttributeKey, ...] = (
    STAGE, STATUS, DESTINATION, ORIGIN, CARRIER, MODE, MERCHANT, PENDING_GATE, ESCALATED, EXCEPTIONS, ETA,
    FAILURE_CODE,
)
