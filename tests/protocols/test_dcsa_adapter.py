"""The DCSA adapter against the sandbox's DCSA emulator (in-process, over httpx's ASGI transport), every request it
sends and every response it reads validated against the DCSA OpenAPI files; and its failure classes against
partners that misbehave (httpx mock transports)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.exceptions import ApplicationError

from activities.errors import PARTNER_BAD_RESPONSE, PARTNER_RATE_LIMITED, PARTNER_REJECTED, PARTNER_UNAVAILABLE
from activities.protocols.base import CarrierProtocol, Endpoint
from activities.protocols.dcsa import (
    DcsaOcean,
    LocalMemory,
    booking_body,
    callback_secret,
    quote_from_rate_card,
    subscription_body,
    update_body,
)
from sandbox import SandboxConfig, create_app
from sandbox.emulators.dcsa import dcsa_line
from tests.protocols.test_dcsa_spec import BKG, TNT, DcsaContract
from tests.sandbox.test_sandbox_loopback import serve
from tradelane.dcsa_events import callback_url, to_carrier_events, verify_callback_signature
from tradelane.enums import Mode, TrackingStatus
from tradelane.models import ShipmentRequest
from tradelane.shipment.calls import PartnerCall

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "basic-cn-de.json"
EVENTS_URL = "http://tradelane.test/v1/carrier-events"
"""Tradelane's events URL as a shipment is given it; the line is subscribed with the DCSA ingress derived from it."""
FAST = {"seconds_per_day": 0.01, "timeout_fault_seconds": 0.05, "callback_timeout_s": 1.0, "callback_retries": 2,
        "callback_backoff_s": 0.001}
RATE_CARD = {"rate_base": "180", "rate_per_kg": "0.35", "rate_currency": "USD", "volumetric_divisor": "1000",
             "transit_days_min": "24", "transit_days_max": "34"}


def shipment(**changes: Any) -> ShipmentRequest:
    return ShipmentRequest.model_validate({**json.loads(EXAMPLE.read_text()), **changes})


def call(key: str = "shipment:S-DCSA-1:book:bluewave", **fields: Any) -> PartnerCall:
    request = shipment()
    return PartnerCall(shipment_id=request.shipment_id, partner="bluewave", idempotency_key=key, request=request,
                       **fields)


class CheckedTransport(httpx.AsyncBaseTransport):
    """Passes requests to another transport, validating each request body and response against the specs."""

    def __init__(self, inner: httpx.AsyncBaseTransport, contract: DcsaContract) -> None:
        self.inner, self.contract = inner, contract
        self.sent: list[tuple[str, str, Any]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content) if request.content else None
        if "/v2/" not in request.url.path:  # the sandbox's own control and inspection routes
            return await self.inner.handle_async_request(request)
        self.sent.append((request.method, request.url.path, body))
        if body is not None:
            self.contract.request(request.method, request.url.path, body)
        response = await self.inner.handle_async_request(request)
        content = await response.aread()
        self.contract.response(request.method, request.url.path, response.status_code,
                               json.loads(content) if content else None)
        return httpx.Response(response.status_code, headers=response.headers, content=content, request=request)


@dataclass
class Sink:
    """Tradelane's side of the subscription: records every callback and verifies its signature."""

    contract: DcsaContract
    bodies: list[list[dict[str, Any]]] = field(default_factory=list)
    signatures_ok: list[bool] = field(default_factory=list)
    requests: list[httpx.Request] = field(default_factory=list)
    """Every callback as sent (URL, headers, body)."""

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        body = json.loads(request.content)
        self.contract.callback(body, dict(request.headers))
        secret = callback_secret("connection secret", self.reference)
        self.signatures_ok.append(verify_callback_signature(secret, request.content,
                                                            request.headers["Notification-Signature"]))
        self.bodies.append(body)
        return httpx.Response(204)

    reference: str = ""


@dataclass
class Line:
    contract: DcsaContract
    http: httpx.AsyncClient
    transport: CheckedTransport
    sink: Sink
    app: Any
    endpoint: Endpoint

    async def settle(self) -> None:
        await dcsa_line(self.app).wait_idle()

    async def inspect(self) -> dict[str, Any]:
        return (await self.http.get("http://sandbox/dcsa/bluewave/_inspect")).json()


@pytest.fixture
async def line() -> AsyncIterator[Line]:
    contract = DcsaContract()
    app = create_app(SandboxConfig.model_validate(FAST))
    sink = Sink(contract)
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.MockTransport(sink.handle)) as callbacks:
        dcsa_line(app).http = callbacks
        transport = CheckedTransport(httpx.ASGITransport(app=app), contract)
        async with httpx.AsyncClient(transport=transport, base_url="http://sandbox") as http:
            yield Line(contract, http, transport, sink, app,
                       Endpoint(partner="bluewave", base_url="http://sandbox/dcsa/bluewave",
                                credentials={"callback_secret": "connection secret"}, options=RATE_CARD,
                                timeout_s=2.0))
        await dcsa_line(app).aclose()


def adapter() -> DcsaOcean:
    return DcsaOcean(LocalMemory(), wait_s=1.0, poll_s=0.005)


# ---- pure builders against the spec -----------------------------------------------------------------------------


def test_the_booking_request_is_a_create_booking_without_personal_data() -> None:
    request = shipment()
    body = booking_body(request, "shipment:S-DCSA-1:book:bluewave")
    DcsaContract().schema(BKG, "CreateBooking", body)
    assert body["receiptTypeAtOrigin"] == body["deliveryTypeAtDestination"] == "CFS"
    assert [s["location"]["UNLocationCode"] for s in body["shipmentLocations"]] == ["CNSHA", "DEHAM"]
    text = json.dumps(body)
    for personal in (request.origin.name, request.destination.name, request.destination.address_lines[0],
                     request.destination.email, request.destination.phone):
        assert personal is None or personal not in text


def test_a_leg_books_the_ports_of_its_own_countries() -> None:
    body = booking_body(shipment(), "k", origin="SG", destination="NL")
    assert [s["location"]["UNLocationCode"] for s in body["shipmentLocations"]] == ["SGSIN", "NLRTM"]


def test_a_country_without_a_port_is_rejected_before_any_call() -> None:
    with pytest.raises(ApplicationError) as caught:
        booking_body(shipment(), "k", destination="CH")
    assert caught.value.type == PARTNER_REJECTED and caught.value.non_retryable


def test_update_cancel_and_subscription_bodies_are_spec_payloads() -> None:
    contract = DcsaContract()
    created = booking_body(shipment(), "k")
    held = {**created, "carrierBookingRequestReference": "BKG-000001", "bookingStatus": "CONFIRMED",
            "carrierBookingReference": "BW00000001"}
    contract.schema(BKG, "Booking", held)
    contract.schema(BKG, "UpdateBooking", update_body(held, {"expectedDepartureDate": "2025-04-02"}))
    contract.schema(BKG, "CancelBookingRequest", {"bookingCancellationStatus": "CANCELLATION_RECEIVED", "reason": "x"})
    contract.schema(BKG, "CancelBookingRequest", {"bookingStatus": "CANCELLED"})
    contract.schema(TNT, "subscriptionBodyWithSecret",
                    subscription_body(EVENTS_URL, callback_secret("s", "BW00000001"), "BW00000001"))


def test_quotes_come_from_the_rate_card_without_a_call() -> None:
    request = shipment()
    quote = quote_from_rate_card("bluewave", request, RATE_CARD)
    weight = sum(Decimal(str(p.weight_kg)) for p in request.parcels)
    volume = sum(Decimal(str(p.length_cm * p.width_cm * p.height_cm)) for p in request.parcels) / 1000
    assert quote.amount == (Decimal(180) + Decimal("0.35") * max(weight, volume)).quantize(Decimal("0.01"))
    assert (quote.mode, quote.currency) == (Mode.OCEAN_LCL, "USD")
    assert (quote.transit_days_min, quote.transit_days_max) == (24, 34)
    with pytest.raises(ApplicationError) as caught:
        quote_from_rate_card("bluewave", request, {"rate_base": "1"})
    assert caught.value.non_retryable


def test_the_adapter_is_a_carrier_protocol() -> None:
    protocol: CarrierProtocol = DcsaOcean()
    assert protocol is not None


# ---- against the emulator ---------------------------------------------------------------------------------------


async def test_book_waits_for_confirmation_and_returns_the_carrier_booking_reference(line: Line) -> None:
    record = await adapter().book(line.http, line.endpoint, call())
    assert (record.kind, record.state) == ("booking", "booked")
    assert record.ref == record.tracking_number and record.ref.startswith("BW")
    [booking] = (await line.inspect())["bookings"]
    assert booking["bookingStatus"] == "CONFIRMED" and booking["carrierBookingReference"] == record.ref
    # The shipment is the customer's reference the line quotes back; the idempotency key lets its desk spot a repeat.
    assert line.transport.sent[0][2]["references"] == [{"type": "CR", "value": call().request.shipment_id},
                                                       {"type": "CR", "value": "shipment:S-DCSA-1:book:bluewave"}]


async def test_a_retried_book_finds_its_booking_and_books_once(line: Line) -> None:
    memory = LocalMemory()
    first = await DcsaOcean(memory, wait_s=1.0, poll_s=0.005).book(line.http, line.endpoint, call())
    again = await DcsaOcean(memory, wait_s=1.0, poll_s=0.005).book(line.http, line.endpoint, call())
    assert again == first
    assert [m for m, p, _ in line.transport.sent if m == "POST"] == ["POST"]  # the memory skipped the create
    # Without the memory (another worker, heartbeat lost), the Idempotency-Key answers the same booking.
    third = await adapter().book(line.http, line.endpoint, call())
    assert third == first
    assert len((await line.inspect())["bookings"]) == 1


async def test_a_booking_still_pending_is_retryable(line: Line) -> None:
    slow = DcsaOcean(LocalMemory(), wait_s=0.0, poll_s=0.001)
    line.app.state.sandbox.config.seconds_per_day = 10.0  # a decision 5 s away
    with pytest.raises(ApplicationError) as caught:
        await slow.book(line.http, line.endpoint, call())
    assert caught.value.type == PARTNER_UNAVAILABLE and "booking still pending" in str(caught.value)
    assert not caught.value.non_retryable


async def test_a_rejected_booking_is_a_non_retryable_rejection_with_the_lines_reason(line: Line) -> None:
    heavy = shipment(parcels=[{"weight_kg": 1500, "length_cm": 120, "width_cm": 100, "height_cm": 100,
                               "packaging": "wood_pallet", "ispm15_marked": True}] * 2)
    with pytest.raises(ApplicationError) as caught:
        await adapter().book(line.http, line.endpoint, call().model_copy(update={"request": heavy}))
    assert caught.value.type == PARTNER_REJECTED and caught.value.non_retryable
    assert "REJECTED" in str(caught.value) and "over the 2000 kg" in str(caught.value)


async def test_a_reject_fault_on_book_is_a_rejected_booking(line: Line) -> None:
    await line.http.post("http://sandbox/_faults", json={"partner": "bluewave", "operation": "book", "kind": "reject",
                                                          "code": "NO_SPACE", "message": "vessel full"})
    with pytest.raises(ApplicationError) as caught:
        await adapter().book(line.http, line.endpoint, call())
    assert caught.value.type == PARTNER_REJECTED and "NO_SPACE: vessel full" in str(caught.value)


async def test_cancel_a_confirmed_booking_twice(line: Line) -> None:
    record = await adapter().book(line.http, line.endpoint, call())
    cancel = call(key="shipment:S-DCSA-1:cancel:bluewave", ref=record.ref, tracking_number=record.ref)
    first = await adapter().cancel_booking(line.http, line.endpoint, cancel)
    second = await adapter().cancel_booking(line.http, line.endpoint, cancel)
    assert first.state == second.state == "cancelled"
    [booking] = (await line.inspect())["bookings"]
    assert booking["bookingStatus"] == "CANCELLED" and booking["bookingCancellationStatus"] == "CANCELLATION_CONFIRMED"
    assert [m for m, _, _ in line.transport.sent].count("PATCH") == 1


async def test_a_cancellation_after_loading_is_declined(line: Line) -> None:
    record = await adapter().book(line.http, line.endpoint, call())
    await adapter().track(line.http, line.endpoint, "S-DCSA-1", record.ref, record.ref)  # follows: the voyage starts
    await line.settle()
    with pytest.raises(ApplicationError) as caught:
        await adapter().cancel_booking(line.http, line.endpoint, call(ref=record.ref))
    assert caught.value.type == PARTNER_REJECTED and "declined" in str(caught.value)


async def test_amend_a_confirmed_booking(line: Line) -> None:
    record = await adapter().book(line.http, line.endpoint, call())
    amended = await adapter().amend_booking(line.http, line.endpoint, record.ref,
                                            {"expectedDepartureDate": "2025-05-02"})
    assert amended.state == "booked"
    booking = (await line.http.get(f"http://sandbox/dcsa/bluewave/v2/bookings/{record.ref}")).json()
    assert booking["amendedBookingStatus"] == "AMENDMENT_CONFIRMED"
    assert booking["expectedDepartureDate"] == "2025-05-02"


async def test_ocean_labels_are_the_booking_reference_without_a_call(line: Line) -> None:
    label = await adapter().create_label(line.http, line.endpoint, call(ref="BW1", tracking_number="BW1"))
    voided = await adapter().void_label(line.http, line.endpoint, call(ref="BW1", tracking_number="BW1"))
    assert (label.kind, label.ref, label.state, label.tracking_number) == ("label", "BW1", "created", "BW1")
    assert voided.state == "voided" and line.transport.sent == []


async def test_handover_subscribes_once_and_callbacks_are_signed_spec_events(line: Line) -> None:
    record = await adapter().book(line.http, line.endpoint, call())
    line.sink.reference = record.ref
    handover = call(ref=record.ref, tracking_number=record.ref, events_url=EVENTS_URL)
    await adapter().handover(line.http, line.endpoint, handover)
    await adapter().handover(line.http, line.endpoint, handover)  # a retried handover reuses the subscription
    [subscription] = (await line.inspect())["subscriptions"]
    assert subscription["callbackUrl"] == callback_url(EVENTS_URL, "bluewave", record.ref) == (
        f"http://tradelane.test/v1/partners/bluewave/dcsa/events?carrierBookingReference={record.ref}")
    await line.settle()
    assert line.sink.bodies and all(line.sink.signatures_ok)
    pushed = [e for body in line.sink.bodies for e in body]
    mapped = to_carrier_events("bluewave", "S-DCSA-1", record.ref, pushed, via="webhook")
    assert mapped[-1].code == "RELS"
    polled = await adapter().track(line.http, line.endpoint, "S-DCSA-1", record.ref, record.ref)
    assert {e.event_id for e in mapped} <= {e.event_id for e in polled}


async def test_handover_without_an_events_url_makes_no_call(line: Line) -> None:
    await adapter().handover(line.http, line.endpoint, call(ref="BW1", tracking_number="BW1"))
    assert line.transport.sent == []


async def test_track_maps_the_voyage_oldest_first(line: Line) -> None:
    record = await adapter().book(line.http, line.endpoint, call())
    await adapter().track(line.http, line.endpoint, "S-DCSA-1", record.ref, record.ref)
    await line.settle()
    events = await adapter().track(line.http, line.endpoint, "S-DCSA-1", record.ref, record.ref)
    assert [e.occurred_at for e in events] == sorted(e.occurred_at for e in events)
    statuses = [e.status for e in events]
    assert TrackingStatus.PICKED_UP in statuses and statuses[-1] is TrackingStatus.ARRIVED_AT_DESTINATION
    arrivals = [e for e in events if e.code == "ARRI"]
    assert [e.status for e in arrivals] == [TrackingStatus.IN_TRANSIT, TrackingStatus.ARRIVED_AT_DESTINATION]
    assert all(e.via == "poll" and e.event_id for e in events)


async def test_track_reads_every_page(line: Line) -> None:
    record = await adapter().book(line.http, line.endpoint, call())
    await adapter().track(line.http, line.endpoint, "S-DCSA-1", record.ref, record.ref)
    await line.settle()
    everything = await adapter().track(line.http, line.endpoint, "S-DCSA-1", record.ref, record.ref)
    page = (await line.http.get("http://sandbox/dcsa/bluewave/v2/events",
                                params={"carrierBookingReference": record.ref, "limit": 4}))
    assert len(page.json()) == 4 and page.headers["Next-Page"]
    nxt = await line.http.get("http://sandbox/dcsa/bluewave/v2/events",
                              params={"carrierBookingReference": record.ref, "limit": 4,
                                      "cursor": page.headers["Next-Page"]})
    assert [e["eventID"] for e in page.json() + nxt.json()] == [e.event_id for e in everything][:8]


async def test_the_customs_hold_voyage_maps_to_hold_and_clearance(line: Line) -> None:
    await line.http.post("http://sandbox/_faults", json={"partner": "bluewave", "operation": "handover",
                                                          "kind": "scenario", "scenario": "customs_hold"})
    record = await adapter().book(line.http, line.endpoint, call())
    await adapter().handover(line.http, line.endpoint, call(ref=record.ref, tracking_number=record.ref,
                                                            events_url=EVENTS_URL))
    await line.settle()
    events = await adapter().track(line.http, line.endpoint, "S-DCSA-1", record.ref, record.ref)
    statuses = [e.status for e in events]
    hold = statuses.index(TrackingStatus.CUSTOMS_HOLD)
    assert TrackingStatus.CUSTOMS_CLEARED in statuses[hold:]


# ---- failure classes --------------------------------------------------------------------------------------------

BOOKING = {"carrierBookingRequestReference": "R1", "carrierBookingReference": "BW1", "bookingStatus": "CONFIRMED",
           **{k: v for k, v in booking_body(shipment(), "k").items()}}


def mock(handler: Callable[[httpx.Request], httpx.Response]) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.MockTransport(handler))


ENDPOINT = Endpoint(partner="bluewave", base_url="http://line.test", timeout_s=0.2)


def _dcsa_error(status: int, message: str) -> dict[str, Any]:
    return {"httpMethod": "POST", "requestUri": "/v2/bookings", "statusCode": status, "statusCodeText": "Bad Request",
            "statusCodeMessage": message, "errorDateTime": "2025-01-01T00:00:00Z",
            "errors": [{"errorCodeText": "invalidData", "errorCodeMessage": message}]}


@pytest.mark.parametrize(("response", "kind", "retryable"), [
    pytest.param(httpx.Response(200, text="<html>oops</html>"), PARTNER_BAD_RESPONSE, False, id="200_not_json"),
    pytest.param(httpx.Response(202, json={"reference": "x"}), PARTNER_BAD_RESPONSE, False, id="202_not_the_schema"),
    pytest.param(httpx.Response(500, json=_dcsa_error(500, "boom")), PARTNER_UNAVAILABLE, True, id="500"),
    pytest.param(httpx.Response(429, headers={"Retry-After": "7"}, json=_dcsa_error(429, "slow down")),
                 PARTNER_RATE_LIMITED, True, id="429"),
    pytest.param(httpx.Response(400, json=_dcsa_error(400, "Spaces not allowed in facility code")),
                 PARTNER_REJECTED, False, id="400_with_the_dcsa_message"),
])
async def test_a_misbehaving_line_fails_typed(response: httpx.Response, kind: str, retryable: bool) -> None:
    async with mock(lambda request: response) as http:
        with pytest.raises(ApplicationError) as caught:
            await adapter().book(http, ENDPOINT, call())
    assert caught.value.type == kind and caught.value.non_retryable is not retryable
    if response.status_code == 429:
        assert caught.value.next_retry_delay is not None and caught.value.next_retry_delay.total_seconds() == 7
    if response.status_code == 400:
        assert "Spaces not allowed in facility code" in str(caught.value)


async def test_a_slow_line_times_out_retryable_over_real_loopback() -> None:
    # A `timeout` fault stalls the emulator for 1 s; the connection's timeout is 0.2 s (httpx enforces it on sockets).
    app = create_app(SandboxConfig.model_validate({**FAST, "timeout_fault_seconds": 1.0}))
    async with serve(app) as base, httpx.AsyncClient() as http:
        await http.post(f"{base}/_faults", json={"partner": "bluewave", "operation": "book", "kind": "timeout"})
        endpoint = Endpoint(partner="bluewave", base_url=f"{base}/dcsa/bluewave", timeout_s=0.2)
        with pytest.raises(ApplicationError) as caught:
            await adapter().book(http, endpoint, call())
    assert caught.value.type == PARTNER_UNAVAILABLE and "timed out" in str(caught.value)
    assert not caught.value.non_retryable


async def test_track_keeps_a_schema_valid_event_with_a_code_without_a_row_as_unknown() -> None:
    surrendered = {"eventID": "3c5b1f0e-7d57-4c55-9a1e-5f2b7c1a0d11", "eventType": "SHIPMENT",
                   "eventCreatedDateTime": "2025-01-02T00:00:00Z", "eventDateTime": "2025-01-02T00:00:00Z",
                   "eventClassifierCode": "ACT", "shipmentEventTypeCode": "SURR", "documentTypeCode": "TRD",
                   "documentID": "BW1"}
    DcsaContract().schema(TNT, "shipmentEvent", surrendered)

    def line(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=[surrendered] if request.url.path == "/v2/events" else BOOKING)

    async with mock(line) as http:
        [event] = await adapter().track(http, ENDPOINT, "S-1", "BW1", "BW1")
    assert (event.status, event.code, event.event_id) == (TrackingStatus.UNKNOWN, "SURR", surrendered["eventID"])


async def test_track_refuses_events_that_are_not_dcsa_events() -> None:
    def line(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=[{"code": "X"}] if request.url.path == "/v2/events" else BOOKING)

    async with mock(line) as http:
        with pytest.raises(ApplicationError) as caught:
            await adapter().track(http, ENDPOINT, "S-1", "BW1", "BW1")
    assert caught.value.type == PARTNER_BAD_RESPONSE and caught.value.non_retryable
