"""Workload B on the real dev server: the bare workflow leaves the history shape of the shipment it copies."""

from collections import Counter

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHistory
from temporalio.worker import Worker

from bench.bare import BareWorkflow, bare_input, encoded_size, noop
from bench.shape import ActivitySpec, Shape, Wave, shape_of
from bench.workloads import BareWorkload, Rep, closed_loop
from tests.bench.test_shape import fixture
from tests.support import unique_id

pytestmark = pytest.mark.temporal


async def run_bare(client: Client, shape: Shape, count: int) -> tuple[Rep, WorkflowHistory]:
    """Run `count` bare workflows of `shape` on a worker of their own; the run and the first one's history."""
    converter = client.data_converter
    queue = unique_id("bench-bare")
    workload = BareWorkload(client, {shape.example: shape}, {shape.example: await bare_input(shape, converter)},
                            await encoded_size(converter, ""), queue, unique_id("t"))
    async with Worker(client, task_queue=queue, workflows=[BareWorkflow], activities=[noop]):
        rep = await closed_loop("B", workload.one, count, count)
    assert (rep.completed, rep.failed) == (count, 0), rep.notes
    return rep, await client.get_workflow_handle(rep.workflow_ids[0]).fetch_history()


async def test_bare_workflow_copies_activities_signals_updates_and_sizes(temporal_client):
    shape = shape_of(fixture("approval"), "approval")
    _, history = await run_bare(temporal_client, shape, 2)
    counted = Counter(e.event_type for e in history.events)
    assert counted[EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED] == shape.activities
    assert counted[EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED] == len(shape.signal_bytes) == 8
    assert counted[EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED] == len(shape.update_bytes) == 1
    copied = shape_of(history, "copy")
    # The same activities (each no-op the size, timeouts and retry policy of the one it stands for), in at most as
    # many workflow tasks: bare Temporal may batch what the shipment's timing spread out, never the reverse.
    assert len(copied.waves) <= len(shape.waves)

    def kinds(s):
        return sorted((a.input_bytes // 16, a.start_to_close_s, a.heartbeat_s, a.retry.maximum_attempts,
                       a.retry.non_retryable_error_types) for w in s.waves for a in w.activities)

    assert len(kinds(copied)) == len(kinds(shape))
    for a, b in zip(kinds(shape), kinds(copied), strict=True):
        assert abs(a[0] - b[0]) <= 1 and a[1:] == b[1:]
    assert abs(copied.input_bytes - shape.input_bytes) <= 8
    assert abs(copied.result_bytes - shape.result_bytes) <= 8


async def test_local_activities_of_lean_histories_run_as_local_no_ops(temporal_client):
    # A lean shipment projects through a local activity; the next wave needs it done (it has position 0).
    projection = ActivitySpec(name="read_model.project", local=True, result_bytes=120, start_to_close_s=10)
    book = ActivitySpec(name="carrier.book", input_bytes=1800, result_bytes=240, start_to_close_s=30)
    shape = Shape(example="lean", input_bytes=2000, result_bytes=5000, signal_bytes=[450], update_bytes=[],
                  history_events=0, waves=[Wave(activities=[projection]),
                                           Wave(after_activities=[0], after_signals=1, activities=[book])])
    _, history = await run_bare(temporal_client, shape, 1)
    copied = shape_of(history, "copy")
    # The local no-op finishes inside the first workflow task, so the booking may go out in the same one.
    assert [(a.local, a.name) for w in copied.waves for a in w.activities] == [(True, "bench.noop"),
                                                                               (False, "bench.noop")]
