"""Last-mile endpoints: slots, lanes, release and delivery playback."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from conftest import FakeClock, Harness, MakeSandbox

Payload = Callable[..., dict[str, Any]]


async def schedule(sb: Harness, body: dict[str, Any], partner: str = "parcelnow", key: str = "slot-1") -> Any:
    return await sb.client.post(f"/partners/{partner}/slots", json=body, headers={"Idempotency-Key": key})


async def test_slot_is_scheduled_once_and_played_once(
    make_sandbox: MakeSandbox, payload: Payload, fake_clock: FakeClock
) -> None:
    clock = fake_clock
    sb = await make_sandbox(clock=clock)
    first = await schedule(sb, payload("slot"))
    assert first.status_code == 201
    slot = first.json()
    assert (slot["slot_id"], slot["partner"], slot["state"]) == ("SLT-000001", "parcelnow", "scheduled")
    assert slot["window_start"] == (clock.wall + timedelta(days=0.5)).isoformat().replace("+00:00", "Z")
    assert slot["window_end"] == (clock.wall + timedelta(days=1.5)).isoformat().replace("+00:00", "Z")
    again = await schedule(sb, payload("slot"))
    assert again.status_code == 200 and again.json() == slot
    await sb.settle()
    assert sb.sink.codes() == ["SORTED", "OUT_FOR_DELIVERY", "DELIVERED"]  # one playback, not two
    delivered = sb.sink.events[-1]
    assert delivered["event_id"] == "parcelnow:SLT-000001:3"
    assert (delivered["booking_ref"], delivered["tracking_number"]) == ("SLT-000001", "SX0000000001")
    assert delivered["location"] == "DE 10115"
    assert delivered["occurred_at"] == "2025-01-07T08:00:00Z"  # scheduled + 1 virtual day
    [record] = await sb.records()
    assert record["state"] == "delivered"


async def test_doorstep_codes_and_polling(sb: Harness, payload: Payload) -> None:
    body = payload(
        "slot", destination_country="US", postal_code="94103", tracking_number="BWLU0000007", events_url=None
    )
    assert (await schedule(sb, body, partner="doorstep")).status_code == 201
    await sb.settle()
    polled = await sb.client.get("/partners/doorstep/tracking/BWLU0000007")
    assert [e["code"] for e in polled.json()["events"]] == ["RECEIVED_AT_DEPOT", "ON_VEHICLE", "POD"]
    assert sb.sink.events == []  # no events_url: poll only


async def test_destination_not_served(sb: Harness, payload: Payload) -> None:
    response = await schedule(sb, payload("slot", destination_country="US"))
    assert (response.status_code, response.json()["error"]["code"]) == (422, "LANE_NOT_SERVED")
    assert await sb.records() == []
    assert sb.sandbox.player.active() == []


async def test_release_is_idempotent_and_stops_playback(make_sandbox: MakeSandbox, payload: Payload) -> None:
    sb = await make_sandbox(seconds_per_day=0.2)
    slot = (await schedule(sb, payload("slot"))).json()
    url = f"/partners/parcelnow/slots/{slot['slot_id']}/release"
    first, second = await sb.client.post(url), await sb.client.post(url)
    assert first.status_code == second.status_code == 200
    assert first.json() == second.json() == {**slot, "state": "released"}
    await sb.settle()
    assert "DELIVERED" not in sb.sink.codes()
    [record] = await sb.records()
    assert record["state"] == "released"


async def test_last_mile_partner_cannot_book(sb: Harness, payload: Payload) -> None:
    response = await sb.client.post("/partners/doorstep/quotes", json=payload("quote"))
    assert (response.status_code, response.json()["error"]["code"]) == (404, "OPERATION_NOT_SUPPORTED")
