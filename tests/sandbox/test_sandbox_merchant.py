"""The demo merchants' webhook receiver: signature checks with each merchant's own secret, idempotency by event id,
inspection, fault switch."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from infra.platform.dev_secrets import DEV_WEBHOOK_SECRET
from infra.platform.webhooks import derived_secret, sign, signed_headers

MERCHANT = "acme-store"
SECRET = derived_secret(DEV_WEBHOOK_SECRET, MERCHANT)
"""The merchant's own development secret (the sandbox derives each merchant's from the root, as Tradelane does)."""


def body_of(shipment_id: str, kind: str = "delayed") -> bytes:
    return json.dumps({"shipment_id": shipment_id, "kind": kind}).encode()


async def deliver(client: httpx.AsyncClient, event_id: str, body: bytes, timestamp: int,
                  secret: str = SECRET, merchant: str = MERCHANT, **headers: str) -> httpx.Response:
    sent = {"Content-Type": "application/json", **signed_headers(secret, event_id, timestamp, body, merchant=merchant),
            **headers}
    return await client.post("/merchant/webhooks", content=body, headers=sent)


async def inspect(client: httpx.AsyncClient, shipment_id: str | None = None) -> dict[str, Any]:
    params = {"shipment_id": shipment_id} if shipment_id else {}
    response = await client.get("/_inspect/merchant-webhooks", params=params)
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture
def now(fake_clock) -> int:
    return int(fake_clock.now().timestamp())


async def test_a_signed_event_is_recorded(make_sandbox, fake_clock, now):
    sb = await make_sandbox(clock=fake_clock)
    response = await deliver(sb.client, "S-1:1:webhook:merchant", body_of("S-1"), now)
    assert (response.status_code, response.json()) == (200, {"event_id": "S-1:1:webhook:merchant",
                                                              "duplicate": False})
    seen = await inspect(sb.client, "S-1")
    assert seen["duplicates"] == 0
    assert [(e["event_id"], e["shipment_id"], e["payload"], e["deliveries"]) for e in seen["events"]] == [
        ("S-1:1:webhook:merchant", "S-1", {"shipment_id": "S-1", "kind": "delayed"}, 1)]


async def test_a_repeated_event_id_is_acknowledged_and_recorded_once(make_sandbox, fake_clock, now):
    sb = await make_sandbox(clock=fake_clock)
    first = await deliver(sb.client, "S-1:1:webhook:merchant", body_of("S-1"), now)
    again = await deliver(sb.client, "S-1:1:webhook:merchant", body_of("S-1"), now + 30)
    other = await deliver(sb.client, "S-2:1:webhook:merchant", body_of("S-2"), now)
    assert [r.json()["duplicate"] for r in (first, again, other)] == [False, True, False]
    assert again.status_code == 200
    seen = await inspect(sb.client, "S-1")
    assert ([e["event_id"] for e in seen["events"]], seen["events"][0]["deliveries"], seen["duplicates"]) == (
        ["S-1:1:webhook:merchant"], 2, 1)
    everything = await inspect(sb.client)
    assert ([e["event_id"] for e in everything["events"]], everything["duplicates"]) == (
        ["S-1:1:webhook:merchant", "S-2:1:webhook:merchant"], 1)


@pytest.mark.parametrize(("headers", "body", "says"), [
    (lambda now: {}, body_of("S-1"), "header is missing"),
    (lambda now: {"Tradelane-Signature": sign(SECRET, now, body_of("S-1"))}, body_of("S-1", "delivered"),
     "body was changed"),
    (lambda now: {"Tradelane-Signature": sign("not-the-secret", now, body_of("S-1"))}, body_of("S-1"),
     "wrong secret"),
    (lambda now: {"Tradelane-Signature": sign(SECRET, now - 301, body_of("S-1"))}, body_of("S-1"),
     "301 s old"),
    (lambda now: {"Tradelane-Signature": "v1=abc"}, body_of("S-1"), "no timestamp"),
], ids=["unsigned", "tampered-body", "wrong-secret", "replayed-too-old", "malformed"])
async def test_bad_signatures_get_401_naming_the_problem_and_are_not_recorded(make_sandbox, fake_clock, now,
                                                                              headers, body, says):
    sb = await make_sandbox(clock=fake_clock)
    response = await sb.client.post("/merchant/webhooks", content=body, headers={
        "Tradelane-Event-Id": "S-1:1:webhook:merchant", "Tradelane-Merchant": MERCHANT, **headers(now)})
    assert response.status_code == 401
    error = response.json()["error"]
    assert error["code"] == "INVALID_SIGNATURE"
    assert says in error["message"]
    assert (await inspect(sb.client)) == {"shipment_id": None, "events": [], "duplicates": 0}


async def test_the_secret_comes_from_the_sandbox_config(make_sandbox, fake_clock, now):
    sb = await make_sandbox(clock=fake_clock, merchant_webhook_secrets={MERCHANT: ["rotated"]})
    refused = await deliver(sb.client, "E-1", body_of("S-1"), now)
    accepted = await deliver(sb.client, "E-1", body_of("S-1"), now, secret="rotated")
    assert (refused.status_code, accepted.status_code) == (401, 200)


async def test_a_merchant_secret_does_not_sign_for_another_merchant(make_sandbox, fake_clock, now):
    """Finding (issue 18): one secret signed every merchant's webhooks, so any merchant could forge one another
    accepted. Each merchant's receiver now verifies with that merchant's own secret."""
    sb = await make_sandbox(clock=fake_clock, merchant_webhook_secrets={"merchant-a": ["a-secret"],
                                                                        "merchant-b": ["b-secret"]})
    forged = await deliver(sb.client, "E-1", body_of("S-B"), now, secret="a-secret", merchant="merchant-b")
    unnamed = await sb.client.post("/merchant/webhooks", content=body_of("S-B"), headers={
        "Tradelane-Event-Id": "E-2", "Tradelane-Signature": sign("b-secret", now, body_of("S-B"))})
    genuine = await deliver(sb.client, "E-3", body_of("S-B"), now, secret="b-secret", merchant="merchant-b")
    assert (forged.status_code, unnamed.status_code, genuine.status_code) == (401, 401, 200)
    assert "wrong secret" in forged.json()["error"]["message"]
    seen = await sb.client.get("/_inspect/merchant-webhooks", params={"merchant_id": "merchant-b"})
    assert [(e["event_id"], e["merchant_id"]) for e in seen.json()["events"]] == [("E-3", "merchant-b")]


@pytest.mark.parametrize(("event_id", "body", "status", "says"), [
    (None, body_of("S-1"), 400, "Tradelane-Event-Id header is missing"),
    ("E-1", b"{not json", 400, "body is not JSON"),
    ("E-1", b"[1, 2]", 400, "must be a JSON object, got list"),
], ids=["no-event-id", "not-json", "not-an-object"])
async def test_unusable_signed_deliveries_get_400(make_sandbox, fake_clock, now, event_id, body, status, says):
    sb = await make_sandbox(clock=fake_clock)
    headers = {"Tradelane-Signature": sign(SECRET, now, body), "Tradelane-Merchant": MERCHANT}
    if event_id is not None:
        headers["Tradelane-Event-Id"] = event_id
    response = await sb.client.post("/merchant/webhooks", content=body, headers=headers)
    assert (response.status_code, says in response.json()["error"]["message"]) == (status, True)


async def test_the_fail_switch_fails_the_next_deliveries_then_recovers(make_sandbox, fake_clock, now):
    sb = await make_sandbox(clock=fake_clock)
    switched = await sb.client.post("/_merchant/fail", json={"times": 2, "status": 503})
    assert switched.json() == {"times": 2, "status": 503}
    codes = [(await deliver(sb.client, "E-1", body_of("S-1"), now)).status_code for _ in range(3)]
    assert codes == [503, 503, 200]
    seen = await inspect(sb.client)
    assert ([e["deliveries"] for e in seen["events"]], seen["duplicates"]) == ([1], 0)


@pytest.mark.parametrize("body", [{"times": -1}, {"times": 1, "status": 200}], ids=["negative-times", "not-an-error"])
async def test_the_fail_switch_refuses_nonsense(make_sandbox, body):
    sb = await make_sandbox()
    response = await sb.client.post("/_merchant/fail", json=body)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "INVALID_REQUEST"
