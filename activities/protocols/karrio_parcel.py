"""Parcel and express carriers (UPS, DHL Express, FedEx, Roadie) in their own published formats, through Karrio.

Karrio's carrier `Mapper`s build each request and parse each answer from Karrio's unified models; Tradelane sends
the request itself with the activity's `httpx.AsyncClient` (Karrio's proxies call urllib synchronously, without a
timeout and without an idempotency header). What each carrier's proxy does on the wire (paths, sign-in, headers)
is the table in `karrio_carriers.py`; Karrio's normalised tracking statuses map to Tradelane's through
`tradelane.karrio_status`.

Records this adapter returns carry Karrio's shipment identifier as the booking `ref`. For UPS, FedEx and DHL
Express that is the tracking number (master tracking number, air waybill); for Roadie it is Roadie's shipment id,
which is also what Roadie's tracking call takes. So labels, cancellations and tracking need no other state.
"""

import asyncio
import hashlib
import json
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from xml.etree import ElementTree

import httpx
import karrio.core.models as km
import karrio.lib as lib
import structlog
from temporalio.exceptions import ApplicationError

from activities.errors import (
    PARTNER_BAD_RESPONSE,
    PARTNER_CANNOT_CANCEL,
    PARTNER_RATE_LIMITED,
    PARTNER_REJECTED,
    PARTNER_UNAVAILABLE,
)
from activities.http import retry_after
from activities.protocols.base import Endpoint, lookup_unsupported
from activities.protocols.karrio_carriers import CARRIERS, Auth, KarrioCarrier, Route
from tradelane.decisions.models import Quote
from tradelane.enums import Incoterm, Mode
from tradelane.karrio_status import karrio_status
from tradelane.models import Party, ShipmentRequest
from tradelane.shipment.calls import PartnerCall, PartnerRecord
from tradelane.shipment.events import CarrierEvent

log = structlog.stdlib.get_logger(__name__)

PARTNER_MISCONFIGURED = "PartnerMisconfigured"
"""The connection cannot be used as configured (unknown carrier, missing credential): not retried."""

VOLUMETRIC_DIVISOR = 5000
"""cm^3 per kg: the express carriers' volumetric divisor."""
DEFAULT_TRANSIT_DAYS = (1, 5)
"""Transit days assumed when a carrier's rate states none (Roadie's same-day rate always states 1)."""
TOKEN_MARGIN_S = 60.0
"""An OAuth token is renewed this long before the carrier says it expires."""

_ALREADY_CANCELLED = re.compile(r"already\s+(been\s+)?(void|cancel)", re.IGNORECASE)
"""A cancel the carrier refuses because it already happened (a retried undo) counts as done."""

Parse = Callable[[lib.Deserializable], tuple[Any, list[km.Message]]]


# ---- pure mapping: Tradelane's models -> Karrio's unified models ------------------------------------------------


def _address(party: Party | None, country: str) -> km.Address:
    """Karrio's address for a party; a leg's end in another country than the party's is known by country alone."""
    if party is None or party.country != country:
        return km.Address(country_code=country)
    lines = party.address_lines
    return km.Address(
        person_name=party.name, company_name=party.company, address_line1=lines[0],
        address_line2=" ".join(lines[1:]) or None, city=party.city, postal_code=party.postal_code,
        country_code=party.country, state_code=party.region, phone_number=party.phone, email=party.email,
    )


def _parcels(request: ShipmentRequest) -> list[km.Parcel]:
    return [
        km.Parcel(weight=p.weight_kg, weight_unit="KG", length=p.length_cm, width=p.width_cm, height=p.height_cm,
                  dimension_unit="CM", packaging_type="your_packaging", reference_number=request.shipment_id)
        for p in request.parcels
    ]


def customs(request: ShipmentRequest) -> km.Customs:
    """The customs declaration Karrio turns into each carrier's invoice lines: goods, values, origin, incoterm."""
    return km.Customs(
        commodities=[
            km.Commodity(sku=i.sku, description=i.description, hs_code=i.hs_code, quantity=i.quantity,
                         value_amount=float(i.unit_value), value_currency=request.currency,
                         origin_country=i.origin_country, weight=i.unit_weight_kg, weight_unit="KG")
            for i in request.items
        ],
        content_type="merchandise",
        incoterm=request.incoterm.value,
        invoice=request.order_ref,
        invoice_date=request.ship_date.isoformat(),
        duty=km.Duty(paid_by="sender" if request.incoterm == Incoterm.DDP else "recipient",
                     currency=request.currency, declared_value=float(request.declared_value)),
        commercial_invoice=True,
    )


def _lane(request: ShipmentRequest, origin: str | None, destination: str | None) -> tuple[km.Address, km.Address]:
    return (_address(request.origin, origin or request.origin.country),
            _address(request.destination, destination or request.destination.country))


def _options(request: ShipmentRequest) -> dict[str, Any]:
    return {"currency": request.currency, "declared_value": float(request.declared_value),
            "shipment_date": request.ship_date.isoformat(), "shipping_date": f"{request.ship_date.isoformat()}T09:00"}


def rate_request(request: ShipmentRequest, origin: str | None, destination: str | None,
                 service: str | None) -> km.RateRequest:
    shipper, recipient = _lane(request, origin, destination)
    return km.RateRequest(
        shipper=shipper, recipient=recipient, parcels=_parcels(request), services=[service] if service else [],
        options=_options(request), reference=request.shipment_id,
        customs=customs(request) if shipper.country_code != recipient.country_code else None,
    )


def shipment_request(call: PartnerCall, request: ShipmentRequest, service: str,
                     account_number: str | None) -> km.ShipmentRequest:
    shipper, recipient = _lane(request, call.origin, call.destination)
    return km.ShipmentRequest(
        service=service, shipper=shipper, recipient=recipient, parcels=_parcels(request),
        payment=km.Payment(paid_by="sender", currency=request.currency, account_number=account_number),
        customs=customs(request) if shipper.country_code != recipient.country_code else None,
        options=_options(request), reference=request.shipment_id, label_type="PDF",
    )


def chargeable_weight_kg(request: ShipmentRequest) -> float:
    """Per parcel the larger of actual and volumetric weight (L x W x H / 5000), summed."""
    return round(sum(max(p.weight_kg, p.length_cm * p.width_cm * p.height_cm / VOLUMETRIC_DIVISOR)
                     for p in request.parcels), 2)


def _digest(*parts: object, size: int = 16) -> str:
    return hashlib.sha256("|".join(str(p) for p in parts).encode()).hexdigest()[:size]


def pick_rate(rates: list[km.RateDetails], service: str | None) -> km.RateDetails | None:
    """The rate of the connection's service when it has one, else the cheapest."""
    priced = [r for r in rates if r.total_charge is not None]
    chosen = [r for r in priced if service and r.service == service]
    return min(chosen or priced, key=lambda r: Decimal(str(r.total_charge)), default=None)


def to_quote(rate: km.RateDetails, endpoint: Endpoint, request: ShipmentRequest, origin: str | None,
             destination: str | None) -> Quote:
    amount = Decimal(str(rate.total_charge)).quantize(Decimal("0.01"))
    currency = rate.currency or request.currency
    days = (rate.transit_days, rate.transit_days) if rate.transit_days else DEFAULT_TRANSIT_DAYS
    quote_id = rate.id or (f"{endpoint.partner}:{rate.service}:"
                           f"{_digest(request.shipment_id, origin, destination, rate.service, amount, currency)}")
    return Quote(
        quote_id=quote_id, partner=endpoint.partner, mode=Mode(endpoint.options.get("mode", Mode.AIR_EXPRESS)),
        amount=amount, currency=currency, transit_days_min=days[0], transit_days_max=days[1],
        chargeable_weight_kg=chargeable_weight_kg(request), co2e_kg=0.0, origin=origin, destination=destination,
    )


def _occurred_at(event: km.TrackingEvent) -> datetime:
    """Karrio's ISO timestamp (UTC `Z`), else its date and time; a time without offset is taken as UTC."""
    text = event.timestamp or " ".join(filter(None, [event.date, event.time]))
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def to_events(carrier: str, partner: str, shipment_id: str, booking_ref: str,
              details: list[km.TrackingDetails]) -> list[CarrierEvent]:
    """Every event of every tracked package, oldest first, each with an id stable across polls.

    The id digests what the event says (time, code, location, description), not its position: carriers list
    events newest first and add to the front. Two identical events get `~2`, `~3`, ... in order of appearance.
    """
    events: list[CarrierEvent] = []
    seen: dict[str, int] = {}
    for detail in details:
        number = str(detail.tracking_number or booking_ref)
        for e in detail.events or []:
            base = f"{partner}:{number}:{_digest(e.timestamp, e.date, e.time, e.code, e.location, e.description)}"
            seen[base] = seen.get(base, 0) + 1
            events.append(CarrierEvent(
                event_id=base if seen[base] == 1 else f"{base}~{seen[base]}",
                partner=partner, shipment_id=shipment_id,
                code=str(e.code or e.status or "unknown"),
                status=karrio_status(carrier, e.status, e.reason, None if e.code is None else str(e.code)),
                description=e.description or "", location=e.location or "", occurred_at=_occurred_at(e),
                tracking_number=number, booking_ref=booking_ref, via="poll",
            ))
    return sorted(events, key=lambda ev: ev.occurred_at)


# ---- HTTP outcomes -> Temporal retry semantics ---------------------------------------------------------------------


def _first_error(messages: list[km.Message]) -> km.Message | None:
    return next((m for m in messages if m.level in (None, "error")), None)


NOT_SCANNED_YET: dict[str, frozenset[str]] = {"dhl_express": frozenset({"101"})}
"""Error codes with which a carrier's tracking says a waybill has no scans yet (DHL XML-PI: 101 "No Shipments
Found"): no events, not a refusal."""


def _not_scanned_yet(carrier: str, messages: list[km.Message]) -> bool:
    first = _first_error(messages)
    return first is not None and str(first.code) in NOT_SCANNED_YET.get(carrier, frozenset())


def _errors_text(messages: list[km.Message]) -> tuple[str, str]:
    first = _first_error(messages) or (messages[0] if messages else None)
    if first is None:
        return "UNKNOWN", ""
    return str(first.code or "UNKNOWN"), str(first.message or "")[:500]


class _Exchange:
    """One call's context for error messages: which partner, which operation."""

    def __init__(self, endpoint: Endpoint, carrier: KarrioCarrier, operation: str) -> None:
        self.endpoint = endpoint
        self.carrier = carrier
        self.operation = operation

    @property
    def name(self) -> str:
        return f"{self.endpoint.partner} ({self.carrier.name}) {self.operation}"

    def unavailable(self, why: str) -> ApplicationError:
        return ApplicationError(f"{self.name}: {why}", type=PARTNER_UNAVAILABLE)

    def rejected(self, code: str, message: str, status: int | None = None) -> ApplicationError:
        http = f"HTTP {status} " if status else ""
        return ApplicationError(f"{self.name}: {http}{code} {message}".strip(), code, message,
                                type=PARTNER_REJECTED, non_retryable=True)

    def bad_response(self, why: str) -> ApplicationError:
        return ApplicationError(f"{self.name}: {why}", type=PARTNER_BAD_RESPONSE, non_retryable=True)


class KarrioParcel:
    """`CarrierProtocol` for carriers Karrio speaks: `endpoint.options["carrier"]` in ups, dhl_express, fedex, roadie.

    The connection's options: `carrier` (required), `service` (Karrio service name, e.g. `ups_worldwide_saver`;
    quotes prefer it and bookings use it, else the carrier's default in `karrio_carriers.CARRIERS`), `mode`
    (the quote's mode, `air_express` by default).
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._tokens: dict[tuple[str, str], tuple[str, float]] = {}
        """(base_url, client id) -> (access token, expiry on `clock`)."""

    # ---- operations ---------------------------------------------------------------------------------------------

    async def quote(self, http: httpx.AsyncClient, endpoint: Endpoint, request: ShipmentRequest,
                    origin: str | None, destination: str | None) -> Quote:
        carrier = self._carrier(endpoint)
        xc = _Exchange(endpoint, carrier, "quote")
        settings = self._settings(carrier, endpoint, _digest(request.shipment_id, "quote", size=32))
        mapper = carrier.mapper(settings)
        service = endpoint.options.get("service")
        serialized = self._build(xc, lambda: mapper.create_rate_request(
            rate_request(request, origin, destination, service)))
        raw = await self._send(http, xc, settings, carrier.rate, serialized.serialize())
        rates, messages = await self._parse(xc, mapper.parse_rate_response, raw, serialized.ctx)
        rate = pick_rate(rates or [], service)
        if rate is None:
            raise self._no_result(xc, messages)
        return to_quote(rate, endpoint, request, origin, destination)

    async def book(self, http: httpx.AsyncClient, endpoint: Endpoint, call: PartnerCall) -> PartnerRecord:
        """Karrio's create shipment: the carrier answers with the tracking number and the label together."""
        carrier = self._carrier(endpoint)
        xc = _Exchange(endpoint, carrier, "book")
        if call.request is None:
            raise ApplicationError(f"{xc.name}: the call carries no shipment request", type=PARTNER_MISCONFIGURED,
                                   non_retryable=True)
        settings = self._settings(carrier, endpoint, self._transaction_id(carrier, call.idempotency_key))
        mapper = carrier.mapper(settings)
        service = endpoint.options.get("service") or carrier.default_service
        payload = shipment_request(call, call.request, service, endpoint.credentials.get("account_number"))
        serialized = self._build(xc, lambda: mapper.create_shipment_request(payload))
        raw = await self._send(http, xc, settings, carrier.ship, serialized.serialize(),
                               idempotency_key=call.idempotency_key)
        shipment, messages = await self._parse(xc, mapper.parse_shipment_response, raw, serialized.ctx)
        if shipment is None or not (shipment.shipment_identifier or shipment.tracking_number):
            raise self._no_result(xc, messages)
        ref = str(shipment.shipment_identifier or shipment.tracking_number)
        log.info("karrio booked", partner=endpoint.partner, carrier=carrier.name, shipment_id=call.shipment_id,
                 ref=ref)
        return PartnerRecord(kind="booking", partner=endpoint.partner, ref=ref, state="booked",
                             tracking_number=str(shipment.tracking_number or ref))

    async def cancel_booking(self, http: httpx.AsyncClient, endpoint: Endpoint, call: PartnerCall) -> PartnerRecord:
        """Karrio's cancel shipment; a carrier saying it is already cancelled counts as done."""
        await self._cancel(http, endpoint, call, "cancel_booking")
        return PartnerRecord(kind="booking", partner=endpoint.partner, ref=self._ref(call), state="cancelled",
                             tracking_number=call.tracking_number)

    async def create_label(self, http: httpx.AsyncClient, endpoint: Endpoint, call: PartnerCall) -> PartnerRecord:
        """No call: these carriers return the label with the shipment (`book`). The label is filed under the
        booking's ref, the tracking number the parcels carry."""
        ref = self._ref(call)
        return PartnerRecord(kind="label", partner=endpoint.partner, ref=ref, state="created",
                             tracking_number=call.tracking_number or ref)

    async def find(self, http: httpx.AsyncClient, endpoint: Endpoint, kind: str,
                   idempotency_key: str) -> PartnerRecord | None:
        """UPS, DHL Express, FedEx and Roadie publish no search of shipments by a client's key or reference that
        Karrio offers: a shipment whose outcome is unknown is listed for ops (`outcome_unknown`)."""
        raise lookup_unsupported(endpoint.partner, kind, f"{endpoint.options.get('carrier', 'this carrier')}'s "
                                 "published API (through Karrio) has no lookup of shipments by client key")

    async def void_label(self, http: httpx.AsyncClient, endpoint: Endpoint, call: PartnerCall) -> PartnerRecord:
        """Voiding a parcel label is cancelling its shipment (Karrio's cancel shipment); twice is fine."""
        await self._cancel(http, endpoint, call, "void_label")
        return PartnerRecord(kind="label", partner=endpoint.partner, ref=self._ref(call), state="voided",
                             tracking_number=call.tracking_number)

    async def handover(self, http: httpx.AsyncClient, endpoint: Endpoint, call: PartnerCall) -> None:
        """No call: parcels go with the carrier's daily collection at the shipper (a scheduled pickup is assumed),
        and these carriers push no events to Tradelane; `track` polls them."""
        log.info("karrio handover at daily collection", partner=endpoint.partner, shipment_id=call.shipment_id)

    async def track(self, http: httpx.AsyncClient, endpoint: Endpoint, shipment_id: str, booking_ref: str,
                    tracking_number: str | None) -> list[CarrierEvent]:
        carrier = self._carrier(endpoint)
        xc = _Exchange(endpoint, carrier, "track")
        settings = self._settings(carrier, endpoint, _digest(shipment_id, booking_ref, time.time_ns(), size=32))
        mapper = carrier.mapper(settings)
        # Roadie tracks by its shipment id (the booking ref); the others by tracking number, which is the ref too.
        number = booking_ref if carrier.name == "roadie" else (tracking_number or booking_ref)
        serialized = self._build(xc, lambda: mapper.create_tracking_request(km.TrackingRequest(
            tracking_numbers=[number])))
        body = None if carrier.track.method == "GET" else serialized.serialize()
        raw = await self._send(http, xc, settings, carrier.track, body, ref=number)
        if carrier.name == "ups":
            raw = [(number, raw)]  # Karrio's UPS parser takes (tracking number, answer) pairs, one call per number
        details, messages = await self._parse(xc, mapper.parse_tracking_response, raw, serialized.ctx)
        if not details:
            if messages and (_first_error(messages) is None or _not_scanned_yet(carrier.name, messages)):
                return []  # only warnings, e.g. "tracking information not found" before the first scan
            raise self._no_result(xc, messages)
        return to_events(carrier.name, endpoint.partner, shipment_id, booking_ref, details)

    # ---- mechanics ----------------------------------------------------------------------------------------------

    async def _let_lapse(self, http: httpx.AsyncClient, endpoint: Endpoint, call: PartnerCall, ref: str,
                         operation: str) -> None:
        """The undo at a carrier without a cancel operation (DHL Express's XML-PI, as Karrio speaks it).

        A waybill the carrier never scanned lapses unbilled, so it is left to lapse and the undo completes. One the
        carrier has scanned holds goods in its network: no API call can take that back, so the undo fails for good
        (`PartnerCannotCancel`) and the saga lists it for ops (return or write-off with the carrier), instead of
        reporting a cancel that never happened.

        Raises:
            ApplicationError: `PartnerCannotCancel` (non-retryable) when the waybill has tracking events.
        """
        carrier = self._carrier(endpoint)
        events = await self.track(http, endpoint, call.shipment_id, ref, call.tracking_number)
        if events:
            last = events[-1]
            log.warning("karrio carrier cannot cancel a tendered waybill", partner=endpoint.partner,
                        carrier=carrier.name, ref=ref, operation=operation, scans=len(events))
            raise ApplicationError(
                f"{endpoint.partner}: waybill {ref} cannot be cancelled: the carrier has no cancel operation and has "
                f"scanned it {len(events)} time(s) (last: {last.status}); settle it with the carrier (return or "
                "write-off), then resolve this item", type=PARTNER_CANNOT_CANCEL, non_retryable=True)
        log.warning("karrio carrier cannot cancel; untendered waybill left to lapse", partner=endpoint.partner,
                    carrier=carrier.name, ref=ref, operation=operation)

    async def _cancel(self, http: httpx.AsyncClient, endpoint: Endpoint, call: PartnerCall, operation: str) -> None:
        carrier = self._carrier(endpoint)
        xc = _Exchange(endpoint, carrier, operation)
        ref = self._ref(call)
        if carrier.cancel is None:
            await self._let_lapse(http, endpoint, call, ref, operation)
            return
        settings = self._settings(carrier, endpoint, self._transaction_id(carrier, call.idempotency_key))
        mapper = carrier.mapper(settings)
        serialized = self._build(xc, lambda: mapper.create_cancel_shipment_request(km.ShipmentCancelRequest(
            shipment_identifier=ref)))
        body = None if carrier.cancel.method == "DELETE" else serialized.serialize()
        try:
            raw = await self._send(http, xc, settings, carrier.cancel, body, ref=ref,
                                   idempotency_key=call.idempotency_key, parse=mapper.parse_cancel_shipment_response)
            confirmation, messages = await self._parse(xc, mapper.parse_cancel_shipment_response, raw, {})
        except ApplicationError as err:
            if err.type == PARTNER_REJECTED and _ALREADY_CANCELLED.search(str(err)):
                log.info("karrio already cancelled", partner=endpoint.partner, ref=ref, operation=operation)
                return
            raise
        if confirmation is not None and confirmation.success:
            return
        code, message = _errors_text(messages)
        if _ALREADY_CANCELLED.search(message):
            return
        raise self._no_result(xc, messages)

    @staticmethod
    def _ref(call: PartnerCall) -> str:
        ref = call.ref or call.tracking_number
        if not ref:
            raise ApplicationError(f"{call.partner}: the call names no booking ref", type=PARTNER_MISCONFIGURED,
                                   non_retryable=True)
        return ref

    @staticmethod
    def _carrier(endpoint: Endpoint) -> KarrioCarrier:
        name = endpoint.options.get("carrier", "")
        if name not in CARRIERS:
            raise ApplicationError(f"{endpoint.partner}: options.carrier '{name}' is not one of {sorted(CARRIERS)}",
                                   type=PARTNER_MISCONFIGURED, non_retryable=True)
        return CARRIERS[name]

    @staticmethod
    def _transaction_id(carrier: KarrioCarrier, idempotency_key: str) -> str:
        """The carrier's transaction id for a call: a digest of the idempotency key, so stable across retries."""
        return hashlib.sha256(idempotency_key.encode()).hexdigest()[:carrier.transaction_header_max]

    @staticmethod
    def _credential(carrier: KarrioCarrier, endpoint: Endpoint, name: str) -> str | None:
        alias = carrier.aliases.get(name)
        return endpoint.credentials.get(name) or (endpoint.credentials.get(alias) if alias else None)

    def _settings(self, carrier: KarrioCarrier, endpoint: Endpoint, message_reference: str) -> Any:
        values = {name: self._credential(carrier, endpoint, name) for name in carrier.credentials}
        missing = [name for name in carrier.required if not values.get(name)]
        if missing:
            raise ApplicationError(f"{endpoint.partner}: credentials lack {', '.join(missing)} for {carrier.name}",
                                   type=PARTNER_MISCONFIGURED, non_retryable=True)
        settings = carrier.settings(**{k: v for k, v in values.items() if v}, test_mode=False)
        settings.message_reference = message_reference
        return settings

    @staticmethod
    def _build(xc: _Exchange, build: Callable[[], lib.Serializable]) -> lib.Serializable:
        try:
            return build()
        except Exception as err:  # Karrio refuses the shipment as given (a missing field, an unknown service)
            raise ApplicationError(f"{xc.name}: Karrio cannot build the request: {type(err).__name__}: {err}",
                                   type=PARTNER_REJECTED, non_retryable=True) from err

    async def _token(self, http: httpx.AsyncClient, xc: _Exchange, settings: Any) -> str:
        carrier, endpoint = xc.carrier, xc.endpoint
        client_id = settings.client_id if carrier.auth == Auth.OAUTH_BASIC else settings.api_key
        key = (endpoint.base_url, client_id)
        cached = self._tokens.get(key)
        if cached and cached[1] > self._clock():
            return cached[0]
        url = f"{endpoint.base_url}{carrier.token_path}"
        if carrier.auth == Auth.OAUTH_BASIC:
            request = dict(data={"grant_type": "client_credentials"},
                           auth=httpx.BasicAuth(settings.client_id, settings.client_secret))
        else:
            request = dict(data={"grant_type": "client_credentials", "client_id": settings.api_key,
                                 "client_secret": settings.secret_key})
        token_xc = _Exchange(endpoint, carrier, f"{xc.operation} (sign-in)")
        response = await self._request(http, token_xc, "POST", url, **request)
        body = self._json(token_xc, response)
        if not isinstance(body, dict) or not isinstance(body.get("access_token"), str):
            raise token_xc.bad_response("the token answer has no access_token")
        try:
            lifetime = float(body.get("expires_in", 0))
        except (TypeError, ValueError) as err:
            raise token_xc.bad_response(f"expires_in {body.get('expires_in')!r} is not a number") from err
        self._tokens[key] = (body["access_token"], self._clock() + lifetime - TOKEN_MARGIN_S)
        return body["access_token"]

    async def _headers(self, http: httpx.AsyncClient, xc: _Exchange, settings: Any,
                       idempotency_key: str | None) -> dict[str, str]:
        carrier = xc.carrier
        headers = dict(carrier.extra_headers)
        headers["Content-Type"] = "application/xml" if carrier.xml else "application/json"
        if carrier.auth in (Auth.OAUTH_BASIC, Auth.OAUTH_FORM):
            headers["Authorization"] = f"Bearer {await self._token(http, xc, settings)}"
        elif carrier.auth == Auth.BEARER_KEY:
            headers["Authorization"] = f"Bearer {settings.api_key}"
        if carrier.transaction_header:
            headers[carrier.transaction_header] = settings.message_reference
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        return headers

    async def _send(self, http: httpx.AsyncClient, xc: _Exchange, settings: Any, route: Route, body: Any, *,
                    ref: str = "", idempotency_key: str | None = None, parse: Parse | None = None) -> Any:
        """One carrier call: the decoded answer of a 2xx, else an `ApplicationError` typed for the retry policy.

        A 401 with a cached OAuth token drops the token and signs in once more (tokens can be revoked early).
        """
        endpoint = xc.endpoint
        url = endpoint.base_url.rstrip("/") + route.path.format(id=ref)
        content = None if body is None else (body if isinstance(body, str) else json.dumps(body))
        for attempt in (1, 2):
            headers = await self._headers(http, xc, settings, idempotency_key)
            response = await self._request(http, xc, route.method, url, content=content, headers=headers)
            if response.status_code == 401 and attempt == 1 and xc.carrier.token_path:
                self._tokens.pop((endpoint.base_url, getattr(settings, "client_id", None) or settings.api_key), None)
                continue
            break
        if response.is_success:
            return self._decode(xc, response)
        code, message = self._error_of(xc, settings, response, parse)
        log.warning("karrio carrier refused", partner=endpoint.partner, carrier=xc.carrier.name,
                    operation=xc.operation, status=response.status_code, code=code)
        if response.status_code == 429:
            raise ApplicationError(f"{xc.name}: HTTP 429 {code} {message}".strip(), code, type=PARTNER_RATE_LIMITED,
                                   next_retry_delay=retry_after(response))
        if 400 <= response.status_code < 500:
            raise xc.rejected(code, message, response.status_code)
        raise xc.unavailable(f"HTTP {response.status_code} {code} {message}".strip())

    @staticmethod
    async def _request(http: httpx.AsyncClient, xc: _Exchange, method: str, url: str, **kwargs: Any) -> httpx.Response:
        try:
            return await http.request(method, url, timeout=xc.endpoint.timeout_s, **kwargs)
        except httpx.TimeoutException as err:
            raise xc.unavailable(f"timed out after {xc.endpoint.timeout_s}s") from err
        except httpx.TransportError as err:
            raise xc.unavailable(f"{type(err).__name__}: {err}") from err

    @staticmethod
    def _json(xc: _Exchange, response: httpx.Response) -> Any:
        try:
            return response.json()
        except ValueError as err:
            raise xc.bad_response(f"HTTP {response.status_code} answer is not JSON: {response.text[:200]!r}") from err

    def _decode(self, xc: _Exchange, response: httpx.Response) -> Any:
        if not xc.carrier.xml:
            return self._json(xc, response)
        try:
            ElementTree.fromstring(response.content)  # well-formed, strictly: Karrio's reader recovers from anything
            return lib.to_element(response.text)
        except Exception as err:  # ParseError, lxml's XMLSyntaxError and friends
            raise xc.bad_response(f"HTTP {response.status_code} answer is not XML: {response.text[:200]!r}") from err

    def _error_of(self, xc: _Exchange, settings: Any, response: httpx.Response,
                  parse: Parse | None) -> tuple[str, str]:
        """The carrier's (code, message) from an error answer, read by Karrio's parser where it can."""
        try:
            decoded = self._decode(xc, response)
        except ApplicationError:
            return "UNKNOWN", response.text[:300]
        if xc.carrier.name == "ups" and xc.operation == "track":
            decoded = [("", decoded)]
        messages: list[km.Message] = []
        parser = parse or self._error_parser(xc, settings)
        try:
            _, messages = parser(lib.Deserializable(decoded, lib.identity, {}))
        except Exception:  # an error body Karrio cannot read: the raw text is the message
            log.debug("karrio error body unreadable", partner=xc.endpoint.partner, operation=xc.operation)
        if messages:
            return _errors_text(messages)
        return "UNKNOWN", response.text[:300]

    @staticmethod
    def _error_parser(xc: _Exchange, settings: Any) -> Parse:
        mapper = xc.carrier.mapper(settings)
        return {"quote": mapper.parse_rate_response, "book": mapper.parse_shipment_response,
                "track": mapper.parse_tracking_response}.get(xc.operation, mapper.parse_rate_response)

    @staticmethod
    async def _parse(xc: _Exchange, parse: Parse, decoded: Any, ctx: dict) -> tuple[Any, list[km.Message]]:
        """Karrio's parser, off the event loop (it may convert label images); any exception is a bad response."""
        try:
            result, messages = await asyncio.to_thread(parse, lib.Deserializable(decoded, lib.identity, ctx or {}))
        except Exception as err:
            raise xc.bad_response(f"Karrio cannot read the answer: {type(err).__name__}: {err}") from err
        return result, list(messages or [])

    @staticmethod
    def _no_result(xc: _Exchange, messages: list[km.Message]) -> ApplicationError:
        """No result: the carrier's error messages make it a rejection; none at all, a bad response."""
        if _first_error(messages) is not None:
            return xc.rejected(*_errors_text(messages))
        return xc.bad_response("the answer holds no result and no error message")


