"""Visibility on the real stack: tracking events (webhook and polling), ETA, exception timers, notifications
through the outbox, and continue-as-new on a long voyage."""

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.support import by_road, load_example, unique_id
from tradelane.connections import PartnerProtocol, connection
from tradelane.enums import ExceptionKind, NoticeKind, Status, TrackingStatus
from tradelane.shipment.state import ShipmentState
from workflows import visibility as sa
from workflows.shipment import ShipmentWorkflow

pytestmark = pytest.mark.temporal

LIFECYCLE_NOTICES = [NoticeKind.BOOKED, NoticeKind.SHIPPED, NoticeKind.CUSTOMS_CLEARED,
                     NoticeKind.OUT_FOR_DELIVERY, NoticeKind.DELIVERED]


def express(example: str, shipment_id: str) -> dict[str, Any]:
    """An example sent by air express (a Karrio carrier, which Tradelane polls)."""
    body = load_example(example, shipment_id)
    body["service_level"] = "express"
    return body


async def push(h, state: ShipmentState, event_id: str, code: str, days: float, partner: str = "roadlink",
               sequence: int | None = None) -> dict[str, Any]:
    """Push one event through Tradelane's webhook, as a partner does; times count from the first event."""
    first = state.events[0]
    response = await h.api.post("/v1/carrier-events", json={
        "event_id": event_id, "partner": partner, "shipment_id": state.shipment_id, "code": code,
        "occurred_at": (first.occurred_at + timedelta(days=days)).isoformat(), "location": "Leipzig hub, DE",
        "sequence": sequence, "tracking_number": state.tracking_number})
    assert response.status_code == 202, response.text
    return response.json()


async def stalled_in_transit(h, shipment_id: str) -> ShipmentState:
    """Start a shipment by road whose carrier (RoadLink, which pushes its events) goes quiet after two events."""
    await h.add_fault(partner="roadlink", operation="handover", shipment_id=shipment_id, kind="scenario",
                      scenario="stalled")
    await h.start(by_road(shipment_id))
    state = await h.wait_until(shipment_id, lambda s: s.events_received >= 2)
    assert state.carrier == "roadlink"
    return state


async def finish_transit(h, state: ShipmentState, start: int = 10) -> None:
    """RoadLink reports two more line-haul scans, then its arrival at the destination depot."""
    for n, (code, days) in enumerate([("LINEHAUL", 1.5), ("LINEHAUL", 2.0), ("ARRIVED_HUB", 2.5)], start=start):
        await push(h, state, f"test:{state.shipment_id}:{n}", code, days, sequence=n)


async def merchant_events(h, shipment_id: str) -> dict[str, Any]:
    response = await h.sandbox.get("/_inspect/merchant-webhooks", params={"shipment_id": shipment_id})
    assert response.status_code == 200, response.text
    return response.json()


def mails_of(mail_server, shipment_id: str, address: str) -> list:
    """What the SMTP server received for one shipment (outbox ids, hence Message-IDs, start with it)."""
    return [m for m in mail_server.messages() if m["To"] == address and m["Message-ID"].startswith(
        f"<{shipment_id}.")]


async def test_a_polled_carrier_and_a_pushing_last_mile_make_one_timeline(harness_factory, mail_server):
    """basic-cn-de by economy goes by SilkRail (no webhooks: polled) and ParcelNow (webhooks); nothing stalls
    or slips."""
    async with harness_factory(stall_after_s=20, customs_hold_alert_after_s=20) as h:
        shipment_id = unique_id("vis")
        body = load_example("basic-cn-de.json", shipment_id)
        body["service_level"] = "economy"
        await h.start(body)
        state = await h.result(shipment_id)

        assert state.status is Status.DELIVERED
        assert state.plan is not None and state.plan.legs[0].partner == "silkrail"
        by_partner = {(e.partner, e.via) for e in state.events}
        assert by_partner == {("silkrail", "poll"), ("parcelnow", "webhook")}
        assert [e.status for e in state.events][-1] is TrackingStatus.DELIVERED
        assert state.exceptions == []
        assert [n.kind for n in state.notices] == LIFECYCLE_NOTICES
        assert state.eta is not None and state.eta.delivered
        assert state.promised_date is not None and state.eta.expected <= state.promised_date

        timeline = (await h.api.get(f"/v1/shipments/{shipment_id}/events")).json()
        assert [e["event_id"] for e in timeline["events"]] == [e.event_id for e in state.events]
        assert len(timeline["events"]) == state.events_received == len({e.event_id for e in state.events})
        assert timeline["status"] == "delivered" and timeline["open_exceptions"] == []

        await h.until_notified(shipment_id)  # the outbox relay sends them, not the workflow
        notifications = (await h.api.get(f"/v1/shipments/{shipment_id}/notifications")).json()
        assert {n["state"] for n in notifications} == {"sent"}
        customer = [n for n in notifications if n["audience"] == "customer"]
        assert [n["kind"] for n in customer] == [k.value for k in LIFECYCLE_NOTICES]
        assert {n["locale"] for n in customer} == {"de"} and customer[0]["recipient"] == "j***@example.de"

        mails = mails_of(mail_server, shipment_id, "jonas.becker@example.de")
        assert len(mails) == len(LIFECYCLE_NOTICES)  # each once
        assert {m["Content-Language"] for m in mails} == {"de"}
        assert all("ORD-88231" in m.get_body(("plain",)).get_content() for m in mails)
        merchant = await merchant_events(h, shipment_id)
        assert [e["payload"]["type"] for e in merchant["events"]] == [f"shipment.{k}" for k in LIFECYCLE_NOTICES]


async def test_webhook_events_are_deduplicated_and_put_in_time_order(harness_factory):
    async with harness_factory(stall_after_s=30) as h:
        shipment_id = unique_id("dedup")
        state = await stalled_in_transit(h, shipment_id)
        first = await push(h, state, f"test:{shipment_id}:3", "LINEHAUL", 1.5, sequence=3)
        again = await push(h, state, f"test:{shipment_id}:3", "LINEHAUL", 1.5, sequence=3)
        accepted = {"event_id": f"test:{shipment_id}:3", "status": "in_transit"}
        # The API knows the second delivery by its receipt and does not pass it on ...
        assert first == {**accepted, "duplicate": False} and again == {**accepted, "duplicate": True}
        # ... and the workflow drops a copy that reaches it anyway (the same event polled, a lost receipt).
        copy = next(e for e in (await h.state(shipment_id)).events if e.event_id == f"test:{shipment_id}:3")
        await h.handle(shipment_id).signal(ShipmentWorkflow.carrier_event, copy)
        await push(h, state, f"test:{shipment_id}:5", "LINEHAUL", 2.5, sequence=5)
        # Arrives after 5, happened before it. (Not after the arrival: that ends the leg, and the last mile may
        # deliver, closing the workflow, before a late push gets there.)
        await push(h, state, f"test:{shipment_id}:4", "LINEHAUL", 2.0, sequence=4)
        await push(h, state, f"test:{shipment_id}:6", "ARRIVED_HUB", 3.0, sequence=6)

        state = await h.result(shipment_id)
        assert state.status is Status.DELIVERED
        assert state.duplicate_events == 1 and state.late_events == 1
        transit = [e.code for e in state.events if e.partner == "roadlink"]
        assert transit == ["COLLECTED", "LINEHAUL", "LINEHAUL", "LINEHAUL", "LINEHAUL", "ARRIVED_HUB"]
        pushed = [e.event_id for e in state.events if e.event_id.startswith("test:")]
        assert pushed == [f"test:{shipment_id}:{n}" for n in (3, 4, 5, 6)]
        timeline = (await h.api.get(f"/v1/shipments/{shipment_id}/events")).json()
        assert [e["code"] for e in timeline["events"] if e["partner"] == "roadlink"] == transit


async def test_a_silent_carrier_raises_stalled_and_an_event_clears_it(harness_factory, mail_server):
    # 3 s of silence: the carrier's first two pushes arrive within it even on a loaded machine (at 1 s, CI once saw
    # the stall raised before the first push, cleared by it and raised again: two notices).
    async with harness_factory(stall_after_s=3) as h:
        shipment_id = unique_id("stall")
        state = await stalled_in_transit(h, shipment_id)
        state = await h.wait_until(shipment_id, lambda s: s.open_exceptions)
        [stalled] = state.open_exceptions
        assert stalled.kind is ExceptionKind.STALLED and stalled.customer_notified
        assert state.status is Status.DELAYED
        described = await h.handle(shipment_id).describe()
        assert described.typed_search_attributes.get(sa.EXCEPTIONS) == ["stalled"]
        assert described.typed_search_attributes.get(sa.STATUS) == "delayed"
        delayed = [n for n in state.notices if n.kind is NoticeKind.DELAYED]
        assert [(n.exception, n.customer, n.ops) for n in delayed] == [(ExceptionKind.STALLED, True, True)]

        await finish_transit(h, state)
        state = await h.result(shipment_id)
        assert state.status is Status.DELIVERED
        assert state.exceptions[0].resolved_at is not None and state.exceptions[0].resolution.startswith("event")
        assert any(t.status is Status.DELAYED for t in state.transitions)
        await h.until_notified(shipment_id)
        notifications = (await h.api.get(f"/v1/shipments/{shipment_id}/notifications")).json()
        ops = [n for n in notifications if n["audience"] == "ops"]
        assert [(n["kind"], n["state"]) for n in ops] == [("delayed", "sent")]
        listed = (await h.api.get("/v1/shipments", params={"exception": "stalled"})).json()
        assert shipment_id not in [r["shipment_id"] for r in listed]  # resolved: no longer listed


async def test_a_failed_delivery_attempt_is_an_exception_for_the_customer(harness_factory):
    async with harness_factory(stall_after_s=30) as h:
        shipment_id = unique_id("miss")
        await h.add_fault(partner="parcelnow", operation="schedule", shipment_id=shipment_id, kind="scenario",
                          scenario="failed_attempt")
        await h.start(load_example("basic-cn-de.json", shipment_id))
        state = await h.result(shipment_id)
        assert state.status is Status.DELIVERED and state.delivery_attempts == 1
        [failed] = state.exceptions
        assert failed.kind is ExceptionKind.DELIVERY_FAILED and failed.resolution == "delivered"
        kinds = [(n.kind, n.attempt) for n in state.notices if n.kind in (NoticeKind.EXCEPTION,
                                                                           NoticeKind.OUT_FOR_DELIVERY)]
        assert kinds == [(NoticeKind.OUT_FOR_DELIVERY, 1), (NoticeKind.EXCEPTION, 1),
                         (NoticeKind.OUT_FOR_DELIVERY, 2)]


@pytest.mark.parametrize(("alert_after_s", "raised"), [(0.5, True), (60, False)],
                         ids=["hold-longer-than-threshold-raises", "hold-released-in-time-raises-nothing"])
async def test_customs_hold_longer_than_the_threshold(harness_factory, alert_after_s, raised):
    async with harness_factory(customs_hold_alert_after_s=alert_after_s, stall_after_s=30) as h:
        shipment_id = unique_id("hold")
        await h.add_fault(partner="clearpath", operation="file", shipment_id=shipment_id, kind="hold",
                          code="DOCUMENTS_MISSING")
        await h.start(load_example("basic-cn-de.json", shipment_id))
        await h.until_held(shipment_id)
        if raised:
            state = await h.wait_until(shipment_id, lambda s: s.open_exceptions)
            assert [e.kind for e in state.open_exceptions] == [ExceptionKind.CUSTOMS_HOLD]
            assert state.status is Status.ON_HOLD  # still waiting for ops; the exception adds the alert
        else:
            await asyncio.sleep(1)  # longer than the other case's threshold: nothing may fire here
        await h.approve(shipment_id, gate="customs_hold", comment="documents sent")
        state = await h.result(shipment_id)
        assert state.status is Status.DELIVERED
        holds = [e for e in state.exceptions if e.kind is ExceptionKind.CUSTOMS_HOLD]
        assert len(holds) == (1 if raised else 0)
        assert all(e.resolved_at is not None for e in holds)
        assert (NoticeKind.EXCEPTION in [n.kind for n in state.notices]) is raised


async def test_an_eta_slipping_past_the_promise_raises_late(harness_factory):
    """The express carrier reports a missed connection in its own exception code, read by polling; every later
    event comes twelve days late."""
    async with harness_factory(stall_after_s=30) as h:
        shipment_id = unique_id("late")
        # Whichever express carrier the plan picks plays its "delayed" story (its create is its handover).
        await h.add_fault(operation="handover", shipment_id=shipment_id, kind="scenario", scenario="delayed")
        await h.start(express("basic-cn-de.json", shipment_id))
        state = await h.result(shipment_id)
        assert state.status is Status.DELIVERED
        assert connection(state.carrier).protocol is PartnerProtocol.KARRIO
        assert {e.via for e in state.events if e.partner == state.carrier} == {"poll"}
        kinds = {e.kind: e for e in state.exceptions}
        assert set(kinds) == {ExceptionKind.CARRIER_EXCEPTION, ExceptionKind.LATE}
        assert not kinds[ExceptionKind.CARRIER_EXCEPTION].customer_notified  # ops only
        assert kinds[ExceptionKind.LATE].customer_notified
        assert state.promised_date is not None and state.eta is not None
        assert state.eta.expected > state.promised_date
        delayed = [n for n in state.notices if n.kind is NoticeKind.DELAYED]
        assert len(delayed) == 1 and delayed[0].eta is not None and delayed[0].eta.expected > state.promised_date


async def test_a_long_voyage_continues_as_new_with_its_state_intact(harness_factory):
    """Hundreds of position reports: the history is cut by continue-as-new and nothing is lost or repeated."""
    async with harness_factory(stall_after_s=60, history_limit=250) as h:
        shipment_id = unique_id("voyage")
        state = await stalled_in_transit(h, shipment_id)
        positions = 300
        for n in range(positions):
            await push(h, state, f"test:{shipment_id}:pos:{n}", "LINEHAUL", 0.5 + n / 1000, sequence=100 + n)
        await finish_transit(h, state, start=1000)
        state = await h.result(shipment_id, timeout=120)

        assert state.status is Status.DELIVERED
        assert state.runs >= 2
        transit = [e for e in state.events if e.partner == "roadlink"]
        assert len(transit) == 2 + positions + 3
        assert state.events_received == len(state.events) == len({e.event_id for e in state.events})
        assert [n.kind for n in state.notices] == LIFECYCLE_NOTICES
        assert [t.note for t in state.transitions].count("shipment received") == 1
        history = await h.handle(shipment_id).fetch_history()
        assert len(history.events) < 250 + 100  # the last run's own history stays near the limit
        timeline = (await h.api.get(f"/v1/shipments/{shipment_id}/events")).json()
        assert len(timeline["events"]) == len(state.events)


async def test_customer_emails_wait_for_the_end_of_quiet_hours(harness_factory):
    """Quiet hours cover 'now' in Berlin for a few seconds: the customer's e-mails wait for their end (sent by the
    workflow when it still runs then, else by the outbox relay), while the merchant's webhooks go at once."""
    berlin = ZoneInfo("Europe/Berlin")
    now = datetime.now(berlin).replace(microsecond=0)
    start, end = now - timedelta(minutes=1), now + timedelta(seconds=4)
    async with harness_factory(quiet_hours=f"{start:%H:%M:%S}-{end:%H:%M:%S}", stall_after_s=30) as h:
        shipment_id = unique_id("quiet")
        await h.start(express("basic-cn-de.json", shipment_id))
        state = await h.result(shipment_id)
        assert state.status is Status.DELIVERED
        # The worker's outbox relay sends every message, the held ones once they are due.
        await asyncio.sleep(max(0.0, (end - datetime.now(berlin)).total_seconds()) + 0.1)  # past it, surely
        await h.until_notified(shipment_id)
        notifications = (await h.api.get(f"/v1/shipments/{shipment_id}/notifications")).json()
        [booked_mail] = [n for n in notifications if n["kind"] == "booked" and n["channel"] == "email"]
        [booked_hook] = [n for n in notifications if n["kind"] == "booked" and n["channel"] == "webhook"]
        held_until = datetime.fromisoformat(booked_mail["not_before"])
        assert held_until == end.astimezone(UTC)
        assert booked_mail["state"] == "sent" and datetime.fromisoformat(booked_mail["sent_at"]) >= held_until
        assert datetime.fromisoformat(booked_hook["sent_at"]) < held_until


async def test_a_courier_that_pushes_nothing_is_polled_through_the_last_mile(harness):
    """Roadie (through Karrio) delivers in the US and sends no webhooks: Tradelane polls it until delivered, and
    its missed attempt is an exception for the customer like any courier's."""
    shipment_id = unique_id("roadie")
    await harness.add_fault(partner="roadie", operation="schedule", shipment_id=shipment_id, kind="scenario",
                            scenario="failed_attempt")
    handle = await harness.start(load_example("lithium-powerbank-cn-us.json", shipment_id))
    state = await harness.result(shipment_id)
    assert state.status is Status.DELIVERED
    assert state.assessment.last_mile.chosen.partner == "roadie"
    courier = [e for e in state.events if e.partner == "roadie"]
    assert {e.via for e in courier} == {"poll"} and courier[-1].status is TrackingStatus.DELIVERED
    assert state.delivery_attempts == 1
    [failed] = state.exceptions
    assert (failed.kind, failed.customer_notified, failed.resolution) == (ExceptionKind.DELIVERY_FAILED, True,
                                                                          "delivered")
    kinds = [(n.kind, n.attempt) for n in state.notices if n.kind in (NoticeKind.EXCEPTION,
                                                                       NoticeKind.OUT_FOR_DELIVERY)]
    assert kinds == [(NoticeKind.OUT_FOR_DELIVERY, 1), (NoticeKind.EXCEPTION, 1), (NoticeKind.OUT_FOR_DELIVERY, 2)]
    polls = [e async for e in handle.fetch_history_events()
             if e.activity_task_scheduled_event_attributes.activity_type.name == "tracking.poll"]
    assert len(polls) == 2, "one poll for the express leg, one for the last mile"
