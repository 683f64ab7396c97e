"""A shipment's history stays small: what Temporal stores and replays for every shipment.

The example shipments, delivered with their tracking events, stay under a budget of history events, and no search
attribute upsert sets a value the workflow already shows (each such upsert is an event of its own). The budget has
room for a few more signals or retries; a change that writes a projection or an upsert per step again breaks it.
"""

import asyncio
import json

import pytest
from sqlmodel import Session, col, select
from temporalio import workflow
from temporalio.api.common.v1 import Payload
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHistory

from bench.shape import LOCAL_ACTIVITY_MARKER
from infra.persistence.db import ShipmentRow, StageTransitionRow
from tests.support import load_example, unique_id
from tests.workflows.test_replay import committed, replayer
from tests.workflows.test_visibility import finish_transit, push, stalled_in_transit
from tradelane.enums import Stage, Status
from workflows import visibility as sa
from workflows.shipment.patches import LEAN_HISTORY as PATCH_LEAN_HISTORY
from workflows.shipment.patches import RELAY_DELIVERS as PATCH_RELAY_DELIVERS

pytestmark = pytest.mark.temporal

MAX_EVENTS = 100
"""Issue 20's bound for a happy-path shipment with tracking. Before the lean history (search attributes upserted on
every transition, the read model written by normal activities, a timer per clock) these shipments took 173-198
events on this test's stack; with it 107-113; with the relay delivering, the Core projections and upserts on stage or
status changes only, 92-93; the patch that writes a refused snapshot over a lost task's adds its marker and the
TemporalChangeVersion upsert: 94-95."""
MAX_EVENTS_APPROVAL = 105
"""The high-value shipment also waits at the approval gate: the decision is an update (accepted and completed) in a
workflow task of its own, and the gate's transition is upserted: 102-103 events."""
MAX_EVENTS_OCEAN = 130
"""The pallet sails with a DCSA line, which reports about twice the events of a parcel carrier (the booking's RECE,
CONF and ISSU, then the voyage's transport and equipment events: 17 signals), each polled batch a workflow task of
its own: 114-125 events. Writing a projection or an upsert per step again would add 30 or more."""

EXAMPLES = ["basic-cn-de", "high-value-us-jp", "lithium-powerbank-cn-us", "pallet-cn-au"]
BUDGET = {"basic-cn-de": MAX_EVENTS, "lithium-powerbank-cn-us": MAX_EVENTS, "high-value-us-jp": MAX_EVENTS_APPROVAL,
          "pallet-cn-au": MAX_EVENTS_OCEAN}


def _value(payload: Payload) -> bytes | None:
    """A search attribute's encoded value; an unset one (empty data) is the same as one never set."""
    return payload.data or None


def repeated_upserts(history: WorkflowHistory) -> list[str]:
    """Values an UpsertWorkflowSearchAttributes event sets although the workflow already showed them (from its
    start attributes or an earlier upsert)."""
    events = history.events
    start = events[0].workflow_execution_started_event_attributes.search_attributes.indexed_fields
    shown = {name: _value(payload) for name, payload in start.items()}
    repeats = []
    for event in events:
        if event.event_type != EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES:
            continue
        fields = event.upsert_workflow_search_attributes_event_attributes.search_attributes.indexed_fields
        for name, payload in fields.items():
            value = _value(payload)
            if shown.get(name) == value:
                repeats.append(f"event {event.event_id}: {name} = {value!r}")
            shown[name] = value
    return repeats


def follower_upserts(history: WorkflowHistory) -> list[str]:
    """UpsertWorkflowSearchAttributes events that change only values following the stage and status (ETA, carrier,
    mode, an escalation cleared): each is an event for what the next stage or status upsert shows anyway."""
    followers = {sa.ETA.name, sa.CARRIER.name, sa.MODE.name}
    found = []
    for event in history.events:
        if event.event_type != EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES:
            continue
        fields = event.upsert_workflow_search_attributes_event_attributes.search_attributes.indexed_fields
        if all(name in followers or (name == sa.ESCALATED.name and _value(payload) in (None, b"false"))
               for name, payload in fields.items()):
            found.append(f"event {event.event_id}: {sorted(fields)}")
    return found


async def test_example_shipments_have_small_histories(harness):
    ids = {name: unique_id(name.split("-")[0]) for name in EXAMPLES}
    for name, shipment_id in ids.items():
        await harness.start(load_example(f"{name}.json", shipment_id))
    await harness.until_held(ids["high-value-us-jp"])
    await harness.approve(ids["high-value-us-jp"], comment="value verified")
    states = await asyncio.gather(*(harness.result(shipment_id) for shipment_id in ids.values()))
    assert [s.status for s in states] == [Status.DELIVERED] * len(EXAMPLES), [s.failure for s in states]

    sizes, repeats, projections, activities = {}, {}, {}, {}
    followers, upserts = {}, {}  # upserts of ETA, carrier, mode alone; upserts in all
    for name, shipment_id in ids.items():
        history = await harness.handle(shipment_id).fetch_history()
        replayed = await replayer().replay_workflow(history, raise_on_replay_failure=False)
        assert replayed.replay_failure is None, (name, replayed.replay_failure)
        sizes[name] = len(history.events)
        repeats[name] = repeated_upserts(history)
        followers[name] = follower_upserts(history)
        upserts[name] = sum(e.event_type == EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES
                            for e in history.events)
        activities[name] = {e.activity_task_scheduled_event_attributes.activity_type.name for e in history.events
                            if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED}
        markers = [e.marker_recorded_event_attributes for e in history.events
                   if e.event_type == EventType.EVENT_TYPE_MARKER_RECORDED]
        projections[name] = [json.loads(m.details["data"].payloads[0].data)["activity_type"] for m in markers
                             if m.marker_name == LOCAL_ACTIVITY_MARKER]
    print(f"history events per shipment: {sizes}")  # noqa: T201 - the figure issue 20 reports
    assert all(size <= BUDGET[name] for name, size in sizes.items()), sizes
    # The outbox relay sends the notices (issue 20): no delivery activity, its events or its workflow tasks.
    assert {name: "notifications.deliver" in kinds for name, kinds in activities.items()} == {
        name: False for name in EXAMPLES}
    assert repeats == {name: [] for name in EXAMPLES}
    # Upserted on stage or status changes (issue 20): a tracking event's new ETA waits for the next one.
    assert followers == {name: [] for name in EXAMPLES}, (followers, upserts)
    # The read model followed as local activities: one marker each, no activity task on the server.
    assert all(kinds and set(kinds) == {"read_model.project"} for kinds in projections.values()), projections
    # ... and it holds the final state, every transition included.
    with Session(harness.engine) as session:
        for state in states:
            row = session.get(ShipmentRow, state.shipment_id)
            assert row is not None and row.status == "delivered"
            seqs = session.exec(select(StageTransitionRow.seq).where(
                StageTransitionRow.shipment_id == state.shipment_id).order_by(col(StageTransitionRow.seq))).all()
            assert seqs == [t.seq for t in state.transitions]


async def test_a_continued_run_starts_from_the_search_attributes_it_inherits(harness_factory):
    """Continue-as-new carries the search attributes over; the next run upserts only what changes after."""
    async with harness_factory(stall_after_s=60, history_limit=120) as h:
        shipment_id = unique_id("leancan")
        state = await stalled_in_transit(h, shipment_id)
        for n in range(60):
            await push(h, state, f"test:{shipment_id}:pos:{n}", "DF", 0.5 + n / 1000, sequence=100 + n)
        await finish_transit(h, state, start=1000)
        state = await h.result(shipment_id, timeout=120)
        assert state.status is Status.DELIVERED and state.runs >= 2

        handle = h.handle(shipment_id)
        repeats, runs = {}, 0
        run_id: str | None = (await handle.describe()).run_id
        while run_id:
            history = await h.client.get_workflow_handle(handle.id, run_id=run_id).fetch_history()
            repeats[run_id] = repeated_upserts(history)
            replayed = await replayer().replay_workflow(history, raise_on_replay_failure=False)
            assert replayed.replay_failure is None, replayed.replay_failure
            run_id = history.events[0].workflow_execution_started_event_attributes.continued_execution_run_id
            runs += 1
        assert runs == state.runs
        assert repeats == {run: [] for run in repeats}
        shown = (await handle.describe()).typed_search_attributes
        assert (shown.get(sa.STAGE), shown.get(sa.STATUS), shown.get(sa.CARRIER)) == (
            Stage.LAST_MILE.value, Status.DELIVERED.value, state.carrier)


async def test_the_lean_history_needs_its_patch(monkeypatch):
    """The committed happy path was recorded before the lean history: replayed as if the new code had always run
    (only this patch check forced true), it fails as nondeterministic; with the check, it replays
    (test_replay.py)."""
    patched = workflow.patched
    monkeypatch.setattr(workflow, "patched", lambda patch_id: patch_id == PATCH_LEAN_HISTORY or patched(patch_id))
    result = await replayer().replay_workflow(committed("happy_path"), raise_on_replay_failure=False)
    assert result.replay_failure is not None
    assert "nondetermin" in str(result.replay_failure).lower()


async def test_the_relay_delivering_needs_its_patch(monkeypatch):
    """The committed happy path ran `notifications.deliver` after its snapshots with notices: replayed as if the
    relay had always delivered (only this patch check forced true), it fails as nondeterministic."""
    patched = workflow.patched
    monkeypatch.setattr(workflow, "patched", lambda patch_id: patch_id == PATCH_RELAY_DELIVERS or patched(patch_id))
    result = await replayer().replay_workflow(committed("happy_path"), raise_on_replay_failure=False)
    assert result.replay_failure is not None
    assert "nondetermin" in str(result.replay_failure).lower()
