"""The shape of a shipment's history, as bare Temporal would run it: workload B of `make bench`.

A fetched `Shipment` history is reduced to what Temporal itself pays for: the activities in the waves they were
scheduled in (one workflow task's commands run in parallel, the next wave waits for them), the size of every payload
and the timeouts and retry policy of each activity, and the signals and updates that arrived before each wave.
`BareWorkflow` (bench/bare.py) replays that shape with no-op activities, so the only difference between the two
workloads is what Tradelane does on top of Temporal. Pure: no I/O, no Temporal server.
"""

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from google.protobuf.duration_pb2 import Duration
from pydantic import BaseModel, ConfigDict
from temporalio.api.common.v1 import Payloads
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import WorkflowHistory

from workflows.shipment.projector import LOCAL_PROJECTION_RETRY, LOCAL_PROJECTION_TIMEOUT

LOCAL_ACTIVITY_MARKER = "core_local_activity"
"""The marker name the SDK records for a completed local activity."""


class RetrySpec(BaseModel):
    """An activity's retry policy, as scheduled."""

    model_config = ConfigDict(frozen=True)

    initial_interval_s: float = 1.0
    backoff_coefficient: float = 2.0
    maximum_interval_s: float | None = None
    maximum_attempts: int = 0
    non_retryable_error_types: tuple[str, ...] = ()


class ActivitySpec(BaseModel):
    """One activity of the shipment, to be run as a no-op of the same size, timeouts and retry policy."""

    model_config = ConfigDict(frozen=True)

    name: str
    """The shipment's activity type (for the report; the no-op runs under its own name)."""
    local: bool = False
    """A local activity (a marker in the history, no activity task on the server)."""
    input_bytes: int = 0
    """Encoded size of the input payloads as stored in the history (0 for a local activity: not stored)."""
    result_bytes: int = 0
    start_to_close_s: float | None = None
    schedule_to_close_s: float | None = None
    heartbeat_s: float | None = None
    retry: RetrySpec = RetrySpec()


class Wave(BaseModel):
    """The activities one workflow task scheduled. They start once what the shipment had seen by then has happened:
    the activities completed before that task, and the signals and updates received; they run in parallel with
    each other and with anything still running (a background projection does not hold up the booking)."""

    model_config = ConfigDict(frozen=True)

    after_signals: int = 0
    after_updates: int = 0
    after_activities: list[int] = []
    """Activities (by their position in the shape, counting through the waves) that had completed before this
    wave was scheduled and not before the previous wave."""
    activities: list[ActivitySpec]


class Shape(BaseModel):
    """What bare Temporal must do for one shipment."""

    model_config = ConfigDict(frozen=True)

    example: str
    """Which request the shape was taken from."""
    input_bytes: int
    """Encoded size of the workflow's input."""
    result_bytes: int
    waves: list[Wave]
    signal_bytes: list[int]
    """Encoded size of each signal's input, in arrival order."""
    update_bytes: list[tuple[int, int]]
    """(input, result) encoded sizes of each update, in acceptance order."""
    history_events: int
    """Events of the history the shape was taken from."""

    @property
    def activities(self) -> int:
        return sum(len(w.activities) for w in self.waves)


def _seconds(duration: Duration) -> float | None:
    seconds = duration.ToTimedelta().total_seconds()
    return seconds or None


def _size(payloads: Payloads) -> int:
    return sum(p.ByteSize() for p in payloads.payloads)


def _retry(event: HistoryEvent) -> RetrySpec:
    policy = event.activity_task_scheduled_event_attributes.retry_policy
    return RetrySpec(initial_interval_s=policy.initial_interval.ToTimedelta().total_seconds(),
                     backoff_coefficient=policy.backoff_coefficient or 2.0,
                     maximum_interval_s=_seconds(policy.maximum_interval),
                     maximum_attempts=policy.maximum_attempts,
                     non_retryable_error_types=tuple(policy.non_retryable_error_types))


def _local_activity(event: HistoryEvent) -> ActivitySpec | None:
    """A local activity's marker: its type from the marker data, its result size from the result payloads."""
    attrs = event.marker_recorded_event_attributes
    if attrs.marker_name != LOCAL_ACTIVITY_MARKER:
        return None  # a patch marker, for example: no work for bare Temporal
    data = attrs.details["data"].payloads
    try:
        name = json.loads(data[0].data).get("activity_type", "local") if data else "local"
    except ValueError:
        name = "local"
    result = attrs.details["result"] if "result" in attrs.details else Payloads()
    # The marker records neither timeout nor retry policy: those of Tradelane's one local activity, the projection.
    policy = LOCAL_PROJECTION_RETRY
    retry = RetrySpec(initial_interval_s=policy.initial_interval.total_seconds(),
                      backoff_coefficient=policy.backoff_coefficient, maximum_attempts=policy.maximum_attempts)
    return ActivitySpec(name=name, local=True, result_bytes=_size(result),
                        start_to_close_s=LOCAL_PROJECTION_TIMEOUT.total_seconds(), retry=retry)


@dataclass
class _Task:
    """One completed workflow task: what the shipment had seen by then, and what the task scheduled."""

    signals_seen: int
    updates_seen: int
    done_seen: int
    items: list[int | ActivitySpec] = field(default_factory=list)
    """Event ids of the activities it scheduled, or a local activity's spec (complete when its marker is
    recorded)."""


class _HistoryReader:
    """Walks a history once, event by event, keeping what a shape is made of."""

    def __init__(self) -> None:
        self.tasks: list[_Task] = []
        self.scheduled: dict[int, ActivitySpec] = {}
        self.position: dict[int, int] = {}  # scheduled event id -> position of the activity in the shape
        self.done: list[int] = []  # positions, in completion order
        self.count = 0
        self.signals: list[int] = []
        self.update_inputs: list[int] = []
        self.update_results: list[int] = []
        self.input_bytes = self.result_bytes = 0
        self.completed = False

    def read(self, event: HistoryEvent) -> None:
        handler = _HANDLERS.get(event.event_type)
        if handler is not None:
            handler(self, event)

    def started(self, event: HistoryEvent) -> None:
        self.input_bytes = _size(event.workflow_execution_started_event_attributes.input)

    def task_completed(self, event: HistoryEvent) -> None:
        self.tasks.append(_Task(len(self.signals), len(self.update_inputs), len(self.done)))

    def activity_scheduled(self, event: HistoryEvent) -> None:
        attrs = event.activity_task_scheduled_event_attributes
        self.scheduled[event.event_id] = ActivitySpec(
            name=attrs.activity_type.name, input_bytes=_size(attrs.input),
            start_to_close_s=_seconds(attrs.start_to_close_timeout),
            schedule_to_close_s=_seconds(attrs.schedule_to_close_timeout),
            heartbeat_s=_seconds(attrs.heartbeat_timeout), retry=_retry(event))
        self.position[event.event_id], self.count = self.count, self.count + 1
        self.tasks[-1].items.append(event.event_id)

    def activity_completed(self, event: HistoryEvent) -> None:
        attrs = event.activity_task_completed_event_attributes
        spec = self.scheduled[attrs.scheduled_event_id]
        self.scheduled[attrs.scheduled_event_id] = spec.model_copy(update={"result_bytes": _size(attrs.result)})
        self.done.append(self.position[attrs.scheduled_event_id])

    def marker(self, event: HistoryEvent) -> None:
        local = _local_activity(event)
        if local is not None and self.tasks:
            self.tasks[-1].items.append(local)
            self.done.append(self.count)
            self.count += 1

    def signaled(self, event: HistoryEvent) -> None:
        self.signals.append(_size(event.workflow_execution_signaled_event_attributes.input))

    def update_accepted(self, event: HistoryEvent) -> None:
        attrs = event.workflow_execution_update_accepted_event_attributes
        self.update_inputs.append(_size(attrs.accepted_request.input.args))

    def update_completed(self, event: HistoryEvent) -> None:
        self.update_results.append(
            _size(event.workflow_execution_update_completed_event_attributes.outcome.success))

    def workflow_completed(self, event: HistoryEvent) -> None:
        self.result_bytes = _size(event.workflow_execution_completed_event_attributes.result)
        self.completed = True

    def waves(self) -> list[Wave]:
        """The tasks that scheduled something, each waiting for the completions since the previous wave."""
        waves, required = [], 0
        for task in self.tasks:
            if task.items:
                waves.append(Wave(after_signals=task.signals_seen, after_updates=task.updates_seen,
                                  after_activities=self.done[required:task.done_seen],
                                  activities=[self.scheduled[item] if isinstance(item, int) else item
                                              for item in task.items]))
                required = task.done_seen
        return waves

    def update_bytes(self) -> list[tuple[int, int]]:
        """(input, result) per update; an update still running when the workflow completed has a 0 result."""
        results = self.update_results + [0] * (len(self.update_inputs) - len(self.update_results))
        return list(zip(self.update_inputs, results))


_HANDLERS: dict[EventType.ValueType, Callable[[_HistoryReader, HistoryEvent], None]] = {
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED: _HistoryReader.started,
    EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED: _HistoryReader.task_completed,
    EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED: _HistoryReader.activity_scheduled,
    EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED: _HistoryReader.activity_completed,
    EventType.EVENT_TYPE_MARKER_RECORDED: _HistoryReader.marker,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED: _HistoryReader.signaled,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED: _HistoryReader.update_accepted,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED: _HistoryReader.update_completed,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED: _HistoryReader.workflow_completed,
}
"""What each kind of event adds to a shape; other events add nothing."""


def shape_of(history: WorkflowHistory, example: str) -> Shape:
    """Reduce a completed shipment's history to its shape.

    Args:
        history: The fetched history of one run that completed.
        example: The request's name, kept in the shape.

    Raises:
        ValueError: When the history did not complete (a shape of a half-run shipment would be too small).
    """
    events = list(history.events)
    reader = _HistoryReader()
    for event in events:
        reader.read(event)
    if not reader.completed:
        raise ValueError(f"history of {example}: the workflow did not complete ({len(events)} events)")
    return Shape(example=example, input_bytes=reader.input_bytes, result_bytes=reader.result_bytes,
                 waves=reader.waves(), signal_bytes=reader.signals, update_bytes=reader.update_bytes(),
                 history_events=len(events))


def timeout(seconds: float | None) -> timedelta | None:
    return None if seconds is None else timedelta(seconds=seconds)
