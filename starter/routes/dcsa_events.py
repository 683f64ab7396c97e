"""DCSA Track & Trace 2.2 subscription callbacks: the events an ocean line pushes, passed on to the shipment that
holds the booking.

On handover the DCSA adapter subscribes `POST /v1/partners/{partner}/dcsa/events?carrierBookingReference=<ref>`
(`tradelane.dcsa_events.callback_url`) with a secret of that booking alone: `callback_secret(connection's
callback_secret, ref)`. A callback is therefore taken as:

1. the partner is the path's connection, which must exist and speak DCSA (404 otherwise);
2. it is authentic only if `Notification-Signature` (`sha256=<hex HMAC of the body as received>`, TNT 2.2) verifies
   under the secret derived for the booking the URL names from that connection's credential: the signature proves
   both the partner and the booking, never the body (401 otherwise, before the body is read as JSON);
3. the body is an array of TNT 2.2 events, none naming another booking (422 otherwise);
4. the shipment is the one whose booking with this partner has that reference, from the read model (404 when none);
5. the events are mapped with the booking's ports read from the line (as polling maps them, so an event has one
   status whichever way it came; 503 when the line cannot say, and the line retries), and each goes through the
   same acceptance as Tradelane's own event format (`starter.event_intake.accept_event`): the shipment's refusal
   (403/404), the receipts, the `carrier_event` signal. The workflow drops repeats by (partner, event id), so an
   event that also came by polling counts once.

TNT 2.2 signs no timestamp: a replayed callback is harmless because events are de-duplicated by id. A callback is
answered 204, as TNT 2.2 asks.
"""

import asyncio
import hashlib
import json
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Header, Query, Request, Response
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from temporalio.exceptions import ApplicationError

from activities.http import PartnerGateway
from activities.protocols.base import Endpoint
from activities.protocols.dcsa import booking_ports, callback_secret
from infra.persistence.db import shipments_with_booking
from infra.platform.partner_credentials import MissingCredentials
from starter.deps import EngineDep, GatewayDep, TemporalDep
from starter.errors import ApiError
from starter.event_intake import accept_event
from tradelane.connections import PartnerProtocol, directory
from tradelane.dcsa_events import (
    BOOKING_PARAMETER,
    CALLBACK_PATH,
    DcsaEvent,
    DcsaEventError,
    other_booking,
    parse_events,
    to_carrier_events,
    verify_callback_signature,
)

log = structlog.stdlib.get_logger(__name__)

router = APIRouter(tags=["partners"])

SIGNATURE_HEADER = "Notification-Signature"

_CALLBACK_BODY = {
    "requestBody": {
        "required": True,
        "description": "TNT 2.2 events (`transportEvent`, `shipmentEvent`, `equipmentEvent`) of the subscribed "
                       "booking, as the line's callback sends them.",
        "content": {"application/json": {"schema": {"type": "array", "items": {"type": "object"}}}},
    },
}


@router.post(CALLBACK_PATH, summary="DCSA tracking callback", status_code=204, response_class=Response,
             openapi_extra=_CALLBACK_BODY)
async def dcsa_callback(
    partner: str,
    booking_ref: Annotated[str, Query(alias=BOOKING_PARAMETER, min_length=1, max_length=35,
                                      description="The carrier booking reference the subscription follows.")],
    request: Request, client: TemporalDep, engine: EngineDep, gateway: GatewayDep,
    signature: Annotated[str | None, Header(alias=SIGNATURE_HEADER)] = None,
    subscription_id: Annotated[str | None, Header(alias="Subscription-ID")] = None,
) -> Response:
    """A DCSA line's subscription callback: TNT 2.2 events of one booking, signed (`Notification-Signature`) with
    that booking's subscription secret."""
    endpoint = _dcsa_endpoint(gateway, partner)
    body = await request.body()
    _verify(endpoint, booking_ref, body, signature, subscription_id)
    raw_events, events = _events(body, booking_ref)
    if not events:
        return Response(status_code=204)
    shipment_id = await _shipment_of(engine, partner, booking_ref)
    try:
        ports = await booking_ports(gateway.http, endpoint, booking_ref, "callback")
    except ApplicationError as err:
        log.warning("dcsa callback deferred", partner=partner, booking_ref=booking_ref, error=err.message)
        raise ApiError(503, "BOOKING_UNREADABLE", f"the booking {booking_ref} could not be read from {partner} to "
                       f"place its events ({err.message}); send the callback again later",
                       headers={"Retry-After": "30"}) from None
    mapped = sorted(((to_carrier_events(partner, shipment_id, booking_ref, [raw], ports=ports, via="webhook")[0],
                      _digest(raw)) for raw in raw_events), key=lambda pair: pair[0].occurred_at)
    duplicates = 0
    for event, digest in mapped:
        duplicates += await accept_event(client, engine, event, digest)
    log.info("dcsa callback accepted", partner=partner, booking_ref=booking_ref, shipment_id=shipment_id,
             subscription_id=subscription_id, events=len(mapped), duplicates=duplicates)
    return Response(status_code=204)


def _dcsa_endpoint(gateway: PartnerGateway, partner: str) -> Endpoint:
    """The partner's connection resolved (credentials included), or 404 when the path names no DCSA connection."""
    row = directory().connections.get(partner)
    if row is None or row.protocol is not PartnerProtocol.DCSA:
        raise ApiError(404, "NOT_A_DCSA_PARTNER", f"partner {partner!r} is no DCSA connection: only DCSA lines "
                       "post subscription callbacks here")
    try:
        return gateway.endpoint(partner)
    except MissingCredentials as err:
        # Production with the credential's variable unset: no callback can be checked, so none is taken.
        log.error("dcsa callback refused", partner=partner, problem=str(err))
        raise ApiError(401, "INVALID_SIGNATURE", f"no callback secret is configured for partner {partner}") from None


def _verify(endpoint: Endpoint, booking_ref: str, body: bytes, signature: str | None,
            subscription_id: str | None) -> None:
    """401 unless `signature` signs `body` with the booking's subscription secret, derived from the connection's
    `callback_secret` credential."""
    connection_secret = endpoint.credentials.get("callback_secret")
    if not connection_secret:
        log.warning("dcsa callback refused", partner=endpoint.partner, problem="no callback_secret credential")
        raise ApiError(401, "INVALID_SIGNATURE", f"no callback secret is configured for partner {endpoint.partner}")
    if not signature:
        problem = f"{SIGNATURE_HEADER} is missing"
    elif not verify_callback_signature(callback_secret(connection_secret, booking_ref), body, signature):
        problem = f"{SIGNATURE_HEADER} does not sign this body for booking {booking_ref}"
    else:
        return
    log.warning("dcsa callback refused", partner=endpoint.partner, booking_ref=booking_ref,
                subscription_id=subscription_id, problem=problem)
    raise ApiError(401, "INVALID_SIGNATURE", problem)


def _events(body: bytes, booking_ref: str) -> tuple[list[dict[str, Any]], list[DcsaEvent]]:
    """The callback's events as sent and as read; 422 naming the problem when the body is not TNT 2.2 events of
    this booking."""
    try:
        raw = json.loads(body)
    except (ValueError, RecursionError) as err:
        raise ApiError.invalid([{"field": "body", "message": f"not valid JSON: {str(err)[:200]}"}]) from None
    if not isinstance(raw, list) or not all(isinstance(item, dict) for item in raw):
        raise ApiError.invalid([{"field": "body", "message": "a TNT 2.2 callback is a JSON array of event objects"}])
    try:
        events = parse_events(raw)
    except DcsaEventError as err:
        raise ApiError.invalid([{"field": "body", "message": str(err)}], code="NOT_DCSA_EVENTS") from None
    mismatch = other_booking(events, booking_ref)
    if mismatch is not None:
        index, other = mismatch
        raise ApiError.invalid([{"field": f"body[{index}]", "message": f"names booking {other}; this subscription "
                                 f"follows booking {booking_ref}"}], code="BOOKING_MISMATCH")
    return raw, events


async def _shipment_of(engine: Engine, partner: str, booking_ref: str) -> str:
    """The shipment holding `partner`'s booking `booking_ref` (the read model knows it from the booking on)."""
    try:
        found = await asyncio.to_thread(shipments_with_booking, engine, partner, booking_ref)
    except SQLAlchemyError as err:
        log.warning("dcsa callback deferred", partner=partner, booking_ref=booking_ref, error=str(err))
        raise ApiError(503, "READ_MODEL_UNAVAILABLE", f"cannot look up the shipment of booking {booking_ref} now; "
                       "send the callback again later", headers={"Retry-After": "30"}) from None
    if not found:
        raise ApiError(404, "UNKNOWN_BOOKING", f"no shipment holds {partner}'s booking {booking_ref}")
    if len(found) > 1:
        raise ApiError(409, "AMBIGUOUS_BOOKING", f"{partner}'s booking {booking_ref} is on shipments "
                       f"{', '.join(found)}; a booking reference belongs to one shipment")
    return found[0]


def _digest(raw: dict[str, Any]) -> str:
    """SHA-256 of one event as sent (keys sorted): its receipt's body, so a retry matches and a reused id does not."""
    return hashlib.sha256(json.dumps(raw, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                                     default=str).encode()).hexdigest()
