"""Fault injection over HTTP: every kind, budgets, windows, the header, and no side effects."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from conftest import FakeClock, Harness, MakeSandbox

Payload = Callable[..., dict[str, Any]]
BOOKINGS = "/partners/aerocargo/bookings"


async def add_rules(sb: Harness, *rules: dict[str, Any]) -> list[dict[str, Any]]:
    response = await sb.client.post("/_faults", json=list(rules))
    assert response.status_code == 201, response.text
    return response.json()["rules"]


async def book(sb: Harness, body: dict[str, Any], key: str = "k1", **headers: str) -> Any:
    return await sb.client.post(BOOKINGS, json=body, headers={"Idempotency-Key": key, **headers})


@pytest.mark.parametrize(
    ("rule", "status", "code"),
    [
        ({"kind": "error", "status": 502}, 502, "BAD_GATEWAY"),
        ({"kind": "error"}, 503, "SERVICE_UNAVAILABLE"),
        ({"kind": "rate_limit", "retry_after_s": 3}, 429, "RATE_LIMITED"),
        ({"kind": "reject", "code": "CARRIER_FULL", "message": "vessel full"}, 422, "CARRIER_FULL"),
        ({"kind": "outage"}, 503, "PARTNER_UNAVAILABLE"),
        ({"kind": "timeout"}, 504, "GATEWAY_TIMEOUT"),
    ],
)
async def test_failing_kinds_create_nothing(
    sb: Harness, payload: Payload, rule: dict[str, Any], status: int, code: str
) -> None:
    await add_rules(sb, {"shipment_id": "shp-book-1", "operation": "book", **rule})
    response = await book(sb, payload("booking"))
    assert (response.status_code, response.json()["error"]["code"]) == (status, code)
    assert response.headers["X-Sandbox-Fault-Applied"] == rule["kind"]
    if rule.get("message"):
        assert response.json()["error"]["message"] == rule["message"]
    assert await sb.records() == []
    # Another shipment is untouched by the scoped rule.
    other = await book(sb, payload("booking", shipment_id="shp-other"), key="k2")
    assert other.status_code == 201


async def test_rate_limit_carries_retry_after(sb: Harness, payload: Payload) -> None:
    await add_rules(sb, {"kind": "rate_limit", "retry_after_s": 2})
    response = await sb.client.post("/partners/bluewave/quotes", json=payload("quote"))
    assert response.status_code == 429 and response.headers["Retry-After"] == "2"
    header = await sb.client.post(
        "/partners/bluewave/quotes",
        json=payload("quote"),
        headers={"X-Sandbox-Fault": "kind=rate_limit;retry_after_s=0.5"},
    )
    assert header.status_code == 429 and header.headers["Retry-After"] == "0.5"


async def test_timeout_sleeps_the_configured_time(make_sandbox: MakeSandbox, payload: Payload) -> None:
    sb = await make_sandbox(timeout_fault_seconds=0.3)
    started = time.monotonic()
    response = await sb.client.post(
        "/partners/aerocargo/quotes", json=payload("quote"), headers={"X-Sandbox-Fault": "kind=timeout"}
    )
    assert response.status_code == 504
    assert time.monotonic() - started >= 0.3


async def test_latency_delays_then_succeeds(sb: Harness, payload: Payload) -> None:
    await add_rules(sb, {"kind": "latency", "latency_s": 0.2, "operation": "book"})
    started = time.monotonic()
    response = await book(sb, payload("booking"))
    assert response.status_code == 201
    assert time.monotonic() - started >= 0.2
    assert len(await sb.records()) == 1


async def test_hold_rule_for_a_shipment(sb: Harness, payload: Payload) -> None:
    await add_rules(sb, {"kind": "hold", "operation": "file", "shipment_id": "held-*", "code": "VALUE_QUERY"})
    held = await sb.client.post(
        "/partners/clearpath/filings", json=payload("filing", shipment_id="held-1"), headers={"Idempotency-Key": "a"}
    )
    clear = await sb.client.post(
        "/partners/clearpath/filings", json=payload("filing"), headers={"Idempotency-Key": "b"}
    )
    assert (held.json()["state"], held.json()["hold_reason"]) == ("hold", "VALUE_QUERY")
    assert (clear.json()["state"], clear.json()["hold_reason"]) == ("cleared", None)


async def test_times_fails_the_first_n_calls_per_shipment(sb: Harness, payload: Payload) -> None:
    await add_rules(sb, {"kind": "error", "status": 503, "operation": "book", "times": 2})
    statuses = [(await book(sb, payload("booking"))).status_code for _ in range(3)]
    assert statuses == [503, 503, 201]
    # A different shipment has its own budget of two failures.
    other = payload("booking", shipment_id="shp-2")
    assert [(await book(sb, other, key="k2")).status_code for _ in range(3)] == [503, 503, 201]
    assert len(await sb.records()) == 2


async def test_outage_window(make_sandbox: MakeSandbox, payload: Payload, fake_clock: FakeClock) -> None:
    sb = await make_sandbox(
        clock=fake_clock, faults=[{"partner": "bluewave", "kind": "outage", "window_start_s": 10, "window_end_s": 20}]
    )

    async def quote() -> int:
        return (await sb.client.post("/partners/bluewave/quotes", json=payload("quote"))).status_code

    assert await quote() == 200
    fake_clock.advance(10)
    assert await quote() == 503
    fake_clock.advance(9.9)
    assert await quote() == 503
    fake_clock.advance(0.1)
    assert await quote() == 200
    # Other partners never saw the outage.
    fake_clock.advance(-5)
    assert (await sb.client.post("/partners/aerocargo/quotes", json=payload("quote"))).status_code == 200


async def test_header_overrides_rules_and_applies_once(sb: Harness, payload: Payload) -> None:
    await add_rules(sb, {"kind": "error", "status": 500, "times": 1})
    response = await book(sb, payload("booking"), **{"X-Sandbox-Fault": "kind=reject;code=CARRIER_FULL"})
    assert (response.status_code, response.json()["error"]["code"]) == (422, "CARRIER_FULL")
    # The header did not use up the rule's budget: the rule still fires once, then calls pass.
    assert (await book(sb, payload("booking"))).status_code == 500
    assert (await book(sb, payload("booking"))).status_code == 201


async def test_bad_header_is_400_and_changes_nothing(sb: Harness, payload: Payload) -> None:
    response = await book(sb, payload("booking"), **{"X-Sandbox-Fault": "kind=error;status=abc"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "BAD_FAULT_HEADER"
    assert "status='abc'" in response.json()["error"]["message"]
    assert await sb.records() == []


async def test_faulted_state_changes_change_nothing(sb: Harness, payload: Payload) -> None:
    booking = (await book(sb, payload("booking"))).json()
    label = await sb.client.post(
        f"{BOOKINGS}/{booking['booking_id']}/labels",
        json={"shipment_id": "shp-book-1"},
        headers={"Idempotency-Key": "l"},
    )
    filing = await sb.client.post(
        "/partners/clearpath/filings",
        json=payload("filing", shipment_id="shp-book-1"),
        headers={"Idempotency-Key": "f"},
    )
    before = await sb.records("shp-book-1")
    # Rules match bodiless calls through the record's own shipment_id.
    await add_rules(
        sb, *({"kind": "error", "shipment_id": "shp-book-1", "operation": op} for op in ("cancel", "void", "withdraw"))
    )
    await add_rules(sb, {"kind": "outage", "shipment_id": "shp-book-1"})
    calls = [
        sb.client.post(f"{BOOKINGS}/{booking['booking_id']}/cancel"),
        sb.client.post(f"/partners/aerocargo/labels/{label.json()['label_id']}/void"),
        sb.client.post(f"/partners/clearpath/filings/{filing.json()['filing_id']}/withdraw"),
        sb.client.post(
            f"/partners/clearpath/filings/{filing.json()['filing_id']}/release",
            json={"shipment_id": "shp-book-1", "actor": "ops", "comment": ""},
        ),
        sb.client.post(f"{BOOKINGS}/{booking['booking_id']}/handover", json={"shipment_id": "shp-book-1"}),
    ]
    for call in calls:
        assert (await call).status_code == 503
    assert await sb.records("shp-book-1") == before
    assert sb.sandbox.player.active() == []


async def test_fault_rule_admin(make_sandbox: MakeSandbox) -> None:
    sb = await make_sandbox(faults=[{"partner": "silkrail", "kind": "outage"}])
    added = await add_rules(sb, {"kind": "latency", "latency_s": 0.01}, {"kind": "error", "shipment_id": "x-*"})
    assert [(r["source"], r["kind"]) for r in added] == [("runtime", "latency"), ("runtime", "error")]
    single = await sb.client.post("/_faults", json={"kind": "reject", "code": "NOPE"})
    assert single.status_code == 201 and single.json()["rules"][0]["code"] == "NOPE"
    listed = (await sb.client.get("/_faults")).json()["rules"]
    assert [(r["source"], r["kind"]) for r in listed] == [
        ("config", "outage"), ("runtime", "latency"), ("runtime", "error"), ("runtime", "reject")
    ]
    cleared = await sb.client.delete("/_faults")
    assert cleared.json() == {"removed": 3}
    assert [r["source"] for r in (await sb.client.get("/_faults")).json()["rules"]] == ["config"]


async def test_invalid_runtime_rule_names_the_field(sb: Harness) -> None:
    response = await sb.client.post("/_faults", json=[{"kind": "error"}, {"kind": "error", "status": 99}])
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "INVALID_REQUEST"
    assert "[1].status" in response.json()["error"]["message"]
    assert (await sb.client.get("/_faults")).json()["rules"] == []  # all or nothing


async def test_tracking_polls_can_be_faulted_per_shipment(sb: Harness, payload: Payload) -> None:
    booking = (await book(sb, payload("booking"))).json()
    label = await sb.client.post(
        f"{BOOKINGS}/{booking['booking_id']}/labels",
        json={"shipment_id": "shp-book-1"},
        headers={"Idempotency-Key": "l"},
    )
    url = f"/partners/aerocargo/tracking/{label.json()['tracking_number']}"
    await add_rules(sb, {"kind": "error", "status": 500, "operation": "track", "shipment_id": "shp-book-1", "times": 1})
    assert [(await sb.client.get(url)).status_code for _ in range(2)] == [500, 200]
