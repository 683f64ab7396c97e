"""The sandbox's DCSA emulator on its own: every response, error and callback validated against the DCSA OpenAPI
files; states on the compressed clock, idempotency, faults, subscriptions and the customs-hold voyage."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from sandbox.emulators.dcsa import dcsa_line
from tests.protocols.test_dcsa_adapter import CheckedTransport, booking_body, shipment
from tests.protocols.test_dcsa_spec import DcsaContract
from tests.sandbox.conftest import Harness, MakeSandbox
from tradelane.dcsa_events import verify_callback_signature

ROOT = "/dcsa/bluewave"
SECRET = base64.b64encode(b"subscription secret").decode()


@pytest.fixture
async def dcsa(make_sandbox: MakeSandbox
               ) -> AsyncIterator[tuple[Harness, httpx.AsyncClient, DcsaContract, list[httpx.Request]]]:
    sb = await make_sandbox()
    contract = DcsaContract()
    pushed: list[httpx.Request] = []

    def receive(request: httpx.Request) -> httpx.Response:
        pushed.append(request)
        contract.callback(json.loads(request.content), dict(request.headers))
        return httpx.Response(204)

    async with httpx.AsyncClient(transport=httpx.MockTransport(receive)) as callbacks, httpx.AsyncClient(
            transport=CheckedTransport(httpx.ASGITransport(app=sb.app), contract), base_url="http://sandbox") as client:
        dcsa_line(sb.app).http = callbacks
        yield sb, client, contract, pushed
        await dcsa_line(sb.app).aclose()


async def _book(client: httpx.AsyncClient, key: str = "k-1", **changes: Any) -> str:
    response = await client.post(f"{ROOT}/v2/bookings", json={**booking_body(shipment(), key), **changes},
                                 headers={"Idempotency-Key": key})
    assert response.status_code == 202, response.text
    return response.json()["carrierBookingRequestReference"]


async def _confirmed(sb: Harness, client: httpx.AsyncClient, reference: str) -> dict[str, Any]:
    for _ in range(200):
        booking = (await client.get(f"{ROOT}/v2/bookings/{reference}")).json()
        if booking["bookingStatus"] != "RECEIVED":
            return booking
        await asyncio.sleep(0.005)
    raise AssertionError("never decided")


async def test_a_booking_is_received_then_confirmed_and_readable_by_both_references(dcsa: Any) -> None:
    sb, client, _, _ = dcsa
    reference = await _book(client)
    first = (await client.get(f"{ROOT}/v2/bookings/{reference}")).json()
    assert first["bookingStatus"] in ("RECEIVED", "CONFIRMED")
    booking = await _confirmed(sb, client, reference)
    assert booking["bookingStatus"] == "CONFIRMED"
    by_carrier = (await client.get(f"{ROOT}/v2/bookings/{booking['carrierBookingReference']}")).json()
    assert by_carrier["carrierBookingRequestReference"] == reference
    [record] = await sb.records()
    assert record["kind"] == "booking" and record["idempotency_key"] == "k-1"


async def test_the_same_idempotency_key_answers_the_same_booking(dcsa: Any) -> None:
    _, client, _, _ = dcsa
    assert await _book(client) == await _book(client)
    changed = {**booking_body(shipment(), "k-1"), "expectedDepartureDate": "2031-01-01"}
    reused = await client.post(f"{ROOT}/v2/bookings", json=changed, headers={"Idempotency-Key": "k-1"})
    assert reused.status_code == 422 and reused.json()["errors"][0]["errorCodeText"] == "IDEMPOTENCY_KEY_REUSED"


async def test_a_schema_invalid_booking_is_a_400_dcsa_error(dcsa: Any) -> None:
    sb, _, _, _ = dcsa
    body = booking_body(shipment(), "k-2")
    del body["requestedEquipments"]
    response = await sb.client.post(f"{ROOT}/v2/bookings", json=body, headers={"Idempotency-Key": "k-2"})
    assert response.status_code == 400 and "requestedEquipments" in response.json()["statusCodeMessage"]


@pytest.mark.parametrize(("fault", "status"), [("kind=error;status=503", 503), ("kind=rate_limit", 429)])
async def test_faults_answer_dcsa_errors(dcsa: Any, fault: str, status: int) -> None:
    _, client, _, _ = dcsa
    response = await client.post(f"{ROOT}/v2/bookings", json=booking_body(shipment(), "k-3"),
                                 headers={"Idempotency-Key": "k-3", "X-Sandbox-Fault": fault})
    assert response.status_code == status and response.json()["statusCode"] == status


async def test_an_unknown_booking_is_a_404(dcsa: Any) -> None:
    _, client, _, _ = dcsa
    assert (await client.get(f"{ROOT}/v2/bookings/NOPE")).status_code == 404


async def test_cancelling_a_request_and_a_confirmed_booking(dcsa: Any) -> None:
    sb, client, _, _ = dcsa
    sb.sandbox.config.seconds_per_day = 100.0  # stays RECEIVED
    pending = await _book(client, "k-4")
    assert (await client.patch(f"{ROOT}/v2/bookings/{pending}", json={"bookingStatus": "CANCELLED"})).status_code == 202
    assert (await client.get(f"{ROOT}/v2/bookings/{pending}")).json()["bookingStatus"] == "CANCELLED"
    sb.sandbox.config.seconds_per_day = 0.01
    reference = await _book(client, "k-5")
    booking = await _confirmed(sb, client, reference)
    wrong = await client.patch(f"{ROOT}/v2/bookings/{reference}", json={"bookingStatus": "CANCELLED"})
    assert wrong.status_code == 409
    asked = await client.patch(f"{ROOT}/v2/bookings/{booking['carrierBookingReference']}",
                               json={"bookingCancellationStatus": "CANCELLATION_RECEIVED", "reason": "not needed"})
    assert asked.status_code == 202


async def test_an_amendment_is_received_then_confirmed(dcsa: Any) -> None:
    sb, client, _, _ = dcsa
    reference = await _book(client, "k-6")
    booking = await _confirmed(sb, client, reference)
    body = {k: v for k, v in booking.items() if k not in ("bookingStatus", "carrierBookingReference")}
    body["expectedDepartureDate"] = "2025-06-01"
    put = await client.put(f"{ROOT}/v2/bookings/{booking['carrierBookingReference']}", json=body,
                           headers={"Idempotency-Key": "amend-1"})
    assert put.status_code == 202
    amended = (await client.get(f"{ROOT}/v2/bookings/{reference}", params={"amendedContent": "true"})).json()
    assert amended["expectedDepartureDate"] == "2025-06-01"


async def test_subscriptions_crud_and_signed_callbacks_through_the_voyage(dcsa: Any) -> None:
    sb, client, contract, pushed = dcsa
    booking = await _confirmed(sb, client, await _book(client, "k-7"))
    cbr = booking["carrierBookingReference"]
    created = await client.post(f"{ROOT}/v2/event-subscriptions", json={
        "callbackUrl": "http://tradelane.test/events", "secret": SECRET, "carrierBookingReference": cbr})
    assert created.status_code == 201 and "secret" not in created.json()
    sid = created.json()["subscriptionID"]
    assert [s["subscriptionID"] for s in (await client.get(f"{ROOT}/v2/event-subscriptions")).json()] == [sid]
    assert (await client.get(f"{ROOT}/v2/event-subscriptions/{sid}")).json()["carrierBookingReference"] == cbr
    replaced = await client.put(f"{ROOT}/v2/event-subscriptions/{sid}", json={
        "subscriptionID": sid, "callbackUrl": "http://tradelane.test/events", "carrierBookingReference": cbr,
        "eventType": ["TRANSPORT", "EQUIPMENT", "SHIPMENT"]})
    assert replaced.status_code == 200
    assert (await client.put(f"{ROOT}/v2/event-subscriptions/{sid}/secret",
                             json={"secret": SECRET})).status_code == 204
    await dcsa_line(sb.app).wait_idle()
    assert pushed and all(verify_callback_signature(SECRET, r.content, r.headers["Notification-Signature"])
                          for r in pushed)
    codes = [json.loads(r.content)[0].get("transportEventTypeCode") or json.loads(r.content)[0].get(
        "equipmentEventTypeCode") or json.loads(r.content)[0].get("shipmentEventTypeCode") for r in pushed]
    assert codes[0] == "STUF" and codes[-1] == "RELS" and "DEPA" in codes and "ARRI" in codes
    events = (await client.get(f"{ROOT}/v2/events", params={"carrierBookingReference": cbr})).json()
    assert [e["shipmentEventTypeCode"] for e in events[:2]] == ["RECE", "CONF"]
    transport = (await client.get(f"{ROOT}/v2/events", params={"carrierBookingReference": cbr,
                                                                "eventType": "TRANSPORT"})).json()
    assert {e["eventType"] for e in transport} == {"TRANSPORT"}
    assert (await client.delete(f"{ROOT}/v2/event-subscriptions/{sid}")).status_code == 204
    assert (await client.get(f"{ROOT}/v2/event-subscriptions/{sid}")).status_code == 404
    assert contract.checked


async def test_the_customs_hold_voyage(dcsa: Any) -> None:
    sb, client, _, _ = dcsa
    await client.post("/_faults", json={"partner": "bluewave", "operation": "handover", "kind": "scenario",
                                        "scenario": "customs_hold"})
    booking = await _confirmed(sb, client, await _book(client, "k-8"))
    cbr = booking["carrierBookingReference"]
    await client.post(f"{ROOT}/v2/event-subscriptions", json={
        "callbackUrl": "http://tradelane.test/events", "secret": SECRET, "carrierBookingReference": cbr})
    await dcsa_line(sb.app).wait_idle()
    events = (await client.get(f"{ROOT}/v2/events", params={"carrierBookingReference": cbr})).json()
    customs = [(e["shipmentEventTypeCode"], e["documentTypeCode"]) for e in events if e["eventType"] == "SHIPMENT"]
    assert ("HOLD", "CUS") in customs and ("RELS", "CUS") in customs
    assert customs.index(("HOLD", "CUS")) < customs.index(("RELS", "CUS"))


async def test_a_subscription_needs_a_base64_secret(dcsa: Any) -> None:
    _, client, _, _ = dcsa
    response = await client.post(f"{ROOT}/v2/event-subscriptions",
                                 json={"callbackUrl": "http://tradelane.test/events", "secret": "not base64!"})
    assert response.status_code == 400
