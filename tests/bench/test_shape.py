"""The shape of a shipment history (workload B of `make bench`), from the committed replay fixtures."""

import gzip
import json
from collections import Counter
from pathlib import Path

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import History
from temporalio.client import WorkflowHistory

from bench.bare import NoopCall, bare_input, encoded_size
from bench.shape import shape_of
from infra.platform.temporal import converter_for

HISTORIES = Path(__file__).parent.parent / "workflows" / "histories"


def fixture(name: str) -> WorkflowHistory:
    data = json.loads(gzip.decompress((HISTORIES / f"{name}.json.gz").read_bytes()))
    return WorkflowHistory.from_json(data["workflow_id"], data["history"])


def kinds(history: WorkflowHistory) -> Counter[int]:
    return Counter(e.event_type for e in history.events)


@pytest.mark.parametrize("name", ["happy_path", "approval", "replan", "stock"])
def test_shape_keeps_every_activity_signal_and_update(name):
    history = fixture(name)
    shape = shape_of(history, name)
    counted = kinds(history)
    assert shape.activities == counted[EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED]
    assert len(shape.signal_bytes) == counted[EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED]
    assert len(shape.update_bytes) == counted[EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED]
    assert shape.history_events == len(history.events)
    assert all(w.activities for w in shape.waves)


def test_waves_follow_the_workflow_tasks_that_scheduled_them():
    shape = shape_of(fixture("approval"), "approval")
    names = [[a.name for a in w.activities] for w in shape.waves]
    # Nothing is booked before ops approved the high-value gate: the booking's wave waits for the update.
    before = [wave for wave, w in zip(names, shape.waves) if w.after_updates == 0]
    assert before and all("carrier.book" not in wave for wave in before)
    assert any("carrier.book" in wave for wave, w in zip(names, shape.waves) if w.after_updates == 1)
    # Signals (tracking events) only count up, and the last-mile slot is booked after the transit events.
    gates = [w.after_signals for w in shape.waves]
    assert gates == sorted(gates)
    schedule = next(i for i, wave in enumerate(names) if "last_mile.schedule" in wave)
    assert shape.waves[schedule].after_signals > 0
    # The label waits for the booking it labels; every activity is required at most once.
    flat = [a for wave in names for a in wave]
    label = next(i for i, wave in enumerate(names) if "carrier.create_label" in wave)
    required = [p for w in shape.waves[:label + 1] for p in w.after_activities]
    assert flat.index("carrier.book") in required
    everything = [p for w in shape.waves for p in w.after_activities]
    assert len(everything) == len(set(everything)) and set(everything) <= set(range(len(flat)))


def test_sizes_timeouts_and_retry_policy_come_from_the_history():
    shape = shape_of(fixture("happy_path"), "happy_path")
    book = next(a for w in shape.waves for a in w.activities if a.name == "carrier.book")
    assert book.input_bytes > 500 and book.result_bytes > 100  # encrypted request and booking record
    assert book.start_to_close_s is not None and book.start_to_close_s > 0
    assert "PartnerRejected" in book.retry.non_retryable_error_types
    deliver = next(a for w in shape.waves for a in w.activities if a.name == "notifications.deliver")
    assert deliver.start_to_close_s == 300 and deliver.retry.maximum_attempts == 0  # the outbox limits attempts
    assert shape.input_bytes > 1000 and shape.result_bytes > shape.input_bytes


def test_a_history_that_did_not_complete_is_refused():
    history = fixture("happy_path")
    cut = History(events=list(history.events)[:40])
    with pytest.raises(ValueError, match="did not complete"):
        shape_of(WorkflowHistory(history.workflow_id, cut.events), "cut")


async def test_bare_input_gives_every_payload_the_shipments_size():
    converter = converter_for()
    empty = await encoded_size(converter, "")
    shape = shape_of(fixture("happy_path"), "happy_path")
    inp = await bare_input(shape, converter)
    for wave, (*_, steps) in zip(shape.waves, inp.waves, strict=True):
        for spec, (_, filler, answer, *_) in zip(wave.activities, steps, strict=True):
            size = await encoded_size(converter, NoopCall(filler="x" * filler, result_chars=answer))
            # The no-op's input carries its answer length too: a few digits of difference at most.
            assert abs(size - spec.input_bytes) <= 8, spec.name
            # A result smaller than an empty string (None) is answered with the empty string.
            expected = max(spec.result_bytes, empty)
            assert abs(await encoded_size(converter, "x" * answer) - expected) <= 2, spec.name
    assert abs(await encoded_size(converter, inp) - shape.input_bytes) <= 8
