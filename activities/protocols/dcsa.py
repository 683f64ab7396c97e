"""Ocean carriers through DCSA: Booking 2.0 (book, amend, cancel) and Track & Trace 2.2 (events, subscriptions).

`endpoint.base_url` is the line's DCSA API root (`.../v2/bookings` and `.../v2/events` below it). Pure builders and
parsers come first, then the one helper that does HTTP (typed like `activities.http`), then `DcsaOcean`.

Idempotency of `book`. DCSA defines no idempotency for `POST /v2/bookings`, so a retried activity is kept from
booking twice by three things, each enough where it is available:
1. the `Idempotency-Key` header (the call's key): lines that honour it, and the sandbox's emulator, answer a
   repeated create with the first booking's `carrierBookingRequestReference`;
2. the activity's heartbeat: right after the create, the reference is recorded as heartbeat details, which
   Temporal keeps in the workflow's history and hands to the next attempt (`activity.info().heartbeat_details`);
   a retry finds it there and reads that booking instead of creating one (`BookingMemory`);
3. the key, shortened to DCSA's 35 characters, travels in the booking as the customer's reference (`references`,
   type `CR`), so the line's booking desk can recognise a duplicate that slipped past both.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import time
from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Literal, NamedTuple, Protocol, TypeVar

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.errors import PARTNER_BAD_RESPONSE, PARTNER_REJECTED, PARTNER_UNAVAILABLE
from activities.http import refusal, send, success_json
from activities.protocols.base import Endpoint, lookup_unsupported
from tradelane.dcsa_events import DcsaEventError, Ports, callback_url, to_carrier_events
from tradelane.decisions.models import Quote
from tradelane.enums import Mode
from tradelane.models import ShipmentRequest
from tradelane.shipment.calls import PartnerCall, PartnerRecord
from tradelane.shipment.events import CarrierEvent

# ---- pure: ports, requests --------------------------------------------------------------------------------------

PORTS: Mapping[str, str] = {
    "AE": "AEJEA", "AU": "AUSYD", "BE": "BEANR", "BR": "BRSSZ", "CA": "CAVAN", "CN": "CNSHA", "DE": "DEHAM",
    "DK": "DKAAR", "ES": "ESVLC", "FR": "FRLEH", "GB": "GBFXT", "GR": "GRPIR", "HK": "HKHKG", "IN": "INNSA",
    "IT": "ITGOA", "JP": "JPYOK", "KR": "KRPUS", "MX": "MXZLO", "MY": "MYPKG", "NL": "NLRTM", "NZ": "NZAKL",
    "PL": "PLGDN", "PT": "PTSIE", "SE": "SEGOT", "SG": "SGSIN", "TH": "THLCH", "TR": "TRMER", "TW": "TWKHH",
    "US": "USLAX", "VN": "VNSGN", "ZA": "ZADUR",
}
"""The port Tradelane books a country's ocean cargo through (UN/LOCODE): its main container port."""

MAX_PAGES = 50
"""Pages of events read per `track` call at most (a guard against a line whose Next-Page never ends)."""

API_VERSION = "2"
"""The `API-Version` header DCSA asks for: the major version only."""

BookingStatus = Literal["RECEIVED", "PENDING_UPDATE", "UPDATE_RECEIVED", "CONFIRMED", "PENDING_AMENDMENT",
                        "REJECTED", "DECLINED", "CANCELLED", "COMPLETED"]


def port_of(country: str, side: str) -> str:
    """The UN/LOCODE for a country's cargo, or a non-retryable rejection naming the side and the country."""
    port = PORTS.get(country.upper())
    if port is None:
        raise ApplicationError(f"dcsa book: {side} country {country!r} has no port in the DCSA port table",
                               "NO_PORT", type=PARTNER_REJECTED, non_retryable=True)
    return port


def customer_reference(idempotency_key: str) -> str:
    """The idempotency key as a DCSA reference value (at most 35 characters, no surrounding spaces)."""
    key = idempotency_key.strip()
    return key if len(key) <= 35 else "TL-" + hashlib.sha256(key.encode()).hexdigest()[:32]


def _kg(value: float) -> float:
    return float(Decimal(str(value)).quantize(Decimal("0.001"), ROUND_HALF_UP))


def booking_body(request: ShipmentRequest, idempotency_key: str, *, origin: str | None = None,
                 destination: str | None = None, options: Mapping[str, str] | None = None) -> dict[str, Any]:
    """A Booking 2.0 `CreateBooking` for the (leg of the) shipment, LCL through the lines' CFS.

    Parties: the booking agent (Tradelane, the one party the standard requires) only. The shipper's and
    consignee's names, addresses, phones and e-mails are personal data the booking does not need; they go to the
    line with the shipping instructions, outside this API.
    """
    options = options or {}
    pol = port_of(origin or request.origin.country, "origin")
    pod = port_of(destination or request.destination.country, "destination")
    movement = options.get("cargo_movement", "LCL")
    service_type = "CFS" if movement == "LCL" else "CY"
    volume_m3 = sum(p.length_cm * p.width_cm * p.height_cm for p in request.parcels) / 1_000_000
    body: dict[str, Any] = {
        "receiptTypeAtOrigin": service_type,
        "deliveryTypeAtDestination": service_type,
        "cargoMovementTypeAtOrigin": movement,
        "cargoMovementTypeAtDestination": movement,
        "isEquipmentSubstitutionAllowed": movement == "LCL",
        "isPartialLoadAllowed": movement == "LCL",
        "expectedDepartureDate": request.ship_date.isoformat(),
        "incoTerms": request.incoterm.value,
        "declaredValue": float(request.declared_value),
        "declaredValueCurrency": request.currency,
        # The customer's references: the shipment (what the line's events and documents quote back), then the
        # idempotency key (so the line's booking desk can spot a duplicate).
        "references": [*([{"type": "CR", "value": request.shipment_id}] if len(request.shipment_id) <= 35 else []),
                       {"type": "CR", "value": customer_reference(idempotency_key)}],
        "documentParties": {"bookingAgent": {"partyName": options.get("booking_agent", "Tradelane")}},
        "shipmentLocations": [
            {"location": {"UNLocationCode": pol}, "locationTypeCode": "POL"},
            {"location": {"UNLocationCode": pod}, "locationTypeCode": "POD"},
        ],
        "requestedEquipments": [{
            "ISOEquipmentCode": options.get("equipment", "22GP"),
            "units": 1,
            "isShipperOwned": False,
            "cargoGrossWeight": {"value": _kg(request.total_weight_kg), "unit": "KGM"},
            "commodities": [
                {
                    "commodityType": item.description[:550],
                    "extendedHSCodes": [item.hs_code],
                    "cargoGrossWeight": {"value": _kg(item.unit_weight_kg * item.quantity), "unit": "KGM"},
                }
                for item in request.items
            ],
        }],
    }
    if volume_m3 > 0:
        body["requestedEquipments"][0]["commodities"][0]["cargoGrossVolume"] = {
            "value": round(max(volume_m3, 0.001), 3), "unit": "MTQ"}
    if "service_contract" in options:
        body["serviceContractReference"] = options["service_contract"]
    return body


RESPONSE_ONLY = frozenset({
    "carrierBookingReference", "bookingStatus", "amendedBookingStatus", "bookingCancellationStatus",
    "termsAndConditions", "confirmedEquipments", "transportPlan", "shipmentCutOffTimes", "advanceManifestFilings",
    "charges", "carrierClauses", "feedbacks",
})
"""Booking fields the line sets: left out of an `UpdateBooking` (Booking 2.0 components.schemas.UpdateBooking)."""


def update_body(booking: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """A Booking 2.0 `UpdateBooking`: the booking as the line holds it, without what the line sets, with `changes`
    (top-level `CreateBooking` fields) applied."""
    return {**{k: v for k, v in booking.items() if k not in RESPONSE_ONLY}, **changes}


def subscription_body(callback_url: str, secret: str, carrier_booking_reference: str) -> dict[str, Any]:
    """A TNT 2.2 `subscriptionBodyWithSecret`: every event type of one booking, pushed to `callback_url`."""
    return {"callbackUrl": callback_url, "secret": secret, "carrierBookingReference": carrier_booking_reference,
            "eventType": ["SHIPMENT", "TRANSPORT", "EQUIPMENT"]}


def callback_secret(connection_secret: str, carrier_booking_reference: str) -> str:
    """The subscription secret of one booking, Base64 as TNT 2.2 sends it: an HMAC of the booking reference under
    the connection's `callback_secret`, so Tradelane's receiver recomputes it and stores nothing per booking."""
    digest = hmac.new(connection_secret.encode(), carrier_booking_reference.encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def quote_from_rate_card(partner: str, request: ShipmentRequest, options: Mapping[str, str],
                         origin: str | None = None, destination: str | None = None) -> Quote:
    """A quote from the connection's contract rate card: `rate_base + rate_per_kg * chargeable kg`.

    Chargeable kg is the larger of the actual weight and the volume (cm^3) over `volumetric_divisor`. The line
    gives no CO2e estimate here (0); plans use Tradelane's own GLEC figure for every mode anyway.
    """
    try:
        base, per_kg = Decimal(options["rate_base"]), Decimal(options["rate_per_kg"])
        divisor = int(options["volumetric_divisor"])
        days_min, days_max = int(options["transit_days_min"]), int(options["transit_days_max"])
        currency = options["rate_currency"]
    except (KeyError, ValueError, ArithmeticError) as err:
        raise ApplicationError(f"{partner} quote: the connection's rate card is incomplete or invalid ({err!r}); "
                               "set rate_base, rate_per_kg, rate_currency, volumetric_divisor, transit_days_min and "
                               "transit_days_max in its options", "RATE_CARD", type=PARTNER_REJECTED,
                               non_retryable=True) from err
    actual = sum((Decimal(str(p.weight_kg)) for p in request.parcels), Decimal(0))
    volume = sum((Decimal(str(p.length_cm)) * Decimal(str(p.width_cm)) * Decimal(str(p.height_cm))
                  for p in request.parcels), Decimal(0))
    chargeable = max(actual, volume / divisor)
    amount = (base + per_kg * chargeable).quantize(Decimal("0.01"), ROUND_HALF_UP)
    lane = f"{origin or request.origin.country}-{destination or request.destination.country}"
    return Quote(quote_id=f"{partner}:ratecard:{lane}:{request.shipment_id}", partner=partner,
                 mode=Mode.OCEAN_LCL if options.get("cargo_movement", "LCL") == "LCL" else Mode.OCEAN_FCL,
                 amount=amount, currency=currency, transit_days_min=days_min, transit_days_max=days_max,
                 chargeable_weight_kg=float(chargeable.quantize(Decimal("0.001"))), co2e_kg=0.0,
                 origin=origin, destination=destination)


# ---- pure: responses --------------------------------------------------------------------------------------------


class CreateBookingResponse(BaseModel):
    """Booking 2.0 components.schemas.CreateBookingResponse."""

    carrierBookingRequestReference: str = Field(min_length=1, max_length=100)


class _Location(BaseModel):
    UNLocationCode: str | None = None


class _ShipmentLocation(BaseModel):
    location: _Location
    locationTypeCode: str


class _Feedback(BaseModel):
    severity: str | None = None
    code: str | None = None
    message: str = ""


class BookingView(BaseModel):
    """The fields of a Booking 2.0 `Booking` Tradelane reads (the rest is kept for an update)."""

    model_config = ConfigDict(extra="allow")

    carrierBookingRequestReference: str | None = None
    carrierBookingReference: str | None = None
    bookingStatus: str
    amendedBookingStatus: str | None = None
    bookingCancellationStatus: str | None = None
    shipmentLocations: list[_ShipmentLocation] = Field(min_length=1)
    feedbacks: list[_Feedback] = Field(default_factory=list)

    @property
    def reference(self) -> str:
        return self.carrierBookingReference or self.carrierBookingRequestReference or ""

    @property
    def reason(self) -> str:
        return "; ".join(f.message for f in self.feedbacks if f.message) or "no reason given"

    def ports(self) -> Ports:
        by_type = {s.locationTypeCode: s.location.UNLocationCode for s in self.shipmentLocations}
        return Ports(port_of_loading=by_type.get("POL"), port_of_discharge=by_type.get("POD"))


class SubscriptionView(BaseModel):
    """TNT 2.2 components.schemas.subscription (the fields Tradelane reads)."""

    model_config = ConfigDict(extra="allow")

    subscriptionID: str
    callbackUrl: str
    carrierBookingReference: str | None = None


def dcsa_error(payload: Any) -> tuple[str, str]:
    """(code, message) of a DCSA error body: Booking 2.0 `ErrorResponse` or TNT 2.2 `error`; tolerant of others."""
    if not isinstance(payload, dict):
        return "UNKNOWN", str(payload)[:500]
    details = [e for e in payload.get("errors") or [] if isinstance(e, dict)]
    code = next((str(e.get("errorCodeText") or e.get("reason")) for e in details
                 if e.get("errorCodeText") or e.get("reason")), str(payload.get("statusCodeText", "UNKNOWN")))
    messages = [str(payload["statusCodeMessage"]).strip()] if payload.get("statusCodeMessage") else []
    messages += [str(e.get("errorCodeMessage") or e.get("message")).strip() for e in details
                 if e.get("errorCodeMessage") or e.get("message")]
    return code, "; ".join(messages)[:500]


M = TypeVar("M", bound=BaseModel)


def _parse(model: type[M], body: Any, what: str) -> M:
    try:
        return model.model_validate(body)
    except ValidationError as err:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}" for e in err.errors())
        raise ApplicationError(f"{what}: the response is not a DCSA {model.__name__}: {problems}"[:800],
                               type=PARTNER_BAD_RESPONSE, non_retryable=True) from err


# ---- the one place that does HTTP -------------------------------------------------------------------------------


_NO_BODY = object()


class Reply(NamedTuple):
    body: Any
    """The JSON body; `_NO_BODY` for a 202/204 without one, or (with `pending_404`) a booking not readable yet."""
    next_page: str | None = None
    """TNT 2.2 `Next-Page`: a cursor, or a link to the next page."""


async def _send(http: httpx.AsyncClient, endpoint: Endpoint, operation: str, method: str, path: str, *,
                json: Any = None, params: Mapping[str, str] | None = None, key: str | None = None,
                expect: Literal["json", "none"] = "json", pending_404: bool = False) -> Reply:
    """One DCSA call, its outcome typed for the retry policy as `activities.http` does.

    A 404 counts as "not readable yet" with `pending_404`: Booking 2.0 allows a booking request to be unreadable
    until the line has processed it. Raises `ApplicationError`: PartnerUnavailable (timeouts, transport errors,
    5xx), PartnerRateLimited (429, with Retry-After), PartnerRejected (other 4xx, with the DCSA error's message),
    PartnerBadResponse (a 2xx whose body is not JSON).
    """
    what = f"{endpoint.partner} {operation}"
    headers = {"API-Version": API_VERSION, "Accept": "application/json"}
    if key:
        headers["Idempotency-Key"] = key
    url = path if path.startswith(("http://", "https://")) else f"{endpoint.base_url.rstrip('/')}/{path.lstrip('/')}"
    response = await send(http, what, method, url, json=json, params=params, headers=headers,
                          timeout=endpoint.timeout_s)
    if response.is_success:
        next_page = response.headers.get("Next-Page") or None
        if expect == "none" or (response.status_code in (202, 204) and not response.content.strip()):
            return Reply(_NO_BODY, next_page)
        return Reply(success_json(what, response), next_page)
    if pending_404 and response.status_code == 404:
        return Reply(_NO_BODY)
    try:
        payload: Any = response.json()
    except ValueError:
        payload = response.text
    raise refusal(what, response, *dcsa_error(payload))


async def read_booking(http: httpx.AsyncClient, endpoint: Endpoint, operation: str, ref: str) -> BookingView | None:
    """The booking as the line holds it (`GET /v2/bookings/{ref}`), or None while it is not readable yet."""
    reply = await _send(http, endpoint, operation, "GET", f"/v2/bookings/{ref}", pending_404=True)
    return None if reply.body is _NO_BODY else _parse(BookingView, reply.body, f"{endpoint.partner} {operation}")


async def booking_ports(http: httpx.AsyncClient, endpoint: Endpoint, ref: str, operation: str) -> Ports:
    """The booking's port of loading and discharge, read from the line, which place-dependent event rows need
    (unknown ports while the booking is not readable). Polled events (`track`) and pushed ones (Tradelane's callback
    ingress) are mapped with the same ports, so an event has one status whichever way it came.

    Raises:
        ApplicationError: typed as every DCSA call (`_send`).
    """
    booking = await read_booking(http, endpoint, operation, ref)
    return booking.ports() if booking is not None else Ports()


# ---- memory of created bookings ---------------------------------------------------------------------------------


class BookingMemory(Protocol):
    """Where `book` remembers the booking it created under an idempotency key, for the next attempt to find."""

    def recall(self, key: str) -> str | None: ...

    def remember(self, key: str, reference: str) -> None: ...


class HeartbeatMemory:
    """The activity's heartbeat details: Temporal keeps them across attempts of one activity. Outside an activity
    (a script, a test) there is nothing to keep them in, and the `Idempotency-Key` header alone protects."""

    def recall(self, key: str) -> str | None:
        if not activity.in_activity():
            return None
        for details in activity.info().heartbeat_details:
            if isinstance(details, dict) and details.get("idempotency_key") == key:
                reference = details.get("carrierBookingRequestReference")
                return reference if isinstance(reference, str) else None
        return None

    def remember(self, key: str, reference: str) -> None:
        if activity.in_activity():
            activity.heartbeat({"idempotency_key": key, "carrierBookingRequestReference": reference})


class LocalMemory:
    """A dict: for tests and for a process that makes every attempt itself."""

    def __init__(self) -> None:
        self.references: dict[str, str] = {}

    def recall(self, key: str) -> str | None:
        return self.references.get(key)

    def remember(self, key: str, reference: str) -> None:
        self.references[key] = reference


# ---- the adapter ------------------------------------------------------------------------------------------------


class DcsaOcean:
    """A container line's DCSA APIs (Booking 2.0, Track & Trace 2.2) as a `CarrierProtocol`.

    Args:
        memory: Where `book` keeps the reference it created, for a retry (the activity's heartbeat by default).
        wait_s: How long `book`, `cancel_booking` and `amend_booking` wait for the line to decide before
            answering retryable "still pending" (so the activity's retry reads the booking again).
        poll_s: Pause between two reads of a pending booking.
    """

    def __init__(self, memory: BookingMemory | None = None, *, wait_s: float = 3.0, poll_s: float = 0.25) -> None:
        self._memory = memory or HeartbeatMemory()
        self._wait_s = wait_s
        self._poll_s = poll_s

    async def quote(self, http: httpx.AsyncClient, endpoint: Endpoint, request: ShipmentRequest,
                    origin: str | None, destination: str | None) -> Quote:
        """The connection's contract rate card (`endpoint.options`): DCSA publishes no quote or rate operation in
        Booking 2.0 or Track & Trace 2.2, so nothing is called. A lane with no port in the table is declined here,
        as it would be at booking."""
        port_of(origin or request.origin.country, "origin")
        port_of(destination or request.destination.country, "destination")
        return quote_from_rate_card(endpoint.partner, request, endpoint.options, origin, destination)

    async def book(self, http: httpx.AsyncClient, endpoint: Endpoint, call: PartnerCall) -> PartnerRecord:
        """Creates the booking (once, see the module docstring), then reads it until the line confirms or rejects.

        Raises:
            ApplicationError: PartnerRejected with the line's reason for REJECTED/DECLINED; PartnerUnavailable
                ("booking still pending") when the line has not decided within `wait_s`.
        """
        if call.request is None:
            raise ApplicationError(f"{endpoint.partner} book: the call has no shipment request",
                                   type=PARTNER_REJECTED, non_retryable=True)
        reference = self._memory.recall(call.idempotency_key)
        if reference is None:
            body = booking_body(call.request, call.idempotency_key, origin=call.origin,
                                destination=call.destination, options=endpoint.options)
            created = await _send(http, endpoint, "book", "POST", "/v2/bookings", json=body,
                                  key=call.idempotency_key)
            reference = _parse(CreateBookingResponse, created.body,
                               f"{endpoint.partner} book").carrierBookingRequestReference
            self._memory.remember(call.idempotency_key, reference)
        booking = await self._await_decision(http, endpoint, "book", reference, _booking_decided)
        if booking is None or booking.bookingStatus not in ("CONFIRMED", "REJECTED", "DECLINED"):
            status = booking.bookingStatus if booking else "not yet readable"
            raise ApplicationError(f"{endpoint.partner} book: booking still pending ({reference}: {status})",
                                   "BOOKING_PENDING", type=PARTNER_UNAVAILABLE)
        if booking.bookingStatus != "CONFIRMED":
            raise ApplicationError(f"{endpoint.partner} book: booking {reference} {booking.bookingStatus}: "
                                   f"{booking.reason}", booking.bookingStatus, type=PARTNER_REJECTED,
                                   non_retryable=True)
        if not booking.carrierBookingReference:
            raise ApplicationError(f"{endpoint.partner} book: booking {reference} is CONFIRMED without a "
                                   "carrierBookingReference", type=PARTNER_BAD_RESPONSE, non_retryable=True)
        return PartnerRecord(kind="booking", partner=endpoint.partner, ref=booking.carrierBookingReference,
                             state="booked", tracking_number=booking.carrierBookingReference)

    async def cancel_booking(self, http: httpx.AsyncClient, endpoint: Endpoint, call: PartnerCall) -> PartnerRecord:
        """Booking 2.0 cancellation (`PATCH /v2/bookings/{ref}`): a request not yet confirmed is cancelled
        (`bookingStatus: CANCELLED`), a confirmed booking's cancellation is requested (`bookingCancellationStatus:
        CANCELLATION_RECEIVED`) and awaited. Already cancelled, rejected or declined: nothing to undo, success."""
        ref = call.ref or call.tracking_number
        if not ref:
            raise ApplicationError(f"{endpoint.partner} cancel: the call names no booking", type=PARTNER_REJECTED,
                                   non_retryable=True)
        booking = await read_booking(http, endpoint, "cancel", ref)
        if booking is not None and not _cancel_decided(booking):
            reason = call.comment or "cancelled by Tradelane (shipment compensated)"
            if booking.bookingStatus in ("CONFIRMED", "PENDING_AMENDMENT"):
                if booking.bookingCancellationStatus != "CANCELLATION_RECEIVED":
                    await _send(http, endpoint, "cancel", "PATCH", f"/v2/bookings/{booking.reference}",
                                json={"bookingCancellationStatus": "CANCELLATION_RECEIVED", "reason": reason},
                                key=call.idempotency_key, expect="none")
            else:
                await _send(http, endpoint, "cancel", "PATCH",
                            f"/v2/bookings/{booking.carrierBookingRequestReference or ref}",
                            json={"bookingStatus": "CANCELLED", "reason": reason}, key=call.idempotency_key,
                            expect="none")
            booking = await self._await_decision(http, endpoint, "cancel", ref, _cancel_decided)
        if booking is None or not _cancel_decided(booking):
            raise ApplicationError(f"{endpoint.partner} cancel: cancellation of {ref} still pending",
                                   "CANCELLATION_PENDING", type=PARTNER_UNAVAILABLE)
        if booking.bookingCancellationStatus == "CANCELLATION_DECLINED" and booking.bookingStatus != "CANCELLED":
            raise ApplicationError(f"{endpoint.partner} cancel: the line declined to cancel {ref}: {booking.reason}",
                                   "CANCELLATION_DECLINED", type=PARTNER_REJECTED, non_retryable=True)
        return PartnerRecord(kind="booking", partner=endpoint.partner, ref=ref, state="cancelled",
                             tracking_number=booking.carrierBookingReference)

    async def amend_booking(self, http: httpx.AsyncClient, endpoint: Endpoint, ref: str,
                            changes: Mapping[str, Any]) -> PartnerRecord:
        """Booking 2.0 amendment (`PUT /v2/bookings/{ref}`, UseCase 7): the booking as the line holds it with
        `changes` (top-level CreateBooking fields) applied, then awaited until the line confirms or declines it.

        Idempotent: the header key is derived from the reference and the changes, and an amendment already
        confirmed with these values is not sent again.
        """
        booking = await read_booking(http, endpoint, "amend", ref)
        if booking is None:
            raise ApplicationError(f"{endpoint.partner} amend: booking {ref} is not readable yet",
                                   type=PARTNER_UNAVAILABLE)
        current = booking.model_dump(exclude_none=True)
        already = booking.amendedBookingStatus == "AMENDMENT_CONFIRMED" and all(
            current.get(k) == v for k, v in changes.items())
        if not already:
            digest = hashlib.sha256(repr(sorted(changes.items())).encode()).hexdigest()[:16]
            await _send(http, endpoint, "amend", "PUT", f"/v2/bookings/{ref}", json=update_body(current, changes),
                        key=f"amend:{ref}:{digest}", expect="none")
        amended = await self._await_decision(http, endpoint, "amend", ref, _amendment_decided)
        if amended is None or not _amendment_decided(amended):
            raise ApplicationError(f"{endpoint.partner} amend: amendment of {ref} still pending",
                                   "AMENDMENT_PENDING", type=PARTNER_UNAVAILABLE)
        if amended.amendedBookingStatus == "AMENDMENT_DECLINED":
            raise ApplicationError(f"{endpoint.partner} amend: the line declined the amendment of {ref}: "
                                   f"{amended.reason}", "AMENDMENT_DECLINED", type=PARTNER_REJECTED, non_retryable=True)
        return PartnerRecord(kind="booking", partner=endpoint.partner, ref=ref, state="booked",
                             tracking_number=amended.carrierBookingReference)

    async def create_label(self, http: httpx.AsyncClient, endpoint: Endpoint, call: PartnerCall) -> PartnerRecord:
        """Ocean cargo carries no carrier label: the booking reference is what the line tracks. No call."""
        ref = call.tracking_number or call.ref or ""
        return PartnerRecord(kind="label", partner=endpoint.partner, ref=ref, state="created", tracking_number=ref)

    async def find(self, http: httpx.AsyncClient, endpoint: Endpoint, kind: str,
                   idempotency_key: str) -> PartnerRecord | None:
        """DCSA Booking 2.0 reads a booking only by `carrierBookingRequestReference` or `carrierBookingReference`,
        both chosen by the line (the requester cannot send one of its own), and offers no search by the customer
        reference (`CR`) that carries the idempotency key: a booking whose outcome is unknown is listed for ops,
        who find it at the line by that reference."""
        if kind == "label":
            return None  # ocean cargo carries no carrier label: nothing was made
        raise lookup_unsupported(endpoint.partner, kind, "DCSA Booking 2.0 reads bookings only by the line's own "
                                 "references and has no search by customer reference")

    async def void_label(self, http: httpx.AsyncClient, endpoint: Endpoint, call: PartnerCall) -> PartnerRecord:
        """Undo of `create_label`, which made nothing at the line. No call."""
        ref = call.ref or call.tracking_number or ""
        return PartnerRecord(kind="label", partner=endpoint.partner, ref=ref, state="voided", tracking_number=ref)

    async def handover(self, http: httpx.AsyncClient, endpoint: Endpoint, call: PartnerCall) -> None:
        """Subscribes Tradelane's DCSA callback ingress to the booking's TNT 2.2 events (`POST
        /v2/event-subscriptions`), once: a subscription of the same booking to the same URL is reused. Without an
        events URL the line is polled.

        The callback URL is derived from `call.events_url` (Tradelane's own events URL) by
        `tradelane.dcsa_events.callback_url`: the DCSA ingress of this connection, naming the booking. The
        subscription's secret is `callback_secret(credentials["callback_secret"], booking reference)`, which the
        ingress recomputes to check each callback's `Notification-Signature`."""
        if call.events_url is None:
            return
        booking_ref = call.tracking_number or call.ref
        connection_secret = endpoint.credentials.get("callback_secret")
        if not booking_ref or not connection_secret:
            raise ApplicationError(f"{endpoint.partner} handover: needs the booking reference and the connection's "
                                   "callback_secret credential to subscribe", "MISCONFIGURED",
                                   type=PARTNER_REJECTED, non_retryable=True)
        try:
            url = callback_url(call.events_url, endpoint.partner, booking_ref)
        except ValueError as err:
            raise ApplicationError(f"{endpoint.partner} handover: {err}", "MISCONFIGURED", type=PARTNER_REJECTED,
                                   non_retryable=True) from err
        for existing in await self._subscriptions(http, endpoint):
            if existing.callbackUrl == url and existing.carrierBookingReference == booking_ref:
                return
        created = await _send(http, endpoint, "handover", "POST", "/v2/event-subscriptions",
                              json=subscription_body(url, callback_secret(connection_secret, booking_ref),
                                                     booking_ref), key=call.idempotency_key)
        _parse(SubscriptionView, created.body, f"{endpoint.partner} handover")

    async def track(self, http: httpx.AsyncClient, endpoint: Endpoint, shipment_id: str, booking_ref: str,
                    tracking_number: str | None) -> list[CarrierEvent]:
        """The booking's TNT 2.2 events (`GET /v2/events?carrierBookingReference=`, every page), oldest first,
        mapped with the booking's ports (read from the booking) so arrivals at the port of discharge count."""
        ref = tracking_number or booking_ref
        ports = await booking_ports(http, endpoint, ref, "track")
        events: list[Any] = []
        path, params = "/v2/events", {"carrierBookingReference": ref}
        for _page in range(MAX_PAGES):
            page = await _send(http, endpoint, "track", "GET", path, params=params)
            if not isinstance(page.body, list):
                raise ApplicationError(f"{endpoint.partner} track: the events response is not a JSON array",
                                       type=PARTNER_BAD_RESPONSE, non_retryable=True)
            events.extend(page.body)
            if not page.next_page:
                break
            if page.next_page.startswith(("http://", "https://", "/")):
                path, params = page.next_page, {}
            else:
                params = {"carrierBookingReference": ref, "cursor": page.next_page}
        try:
            return to_carrier_events(endpoint.partner, shipment_id, ref, events, ports=ports, via="poll")
        except DcsaEventError as err:
            raise ApplicationError(f"{endpoint.partner} track: {err}", type=PARTNER_BAD_RESPONSE,
                                   non_retryable=True) from err

    # -- helpers --

    async def _await_decision(self, http: httpx.AsyncClient, endpoint: Endpoint, operation: str, ref: str,
                              decided: Any) -> BookingView | None:
        deadline = time.monotonic() + self._wait_s
        while True:
            booking = await read_booking(http, endpoint, operation, ref)
            if (booking is not None and decided(booking)) or time.monotonic() + self._poll_s > deadline:
                return booking
            await asyncio.sleep(self._poll_s)

    async def _subscriptions(self, http: httpx.AsyncClient, endpoint: Endpoint) -> list[SubscriptionView]:
        body = (await _send(http, endpoint, "handover", "GET", "/v2/event-subscriptions")).body
        if not isinstance(body, list):
            raise ApplicationError(f"{endpoint.partner} handover: the subscriptions response is not a JSON array",
                                   type=PARTNER_BAD_RESPONSE, non_retryable=True)
        return [_parse(SubscriptionView, item, f"{endpoint.partner} handover") for item in body]


def _booking_decided(booking: BookingView) -> bool:
    return booking.bookingStatus in ("CONFIRMED", "REJECTED", "DECLINED", "CANCELLED", "COMPLETED")


def _cancel_decided(booking: BookingView) -> bool:
    return (booking.bookingStatus in ("CANCELLED", "REJECTED", "DECLINED")
            or booking.bookingCancellationStatus in ("CANCELLATION_CONFIRMED", "CANCELLATION_DECLINED"))


def _amendment_decided(booking: BookingView) -> bool:
    return booking.amendedBookingStatus in ("AMENDMENT_CONFIRMED", "AMENDMENT_DECLINED")
