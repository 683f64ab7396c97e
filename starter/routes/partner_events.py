"""Partners' tracking events, pushed as signed webhooks and passed on to the shipment's workflow.

Each event is acknowledged once per `event_id`: a receipt (the body's digest) is kept in the read model, so a
partner's retry is answered again without signalling again, and a reused id with another body is refused.
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
                        _: Partner) -> EventAccepted:
    """A partner's tracking event: signed (`Tradelane-Signature`), idempotent by `event_id`."""
    event = body.normalised(via="webhook")
    digest = hashlib.sha256(await request.body()).hexdigest()
    seen = _receipt(engine, body.shipment_id, body.event_id)
    if seen is not None:
        if seen.body_sha256 != digest:
            raise ApiError(409, "EVENT_ID_REUSED",
                           f"event_id {body.event_id} of shipment {body.shipment_id} was already received "
                           "with a different body")
        return EventAccepted(event_id=body.event_id, status=event.status.value, duplicate=True)
    handle = client.get_workflow_handle(workflow_id(body.shipment_id))
    with not_found_as("SHIPMENT_NOT_ACTIVE", f"no running shipment {body.shipment_id} for event {body.event_id}"):
        await handle.signal(ShipmentWorkflow.carrier_event, event)
    _record_receipt(engine, WebhookReceiptRow(event_id=body.event_id, partner=body.partner,
                                              shipment_id=body.shipment_id, body_sha256=digest,
                                              received_at=datetime.now(UTC)))
    return EventAccepted(event_id=body.event_id, status=event.status.value)


def _receipt(engine: Engine, shipment_id: str, event_id: str) -> WebhookReceiptRow | None:
    # The workflow is the truth and drops repeats itself: a read-model outage must not refuse partners' events.
    try:
        return receipt_of(engine, shipment_id, event_id)
    except SQLAlchemyError as err:
        log.warning("webhook receipts unavailable; passing the event on", event_id=event_id, error=str(err))
        return None


def _record_receipt(engine: Engine, receipt: WebhookReceiptRow) -> None:
    try:
        record_receipt(engine, receipt)
    except SQLAlchemyError as err:
        log.warning("webhook receipt not recorded", event_id=receipt.event_id, error=str(err))
