"""Partners' tracking events, pushed as signed webhooks and passed on to the shipment's workflow.

The partner is the one whose API key and signing secret the request carries (`starter.auth`), never the body's
`partner`. The workflow accepts the event only from a partner holding one of the shipment's bookings, labels or
delivery slots, and only when it names one of that partner's references (`tradelane.shipment.partner_events`);
anything else is refused (403, 404, 422) and changes nothing. Each event is acknowledged once per (partner,
`event_id`): a receipt (the body's digest) is kept in the read model, so a partner's retry is answered again without
reaching the workflow again, and a reused id with another body is refused.
"""

import hashlib
from datetime import UTC, datetime

import structlog
from fastapi import APIRouter, Request
from pydantic import BaseModel
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from infra.persistence.receipts import WebhookReceiptRow, receipt_of, record_receipt
from starter.auth import Partner
from starter.deps import EngineDep, TemporalDep
from starter.errors import ApiError, not_found_as
from tradelane.keys import workflow_id
from tradelane.shipment.partner_events import EventRefusal
from tradelane.tracking_codes import PartnerEvent
from workflows.shipment import ShipmentWorkflow

log = structlog.stdlib.get_logger(__name__)

router = APIRouter()


class EventAccepted(BaseModel):
    event_id: str
    status: str
    duplicate: bool = False
    """True when this event id was received before: acknowledged again, not passed on again."""


@router.post("/v1/carrier-events", status_code=202, response_model=EventAccepted)
async def carrier_event(body: PartnerEvent, request: Request, client: TemporalDep, engine: EngineDep,
                        caller: Partner) -> EventAccepted:
    """A partner's tracking event: signed (`Tradelane-Signature`) with the partner's own secret, idempotent by
    (partner, `event_id`)."""
    partner = caller.name
    if body.partner is not None and body.partner != partner:
        raise ApiError(403, "PARTNER_MISMATCH", f"partner: this key belongs to {partner}, "
                       f"the body says {body.partner}; a partner posts only its own events")
    if not (body.tracking_number or body.booking_ref):
        raise _reference_required()
    event = body.model_copy(update={"partner": partner}).normalised(via="webhook")
    digest = hashlib.sha256(await request.body()).hexdigest()
    seen = _receipt(engine, body.shipment_id, partner, body.event_id)
    if seen is not None:
        if seen.body_sha256 != digest:
            raise ApiError(409, "EVENT_ID_REUSED",
                           f"event_id {body.event_id} of shipment {body.shipment_id} was already received "
                           "with a different body")
        return EventAccepted(event_id=body.event_id, status=event.status.value, duplicate=True)
    handle = client.get_workflow_handle(workflow_id(body.shipment_id))
    with not_found_as("SHIPMENT_NOT_ACTIVE", f"no running shipment {body.shipment_id} for event {body.event_id}"):
        # A shipment only ever gains references, so what the query accepts the signal may deliver.
        refused = await handle.query(ShipmentWorkflow.event_refusal, event)
        if refused:
            raise _refused(EventRefusal(refused[0]), refused[1])
        await handle.signal(ShipmentWorkflow.carrier_event, event)
    _record_receipt(engine, WebhookReceiptRow(event_id=body.event_id, partner=partner,
                                              shipment_id=body.shipment_id, body_sha256=digest,
                                              received_at=datetime.now(UTC)))
    return EventAccepted(event_id=body.event_id, status=event.status.value)


_REFUSAL_STATUS = {EventRefusal.PARTNER_NOT_ON_SHIPMENT: 403, EventRefusal.UNKNOWN_REFERENCE: 404}


def _refused(reason: EventRefusal, message: str) -> ApiError:
    """The shipment's refusal of an event, with the status its reason calls for."""
    if reason is EventRefusal.REFERENCE_REQUIRED:
        return _reference_required()
    return ApiError(_REFUSAL_STATUS[reason], reason.value, message)


def _reference_required() -> ApiError:
    return ApiError.invalid([{"field": "tracking_number", "message": "name the parcel (tracking_number) or the "
                              "booking (booking_ref) the event is about"}], code=EventRefusal.REFERENCE_REQUIRED.value)


def _receipt(engine: Engine, shipment_id: str, partner: str, event_id: str) -> WebhookReceiptRow | None:
    # The workflow is the truth and drops repeats itself: a read-model outage must not refuse partners' events.
    try:
        return receipt_of(engine, shipment_id, partner, event_id)
    except SQLAlchemyError as err:
        log.warning("webhook receipts unavailable; passing the event on", event_id=event_id, error=str(err))
        return None


def _record_receipt(engine: Engine, receipt: WebhookReceiptRow) -> None:
    try:
        record_receipt(engine, receipt)
    except SQLAlchemyError as err:
        log.warning("webhook receipt not recorded", event_id=receipt.event_id, error=str(err))
