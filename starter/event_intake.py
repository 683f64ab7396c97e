"""How a partner's tracking event, once its sender is proven, is passed on to the shipment: one rule for every ingress
(Tradelane's own format at `/v1/carrier-events`, DCSA subscription callbacks).

The workflow accepts the event only from a partner holding one of the shipment's bookings, labels or delivery slots,
and only when it names one of that partner's references (`tradelane.shipment.partner_events`). The API checks that in
the read model's partner records and, when they cannot confirm it, asks the workflow's `event_refusal` query, so a
refused event (403, 404, 422) changes nothing, not even the history. Each event is
acknowledged once per (shipment, partner, event id): a receipt (the digest of the event as received) is kept in the
read model, so a retry is answered again without reaching the workflow again, and a reused id with another body is
refused (409). An event of a polled partner the shipment already has (`knows_event`) is acknowledged, not signalled,
and the workflow drops any repeat by (partner, event id) itself, so an event that also arrives by polling counts once.
"""

from datetime import UTC, datetime

import structlog
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from temporalio.client import Client

from infra.persistence.db import has_event, holds_reference
from infra.persistence.receipts import WebhookReceiptRow, receipt_of, record_receipt
from starter.errors import ApiError, not_found_as
from tradelane.connections import event_delivery
from tradelane.keys import workflow_id
from tradelane.shipment.events import CarrierEvent
from tradelane.shipment.partner_events import EventRefusal
from workflows.shipment import ShipmentWorkflow

log = structlog.stdlib.get_logger(__name__)

_REFUSAL_STATUS = {EventRefusal.PARTNER_NOT_ON_SHIPMENT: 403, EventRefusal.UNKNOWN_REFERENCE: 404}


async def accept_event(client: Client, engine: Engine, event: CarrierEvent, digest: str) -> bool:
    """Pass one event of a proven partner (`event.partner`) on to its shipment, once.

    Args:
        client: The Temporal client.
        engine: The read model, which keeps the receipts.
        event: The event, its partner the caller's credential's and its code already mapped.
        digest: SHA-256 (hex) of the event as the partner sent it, to tell a retry from a reused id.

    Returns:
        True when this (shipment, partner, event id) was received before with the same digest, or has already
        reached the shipment by another route (polling): acknowledged again, not passed on again.

    Raises:
        ApiError: 409 EVENT_ID_REUSED (same id, other body), 404 SHIPMENT_NOT_ACTIVE (no running shipment), or the
            shipment's refusal (403 PARTNER_NOT_ON_SHIPMENT, 404 UNKNOWN_REFERENCE, 422 REFERENCE_REQUIRED).
    """
    seen = _receipt(engine, event.shipment_id, event.partner, event.event_id)
    if seen is not None:
        if seen.body_sha256 != digest:
            raise ApiError(409, "EVENT_ID_REUSED",
                           f"event_id {event.event_id} of shipment {event.shipment_id} was already received "
                           "with a different body")
        return True
    handle = client.get_workflow_handle(workflow_id(event.shipment_id))
    with not_found_as("SHIPMENT_NOT_ACTIVE", f"no running shipment {event.shipment_id} for event {event.event_id}"):
        # A shipment only ever gains references, so what the read model or the query accepts the signal may
        # deliver. The workflow is asked only when the read model cannot confirm the partner's reference (not
        # projected yet, or a last-mile partner handed the goods before its slot is answered): a query that comes
        # with a workflow task while a local activity runs trips Core's race (tests/workflows/
        # test_local_activity_query_race.py), which loses the next task's signals at a continue-as-new.
        if not _confirmed(engine, event):
            refused = await handle.query(ShipmentWorkflow.event_refusal, event)
            if refused:
                raise _refused(EventRefusal(refused[0]), refused[1])
        # A partner that is also polled may have delivered it already: acknowledged, not signalled again, so the
        # history holds each event once. (For a push-only partner only a lost receipt repeats one, and the workflow
        # drops that itself: no second query on every push.)
        known = event_delivery(event.partner).polled and (
            _projected(engine, event) or await handle.query(ShipmentWorkflow.knows_event, event))
        if not known:
            await handle.signal(ShipmentWorkflow.carrier_event, event)
    _record_receipt(engine, WebhookReceiptRow(event_id=event.event_id, partner=event.partner,
                                              shipment_id=event.shipment_id, body_sha256=digest,
                                              received_at=datetime.now(UTC)))
    return known


def reference_required() -> ApiError:
    """422: the event names neither the parcel nor the booking it is about."""
    return ApiError.invalid([{"field": "tracking_number", "message": "name the parcel (tracking_number) or the "
                              "booking (booking_ref) the event is about"}], code=EventRefusal.REFERENCE_REQUIRED.value)


def _refused(reason: EventRefusal, message: str) -> ApiError:
    """The shipment's refusal of an event, with the status its reason calls for."""
    if reason is EventRefusal.REFERENCE_REQUIRED:
        return reference_required()
    return ApiError(_REFUSAL_STATUS[reason], reason.value, message)


def _receipt(engine: Engine, shipment_id: str, partner: str, event_id: str) -> WebhookReceiptRow | None:
    # The workflow is the truth and drops repeats itself: a read-model outage must not refuse partners' events.
    try:
        return receipt_of(engine, shipment_id, partner, event_id)
    except SQLAlchemyError as err:
        log.warning("webhook receipts unavailable; passing the event on", event_id=event_id, error=str(err))
        return None


def _confirmed(engine: Engine, event: CarrierEvent) -> bool:
    """Whether the read model shows the partner holding one of the references the event names on its shipment."""
    named = {ref for ref in (event.tracking_number, event.booking_ref) if ref}
    try:
        return holds_reference(engine, event.shipment_id, event.partner, named)
    except SQLAlchemyError as err:
        log.warning("read model unavailable; asking the shipment", event_id=event.event_id, error=str(err))
        return False


def _projected(engine: Engine, event: CarrierEvent) -> bool:
    """Whether the read model already holds the event (it reached the shipment by polling)."""
    try:
        return has_event(engine, event.shipment_id, event.partner, event.event_id)
    except SQLAlchemyError as err:
        log.warning("read model unavailable; asking the shipment", event_id=event.event_id, error=str(err))
        return False


def _record_receipt(engine: Engine, receipt: WebhookReceiptRow) -> None:
    try:
        record_receipt(engine, receipt)
    except SQLAlchemyError as err:
        log.warning("webhook receipt not recorded", event_id=receipt.event_id, error=str(err))
