"""Tradelane's own partner dialect (`{base}/partners/{name}/...`), for partners with no public standard.

Rail and road carriers, customs brokers and local couriers publish no common API; for them Tradelane invented
this small JSON format (documented in docs/partners.md), and the sandbox emulates it. Carriers with a published
format speak theirs (`karrio_parcel`, `dcsa`).
"""

from datetime import datetime
from typing import TYPE_CHECKING, Any

import httpx
from pydantic import BaseModel, ValidationError
from temporalio.exceptions import ApplicationError

from activities.errors import PARTNER_BAD_RESPONSE
from activities.protocols.base import Endpoint
from tradelane.decisions.models import Quote
from tradelane.models import ShipmentRequest
from tradelane.partner_api import lane_body, parse_quote, parse_record
from tradelane.shipment.calls import PartnerCall, PartnerRecord
from tradelane.shipment.events import CarrierEvent
from tradelane.tracking_codes import PartnerEvent

if TYPE_CHECKING:
    from activities.http import PartnerGateway

COLLECTIONS = {"booking": "bookings", "label": "labels", "filing": "filings", "slot": "slots"}
"""The collection path of each kind of record (`GET {base}/{collection}`, `POST {base}/{collection}/fence`)."""


class FoundRecord(BaseModel):
    """One record in a lookup's answer (`docs/partners.md`, "Lookup by idempotency key")."""

    kind: str
    id: str
    shipment_id: str
    state: str
    idempotency_key: str
    created_at: datetime
    tracking_number: str | None = None

    def record(self, partner: str) -> PartnerRecord:
        return PartnerRecord(kind=self.kind, partner=partner, ref=self.id, state=self.state,
                             tracking_number=self.tracking_number)


def parse_found(what: str, body: Any) -> list[FoundRecord]:
    """The records of a lookup's answer; one that does not parse is a non-retryable `PartnerBadResponse`."""
    try:
        return [FoundRecord.model_validate(raw) for raw in body["records"]]
    except (KeyError, TypeError, ValidationError) as err:
        raise ApplicationError(f"{what}: the answer is not a list of records: {err}", type=PARTNER_BAD_RESPONSE,
                               non_retryable=True) from None


async def find_records(gateway: "PartnerGateway", partner: str, kind: str, idempotency_key: str | None = None,
                       states: tuple[str, ...] = ()) -> list[FoundRecord]:
    """A dialect partner's `kind` records made under `idempotency_key` (none or one), or all of them in `states`."""
    query = httpx.QueryParams({"idempotency_key": idempotency_key} if idempotency_key else {}).merge(
        {"state": list(states)} if states else {})
    path = f"{COLLECTIONS[kind]}?{query}" if query else COLLECTIONS[kind]
    body = await gateway.call(partner, f"find {kind}", path, method="GET")
    return parse_found(f"{partner} find {kind}", body)


async def find_or_fence(gateway: "PartnerGateway", partner: str, kind: str,
                        idempotency_key: str) -> PartnerRecord | None:
    """The `kind` record a dialect partner made under `idempotency_key`, or None, and then nothing will ever be
    made under it: the partner fences the key, so the step's last attempt, still on its way when its worker died,
    cannot act after this answer (`POST {base}/{collection}/fence`)."""
    body = await gateway.call(partner, f"fence {kind}", f"{COLLECTIONS[kind]}/fence",
                              {"idempotency_key": idempotency_key})
    found = parse_found(f"{partner} fence {kind}", body)
    return found[0].record(partner) if found else None


class TradelaneCarrier:
    """A carrier speaking Tradelane's dialect, called through the gateway's typed HTTP."""

    def __init__(self, gateway: "PartnerGateway") -> None:
        self._gateway = gateway

    async def quote(self, http: httpx.AsyncClient, endpoint: Endpoint, request: ShipmentRequest,
                    origin: str | None, destination: str | None) -> Quote:
        body = await self._gateway.call(endpoint.partner, "quote", "quotes", lane_body(request, origin, destination))
        return parse_quote(body, origin, destination)

    async def book(self, http: httpx.AsyncClient, endpoint: Endpoint, call: PartnerCall) -> PartnerRecord:
        assert call.request is not None, "book needs the shipment request"
        body = await self._gateway.call(call.partner, "book", "bookings",
                                        lane_body(call.request, call.origin, call.destination),
                                        idempotency_key=call.idempotency_key)
        return parse_record("booking", call.partner, body)

    async def cancel_booking(self, http: httpx.AsyncClient, endpoint: Endpoint, call: PartnerCall) -> PartnerRecord:
        body = await self._gateway.call(call.partner, "cancel", f"bookings/{call.ref}/cancel",
                                        {"shipment_id": call.shipment_id}, idempotency_key=call.idempotency_key)
        return parse_record("booking", call.partner, body)

    async def create_label(self, http: httpx.AsyncClient, endpoint: Endpoint, call: PartnerCall) -> PartnerRecord:
        body = await self._gateway.call(call.partner, "label", f"bookings/{call.ref}/labels",
                                        {"shipment_id": call.shipment_id}, idempotency_key=call.idempotency_key)
        return parse_record("label", call.partner, body)

    async def void_label(self, http: httpx.AsyncClient, endpoint: Endpoint, call: PartnerCall) -> PartnerRecord:
        body = await self._gateway.call(call.partner, "void", f"labels/{call.ref}/void",
                                        {"shipment_id": call.shipment_id}, idempotency_key=call.idempotency_key)
        return parse_record("label", call.partner, body)

    async def find(self, http: httpx.AsyncClient, endpoint: Endpoint, kind: str,
                   idempotency_key: str) -> PartnerRecord | None:
        return await find_or_fence(self._gateway, endpoint.partner, kind, idempotency_key)

    async def handover(self, http: httpx.AsyncClient, endpoint: Endpoint, call: PartnerCall) -> None:
        await self._gateway.call(call.partner, "handover", f"bookings/{call.ref}/handover",
                                 {"shipment_id": call.shipment_id, "events_url": call.events_url,
                                  "ready_at": call.ready_at.isoformat() if call.ready_at else None},
                                 idempotency_key=call.idempotency_key)

    async def track(self, http: httpx.AsyncClient, endpoint: Endpoint, shipment_id: str, booking_ref: str,
                    tracking_number: str | None) -> list[CarrierEvent]:
        body = await self._gateway.call(endpoint.partner, "track", f"bookings/{booking_ref}/events", method="GET")
        # The same model the webhook validates, so both paths agree on what an event is.
        # The polled partner is who the events are from, whatever a body says.
        return [PartnerEvent.polled(raw, endpoint.partner) for raw in body["events"]]
