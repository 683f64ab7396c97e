"""DCSA subscription callbacks as Tradelane receives them: the callback URL rule, the per-booking secret, the
booking an event names (pure); and the emulator's callbacks, as the adapter's handover subscribes them, checked
against the TNT 2.2 callback contract and against what Tradelane's ingress will verify."""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from activities.protocols.dcsa import booking_ports, callback_secret
from infra.platform.settings import Settings
from tests.protocols.test_dcsa_adapter import EVENTS_URL, Line, adapter, call
from tests.protocols.test_dcsa_adapter import line as line  # noqa: F401  (the emulator fixture)
from tradelane.dcsa_events import (
    BOOKING_PARAMETER,
    CALLBACK_PATH,
    callback_url,
    other_booking,
    parse_events,
    to_carrier_events,
    verify_callback_signature,
)

# ---- the callback URL: derived from Tradelane's events URL --------------------------------------------------------


@pytest.mark.parametrize(("events_url", "expected"), [
    pytest.param("https://api.tradelane.example/v1/carrier-events",
                 "https://api.tradelane.example/v1/partners/bluewave/dcsa/events?carrierBookingReference=BW00000001",
                 id="public_host"),
    pytest.param("https://edge.example/tradelane/v1/carrier-events/",
                 "https://edge.example/tradelane/v1/partners/bluewave/dcsa/events?carrierBookingReference=BW00000001",
                 id="behind_a_path_prefix_with_a_trailing_slash"),
    pytest.param("http://127.0.0.1:8000/v1/carrier-events",
                 "http://127.0.0.1:8000/v1/partners/bluewave/dcsa/events?carrierBookingReference=BW00000001",
                 id="development_default"),
])
def test_the_callback_url_is_the_dcsa_ingress_beside_the_events_url(events_url: str, expected: str) -> None:
    assert callback_url(events_url, "bluewave", "BW00000001") == expected


def test_the_callback_url_follows_the_settings_public_url() -> None:
    settings = Settings(environment="test", public_url="https://api.tradelane.example/")
    url = callback_url(settings.events_url, "bluewave", "BW1")
    assert url == "https://api.tradelane.example" + CALLBACK_PATH.format(partner="bluewave") + (
        f"?{BOOKING_PARAMETER}=BW1")


def test_a_booking_reference_is_quoted_in_the_callback_url() -> None:
    url = callback_url("https://t.example/v1/carrier-events", "bluewave", "BW 1/&x=2")
    assert parse_qs(urlsplit(url).query) == {BOOKING_PARAMETER: ["BW 1/&x=2"]}
    assert urlsplit(url).path == "/v1/partners/bluewave/dcsa/events"


@pytest.mark.parametrize("events_url", ["https://t.example/v1/partner-events/bluewave", "https://t.example/",
                                        "https://t.example/v1/carrier-events/extra"])
def test_an_events_url_that_is_not_tradelanes_is_refused(events_url: str) -> None:
    with pytest.raises(ValueError, match="/v1/carrier-events"):
        callback_url(events_url, "bluewave", "BW1")


# ---- the per-booking secret ---------------------------------------------------------------------------------------


def _sign(secret: str, body: bytes) -> str:
    """The line's side of TNT 2.2: `sha256=<hex HMAC-SHA256 of the body under the Base64-decoded secret>`."""
    return "sha256=" + hmac.new(base64.b64decode(secret), body, hashlib.sha256).hexdigest()


def test_a_callback_verifies_only_under_its_own_bookings_secret() -> None:
    body = b'[{"eventType":"TRANSPORT"}]'
    signature = _sign(callback_secret("connection secret", "BW1"), body)
    assert verify_callback_signature(callback_secret("connection secret", "BW1"), body, signature)
    assert not verify_callback_signature(callback_secret("connection secret", "BW2"), body, signature)
    assert not verify_callback_signature(callback_secret("another connection's secret", "BW1"), body, signature)
    assert not verify_callback_signature(callback_secret("connection secret", "BW1"), body + b" ", signature)


def test_the_per_booking_secret_is_base64_and_stable() -> None:
    secret = callback_secret("connection secret", "BW1")
    assert len(base64.b64decode(secret, validate=True)) == 32
    assert secret == callback_secret("connection secret", "BW1") != callback_secret("connection secret", "BW10")


# ---- the booking an event names -----------------------------------------------------------------------------------

_AT = {"eventDateTime": "2025-03-01T10:00:00Z", "eventCreatedDateTime": "2025-03-01T10:00:00Z"}


@pytest.mark.parametrize(("event", "names"), [
    pytest.param({"eventType": "SHIPMENT", "shipmentEventTypeCode": "CONF", "documentTypeCode": "BKG",
                  "documentID": "BW1"}, {"BW1"}, id="shipment_event_on_the_booking"),
    pytest.param({"eventType": "SHIPMENT", "shipmentEventTypeCode": "RECE", "documentTypeCode": "CBR",
                  "documentID": "CBR-1"}, set(), id="booking_request_is_not_the_booking"),
    pytest.param({"eventType": "EQUIPMENT", "equipmentEventTypeCode": "LOAD",
                  "documentReferences": [{"documentReferenceType": "BKG", "documentReferenceValue": "BW1"},
                                         {"documentReferenceType": "TRD", "documentReferenceValue": "TD-9"}]},
                 {"BW1"}, id="document_reference_bkg"),
    pytest.param({"eventType": "TRANSPORT", "transportEventTypeCode": "DEPA",
                  "documentReferences": [{"documentReferenceType": "BKG (Booking)",
                                          "documentReferenceValue": "BW1"}]},
                 {"BW1"}, id="document_reference_as_the_spec_enum_spells_it"),
    pytest.param({"eventType": "TRANSPORT", "transportEventTypeCode": "ARRI"}, set(), id="names_no_booking"),
])
def test_the_bookings_an_event_names(event: dict[str, Any], names: set[str]) -> None:
    [parsed] = parse_events([{**_AT, **event}])
    assert parsed.booking_references == names


def test_an_event_naming_another_booking_is_found() -> None:
    events = parse_events([
        {**_AT, "eventType": "TRANSPORT", "transportEventTypeCode": "ARRI"},
        {**_AT, "eventType": "SHIPMENT", "shipmentEventTypeCode": "CONF", "documentTypeCode": "BKG",
         "documentID": "BW1"},
        {**_AT, "eventType": "SHIPMENT", "shipmentEventTypeCode": "ISSU", "documentTypeCode": "BKG",
         "documentID": "BW2"},
    ])
    assert other_booking(events, "BW1") == (2, "BW2")
    assert other_booking(events[:2], "BW1") is None


# ---- the emulator's callbacks against the contract and the ingress's rules ---------------------------------------


@pytest.mark.parametrize("variant", [None, "customs_hold", "stalled"])
async def test_callbacks_are_spec_events_posted_to_the_ingress_and_signed_for_the_booking_it_names(
        line: Line, variant: str | None) -> None:  # noqa: F811  (the fixture imported above)
    if variant is not None:
        await line.http.post("http://sandbox/_faults", json={"partner": "bluewave", "operation": "handover",
                                                              "kind": "scenario", "scenario": variant})
    record = await adapter().book(line.http, line.endpoint, call())
    await adapter().handover(line.http, line.endpoint, call(ref=record.ref, tracking_number=record.ref,
                                                            events_url=EVENTS_URL))
    await line.settle()
    callbacks = line.sink.requests
    assert callbacks, "the line pushed nothing"
    # Each body and its headers passed the TNT 2.2 callback contract as the sink received it.
    assert ("callback POST {callbackUrl}", "request") in line.contract.checked
    for request in callbacks:
        assert str(request.url) == callback_url(EVENTS_URL, "bluewave", record.ref)
        named = parse_qs(request.url.query.decode())[BOOKING_PARAMETER]
        assert named == [record.ref]
        secret = callback_secret(line.endpoint.credentials["callback_secret"], named[0])
        assert verify_callback_signature(secret, request.content, request.headers["Notification-Signature"])
        assert request.headers["Subscription-ID"] and request.headers["API-Version"] == "2.2.0"
    pushed = [event for body in line.sink.bodies for event in body]
    assert other_booking(parse_events(pushed), record.ref) is None
    # Mapped with the booking's ports as the ingress maps them, each pushed event has the status polling gives it.
    ports = await booking_ports(line.http, line.endpoint, record.ref, "callback")
    by_callback = {e.event_id: e.status for e in to_carrier_events("bluewave", "S-DCSA-1", record.ref, pushed,
                                                                   ports=ports, via="webhook")}
    by_poll = {e.event_id: e.status for e in await adapter().track(line.http, line.endpoint, "S-DCSA-1",
                                                                   record.ref, record.ref)}
    assert by_callback == {event_id: by_poll[event_id] for event_id in by_callback}
