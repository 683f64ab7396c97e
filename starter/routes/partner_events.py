"""Partners' tracking events in Tradelane's own format, pushed as signed webhooks and passed on to the shipment.

The partner is the one whose API key and signing secret the request carries (`starter.auth`), never the body's
`partner`. What happens next is the same for every ingress (`starter.event_intake.accept_event`): the shipment
accepts the event only from a partner holding one of its bookings, labels or delivery slots and naming one of that
partner's references, else it is refused (403, 404, 422) and changes nothing; each event is acknowledged once per
(partner, `event_id`), and a reused id with another body is refused.
"""

import hashlib

from fastapi import APIRouter, Request
from pydantic import BaseModel

from starter.auth import Partner
from starter.deps import EngineDep, TemporalDep
from starter.errors import ApiError
from starter.event_intake import accept_event, reference_required
from tradelane.tracking_codes import EVENTS_PATH, PartnerEvent

router = APIRouter(tags=["partners"])


class EventAccepted(BaseModel):
    event_id: str
    status: str
    duplicate: bool = False
    """True when this event id was received before: acknowledged again, not passed on again."""


@router.post(EVENTS_PATH, summary="Push a tracking event", status_code=202, response_model=EventAccepted)
async def carrier_event(body: PartnerEvent, request: Request, client: TemporalDep, engine: EngineDep,
                        caller: Partner) -> EventAccepted:
    """A partner's tracking event: signed (`Tradelane-Signature`) with the partner's own secret, idempotent by
    (partner, `event_id`)."""
    partner = caller.name
    if body.partner is not None and body.partner != partner:
        raise ApiError(403, "PARTNER_MISMATCH", f"partner: this key belongs to {partner}, "
                       f"the body says {body.partner}; a partner posts only its own events")
    if not (body.tracking_number or body.booking_ref):
        raise reference_required()
    event = body.model_copy(update={"partner": partner}).normalised(via="webhook")
    digest = hashlib.sha256(await request.body()).hexdigest()
    duplicate = await accept_event(client, engine, event, digest)
    return EventAccepted(event_id=body.event_id, status=event.status.value, duplicate=duplicate)
