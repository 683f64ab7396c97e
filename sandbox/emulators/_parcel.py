"""What the parcel-carrier emulators share: credentials, admission (faults), shipments in the store, tracking by the
compressed clock, and carrier-shaped errors. Each emulator module keeps only its wire format.

A shipment created through an emulator is a booking plus its label in the sandbox store (so ``/_inspect/bookings``
lists both); a last-mile courier's delivery is a slot. Tracking is computed when polled: the events of the
carrier's scenario whose virtual day has been reached since creation, ``seconds_per_day`` real seconds a day.
"""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs

import structlog
from fastapi import Request, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict

from sandbox.aftermath import defer
from sandbox.context import Sandbox
from sandbox.errors import SandboxError
from sandbox.faults import FAULT_HEADER, FaultContext, FaultRule, effect_of, parse_fault_header
from sandbox.models import HistoryEntry, Money, Parcel
from sandbox.partners import PARTNERS, Operation, Partner
from sandbox.records import (
    BookingRecord,
    BookingState,
    LabelRecord,
    LabelState,
    Record,
    RecordKind,
    SlotState,
)
from sandbox.rules import check_lane, check_parcels, price
from sandbox.scenarios import CarrierStep, carrier_api_steps

log = structlog.get_logger(__name__)

CREDENTIALS: dict[str, dict[str, str]] = {"ups": {}, "dhl_express": {}, "fedex": {}, "roadie": {}}
"""Accepted credentials per carrier: client id (or API key) -> secret. An empty dict accepts any non-empty pair
(development); the integrator fills it with each partner's sandbox secrets. Roadie's bearer key is the client id
and its secret is ignored."""

LABEL_PDF_BASE64 = (
    "JVBERi0xLjMKJeLjz9MKMSAwIG9iago8PAovUHJvZHVjZXIgKHB5cGRmKQo+PgplbmRvYmoKMiAwIG9iago8PAovVHlwZSAvUGFnZXMKL0Nv"
    "dW50IDEKL0tpZHMgWyA0IDAgUiBdCj4+CmVuZG9iagozIDAgb2JqCjw8Ci9UeXBlIC9DYXRhbG9nCi9QYWdlcyAyIDAgUgo+PgplbmRvYmoK"
    "NCAwIG9iago8PAovVHlwZSAvUGFnZQovUmVzb3VyY2VzIDw8Cj4+Ci9NZWRpYUJveCBbIDAuMCAwLjAgMjg4IDQzMiBdCi9QYXJlbnQgMiAw"
    "IFIKPj4KZW5kb2JqCnhyZWYKMCA1CjAwMDAwMDAwMDAgNjU1MzUgZiAKMDAwMDAwMDAxNSAwMDAwMCBuIAowMDAwMDAwMDU0IDAwMDAwIG4g"
    "CjAwMDAwMDAxMTMgMDAwMDAgbiAKMDAwMDAwMDE2MiAwMDAwMCBuIAp0cmFpbGVyCjw8Ci9TaXplIDUKL1Jvb3QgMyAwIFIKL0luZm8gMSAw"
    "IFIKPj4Kc3RhcnR4cmVmCjI1NgolJUVPRgo="
)
"""A blank 4x6 inch one-page PDF: the label every emulator returns (small, and a real PDF Karrio can bundle)."""

LB_PER_KG = 2.20462
CM_PER_IN = 2.54


# -- errors in the carrier's own shape -------------------------------------------------------------


class AuthError(Exception):
    """Missing, malformed or wrong credentials; the emulator answers 401 in its carrier's error shape."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


ErrorRenderer = Callable[[int, str, str], Response]
"""(HTTP status, error code, message) -> the carrier's error response."""


def carrier_route(render: ErrorRenderer) -> type[APIRoute]:
    """An `APIRoute` class answering `SandboxError` (faults, rules) and `AuthError` in the carrier's error shape.

    The sandbox's own ``{"error": ...}`` body would not parse in Karrio; a carrier's does, as the real one would.
    """

    class CarrierRoute(APIRoute):
        def get_route_handler(self) -> Callable[[Request], Awaitable[Response]]:
            handler = super().get_route_handler()

            async def handle(request: Request) -> Response:
                try:
                    return await handler(request)
                except AuthError as exc:
                    return render(401, "UNAUTHORIZED", exc.message)
                except SandboxError as exc:
                    response = render(exc.status, exc.code, exc.message)
                    response.headers.update(exc.headers)
                    return response

            return handle

    return CarrierRoute


# -- credentials -----------------------------------------------------------------------------------


def check_secret(carrier: str, client_id: str, secret: str) -> None:
    """Raises `AuthError` unless the pair is accepted for ``carrier`` (see `CREDENTIALS`)."""
    if not client_id.strip() or not secret.strip():
        raise AuthError(f"{carrier}: client id and secret must both be non-empty")
    known = CREDENTIALS.get(carrier, {})
    if known and known.get(client_id) != secret:
        raise AuthError(f"{carrier}: unknown client id or wrong secret")


def basic_credentials(carrier: str, authorization: str | None) -> str:
    """Checks an ``Authorization: Basic`` header; returns the client id."""
    scheme, _, value = (authorization or "").partition(" ")
    if scheme.lower() != "basic" or not value.strip():
        raise AuthError(f"{carrier}: send Authorization: Basic base64(client_id:client_secret)")
    try:
        client_id, sep, secret = base64.b64decode(value.strip(), validate=True).decode().partition(":")
    except (ValueError, UnicodeDecodeError) as exc:
        raise AuthError(f"{carrier}: the Basic credentials are not base64 of client_id:client_secret") from exc
    if not sep:
        raise AuthError(f"{carrier}: the Basic credentials have no ':' between client id and secret")
    check_secret(carrier, client_id, secret)
    return client_id


def issue_token(carrier: str, client_id: str) -> str:
    """An opaque bearer token for ``client_id``; `bearer_client` reads it back."""
    return f"sbx.{carrier}.{base64.urlsafe_b64encode(client_id.encode()).decode()}"


def bearer_client(carrier: str, authorization: str | None) -> str:
    """Checks an ``Authorization: Bearer`` token issued by this carrier's token endpoint; returns the client id."""
    scheme, _, token = (authorization or "").partition(" ")
    prefix = f"sbx.{carrier}."
    if scheme.lower() != "bearer" or not token.startswith(prefix):
        raise AuthError(f"{carrier}: send Authorization: Bearer <access_token from the token endpoint>")
    try:
        return base64.urlsafe_b64decode(token.removeprefix(prefix)).decode()
    except (ValueError, UnicodeDecodeError) as exc:
        raise AuthError(f"{carrier}: the access token is malformed") from exc


def api_key(carrier: str, authorization: str | None) -> str:
    """Checks an ``Authorization: Bearer <api key>`` header (a key issued out of band, as couriers do)."""
    scheme, _, key = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise AuthError(f"{carrier}: send Authorization: Bearer <api key>")
    known = CREDENTIALS.get(carrier, {})
    if known and key.strip() not in known:
        raise AuthError(f"{carrier}: unknown API key")
    return key.strip()


# -- admission ---------------------------------------------------------------------------------------


async def admit(
    sb: Sandbox, request: Request, partner: str, operation: Operation, shipment_id: str, *, use_header: bool = True
) -> str | None:
    """Applies the ``X-Sandbox-Fault`` header or the fault rules to an emulator call.

    A create books and hands over in one call: it is admitted as ``book`` (header or rules), then as ``handover``
    or ``schedule`` with ``use_header=False`` (rules only), where ``kind: scenario`` rules pick its variant.

    Like `Sandbox.admit` without its Idempotency-Key requirement (carriers do not demand one; see `idempotency_key`)
    and without the partner-kind check (an emulator serves exactly its carrier's operations).

    Returns:
        The tracking scenario variant a ``scenario`` fault chose, if one fired.

    Raises:
        SandboxError: For a malformed fault header or an injected fault.
    """
    header = request.headers.get(FAULT_HEADER) if use_header else None
    rule: FaultRule | None
    if header is not None:
        rule = parse_fault_header(header, operation)
    else:
        rule = sb.faults.select(FaultContext(partner=partner, operation=operation, shipment_id=shipment_id),
                                sb.elapsed_s())
    if rule is None:
        return None
    effect = effect_of(rule, sb.config.timeout_fault_seconds)
    log.info("fault_injected", partner=partner, operation=str(operation), shipment_id=shipment_id,
             kind=str(rule.kind), from_header=header is not None)
    if effect.sleep_s > 0:
        await asyncio.sleep(effect.sleep_s)
    if effect.error is not None:
        raise effect.error
    defer(effect)
    return effect.scenario


def idempotency_key(request: Request, transaction_header: str) -> str:
    """The key a create is deduplicated by: ``Idempotency-Key``, else the carrier's transaction header.

    Without either every create is new, as at the real carrier.
    """
    for name in ("Idempotency-Key", transaction_header):
        value = (request.headers.get(name) or "").strip()
        if value:
            return value
    return f"unkeyed:{uuid.uuid4()}"


REPLAY_HASH = "carrier-transaction"
"""The request hash every emulator create is stored with. Carriers match a retry by its transaction id alone, and
Karrio stamps each request with the time (DHL's MessageTime, Roadie's pickup_after), so a retry a second later has
another body yet must replay the same shipment: the store's body comparison is neutralised with one constant."""


# -- shipments ---------------------------------------------------------------------------------------


class ParcelShipment(BaseModel):
    """A carrier shipment as the emulators need it, whatever the wire format."""

    model_config = ConfigDict(frozen=True)

    shipment_id: str
    """Tradelane's reference where the request carries one (fault rules and inspection match it)."""
    origin_country: str
    destination_country: str
    parcels: list[Parcel]


class Created(BaseModel):
    """The booking and label of a created shipment, and whether this call created them."""

    booking: BookingRecord
    label: LabelRecord
    created: bool


def carrier(name: str) -> Partner:
    """The partner-table entry of an emulated carrier."""
    return PARTNERS[name]


def parcel(weight_kg: float, length_cm: float, width_cm: float, height_cm: float) -> Parcel:
    """A sandbox parcel; zero dimensions (a carrier request may leave them out) count as 1 cm."""
    return Parcel(weight_kg=max(weight_kg, 0.001), length_cm=max(length_cm, 1), width_cm=max(width_cm, 1),
                  height_cm=max(height_cm, 1))


def quote(partner: str, shipment: ParcelShipment) -> Money:
    """Prices a shipment by the partner table's formula, after its lane and parcel limits."""
    terms = carrier(partner)
    check_lane(terms, shipment.origin_country, shipment.destination_country)
    check_parcels(terms, shipment.parcels)
    breakdown = price(terms, shipment.parcels)
    return Money.of(breakdown.amount, breakdown.currency)


def scenario_note(variant: str | None) -> str | None:
    """The first history entry's comment naming a tracking scenario variant (read back by `reached_events`)."""
    return None if variant is None else f"scenario={variant}"


async def create_shipment(
    sb: Sandbox, partner: str, key: str, req_hash: str, shipment: ParcelShipment, variant: str | None
) -> Created:
    """Books the shipment and issues its label once per key; a replay returns the same pair.

    The booking is handed over at once (a carrier shipment is created when the parcel is ready), so it starts in
    transit; its tracking scenario variant, if any, is noted on its first history entry.
    """

    def make(booking_id: str, now: datetime) -> BookingRecord:
        price_ = quote(partner, shipment)
        return BookingRecord(
            kind=RecordKind.BOOKING, partner=partner, id=booking_id, shipment_id=shipment.shipment_id,
            state=BookingState.IN_TRANSIT, idempotency_key=key, request_hash=req_hash, created_at=now,
            history=[HistoryEntry(state=BookingState.IN_TRANSIT, at=now, comment=scenario_note(variant))],
            mode=carrier(partner).carrier_terms().mode, price=price_, quote_id=None,
            origin_country=shipment.origin_country, destination_country=shipment.destination_country,
            handed_over=True,
        )

    booking, created = await sb.store.create(RecordKind.BOOKING, partner, key, req_hash, make)
    label, _ = await sb.store.create_label(partner, booking.id, key, req_hash,
                                           carrier(partner).carrier_terms().tracking_number)
    return Created(booking=booking, label=label, created=created)


async def find_label(sb: Sandbox, partner: str, tracking_number: str) -> tuple[BookingRecord, LabelRecord] | None:
    """The booking and label a partner's tracking number belongs to, or None."""
    records = await sb.store.records()
    label = next((r for r in records if isinstance(r, LabelRecord) and r.partner == partner
                  and r.tracking_number == tracking_number), None)
    if label is None:
        return None
    booking = next(r for r in records if isinstance(r, BookingRecord) and r.id == label.booking_id)
    return booking, label


async def cancel_shipment(sb: Sandbox, booking: BookingRecord, label: LabelRecord) -> None:
    """Voids the label and cancels the booking (each idempotent); tracking stops at this moment."""
    await sb.store.transition(Operation.VOID, label.partner, label.id)
    await sb.store.transition(Operation.CANCEL, booking.partner, booking.id)


def slot_number(slot_id: str) -> int:
    """The number in a slot id (``SLT-000042`` -> 42): a courier's integer shipment id."""
    return int(slot_id.rsplit("-", 1)[-1])


def slot_id(number: int) -> str:
    """The slot id of a courier's integer shipment id (42 -> ``SLT-000042``)."""
    return f"SLT-{number:06d}"


# -- tracking ----------------------------------------------------------------------------------------


class Reached(BaseModel):
    """One scenario event a shipment has reached, with its virtual time and filled-in location."""

    model_config = ConfigDict(frozen=True)

    step: CarrierStep
    occurred_at: datetime
    location: str
    """The location template filled in: a country code, or country and postal code for a courier."""


_CLOSED = frozenset({BookingState.CANCELLED, LabelState.VOIDED, SlotState.RELEASED})


def _variant(record: Record) -> str | None:
    note = record.history[0].comment if record.history else None
    return note.removeprefix("scenario=") if note and note.startswith("scenario=") else None


def _closed_at(record: Record) -> datetime | None:
    return next((h.at for h in record.history if h.state in _CLOSED), None)


def reached_events(sb: Sandbox, record: Record, place: Mapping[str, str]) -> list[Reached]:
    """The scenario events ``record`` has reached by the compressed clock, oldest first.

    Virtual days since creation are real seconds / ``seconds_per_day`` (0 means every event at once). A cancelled
    shipment reports only what happened before it was cancelled.
    """
    end = _closed_at(record) or sb.clock.now()
    elapsed_s = max(0.0, (end - record.created_at).total_seconds())
    per_day = sb.config.seconds_per_day
    days = float("inf") if per_day == 0 else elapsed_s / per_day
    fill = {"origin": "", "destination": "", "postal_code": "", **place}
    return [
        Reached(step=step, occurred_at=record.created_at + timedelta(days=step.day_offset),
                location=step.location.format_map(fill).strip())
        for step in carrier_api_steps(record.partner, _variant(record))
        if step.day_offset <= days
    ]


def form_field(raw: bytes, name: str) -> str:
    """One field of an ``application/x-www-form-urlencoded`` body ("" when absent)."""
    return (parse_qs(raw.decode(errors="replace")).get(name) or [""])[0]


def json_body(raw: bytes, what: str) -> Any:
    """Parses a JSON request body or raises 400 naming what was expected."""
    try:
        return json.loads(raw or b"null")
    except ValueError as exc:
        raise SandboxError(400, "INVALID_REQUEST", f"{what}: body is not JSON ({exc})") from exc


def business_days_after(start: datetime, days: int) -> datetime:
    """The day `days` business days (Monday to Friday) after `start`: when express carriers commit to deliver."""
    day = start
    while days > 0:
        day += timedelta(days=1)
        days -= day.weekday() < 5
    return day
