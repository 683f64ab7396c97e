"""A container line speaking DCSA: Booking 2.0 and Track & Trace 2.2 at `/dcsa/{partner}` (the line's API root).

Booking 2.0: `POST /v2/bookings` (202 with the `carrierBookingRequestReference`), `GET`, `PUT` (update before
confirmation, amendment after) and `PATCH` (cancel) on `/v2/bookings/{bookingReference}`. A booking is `RECEIVED`,
then after `DECIDE_AFTER_DAYS` of the compressed clock `CONFIRMED`, or `REJECTED` with a feedback when a rule says
so: the lane is not the partner's, the cargo is over its weight limit, or a `reject` fault fired on `book` (a
business rejection is a booking state in DCSA, not an HTTP error). Cancelling a confirmed booking is a request the
line decides later: declined once the cargo is loaded.

Track & Trace 2.2: `GET /v2/events` (filtered by `carrierBookingReference`, `eventType`, paged with `limit` and a
`Next-Page` cursor) and `/v2/event-subscriptions` (create, list, read, replace, delete, new secret). A booking's
voyage (`sandbox.scenarios.DCSA_SCENARIOS`, `{partner}_dcsa`) starts when someone first follows it (a subscription
on its reference, or a first read of its events): day 0 is then. Each event is POSTed to every matching
subscription's `callbackUrl` as a one-event array, signed as TNT 2.2 says: `Notification-Signature:
sha256=<hex HMAC-SHA256 of the body under the Base64-decoded secret>`, with `Subscription-ID` and `API-Version`.

Shared with the rest of the sandbox: partners, faults (`Sandbox.admit` with book/cancel/track/handover; a
`scenario` fault on handover picks the voyage variant), the compressed clock, the store (every booking is a
booking record there, created under its Idempotency-Key, so the same key answers the same booking) and
`/_inspect/bookings`; `GET /dcsa/{partner}/_inspect` shows the DCSA states. Errors are DCSA error bodies.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from decimal import Decimal
from http import HTTPStatus
from typing import Annotated, Any, Literal, TypeVar

import httpx
import structlog
from fastapi import APIRouter, FastAPI, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from sandbox.context import HeadersDep, Sandbox, SandboxDep, resolve_partner
from sandbox.errors import ErrorCode, SandboxError
from sandbox.faults import APPLIED_HEADER, FaultContext
from sandbox.models import HistoryEntry, Money
from sandbox.partners import Operation, Partner
from sandbox.records import BookingRecord, RecordKind, request_hash
from sandbox.scenarios import DCSA_TRANSSHIPMENT_PORT, DcsaStep, dcsa_steps

log = structlog.get_logger(__name__)

DECIDE_AFTER_DAYS = 0.5
"""Virtual days the line takes to decide a booking, an amendment or a cancellation."""
TNT_VERSION = "2.2.0"
BKG_VERSION = "2.0.5"
PAGE_LIMIT = 100
VESSELS = ({"vesselIMONumber": "9321483", "vesselName": "BLUEWAVE HORIZON"},
           {"vesselIMONumber": "9811000", "vesselName": "BLUEWAVE MERIDIAN"})
"""The vessels of the voyage: the first leg's before the transshipment port, the second's after."""
_IDS = uuid.UUID("6f1c1d2e-8a57-4b8e-9d0b-3c1a2f0e5d41")


# ---- requests (the fields the line checks; the rest is kept as sent) --------------------------------------------


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class _Location(_Open):
    UNLocationCode: str | None = Field(default=None, pattern=r"^[A-Z]{2}[A-Z2-9]{3}$")


class _ShipmentLocation(_Open):
    location: _Location
    locationTypeCode: str = Field(max_length=3)


class _Weight(_Open):
    value: float = Field(gt=0)
    unit: Literal["KGM", "LBR"]


class _Equipment(_Open):
    ISOEquipmentCode: str = Field(min_length=1, max_length=4)
    units: int = Field(ge=1)
    isShipperOwned: bool
    cargoGrossWeight: _Weight | None = None


class _Agent(_Open):
    partyName: str = Field(min_length=1, max_length=70)


class _Parties(_Open):
    bookingAgent: _Agent


class _Reference(_Open):
    type: str = Field(max_length=3)
    value: str = Field(max_length=35)


class CreateBooking(_Open):
    """Booking 2.0 `CreateBooking` (and `UpdateBooking`): its required fields and the ones the line's rules read."""

    receiptTypeAtOrigin: Literal["CY", "SD", "CFS"]
    deliveryTypeAtDestination: Literal["CY", "SD", "CFS"]
    cargoMovementTypeAtOrigin: str = Field(max_length=3)
    cargoMovementTypeAtDestination: str = Field(max_length=3)
    isEquipmentSubstitutionAllowed: bool
    shipmentLocations: list[_ShipmentLocation] = Field(min_length=1)
    requestedEquipments: list[_Equipment] = Field(min_length=1)
    documentParties: _Parties
    references: list[_Reference] = Field(default_factory=list)

    def port(self, code: str) -> str | None:
        return next((s.location.UNLocationCode for s in self.shipmentLocations if s.locationTypeCode == code), None)

    def weight_kg(self) -> float:
        return sum((e.cargoGrossWeight.value * (0.45359237 if e.cargoGrossWeight.unit == "LBR" else 1.0)) * e.units
                   for e in self.requestedEquipments if e.cargoGrossWeight is not None)


class CancelBooking(_Open):
    """Booking 2.0 `CancelBookingRequest`: exactly one of the three status changes, and an optional reason."""

    bookingStatus: Literal["CANCELLED"] | None = None
    amendedBookingStatus: Literal["AMENDMENT_CANCELLED"] | None = None
    bookingCancellationStatus: Literal["CANCELLATION_RECEIVED"] | None = None
    reason: str | None = Field(default=None, max_length=5000)


class SubscriptionBody(_Open):
    """TNT 2.2 `subscriptionBody` (the filters this line applies: booking reference and event types)."""

    callbackUrl: str = Field(min_length=1)
    carrierBookingReference: str | None = Field(default=None, max_length=35)
    eventType: list[Literal["SHIPMENT", "TRANSPORT", "EQUIPMENT"]] | None = None
    secret: str | None = None


class SecretBody(BaseModel):
    secret: str


class _Sent(BaseModel):
    """The request exactly as sent, for the idempotency hash (every field counts, not only the checked ones)."""

    body: dict[str, Any]


# ---- the line's state -------------------------------------------------------------------------------------------


class DcsaBooking(BaseModel):
    """One booking as the line holds it."""

    partner: str
    shipment_id: str
    request_reference: str
    carrier_reference: str | None = None
    status: str = "RECEIVED"
    amended_status: str | None = None
    cancellation_status: str | None = None
    content: dict[str, Any]
    amendment: dict[str, Any] | None = None
    decision: str = "CONFIRMED"
    """What the line will decide: CONFIRMED, or REJECTED (with `feedback`)."""
    feedback: str | None = None
    decide_at: float
    """Monotonic second the pending decision (booking, amendment or cancellation) is due."""
    created_at: datetime
    confirmed_at: datetime | None = None
    voyage_started: float | None = None
    voyage_start_wall: datetime | None = None
    steps: tuple[DcsaStep, ...] = ()
    emitted: list[dict[str, Any]] = Field(default_factory=list)


class DcsaSubscription(BaseModel):
    id: str
    partner: str
    body: dict[str, Any]
    secret: str


class DcsaLine:
    """Bookings, subscriptions and voyage tasks of every DCSA partner of one sandbox app."""

    def __init__(self, sb: Sandbox) -> None:
        self.sb = sb
        self.bookings: dict[str, DcsaBooking] = {}
        """By carrierBookingRequestReference."""
        self.by_carrier_reference: dict[str, str] = {}
        self.subscriptions: dict[str, DcsaSubscription] = {}
        self.tasks: dict[str, asyncio.Task[None]] = {}
        self.http: httpx.AsyncClient | None = None
        self._owns_http = False
        self._counter = 0

    # -- clock --

    def _due(self, seconds_per_day_offset: float) -> float:
        return self.sb.clock.monotonic() + seconds_per_day_offset * self.sb.config.seconds_per_day

    def refresh(self, booking: DcsaBooking) -> None:
        """Applies the decision that is due: booking confirmed or rejected, amendment or cancellation decided."""
        if self.sb.clock.monotonic() < booking.decide_at:
            return
        if booking.status in ("RECEIVED", "UPDATE_RECEIVED"):
            booking.status = booking.decision
            if booking.decision == "CONFIRMED":
                self._counter += 1
                booking.carrier_reference = booking.carrier_reference or f"BW{self._counter:08d}"
                booking.confirmed_at = self.sb.clock.now()
                self.by_carrier_reference[booking.carrier_reference] = booking.request_reference
        if booking.amended_status == "AMENDMENT_RECEIVED" and booking.amendment is not None:
            booking.amended_status = booking.decision if booking.decision.startswith("AMENDMENT") else (
                "AMENDMENT_CONFIRMED")
            if booking.amended_status == "AMENDMENT_CONFIRMED":
                booking.content = booking.amendment
            booking.decision = "CONFIRMED"
        if booking.cancellation_status == "CANCELLATION_RECEIVED":
            loaded = any(e.get("equipmentEventTypeCode") == "LOAD" for e in booking.emitted)
            booking.cancellation_status = "CANCELLATION_DECLINED" if loaded else "CANCELLATION_CONFIRMED"
            if loaded:
                booking.feedback = "the cargo is loaded on board; the booking can no longer be cancelled"
            else:
                booking.status = "CANCELLED"
                self.stop(booking.request_reference)

    def find(self, partner: str, reference: str) -> DcsaBooking | None:
        booking = self.bookings.get(self.by_carrier_reference.get(reference, reference))
        if booking is None or booking.partner != partner:
            return None
        self.refresh(booking)
        return booking

    # -- voyage --

    def follow(self, booking: DcsaBooking, variant: str | None) -> None:
        """Starts the booking's voyage the first time someone follows a confirmed booking."""
        if booking.voyage_started is not None or booking.status != "CONFIRMED":
            return
        booking.voyage_started = self.sb.clock.monotonic()
        booking.voyage_start_wall = self.sb.clock.now()
        booking.steps = dcsa_steps(booking.partner, variant)
        self.tasks[booking.request_reference] = asyncio.create_task(self._play(booking),
                                                                     name=f"dcsa:{booking.request_reference}")

    def stop(self, reference: str) -> None:
        task = self.tasks.pop(reference, None)
        if task is not None:
            task.cancel()

    async def wait_idle(self) -> None:
        while self.tasks:
            await asyncio.gather(*list(self.tasks.values()), return_exceptions=True)

    async def aclose(self) -> None:
        for reference in list(self.tasks):
            self.stop(reference)
        if self._owns_http and self.http is not None:
            await self.http.aclose()
            self.http = None

    async def _play(self, booking: DcsaBooking) -> None:
        previous = 0.0
        try:
            for sequence, step in enumerate(booking.steps, start=1):
                await asyncio.sleep(max(0.0, step.day_offset - previous) * self.sb.config.seconds_per_day)
                previous = step.day_offset
                if booking.status != "CONFIRMED":
                    return
                event = voyage_event(booking, sequence, step)
                booking.emitted.append(event)
                for subscription in list(self.subscriptions.values()):
                    if subscription.partner == booking.partner and matches(subscription.body, booking, event):
                        await self._deliver(subscription, event)
        finally:
            if self.tasks.get(booking.request_reference) is asyncio.current_task():
                self.tasks.pop(booking.request_reference, None)

    async def _deliver(self, subscription: DcsaSubscription, event: dict[str, Any]) -> bool:
        body = json.dumps([event], separators=(",", ":")).encode()
        headers = {"Content-Type": "application/json", "API-Version": TNT_VERSION,
                   "Subscription-ID": subscription.id,
                   "Notification-Signature": sign(subscription.secret, body)}
        if self.http is None:
            self.http = httpx.AsyncClient(timeout=httpx.Timeout(self.sb.config.callback_timeout_s))
            self._owns_http = True
        attempts = self.sb.config.callback_retries + 1
        for attempt in range(1, attempts + 1):
            try:
                response = await self.http.post(subscription.body["callbackUrl"], content=body, headers=headers)
                if response.is_success:
                    return True
                failure = f"HTTP {response.status_code}"
            except httpx.HTTPError as err:
                failure = f"{type(err).__name__}: {err}"
            log.warning("dcsa_callback_failed", subscription_id=subscription.id, event_id=event["eventID"],
                        attempt=attempt, of=attempts, failure=failure)
            if attempt < attempts:
                await asyncio.sleep(self.sb.config.callback_backoff_s * 2 ** (attempt - 1))
        log.error("dcsa_callback_given_up", subscription_id=subscription.id, event_id=event["eventID"])
        return False


def sign(secret: str, body: bytes) -> str:
    """TNT 2.2 `Notification-Signature` of a callback body under a subscription's (Base64) secret."""
    return "sha256=" + hmac.new(base64.b64decode(secret), body, hashlib.sha256).hexdigest()


# ---- events (TNT 2.2 payloads) ----------------------------------------------------------------------------------


def _port(booking: DcsaBooking, place: str) -> str:
    by_type = {s["locationTypeCode"]: s["location"].get("UNLocationCode") for s in booking.content["shipmentLocations"]}
    if place == "pol":
        return by_type.get("POL") or "NLRTM"
    if place == "pod":
        return by_type.get("POD") or "USLAX"
    return DCSA_TRANSSHIPMENT_PORT


def _transport_call(booking: DcsaBooking, step: DcsaStep, sequence: int) -> dict[str, Any]:
    second_leg = step.place == "pod" or (step.place == "transshipment" and step.code in ("LOAD", "DEPA"))
    port = _port(booking, step.place)
    return {"transportCallID": f"{booking.carrier_reference}-{port}-{2 if second_leg else 1}",
            "transportCallSequenceNumber": {"pol": 1, "transshipment": 2, "pod": 3}.get(step.place, sequence),
            "modeOfTransport": "VESSEL", "UNLocationCode": port, "carrierServiceCode": "BW1",
            "exportVoyageNumber": "2501E" if not second_leg else "2502E",
            "vessel": VESSELS[1 if second_leg else 0]}


def voyage_event(booking: DcsaBooking, sequence: int, step: DcsaStep) -> dict[str, Any]:
    """The TNT 2.2 event of one voyage step (a `transportEvent`, `equipmentEvent` or `shipmentEvent`)."""
    assert booking.voyage_start_wall is not None and booking.carrier_reference is not None
    at = (booking.voyage_start_wall + timedelta(days=step.day_offset)).isoformat().replace("+00:00", "Z")
    event: dict[str, Any] = {
        "eventID": str(uuid.uuid5(_IDS, f"{booking.partner}:{booking.request_reference}:{sequence}")),
        "eventCreatedDateTime": at, "eventType": step.event_type, "eventClassifierCode": "ACT", "eventDateTime": at,
    }
    port = _port(booking, step.place)
    if step.event_type == "TRANSPORT":
        event.update(transportEventTypeCode=step.code, transportCall=_transport_call(booking, step, sequence))
    elif step.event_type == "EQUIPMENT":
        container = f"BWLU{int(booking.carrier_reference[2:]):07d}"
        event.update(equipmentEventTypeCode=step.code, equipmentReference=container,
                     ISOEquipmentCode="22GP", emptyIndicatorCode="EMPTY" if step.empty else "LADEN",
                     eventLocation={"locationName": f"Container terminal {port}", "UNLocationCode": port})
        if step.code in ("LOAD", "DISC"):
            event["transportCall"] = _transport_call(booking, step, sequence)
    else:
        document = step.document or "BKG"
        event.update(shipmentEventTypeCode=step.code, documentTypeCode=document,
                     documentID=booking.carrier_reference)
        if step.reason:
            event["reason"] = step.reason
    return event


def booking_events(booking: DcsaBooking) -> list[dict[str, Any]]:
    """Every event of a booking so far: received and confirmed (shipment events on the booking), then the voyage."""

    def stamp(at: datetime) -> str:
        return at.isoformat().replace("+00:00", "Z")

    events: list[dict[str, Any]] = [{
        "eventID": str(uuid.uuid5(_IDS, f"{booking.partner}:{booking.request_reference}:RECE")),
        "eventCreatedDateTime": stamp(booking.created_at), "eventType": "SHIPMENT", "eventClassifierCode": "ACT",
        "eventDateTime": stamp(booking.created_at), "shipmentEventTypeCode": "RECE", "documentTypeCode": "CBR",
        "documentID": booking.request_reference,
    }]
    if booking.confirmed_at is not None and booking.carrier_reference is not None:
        events.append({
            "eventID": str(uuid.uuid5(_IDS, f"{booking.partner}:{booking.request_reference}:CONF")),
            "eventCreatedDateTime": stamp(booking.confirmed_at), "eventType": "SHIPMENT",
            "eventClassifierCode": "ACT", "eventDateTime": stamp(booking.confirmed_at),
            "shipmentEventTypeCode": "CONF", "documentTypeCode": "BKG", "documentID": booking.carrier_reference,
        })
    return events + booking.emitted


def matches(filters: dict[str, Any], booking: DcsaBooking, event: dict[str, Any]) -> bool:
    """Whether an event passes a subscription's (or a query's) filters: booking reference and event types."""
    reference = filters.get("carrierBookingReference")
    if reference is not None and reference != booking.carrier_reference:
        return False
    types = filters.get("eventType")
    return not types or event["eventType"] in types


# ---- DCSA errors ------------------------------------------------------------------------------------------------


def _error(request: Request, status: int, code: str, message: str, headers: dict[str, str] | None = None,
           api: Literal["bkg", "tnt"] = "bkg", now: datetime | None = None) -> JSONResponse:
    text = _status_text(status)
    detail: dict[str, Any]
    if api == "bkg":
        # DCSA leaves errorCode (7000-9999) to the implementer: this line uses 7000 + the HTTP status.
        detail = {"errorCode": min(7000 + status, 9999), "errorCodeText": code[:100],
                  "errorCodeMessage": message[:5000]}
        body: dict[str, Any] = {"statusCodeMessage": message[:200]}
    else:
        detail = {"reason": code, "message": message}
        body = {}
    body.update(httpMethod=request.method, requestUri=request.url.path, statusCode=status, statusCodeText=text,
                errorDateTime=(now or datetime.now().astimezone()).isoformat(), errors=[detail])
    version = BKG_VERSION if api == "bkg" else TNT_VERSION
    return JSONResponse(status_code=status, content=body, headers={"API-Version": version, **(headers or {})})


def _status_text(status: int) -> str:
    try:
        return HTTPStatus(status).phrase[:50]
    except ValueError:
        return f"HTTP {status}"


def _sandbox_error(request: Request, sb: Sandbox, err: SandboxError, api: Literal["bkg", "tnt"]) -> JSONResponse:
    return _error(request, err.status, err.code, err.message, err.headers, api, sb.clock.now())


async def _body(request: Request) -> Any:
    try:
        return json.loads(await request.body() or b"null")
    except ValueError as err:
        raise SandboxError(400, ErrorCode.INVALID_REQUEST, f"the body is not JSON: {err}") from err


M = TypeVar("M", bound=BaseModel)


def _validate(model: type[M], raw: Any) -> M:
    try:
        return model.model_validate(raw)
    except ValidationError as err:
        problems = "; ".join(f"$.{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in err.errors())
        raise SandboxError(400, ErrorCode.INVALID_REQUEST, problems) from err


# ---- routes -----------------------------------------------------------------------------------------------------


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    yield
    line: DcsaLine | None = getattr(app.state, "dcsa", None)
    if line is not None:
        await line.aclose()


router = APIRouter(prefix="/dcsa/{partner}", tags=["dcsa"], lifespan=_lifespan)


def dcsa_line(app: FastAPI) -> DcsaLine:
    """The app's DCSA line state, created on first use."""
    line: DcsaLine | None = getattr(app.state, "dcsa", None)
    if line is None:
        line = app.state.dcsa = DcsaLine(app.state.sandbox)
    return line


def _booking_view(booking: DcsaBooking, amended: bool = False) -> dict[str, Any]:
    content = booking.amendment if amended and booking.amendment is not None else booking.content
    view: dict[str, Any] = {"carrierBookingRequestReference": booking.request_reference}
    if booking.carrier_reference:
        view["carrierBookingReference"] = booking.carrier_reference
    view["bookingStatus"] = booking.status
    if booking.amended_status:
        view["amendedBookingStatus"] = booking.amended_status
    if booking.cancellation_status:
        view["bookingCancellationStatus"] = booking.cancellation_status
    view.update({k: v for k, v in content.items() if k not in view and k != "carrierBookingRequestReference"})
    if booking.feedback and booking.status in ("REJECTED", "DECLINED", "PENDING_UPDATE") or (
            booking.feedback and booking.cancellation_status == "CANCELLATION_DECLINED"):
        view["feedbacks"] = [{"severity": "ERROR", "code": "PROPERTY_VALUE_HAS_BEEN_CHANGED"
                              if booking.status == "PENDING_UPDATE" else "OTHER", "message": booking.feedback}]
    return view


def _rules(partner: Partner, body: CreateBooking) -> str | None:
    """Why the line rejects the booking, or None: lane and weight, the partner's terms."""
    pol, pod = body.port("POL"), body.port("POD")
    if pol is None or pod is None:
        return "shipmentLocations: a port of loading (POL) and a port of discharge (POD) are required"
    if not partner.serves(pol[:2], pod[:2]):
        return f"lane {pol} -> {pod} is not served by {partner.name}"
    limit = partner.carrier_terms().limits.max_weight_kg
    if body.weight_kg() > limit:
        return f"cargo gross weight {body.weight_kg():g} kg is over the {limit:g} kg this line accepts per booking"
    return None


def _shipment_id(body: CreateBooking) -> str:
    return next((r.value for r in body.references if r.type == "CR"), "")


@router.post("/v2/bookings", status_code=202)
async def create_booking(partner: str, request: Request, sb: SandboxDep, headers: HeadersDep) -> Response:
    """Booking 2.0 `create-bookings`: 202 with the reference; the decision follows (RECEIVED -> CONFIRMED)."""
    line = dcsa_line(request.app)
    try:
        raw = await _body(request)
        body = _validate(CreateBooking, raw)
        shipment_id = _shipment_id(body)
        rejection: str | None = None
        try:
            admitted = await sb.admit(partner, Operation.BOOK, shipment_id, headers)
            carrier, key = admitted.partner, admitted.idempotency_key
        except SandboxError as err:
            if err.headers.get(APPLIED_HEADER) != "reject":
                raise
            # A business rejection is a booking state in DCSA: the request is accepted, then REJECTED.
            carrier, key = resolve_partner(partner, Operation.BOOK), (headers.idempotency_key or "").strip()
            rejection = f"{err.code}: {err.message}"
        rejection = rejection or _rules(carrier, body)
        terms = carrier.carrier_terms()
        sent_hash = request_hash(_Sent(body=raw), partner=partner)
        amount = terms.pricing.base + terms.pricing.per_kg * Decimal(str(round(body.weight_kg(), 3)))

        def make(record_id: str, now: datetime) -> BookingRecord:
            return BookingRecord(
                kind=RecordKind.BOOKING, partner=partner, id=record_id, shipment_id=shipment_id, state="received",
                idempotency_key=key, request_hash=sent_hash, created_at=now,
                history=[HistoryEntry(state="received", at=now)], mode=terms.mode,
                price=Money.of(amount.quantize(Decimal("0.01")), terms.pricing.currency), quote_id=None,
                origin_country=(body.port("POL") or "??")[:2], destination_country=(body.port("POD") or "??")[:2])

        record, created = await sb.store.create(RecordKind.BOOKING, partner, key, sent_hash, make)
        if created:
            line.bookings[record.id] = DcsaBooking(
                partner=partner, shipment_id=shipment_id, request_reference=record.id, content=raw,
                decision="REJECTED" if rejection else "CONFIRMED", feedback=rejection,
                decide_at=line._due(DECIDE_AFTER_DAYS), created_at=sb.clock.now())
        return JSONResponse(status_code=202, content={"carrierBookingRequestReference": record.id},
                            headers={"API-Version": BKG_VERSION})
    except SandboxError as err:
        return _sandbox_error(request, sb, err, "bkg")


def _unknown_booking(partner: str, reference: str) -> SandboxError:
    return SandboxError(404, ErrorCode.NOT_FOUND, f"{partner} has no booking {reference!r}")


@router.get("/v2/bookings/{reference}")
async def get_booking(partner: str, reference: str, request: Request, sb: SandboxDep, headers: HeadersDep,
                      amendedContent: bool = False) -> Response:  # noqa: N803 - the spec's query parameter name
    """Booking 2.0 `get-bookings`: the booking by either reference, or its amendment with `amendedContent=true`."""
    line = dcsa_line(request.app)
    try:
        booking = line.find(partner, reference)
        await sb.admit(partner, Operation.TRACK, booking.shipment_id if booking else "", headers)
        if booking is None or (amendedContent and booking.amendment is None):
            raise _unknown_booking(partner, reference)
        if booking.status == "CANCELLED":  # a cancellation the line decided since: the record shows it too
            await sb.store.transition(Operation.CANCEL, partner, booking.request_reference)
        return JSONResponse(_booking_view(booking, amendedContent), headers={"API-Version": BKG_VERSION})
    except SandboxError as err:
        return _sandbox_error(request, sb, err, "bkg")


@router.put("/v2/bookings/{reference}", status_code=202)
async def update_booking(partner: str, reference: str, request: Request, sb: SandboxDep,
                         headers: HeadersDep) -> Response:
    """Booking 2.0 `update-bookings`: an update before confirmation, an amendment after (decided later)."""
    line = dcsa_line(request.app)
    try:
        raw = await _body(request)
        body = _validate(CreateBooking, raw)
        booking = line.find(partner, reference)
        await sb.admit(partner, Operation.BOOK, booking.shipment_id if booking else "", headers)
        if booking is None:
            raise _unknown_booking(partner, reference)
        rejection = _rules(resolve_partner(partner, Operation.BOOK), body)
        content = {k: v for k, v in raw.items() if k != "carrierBookingRequestReference"}
        if booking.status in ("CONFIRMED", "PENDING_AMENDMENT"):
            booking.amendment, booking.amended_status = content, "AMENDMENT_RECEIVED"
            booking.decision = "AMENDMENT_DECLINED" if rejection else "AMENDMENT_CONFIRMED"
        elif booking.status in ("RECEIVED", "PENDING_UPDATE", "UPDATE_RECEIVED"):
            booking.content, booking.status = content, "UPDATE_RECEIVED"
            booking.decision = "REJECTED" if rejection else "CONFIRMED"
        else:
            raise SandboxError(409, "BOOKING_CLOSED", f"booking {reference} is {booking.status}; it cannot change")
        booking.feedback = rejection
        booking.decide_at = line._due(DECIDE_AFTER_DAYS)
        return Response(status_code=202, headers={"API-Version": BKG_VERSION})
    except SandboxError as err:
        return _sandbox_error(request, sb, err, "bkg")


@router.patch("/v2/bookings/{reference}", status_code=202)
async def cancel_booking(partner: str, reference: str, request: Request, sb: SandboxDep,
                         headers: HeadersDep) -> Response:
    """Booking 2.0 `cancel-booking`: a request, an amendment, or (asked, decided later) a confirmed booking."""
    line = dcsa_line(request.app)
    try:
        body = _validate(CancelBooking, await _body(request))
        chosen = [f for f in ("bookingStatus", "amendedBookingStatus", "bookingCancellationStatus")
                  if getattr(body, f) is not None]
        if len(chosen) != 1:
            raise SandboxError(400, ErrorCode.INVALID_REQUEST, "set exactly one of bookingStatus, "
                               "amendedBookingStatus, bookingCancellationStatus")
        booking = line.find(partner, reference)
        await sb.admit(partner, Operation.CANCEL, booking.shipment_id if booking else "", headers)
        if booking is None:
            raise _unknown_booking(partner, reference)
        confirmed = booking.status in ("CONFIRMED", "PENDING_AMENDMENT")
        if body.bookingStatus and booking.status != "CANCELLED":
            if confirmed:
                raise SandboxError(409, "BOOKING_CONFIRMED", f"booking {reference} is {booking.status}: request "
                                   "its cancellation with bookingCancellationStatus CANCELLATION_RECEIVED")
            if booking.status in ("REJECTED", "DECLINED", "COMPLETED"):
                raise SandboxError(409, "BOOKING_CLOSED", f"booking {reference} is {booking.status}")
            booking.status = "CANCELLED"
            await sb.store.transition(Operation.CANCEL, partner, booking.request_reference)
        elif body.amendedBookingStatus:
            if booking.amended_status != "AMENDMENT_RECEIVED":
                raise _unknown_booking(partner, f"{reference} (amendment)")
            booking.amended_status, booking.amendment = "AMENDMENT_CANCELLED", None
        elif body.bookingCancellationStatus and booking.status != "CANCELLED":
            if not confirmed:
                raise SandboxError(409, "BOOKING_NOT_CONFIRMED", f"booking {reference} is {booking.status}: "
                                   "cancel it with bookingStatus CANCELLED")
            if booking.cancellation_status != "CANCELLATION_RECEIVED":
                booking.cancellation_status = "CANCELLATION_RECEIVED"
                booking.decide_at = line._due(DECIDE_AFTER_DAYS)
        if booking.status == "CANCELLED":
            line.stop(booking.request_reference)
            await sb.store.transition(Operation.CANCEL, partner, booking.request_reference)
        return Response(status_code=202, headers={"API-Version": BKG_VERSION})
    except SandboxError as err:
        return _sandbox_error(request, sb, err, "bkg")


def _variant(sb: Sandbox, partner: str, shipment_id: str) -> str | None:
    # The voyage variant is what a handover of this shipment would play (a `kind: scenario` rule on handover).
    rule = sb.faults.select(FaultContext(partner=partner, operation=Operation.HANDOVER, shipment_id=shipment_id),
                            sb.elapsed_s())
    return rule.scenario if rule is not None else None


@router.get("/v2/events")
async def get_events(partner: str, request: Request, sb: SandboxDep, headers: HeadersDep,
                     carrierBookingReference: str | None = None,  # noqa: N803 - the spec's query parameter names
                     eventType: Annotated[str | None, Query()] = None,  # noqa: N803
                     limit: Annotated[int, Query(ge=1)] = PAGE_LIMIT, cursor: str | None = None) -> Response:
    """TNT 2.2 `GET /v2/events`: the events so far, oldest first; reading a booking's events follows it."""
    line = dcsa_line(request.app)
    try:
        booking = line.find(partner, carrierBookingReference) if carrierBookingReference else None
        await sb.admit(partner, Operation.TRACK, booking.shipment_id if booking else "", headers)
        if carrierBookingReference and booking is not None and booking.voyage_started is None:
            line.follow(booking, _variant(sb, partner, booking.shipment_id))
        types = [t for t in (eventType or "").split(",") if t]
        bookings = [booking] if booking is not None else (
            [] if carrierBookingReference else [b for b in line.bookings.values() if b.partner == partner])
        events = [e for b in bookings for e in booking_events(b) if not types or e["eventType"] in types]
        events.sort(key=lambda e: e["eventDateTime"])
        start = int(base64.urlsafe_b64decode(cursor.encode()).decode()) if cursor else 0
        page = events[start:start + limit]
        extra = {"Next-Page": base64.urlsafe_b64encode(str(start + limit).encode()).decode()} if (
            start + limit < len(events)) else {}
        return JSONResponse(page, headers={"API-Version": TNT_VERSION, **extra})
    except (ValueError, binascii.Error):
        return _error(request, 400, "invalidCursor", f"cursor {cursor!r} is not one this line issued", api="tnt")
    except SandboxError as err:
        return _sandbox_error(request, sb, err, "tnt")


def _subscription_view(subscription: DcsaSubscription) -> dict[str, Any]:
    return {"subscriptionID": subscription.id, **{k: v for k, v in subscription.body.items() if k != "secret"}}


def _check_secret(secret: str | None) -> str:
    try:
        if secret and base64.b64decode(secret, validate=True):
            return secret
    except (binascii.Error, ValueError):
        pass
    raise SandboxError(400, ErrorCode.INVALID_REQUEST, "$.secret: a non-empty Base64 secret is required")


@router.post("/v2/event-subscriptions", status_code=201)
async def create_subscription(partner: str, request: Request, sb: SandboxDep, headers: HeadersDep) -> Response:
    """TNT 2.2 create subscription: the booking's events from now on are pushed to `callbackUrl`, signed."""
    line = dcsa_line(request.app)
    try:
        body = _validate(SubscriptionBody, await _body(request))
        secret = _check_secret(body.secret)
        booking = line.find(partner, body.carrierBookingReference) if body.carrierBookingReference else None
        admitted = await sb.admit(partner, Operation.HANDOVER, booking.shipment_id if booking else "", headers)
        subscription = DcsaSubscription(id=str(uuid.uuid4()), partner=partner,
                                        body=body.model_dump(exclude_none=True, exclude={"secret"}), secret=secret)
        line.subscriptions[subscription.id] = subscription
        if booking is not None:
            line.follow(booking, admitted.scenario)
        return JSONResponse(status_code=201, content=_subscription_view(subscription),
                            headers={"API-Version": TNT_VERSION})
    except SandboxError as err:
        return _sandbox_error(request, sb, err, "tnt")


def _subscription(line: DcsaLine, partner: str, subscription_id: str) -> DcsaSubscription:
    subscription = line.subscriptions.get(subscription_id)
    if subscription is None or subscription.partner != partner:
        raise SandboxError(404, ErrorCode.NOT_FOUND, f"{partner} has no subscription {subscription_id!r}")
    return subscription


@router.get("/v2/event-subscriptions")
async def list_subscriptions(partner: str, request: Request, sb: SandboxDep, headers: HeadersDep) -> Response:
    """TNT 2.2 list subscriptions."""
    line = dcsa_line(request.app)
    try:
        await sb.admit(partner, Operation.TRACK, "", headers)
        return JSONResponse([_subscription_view(s) for s in line.subscriptions.values() if s.partner == partner],
                            headers={"API-Version": TNT_VERSION})
    except SandboxError as err:
        return _sandbox_error(request, sb, err, "tnt")


@router.get("/v2/event-subscriptions/{subscription_id}")
async def get_subscription(partner: str, subscription_id: str, request: Request, sb: SandboxDep,
                           headers: HeadersDep) -> Response:
    """TNT 2.2 read a subscription."""
    try:
        await sb.admit(partner, Operation.TRACK, "", headers)
        subscription = _subscription(dcsa_line(request.app), partner, subscription_id)
        return JSONResponse(_subscription_view(subscription), headers={"API-Version": TNT_VERSION})
    except SandboxError as err:
        return _sandbox_error(request, sb, err, "tnt")


@router.put("/v2/event-subscriptions/{subscription_id}")
async def replace_subscription(partner: str, subscription_id: str, request: Request, sb: SandboxDep,
                               headers: HeadersDep) -> Response:
    """TNT 2.2 alter a subscription (its filters and callback; the secret has its own endpoint)."""
    try:
        raw = await _body(request)
        body = _validate(SubscriptionBody, raw)
        if body.secret is not None:
            raise SandboxError(400, ErrorCode.INVALID_REQUEST, "$.secret: only valid when creating a subscription")
        await sb.admit(partner, Operation.TRACK, "", headers)
        subscription = _subscription(dcsa_line(request.app), partner, subscription_id)
        subscription.body = body.model_dump(exclude_none=True, exclude={"subscriptionID"})
        return JSONResponse(_subscription_view(subscription), headers={"API-Version": TNT_VERSION})
    except SandboxError as err:
        return _sandbox_error(request, sb, err, "tnt")


@router.put("/v2/event-subscriptions/{subscription_id}/secret", status_code=204)
async def replace_secret(partner: str, subscription_id: str, request: Request, sb: SandboxDep,
                         headers: HeadersDep) -> Response:
    """TNT 2.2 new secret for a subscription."""
    try:
        body = _validate(SecretBody, await _body(request))
        await sb.admit(partner, Operation.TRACK, "", headers)
        _subscription(dcsa_line(request.app), partner, subscription_id).secret = _check_secret(body.secret)
        return Response(status_code=204, headers={"API-Version": TNT_VERSION})
    except SandboxError as err:
        return _sandbox_error(request, sb, err, "tnt")


@router.delete("/v2/event-subscriptions/{subscription_id}", status_code=204)
async def delete_subscription(partner: str, subscription_id: str, request: Request, sb: SandboxDep,
                              headers: HeadersDep) -> Response:
    """TNT 2.2 stop a subscription."""
    line = dcsa_line(request.app)
    try:
        await sb.admit(partner, Operation.TRACK, "", headers)
        _subscription(line, partner, subscription_id)
        del line.subscriptions[subscription_id]
        return Response(status_code=204, headers={"API-Version": TNT_VERSION})
    except SandboxError as err:
        return _sandbox_error(request, sb, err, "tnt")


@router.get("/_inspect")
async def inspect(partner: str, request: Request) -> dict[str, Any]:
    """The line's bookings with their DCSA states and the events emitted so far (sandbox inspection, not DCSA)."""
    line = dcsa_line(request.app)
    for booking in line.bookings.values():
        line.refresh(booking)
    return {"bookings": [_booking_view(b) | {"shipment_id": b.shipment_id, "events": len(booking_events(b))}
                         for b in line.bookings.values() if b.partner == partner],
            "subscriptions": [_subscription_view(s) for s in line.subscriptions.values() if s.partner == partner]}

