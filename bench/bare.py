"""Workload B of `make bench`: bare Temporal running a shipment's shape with no-op activities.

`BareWorkflow` runs the waves of a `Shape` (bench/shape.py): each wave's activities as no-ops that take and return
payloads of the shipment's sizes, with the shipment's timeouts and retry policies, started once the activities,
signals and updates the shipment had seen before scheduling them are done. It has no state beyond counters, no search
attributes, no read model and no partners: what is left is Temporal's own cost for the same work.
"""

import asyncio
from datetime import timedelta

from pydantic import BaseModel
from temporalio import activity, workflow
from temporalio.common import RetryPolicy
from temporalio.converter import DataConverter

with workflow.unsafe.imports_passed_through():
    from bench.shape import ActivitySpec, RetrySpec, Shape, timeout

WORKFLOW_NAME = "BenchBare"
NOOP = "bench.noop"
SIGNAL = "event"
UPDATE = "decide"


class NoopCall(BaseModel):
    """A no-op's input: filler of the shipment activity's input size, and how big an answer to return."""

    filler: str = ""
    result_chars: int = 0


Step = tuple[bool, int, int, float | None, float | None, float | None, int]
"""One no-op: (local, filler characters, answer characters, start-to-close, schedule-to-close, heartbeat timeout,
index of its retry policy). Tuples keep the input as small as the shipment's, which it must not outgrow."""


class BareInput(BaseModel):
    """What the bare workflow runs: a `Shape` in compact form, its payload sizes turned into filler lengths."""

    waves: list[tuple[int, int, list[int], list[Step]]]
    """(signals, updates, activities) to wait for, then the steps to start."""
    retries: list[RetrySpec]
    signals: int
    updates: int
    update_result_chars: list[int]
    result_chars: int = 0
    filler: str = ""
    """Pads the input to the shipment input's encoded size."""


@activity.defn(name=NOOP)
async def noop(call: NoopCall) -> str:
    return "x" * call.result_chars


def _retry_policy(spec: RetrySpec) -> RetryPolicy:
    return RetryPolicy(initial_interval=timedelta(seconds=spec.initial_interval_s),
                       backoff_coefficient=spec.backoff_coefficient,
                       maximum_interval=timeout(spec.maximum_interval_s), maximum_attempts=spec.maximum_attempts,
                       non_retryable_error_types=list(spec.non_retryable_error_types))


@workflow.defn(name=WORKFLOW_NAME)
class BareWorkflow:
    def __init__(self) -> None:
        self._signals = 0
        self._updates = 0
        self._done: set[int] = set()
        self._update_results: list[int] = []

    @workflow.run
    async def run(self, inp: BareInput) -> str:
        self._update_results = inp.update_result_chars
        policies = [_retry_policy(spec) for spec in inp.retries]
        running: list[asyncio.Task[None]] = []
        needed: set[int] = set()
        for signals, updates, activities, steps in inp.waves:
            needed.update(activities)
            # A no-op that failed ends the wait too: gathering it below raises, instead of waiting forever.
            await workflow.wait_condition(
                lambda s=signals, u=updates: self._signals >= s and self._updates >= u  # type: ignore[misc]
                and needed <= self._done or any(t.done() and t.exception() for t in running))
            if any(t.done() and t.exception() for t in running):
                break
            for step in steps:
                running.append(asyncio.create_task(self._noop(len(running), step, policies)))
        await asyncio.gather(*running)
        await workflow.wait_condition(lambda: self._signals >= inp.signals and self._updates >= inp.updates)
        return "x" * inp.result_chars

    async def _noop(self, position: int, step: Step, policies: list[RetryPolicy]) -> None:
        local, filler, answer, start_to_close, schedule_to_close, heartbeat, retry = step
        call = NoopCall(filler="x" * filler, result_chars=answer)
        if local:
            await workflow.execute_local_activity(
                NOOP, call, result_type=str, start_to_close_timeout=timeout(start_to_close),
                schedule_to_close_timeout=timeout(schedule_to_close), retry_policy=policies[retry])
        else:
            await workflow.execute_activity(
                NOOP, call, result_type=str, start_to_close_timeout=timeout(start_to_close),
                schedule_to_close_timeout=timeout(schedule_to_close), heartbeat_timeout=timeout(heartbeat),
                retry_policy=policies[retry])
        self._done.add(position)

    @workflow.signal(name=SIGNAL)
    def event(self, filler: str) -> None:
        self._signals += 1

    @workflow.update(name=UPDATE)
    def decide(self, filler: str) -> str:
        self._updates += 1
        chars = self._update_results[self._updates - 1] if self._updates <= len(self._update_results) else 0
        return "x" * chars

    @decide.validator
    def _validate_decide(self, filler: str) -> None:
        """Validated like the shipment's `decide` (which checks the gate is pending); here nothing to check."""


async def encoded_size(converter: DataConverter, value: object) -> int:
    """Bytes of `value` as a payload in the history, through `converter` (its codec included)."""
    return sum(p.ByteSize() for p in await converter.encode([value]))


def chars(size: int, overhead: int) -> int:
    """Filler characters that make a payload of `overhead` bytes when empty `size` bytes long."""
    return max(size - overhead, 0)


async def bare_input(shape: Shape, converter: DataConverter) -> BareInput:
    """The bare workflow's input for `shape`: filler lengths chosen so that, through `converter` (the same one the
    shipments use, encryption included), every payload has the shipment's encoded size."""
    call_overhead, str_overhead = await encoded_size(converter, NoopCall()), await encoded_size(converter, "")
    retries = list(dict.fromkeys(a.retry for w in shape.waves for a in w.activities))

    def step(a: ActivitySpec) -> Step:
        return (a.local, chars(a.input_bytes, call_overhead), chars(a.result_bytes, str_overhead),
                a.start_to_close_s, a.schedule_to_close_s, a.heartbeat_s, retries.index(a.retry))

    draft = BareInput(
        waves=[(w.after_signals, w.after_updates, w.after_activities, [step(a) for a in w.activities])
               for w in shape.waves],
        retries=retries, signals=len(shape.signal_bytes), updates=len(shape.update_bytes),
        update_result_chars=[chars(result, str_overhead) for _, result in shape.update_bytes],
        result_chars=chars(shape.result_bytes, str_overhead))
    return draft.model_copy(update={"filler": "x" * chars(shape.input_bytes, await encoded_size(converter, draft))})
