"""Tracking playback: order, timing in virtual time, once-only, stop on cancel, retries."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest

from sandbox.playback import Place, PlaybackJob, build_events
from sandbox.scenarios import TRANSIT_SCENARIOS

if TYPE_CHECKING:
    from conftest import FakeClock, Harness, MakeSandbox

Payload = Callable[..., dict[str, Any]]
EVENTS_URL = "http://receiver.test/events"


async def booked_and_labelled(
    sb: Harness, payload: Payload, partner: str, shipment_id: str = "shp-book-1"
) -> tuple[str, str]:
    body = payload("booking", shipment_id=shipment_id)
    booking = await sb.client.post(f"/partners/{partner}/bookings", json=body, headers={"Idempotency-Key": shipment_id})
    booking_id = booking.json()["booking_id"]
    label = await sb.client.post(
        f"/partners/{partner}/bookings/{booking_id}/labels",
        json={"shipment_id": shipment_id},
        headers={"Idempotency-Key": f"label-{shipment_id}"},
    )
    return booking_id, label.json()["tracking_number"]


async def handover(sb: Harness, partner: str, booking_id: str, shipment_id: str = "shp-book-1") -> Any:
    return await sb.client.post(
        f"/partners/{partner}/bookings/{booking_id}/handover",
        json={"shipment_id": shipment_id, "events_url": EVENTS_URL},
    )


def test_build_events_is_pure_and_uses_virtual_time() -> None:
    start = datetime(2025, 3, 1, tzinfo=UTC)
    job = PlaybackJob(
        partner="bluewave", record_id="BKG-000007", shipment_id="S", tracking_number="BWLU0000001",
        events_url=None, steps=TRANSIT_SCENARIOS["bluewave"], started_at=start,
        place=Place(origin="CN", destination="NL"),
    )
    events = build_events(job)
    assert events == build_events(job)
    assert [e.sequence for e in events] == [1, 2, 3, 4, 5, 6, 7]
    assert events[-1].event_id == "bluewave:BKG-000007:7"
    assert events[-1].occurred_at == start + timedelta(days=22)
    assert (events[0].location, events[-1].location) == ("Origin port, CN", "Destination port, NL")
    assert events[-1].description == "Available for delivery"


@pytest.mark.parametrize("partner", ["aerocargo", "bluewave", "silkrail"])
async def test_handover_plays_the_carrier_scenario_in_order(
    make_sandbox: MakeSandbox, payload: Payload, fake_clock: FakeClock, partner: str
) -> None:
    sb = await make_sandbox(clock=fake_clock)
    booking_id, tracking_number = await booked_and_labelled(sb, payload, partner)
    response = await handover(sb, partner, booking_id)
    assert response.status_code == 202
    assert response.json() == {"booking_id": booking_id, "state": "in_transit"}
    await sb.settle()
    steps = TRANSIT_SCENARIOS[partner]
    assert sb.sink.codes() == [step.code for step in TRANSIT_SCENARIOS[partner]]
    assert [e["sequence"] for e in sb.sink.events] == list(range(1, len(steps) + 1))
    for event, step in zip(sb.sink.events, steps, strict=True):
        assert event["event_id"] == f"{partner}:{booking_id}:{event['sequence']}"
        assert (event["partner"], event["shipment_id"], event["booking_ref"]) == (partner, "shp-book-1", booking_id)
        assert event["tracking_number"] == tracking_number
        occurred = datetime.fromisoformat(event["occurred_at"])
        assert occurred == fake_clock.wall + timedelta(days=step.day_offset)
    polled = await sb.client.get(f"/partners/{partner}/tracking/{tracking_number}")
    assert polled.json()["events"] == sb.sink.events
    [booking] = [r for r in await sb.records() if r["kind"] == "booking"]
    assert [h["state"] for h in booking["history"]] == ["confirmed", "in_transit", "arrived"]


async def test_events_are_spaced_by_the_compressed_clock(make_sandbox: MakeSandbox, payload: Payload) -> None:
    sb = await make_sandbox(seconds_per_day=0.4)  # aerocargo: 2.5 virtual days = 1.0 s
    booking_id, tracking_number = await booked_and_labelled(sb, payload, "aerocargo")
    started = time.monotonic()
    await handover(sb, "aerocargo", booking_id)
    await asyncio.sleep(0.05)
    polled = await sb.client.get(f"/partners/aerocargo/tracking/{tracking_number}")
    # The day-0 receipt is out at once; departure (day 0.5) is still 0.2 s away.
    assert [e["code"] for e in polled.json()["events"]] == ["RCS"]
    await sb.settle()
    assert time.monotonic() - started >= 1.0
    assert sb.sink.codes() == ["RCS", "DEP", "ARR", "NFD"]


async def test_second_handover_does_not_replay(sb: Harness, payload: Payload) -> None:
    booking_id, _ = await booked_and_labelled(sb, payload, "aerocargo")
    first = await handover(sb, "aerocargo", booking_id)
    second = await handover(sb, "aerocargo", booking_id)
    assert first.status_code == second.status_code == 202
    await sb.settle()
    third = await handover(sb, "aerocargo", booking_id)
    assert third.status_code == 202 and third.json()["state"] == "arrived"
    await sb.settle()
    assert sb.sink.codes() == ["RCS", "DEP", "ARR", "NFD"]


async def test_cancel_stops_the_stream(make_sandbox: MakeSandbox, payload: Payload) -> None:
    sb = await make_sandbox(seconds_per_day=0.2)
    booking_id, _ = await booked_and_labelled(sb, payload, "bluewave")
    await handover(sb, "bluewave", booking_id)
    await sb.client.post(f"/partners/bluewave/bookings/{booking_id}/cancel")
    await sb.settle()
    assert sb.sink.codes() == ["GATE_IN"]
    [booking] = [r for r in await sb.records() if r["kind"] == "booking"]
    assert booking["state"] == "cancelled"  # not overwritten by "arrived"


async def test_handover_of_cancelled_booking_conflicts(sb: Harness, payload: Payload) -> None:
    booking_id, _ = await booked_and_labelled(sb, payload, "aerocargo")
    await sb.client.post(f"/partners/aerocargo/bookings/{booking_id}/cancel")
    response = await handover(sb, "aerocargo", booking_id)
    assert (response.status_code, response.json()["error"]["code"]) == (409, "BOOKING_CANCELLED")
    assert sb.sandbox.player.active() == []


async def test_handover_without_label_sends_null_tracking_number(sb: Harness, payload: Payload) -> None:
    booking = await sb.client.post(
        "/partners/aerocargo/bookings", json=payload("booking"), headers={"Idempotency-Key": "k"}
    )
    await handover(sb, "aerocargo", booking.json()["booking_id"])
    await sb.settle()
    assert sb.sink.codes() == ["RCS", "DEP", "ARR", "NFD"]
    assert {e["tracking_number"] for e in sb.sink.events} == {None}


async def test_failed_posts_are_retried(make_sandbox: MakeSandbox, payload: Payload) -> None:
    sb = await make_sandbox(fail_first=2)
    booking_id, _ = await booked_and_labelled(sb, payload, "aerocargo")
    await handover(sb, "aerocargo", booking_id)
    await sb.settle()
    assert sb.sink.codes() == ["RCS", "DEP", "ARR", "NFD"]  # each delivered exactly once, in order
    assert set(sb.sink.attempts.values()) == {3}


async def test_gives_up_after_five_retries_and_keeps_playing(make_sandbox: MakeSandbox, payload: Payload) -> None:
    sb = await make_sandbox(always_fail=True)
    booking_id, tracking_number = await booked_and_labelled(sb, payload, "aerocargo")
    await handover(sb, "aerocargo", booking_id)
    await sb.settle()
    assert sb.sink.events == []
    assert set(sb.sink.attempts.values()) == {6}  # 1 try + 5 retries per event
    polled = await sb.client.get(f"/partners/aerocargo/tracking/{tracking_number}")
    assert len(polled.json()["events"]) == 4  # still available for polling


@pytest.mark.parametrize(("partner", "scenario", "codes"), [
    ("aerocargo", "delayed", ["RCS", "DEP", "DIS", "ARR", "NFD"]),
    ("aerocargo", "stalled", ["RCS", "DEP"]),
    ("bluewave", "delayed", ["GATE_IN", "LOADED", "VESSEL_DEPARTED", "VESSEL_DELAYED", "TRANSSHIPMENT",
                             "VESSEL_ARRIVED", "DISCHARGED", "AVAILABLE"]),
], ids=["aerocargo-delayed", "aerocargo-stalled", "bluewave-delayed"])
async def test_a_scenario_fault_plays_the_variant(
    make_sandbox: MakeSandbox, payload: Payload, fake_clock: FakeClock, partner: str, scenario: str,
    codes: list[str],
) -> None:
    sb = await make_sandbox(clock=fake_clock)
    rule = {"partner": partner, "operation": "handover", "kind": "scenario", "scenario": scenario}
    assert (await sb.client.post("/_faults", json=rule)).status_code == 201
    booking_id, _ = await booked_and_labelled(sb, payload, partner)
    assert (await handover(sb, partner, booking_id)).status_code == 202
    await sb.settle()
    assert sb.sink.codes() == codes


async def test_a_scenario_fault_needs_a_scenario_and_a_handover(sb: Harness) -> None:
    missing = await sb.client.post("/_faults", json={"kind": "scenario"})
    assert missing.status_code == 422 and "needs scenario" in missing.text
    wrong_operation = await sb.client.post("/_faults", json={"kind": "scenario", "scenario": "stalled",
                                                             "operation": "book"})
    assert wrong_operation.status_code == 422 and "handover" in wrong_operation.text


async def test_partners_without_webhooks_are_polled_by_booking(
    make_sandbox: MakeSandbox, payload: Payload, fake_clock: FakeClock
) -> None:
    sb = await make_sandbox(clock=fake_clock)
    booking_id, _ = await booked_and_labelled(sb, payload, "silkrail")
    before = await sb.client.get(f"/partners/silkrail/bookings/{booking_id}/events")
    assert before.status_code == 200 and before.json() == {"events": []}
    await sb.client.post(f"/partners/silkrail/bookings/{booking_id}/handover",
                         json={"shipment_id": "shp-book-1", "events_url": None})
    await sb.settle()
    polled = (await sb.client.get(f"/partners/silkrail/bookings/{booking_id}/events")).json()["events"]
    assert [e["code"] for e in polled] == [step.code for step in TRANSIT_SCENARIOS["silkrail"]]
    assert sb.sink.codes() == []  # nothing was pushed
    unknown = await sb.client.get("/partners/silkrail/bookings/BKG-999999/events")
    assert unknown.status_code == 404
