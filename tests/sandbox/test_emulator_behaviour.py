"""The carrier emulators keep the sandbox's behaviour: credentials are checked, a repeated create replays the same
shipment, fault rules and headers apply, records show in the inspection endpoint, and scenario variants play."""

from __future__ import annotations

import base64
import re

import pytest

from sandbox.emulators import _parcel
from tests.sandbox.conftest import MakeSandbox
from tests.sandbox.test_emulator_karrio import (
    CARRIERS,
    REFERENCE,
    Carrier,
    book,
    decode,
    identifier_of,
    rate_request,
    send,
    shipment_request,
    track,
)

TRANSACTION_HEADERS = {
    "ups": "transId", "fedex": "x-customer-transaction-id", "dhl_express": "Message-Reference",
    "roadie": "Idempotency-Key",
}
"""The header each carrier's creates are deduplicated by (besides Idempotency-Key, which every emulator takes)."""


@pytest.fixture(params=sorted(CARRIERS))
def carrier(request: pytest.FixtureRequest) -> Carrier:
    return CARRIERS[request.param]


WRONG_SIGN_IN = [
    pytest.param("POST", "/ups/security/v1/oauth/token", {"authorization": "Bearer nope"}, b"grant_type=x",
                 id="ups-token-without-basic"),
    pytest.param("POST", "/ups/security/v1/oauth/token",
                 {"authorization": "Basic " + base64.b64encode(b"no-colon").decode()}, b"grant_type=client_credentials",
                 id="ups-token-malformed-basic"),
    pytest.param("POST", "/ups/api/shipments/v2409/ship", {}, b"{}", id="ups-ship-without-token"),
    pytest.param("POST", "/fedex/oauth/token", {"content-type": "application/x-www-form-urlencoded"},
                 b"grant_type=client_credentials&client_id=x", id="fedex-token-without-secret"),
    pytest.param("POST", "/fedex/rate/v1/rates/quotes", {"authorization": "Bearer sbx.ups.eA=="}, b"{}",
                 id="fedex-rate-with-a-ups-token"),
    pytest.param("GET", "/roadie/v1/shipments?ids=1", {"authorization": "Basic eDp5"}, None,
                 id="roadie-without-bearer"),
    pytest.param("POST", "/dhl_express/XMLShippingServlet", {},
                 b"<req:KnownTrackingRequest xmlns:req='http://www.dhl.com'><Request><ServiceHeader><SiteID>x"
                 b"</SiteID><Password></Password></ServiceHeader></Request></req:KnownTrackingRequest>",
                 id="dhl-without-password"),
]


@pytest.mark.parametrize(("method", "path", "headers", "body"), WRONG_SIGN_IN)
async def test_missing_or_malformed_credentials_get_the_carriers_401(
    make_sandbox: MakeSandbox, method: str, path: str, headers: dict[str, str], body: bytes | None
) -> None:
    sb = await make_sandbox()
    response = await sb.client.request(method, path, headers=headers, content=body)
    assert response.status_code == 401
    carrier = CARRIERS[path.split("/")[1]]
    if carrier.name != "ups" or "token" not in path:
        # Karrio's parsers read the 401 body as an error message (UPS's token errors are read by its proxy).
        _, messages = carrier.mapper.parse_rate_response(decode(carrier, response.text, {"origin": "US"}))
        assert [m.code for m in messages] == ["UNAUTHORIZED"]
    else:
        assert response.json()["response"]["errors"][0]["code"] == "UNAUTHORIZED"


async def test_configured_credentials_refuse_other_secrets(make_sandbox: MakeSandbox,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(_parcel.CREDENTIALS, "ups", {"tradelane-dev": "dev-secret"})
    sb = await make_sandbox()
    wrong = await sb.client.post("/ups/security/v1/oauth/token", data={"grant_type": "client_credentials"},
                                 auth=("tradelane-dev", "guess"))
    right = await sb.client.post("/ups/security/v1/oauth/token", data={"grant_type": "client_credentials"},
                                 auth=("tradelane-dev", "dev-secret"))
    assert (wrong.status_code, right.status_code) == (401, 200)


async def test_a_repeated_create_returns_the_same_shipment(make_sandbox: MakeSandbox, carrier: Carrier) -> None:
    sb = await make_sandbox()
    headers = await carrier.sign_in(sb.client)
    keyed = {TRANSACTION_HEADERS[carrier.name]: "tradelane-S-emu-1-book-0001"}
    first = await book(sb.client, carrier, headers, **keyed)
    again = await book(sb.client, carrier, headers, **keyed)
    other = await book(sb.client, carrier, headers, **{"Idempotency-Key": "tradelane-S-emu-1-book-0002"})
    assert identifier_of(carrier, again.details) == identifier_of(carrier, first.details)
    assert identifier_of(carrier, other.details) != identifier_of(carrier, first.details)
    kinds = [r["kind"] for r in await sb.records(REFERENCE)]
    assert kinds == (["slot", "slot"] if carrier.name == "roadie" else ["booking", "label", "booking", "label"])


async def test_fault_rules_apply_to_the_emulators(make_sandbox: MakeSandbox, carrier: Carrier) -> None:
    sb = await make_sandbox(faults=[{"partner": carrier.name, "operation": "book", "kind": "error", "status": 503,
                                     "times": 1}])
    headers = await carrier.sign_in(sb.client)
    request = carrier.mapper.create_shipment_request(shipment_request(carrier))
    failed = await send(sb.client, carrier, carrier.ship, request, headers)
    assert failed.status_code == 503
    assert failed.headers["X-Sandbox-Fault-Applied"] == "error"
    _, messages = carrier.mapper.parse_shipment_response(decode(carrier, failed.text, request.ctx))
    assert [m.code for m in messages] == ["SERVICE_UNAVAILABLE"]
    assert await sb.records(REFERENCE) == []  # a faulted call leaves no trace
    await book(sb.client, carrier, headers)  # the rule fired its one time


async def test_a_malformed_fault_header_is_refused_in_the_carriers_shape(make_sandbox: MakeSandbox,
                                                                         carrier: Carrier) -> None:
    sb = await make_sandbox()
    headers = await carrier.sign_in(sb.client)
    request = carrier.mapper.create_rate_request(rate_request(carrier))
    response = await send(sb.client, carrier, carrier.rate, request, {**headers, "X-Sandbox-Fault": "kind=nope"})
    assert response.status_code == 400
    _, messages = carrier.mapper.parse_rate_response(decode(carrier, response.text, request.ctx))
    assert [m.code for m in messages] == ["BAD_FAULT_HEADER"]


async def test_a_scenario_rule_plays_roadies_failed_delivery_attempt(make_sandbox: MakeSandbox) -> None:
    roadie = CARRIERS["roadie"]
    sb = await make_sandbox(seconds_per_day=0, faults=[
        {"partner": "roadie", "operation": "schedule", "kind": "scenario", "scenario": "failed_attempt"}])
    headers = await roadie.sign_in(sb.client)
    details = (await book(sb.client, roadie, headers)).details
    (tracker,), messages = await track(sb.client, roadie, headers, identifier_of(roadie, details))
    assert messages == []
    assert [(e.code, e.status) for e in reversed(tracker.events)] == [
        ("pickup_confirmed", "in_transit"), ("en_route_to_delivery", "out_for_delivery"),
        ("delivery_attempted", "delivery_failed"), ("en_route_to_delivery", "out_for_delivery"),
        ("delivery_confirmed", "delivered")]
    assert tracker.delivered is True


async def test_an_unknown_tracking_number_is_the_carriers_not_found(make_sandbox: MakeSandbox,
                                                                    carrier: Carrier) -> None:
    sb = await make_sandbox()
    headers = await carrier.sign_in(sb.client)
    unknown = "9999" if carrier.name == "roadie" else "1Z9999999999999999"
    trackers, messages = await track(sb.client, carrier, headers, unknown)
    assert trackers == []
    assert messages and all(m.code for m in messages)


def test_every_label_is_a_small_pdf() -> None:
    assert base64.b64decode(_parcel.LABEL_PDF_BASE64).startswith(b"%PDF")
    assert len(_parcel.LABEL_PDF_BASE64) < 1024


async def test_a_retry_stamped_a_second_later_still_replays(make_sandbox: MakeSandbox) -> None:
    # Karrio stamps DHL's ServiceHeader with the time: a retry has another body but the same Message-Reference.
    dhl = CARRIERS["dhl_express"]
    sb = await make_sandbox()
    request = dhl.mapper.create_shipment_request(shipment_request(dhl))
    body = request.serialize()
    later = re.sub(r"<MessageTime>[^<]*</MessageTime>", "<MessageTime>2031-01-01T00:00:01</MessageTime>", body)
    assert later != body
    numbers = []
    for content in (body, later):
        response = await sb.client.post("/dhl_express/XMLShippingServlet", content=content,
                                        headers={"Message-Reference": "tradelane-S-emu-1-book-0001"})
        assert response.status_code == 200, response.text
        details, _ = dhl.mapper.parse_shipment_response(decode(dhl, response.text, request.ctx))
        numbers.append(details.tracking_number)
    assert numbers[0] == numbers[1]
