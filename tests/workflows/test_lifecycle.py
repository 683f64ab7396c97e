"""Shipments end to end on the real dev server: delivery, retries, compensation, cancellation."""

import asyncio

import pytest
from temporalio.api.enums.v1 import EventType, PendingActivityState

from tests.support import VALID_EXAMPLES, load_example, stages_in_order, unique_id
from tradelane.connections import PartnerProtocol, connection
from tradelane.enums import GateKind, Stage, Status
from tradelane.stages import STAGE_ORDER

pytestmark = pytest.mark.temporal
IN_HAND = PendingActivityState.PENDING_ACTIVITY_STATE_STARTED


def records_of(records: list[dict], kind: str) -> list[dict]:
    return [r for r in records if r["kind"] == kind]


async def approve_if_held(h, shipment_id: str) -> None:
    """The high-value example waits for ops; approve it like an operator would."""
    state = await h.wait_until(shipment_id, lambda s: s.status is Status.ON_HOLD or s.stage is not Stage.BOOKING
                               or s.status.terminal)
    if state.pending_gates:
        assert [g.kind for g in state.pending_gates] == [GateKind.HIGH_VALUE]
        await h.approve(shipment_id, comment="value verified")


@pytest.mark.parametrize("path", VALID_EXAMPLES, ids=lambda p: p.stem)
async def test_each_example_is_delivered_with_stages_in_order(harness, path):
    # Short: DHL Express and FedEx keep 30 characters of the reference the sandbox files their records under.
    shipment_id = unique_id(path.stem.split("-")[0])
    await harness.start(load_example(path.name, shipment_id))
    await approve_if_held(harness, shipment_id)
    state = await harness.result(shipment_id)

    assert state.status is Status.DELIVERED, state.failure
    assert stages_in_order(state) == list(STAGE_ORDER)
    assert state.tracking_number and state.carrier and state.mode
    records = await harness.inspect(shipment_id)
    bookings = records_of(records, "booking")
    assert len(bookings) == 1 and bookings[0]["partner"] == state.carrier
    assert bookings[0]["state"] != "cancelled"
    # An ocean line (DCSA) prints no label: the shipping marks are Tradelane's own.
    labelled = connection(state.carrier).protocol is not PartnerProtocol.DCSA
    assert [r["state"] for r in records_of(records, "label")] == (["active"] if labelled else [])
    assert [r["state"] for r in records_of(records, "filing")] == ["cleared"]
    assert len(records_of(records, "slot")) == 1


async def test_pallets_go_by_sea_and_express_by_air(harness):
    pallet, laptop = unique_id("pallet"), unique_id("express")
    await harness.start(load_example("pallet-cn-au.json", pallet))
    await harness.start(load_example("lithium-powerbank-cn-us.json", laptop))
    assert (await harness.result(pallet)).mode == "ocean_lcl"
    assert (await harness.result(laptop)).mode == "air_express"


async def test_carrier_5xx_burst_recovers_with_exactly_one_booking(harness):
    shipment_id = unique_id("burst")
    await harness.add_fault(operation="book", shipment_id=shipment_id, kind="error", status=503, times=3)
    handle = await harness.start(load_example("basic-cn-de.json", shipment_id))
    state = await harness.result(shipment_id)

    assert state.status is Status.DELIVERED
    assert len(records_of(await harness.inspect(shipment_id), "booking")) == 1
    attempts = []
    async for e in handle.fetch_history_events():
        started = e.activity_task_started_event_attributes
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED and started.HasField("last_failure"):
            # Failure messages are encrypted in the history too (they may quote a partner's answer).
            assert started.last_failure.message == "Encoded failure"
            if "503" in str(await harness.client.data_converter.decode_failure(started.last_failure)):
                attempts.append(started.attempt)
    assert attempts == [4], "the booking succeeded on the 4th attempt, after three 503s"


async def test_rate_limit_waits_for_retry_after(harness):
    """The express carrier (UPS, in its own error format) answers the shipment call 429 with Retry-After."""
    shipment_id = unique_id("429")
    await harness.add_fault(operation="book", shipment_id=shipment_id, kind="rate_limit", retry_after_s=1.5,
                            times=1)
    handle = await harness.start(load_example("basic-cn-de.json", shipment_id))
    state = await harness.result(shipment_id)
    assert state.status is Status.DELIVERED
    assert connection(state.carrier).protocol is PartnerProtocol.KARRIO

    events = [e async for e in handle.fetch_history_events()]
    scheduled = {e.event_id: e for e in events if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED}
    book_started = [
        e for e in events if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED
        and scheduled[e.activity_task_started_event_attributes.scheduled_event_id]
        .activity_task_scheduled_event_attributes.activity_type.name == "carrier.book"
    ]
    assert len(book_started) == 1 and book_started[0].activity_task_started_event_attributes.attempt == 2
    sched = scheduled[book_started[0].activity_task_started_event_attributes.scheduled_event_id]
    waited = book_started[0].event_time.ToDatetime() - sched.event_time.ToDatetime()
    # The retry policy alone would retry after 0.1 s; the partner's Retry-After said 1.5 s.
    assert waited.total_seconds() >= 1.4


async def test_customs_rejection_undoes_booking_and_label_in_reverse(harness):
    shipment_id = unique_id("reject")
    await harness.add_fault(partner="clearpath", operation="file", shipment_id=shipment_id, kind="reject",
                            code="RESTRICTED_GOODS", message="goods restricted at destination")
    await harness.start(load_example("basic-cn-de.json", shipment_id))
    state = await harness.result(shipment_id)

    assert state.status is Status.COMPENSATED
    assert state.stage is Stage.CUSTOMS_FILING
    assert state.failure_code == "RESTRICTED_GOODS"
    assert [c.action for c in state.compensation] == ["carrier.void_label", "carrier.cancel_booking"]
    assert all(c.ok for c in state.compensation)
    records = await harness.inspect(shipment_id)
    assert [r["state"] for r in records_of(records, "booking")] == ["cancelled"]
    assert [r["state"] for r in records_of(records, "label")] == ["voided"]
    assert records_of(records, "filing") == []
    voided_at = records_of(records, "label")[0]["history"][-1]["at"]
    cancelled_at = records_of(records, "booking")[0]["history"][-1]["at"]
    assert voided_at <= cancelled_at, "the label is voided before the booking is cancelled"


async def stalled(h, shipment_id: str) -> None:
    """The express carrier goes quiet after its first scans: the shipment stays in transit."""
    await h.add_fault(operation="handover", shipment_id=shipment_id, kind="scenario", scenario="stalled")


async def test_ops_cancel_mid_transit_undoes_everything(harness):
    shipment_id = unique_id("cancel")
    await stalled(harness, shipment_id)
    await harness.start(load_example("basic-cn-de.json", shipment_id))
    await harness.wait_until(shipment_id, lambda s: s.stage is Stage.TRANSIT)
    await asyncio.sleep(0.2)
    response = await harness.api.post(f"/v1/shipments/{shipment_id}/cancel",
                                      json={"actor": "ops@test", "reason": "customer withdrew the order"})
    assert response.status_code == 202, response.text
    state = await harness.result(shipment_id)

    assert state.status is Status.CANCELLED
    assert state.cancel_request is not None and state.cancel_request.actor == "ops@test"
    assert [c.action for c in state.compensation] == [
        "customs.withdraw", "carrier.void_label", "carrier.cancel_booking"]
    states = {r["kind"]: r["state"] for r in await harness.inspect(shipment_id)}
    assert states == {"booking": "cancelled", "label": "voided", "filing": "withdrawn"}

    again = await harness.api.post(f"/v1/shipments/{shipment_id}/cancel", json={"actor": "ops@test"})
    assert again.status_code == 409


@pytest.mark.parametrize("how", ["ops update", "temporal cancel"])
async def test_a_cancel_during_a_booking_call_waits_for_it_and_undoes_it(harness, how):
    """The carrier is slow: the cancellation arrives while the booking call is in flight. The call finishes, its
    booking is known, and the undo cancels it: nothing is left at the carrier."""
    shipment_id = unique_id("midcall")
    await harness.add_fault(operation="book", shipment_id=shipment_id, kind="latency", latency_s=1.5, times=1)
    handle = await harness.start(load_example("basic-cn-de.json", shipment_id))
    for _ in range(200):
        pending = (await handle.describe()).raw_description.pending_activities
        if any(p.activity_type.name == "carrier.book" and p.state == IN_HAND for p in pending):
            break
        await asyncio.sleep(0.02)
    else:
        raise AssertionError("the booking call never started")
    if how == "ops update":
        response = await harness.api.post(f"/v1/shipments/{shipment_id}/cancel", json={"actor": "ops@test"})
        assert response.status_code == 202, response.text
    else:
        await handle.cancel()
    state = await harness.result(shipment_id)
    assert state.status is Status.CANCELLED
    assert [c.action for c in state.compensation] == ["carrier.cancel_booking"]
    bookings = records_of(await harness.inspect(shipment_id), "booking")
    assert [b["state"] for b in bookings] == ["cancelled"], "the booking made during the cancel is undone"


async def test_temporal_cancellation_from_the_ui_also_compensates(harness):
    shipment_id = unique_id("uicancel")
    await stalled(harness, shipment_id)
    handle = await harness.start(load_example("basic-cn-de.json", shipment_id))
    await harness.wait_until(shipment_id, lambda s: s.stage is Stage.TRANSIT)
    await handle.cancel()
    state = await harness.result(shipment_id)
    assert state.status is Status.CANCELLED
    assert state.cancel_request.actor == "temporal"
    assert {r["state"] for r in await harness.inspect(shipment_id)} == {"cancelled", "voided", "withdrawn"}


async def test_silent_carrier_raises_an_overdue_gate(harness_factory):
    async with harness_factory(transit_timeout_s=0.5) as h:
        shipment_id = unique_id("overdue")
        await stalled(h, shipment_id)
        await h.start(load_example("basic-cn-de.json", shipment_id))
        state = await h.until_held(shipment_id)
        assert state.stage is Stage.TRANSIT
        assert [g.kind for g in state.pending_gates] == [GateKind.STAGE_OVERDUE]
        response = await h.decide(shipment_id, "stage_overdue", "reject", comment="lost, claim filed")
        assert response.status_code == 200
        state = await h.result(shipment_id)
        assert state.status is Status.REJECTED
        assert {r["state"] for r in await h.inspect(shipment_id)} == {"cancelled", "voided", "withdrawn"}


async def test_no_carrier_for_the_parcels_is_rejected_with_every_reason(harness):
    shipment_id = unique_id("nocarrier")
    body = load_example("pallet-cn-au.json", shipment_id)
    body["service_level"] = "express"  # only air express, and pallets of 420 kg are over its limit
    await harness.start(body)
    state = await harness.result(shipment_id)
    assert (state.stage, state.status, state.failure_code) == (Stage.BOOKING, Status.REJECTED, "NO_PLAN")
    for carrier, limit in (("ups", 70), ("dhl_express", 70), ("fedex", 68)):
        assert f"air_express:{carrier}: parcels[0]: 420.0 kg is above {carrier}'s {limit:.1f} kg limit" in state.failure
    assert state.compensation == [] and await harness.inspect(shipment_id) == []
