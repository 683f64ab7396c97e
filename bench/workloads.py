"""The three workloads of `make bench` and the closed loop that drives them.

A: real shipments, started through the API like a backend does; the sandbox pushes their tracking events to the
API's webhook (or is polled); a gate (the high-value approval) is approved through the API as ops would, by update,
once the shipment's `TradelanePendingGate` attribute shows it (described with a backoff of seconds). M:
`MinimalWorkflow` (bench/minimal.py) with the partner calls of the same example, its events posted by the sandbox
to M's own ingress. B0: `BareWorkflow` with the ceiling shape (bench/ceiling.py), its signals sent one by one by
this process. Each is timed from the start request to the fetched result.
"""

import asyncio
import copy
import statistics
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import httpx
from pydantic import BaseModel, Field, computed_field
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle

from bench.bare import SIGNAL, UPDATE, WORKFLOW_NAME, BareInput, chars
from bench.minimal import WORKFLOW_NAME as MINIMAL
from bench.minimal import MinimalInput, Step, rebind
from bench.minimal import workflow_id as minimal_workflow_id
from bench.shape import Shape
from workflows import visibility as sa

RESULT_TIMEOUT_S = 300.0
"""A workflow without a result this long after its start counts as failed (the run never hangs on one)."""
NO_RESULT = f"no result within {RESULT_TIMEOUT_S:g} s"
GATE_FIRST_LOOK_S = 0.5
GATE_BACKOFF = 2.0
GATE_LONGEST_WAIT_S = 2.0
"""A shipment that will wait for ops is described (one RPC, no workflow task) first after half a second, then
with a doubling wait of at most two seconds, until its gate shows: a handful of describes per gated shipment,
where a 50 ms poll cost the dev server about a hundred."""


def gate_waits() -> Iterator[float]:
    """Seconds to wait before each look at a shipment's gate: 0.5, 1, 2, 2, ..."""
    wait = GATE_FIRST_LOOK_S
    while True:
        yield wait
        wait = min(wait * GATE_BACKOFF, GATE_LONGEST_WAIT_S)


class Outcome(BaseModel):
    workflow_id: str
    example: str
    latency_s: float
    ok: bool
    note: str = ""


class Rep(BaseModel):
    """One run of one workload, closed loop (`in_flight`) or open loop (`offered_rate`)."""

    workload: str
    in_flight: int
    """Workflows kept running (closed loop); 0 in an open loop."""
    offered_rate: float | None = None
    """Shipments per second offered (open loop); None in a closed loop."""
    workers: int = 1
    """Tradelane worker processes during the repetition."""
    started: int
    completed: int
    failed: int
    elapsed_s: float
    latency_ms: dict[str, float]
    """p50, p95, p99 of start-to-result."""
    notes: list[str]
    cpu_ms: dict[str, float] = Field(default_factory=dict)
    """CPU milliseconds per completed workflow, per process (bench/cpu.py)."""
    workflow_ids: list[str] = Field(exclude=True)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def throughput(self) -> float:
        return self.completed / self.elapsed_s


async def result_within(handle: WorkflowHandle[Any, Any]) -> Any:
    """The workflow's result, or None when it has none within `RESULT_TIMEOUT_S`."""
    try:
        return await asyncio.wait_for(handle.result(), RESULT_TIMEOUT_S)
    except TimeoutError:
        return None


def percentiles(samples: list[float]) -> dict[str, float]:
    if len(samples) < 2:
        value = samples[0] if samples else 0.0
        return {"p50": value, "p95": value, "p99": value}
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return {"p50": statistics.median(samples), "p95": cuts[94], "p99": cuts[98]}


async def closed_loop(workload: str, one: Callable[[int], Awaitable[Outcome]], count: int,
                      in_flight: int) -> Rep:
    """Run `count` workflows keeping `in_flight` of them running: each finished one is replaced at once."""
    indices = iter(range(count))
    outcomes: list[Outcome] = []

    async def lane() -> None:
        for index in indices:  # the shared iterator hands each index to exactly one lane
            outcomes.append(await one(index))

    started = time.perf_counter()
    await asyncio.gather(*(lane() for _ in range(min(in_flight, count))))
    elapsed = time.perf_counter() - started
    good = [o for o in outcomes if o.ok]
    return Rep(workload=workload, in_flight=in_flight, started=count, completed=len(good),
               failed=len(outcomes) - len(good), elapsed_s=elapsed,
               latency_ms=percentiles([o.latency_s * 1000 for o in good]),
               notes=sorted({o.note for o in outcomes if o.note})[:5], workflow_ids=[o.workflow_id for o in outcomes])


class ShipmentWorkload:
    """Workload A: the example requests as shipments through the API, the sandbox and the Tradelane worker.

    Args:
        client: Temporal client (the encrypting converter), to describe shipments and fetch results.
        backend: API client with the backend key; `ops` with the ops key.
        bodies: Example name -> request body; shipment ids are made unique per call.
        gated: Examples that wait for an ops approval.
        tag: Makes this run's shipment ids unique.
    """

    def __init__(self, client: Client, backend: httpx.AsyncClient, ops: httpx.AsyncClient,
                 bodies: dict[str, dict[str, Any]], gated: set[str], tag: str) -> None:
        self._client, self._backend, self._ops = client, backend, ops
        self._bodies, self._names, self._gated, self._tag = bodies, list(bodies), gated, tag

    def example(self, index: int) -> str:
        return self._names[index % len(self._names)]

    async def one(self, index: int, watch_gate: bool | None = None) -> Outcome:
        name = self.example(index)
        body = copy.deepcopy(self._bodies[name])
        body["shipment_id"] = f"BENCH-{self._tag}-{index:05d}"
        started = time.perf_counter()
        response = await self._backend.post("/v1/shipments", json=body)
        if response.status_code != 201:
            return Outcome(workflow_id="", example=name, latency_s=0, ok=False,
                           note=f"start refused: HTTP {response.status_code} {response.text[:120]}")
        handle = self._client.get_workflow_handle(response.json()["workflow_id"])
        if watch_gate is None:
            watch_gate = name in self._gated
        if watch_gate:
            note = await self._approve(handle, body["shipment_id"])
            if note:
                return Outcome(workflow_id=handle.id, example=name, latency_s=0, ok=False, note=note)
        result = await result_within(handle)
        if result is None:
            return Outcome(workflow_id=handle.id, example=name, latency_s=0, ok=False, note=NO_RESULT)
        status = result.get("status") if isinstance(result, dict) else None
        return Outcome(workflow_id=handle.id, example=name, latency_s=time.perf_counter() - started,
                       ok=status == "delivered", note="" if status == "delivered" else f"ended {status}")

    async def _approve(self, handle: WorkflowHandle[Any, Any], shipment_id: str) -> str:
        """Approve the shipment's gate through the API once it shows; '' when done (or none ever opened)."""
        for wait in gate_waits():
            await asyncio.sleep(wait)
            description = await handle.describe()
            if description.status != WorkflowExecutionStatus.RUNNING:
                return ""
            gate = description.typed_search_attributes.get(sa.PENDING_GATE)
            if gate:
                response = await self._ops.post(f"/v1/shipments/{shipment_id}/approvals", json={
                    "gate": gate, "decision": "approve", "actor": "bench@tradelane", "comment": "benchmark"})
                return "" if response.status_code == 200 else f"approval refused: HTTP {response.status_code}"
        return ""  # not reached: the waits never end


class BareWorkload:
    """Workload B0 (or a shape taken from a history): `BareWorkflow` with the shape of the example A runs at the
    same index.

    Args:
        client: Temporal client with the same converter as A's.
        shapes: Example name -> its shape, in A's example order.
        inputs: Example name -> the bare input of its shape (`bench.bare.bare_input`).
        str_overhead: Encoded bytes of an empty string argument (signal and update fillers are sized with it).
        task_queue: The bare worker's queue.
        tag: Makes this run's workflow ids unique.
    """

    def __init__(self, client: Client, shapes: dict[str, Shape], inputs: dict[str, BareInput], str_overhead: int,
                 task_queue: str, tag: str) -> None:
        self._client, self._shapes, self._inputs, self._names = client, shapes, inputs, list(shapes)
        self._overhead, self._queue, self._tag = str_overhead, task_queue, tag

    async def one(self, index: int) -> Outcome:
        name = self._names[index % len(self._names)]
        shape = self._shapes[name]
        started = time.perf_counter()
        handle = await self._client.start_workflow(WORKFLOW_NAME, self._inputs[name],
                                                   id=f"bare-{self._tag}-{index:05d}", task_queue=self._queue)
        for size in shape.signal_bytes:
            await handle.signal(SIGNAL, "x" * chars(size, self._overhead))
        for size, _ in shape.update_bytes:
            await handle.execute_update(UPDATE, "x" * chars(size, self._overhead))
        if await result_within(handle) is None:
            return Outcome(workflow_id=handle.id, example=name, latency_s=0, ok=False, note=NO_RESULT)
        return Outcome(workflow_id=handle.id, example=name, latency_s=time.perf_counter() - started, ok=True)


class MinimalWorkload:
    """Workload M: `MinimalWorkflow` making the partner calls Tradelane made for the same example.

    Args:
        client: Temporal client (the same converter as A's).
        steps: Example name -> the partner steps of its warm-up shipment (`bench.minimal.partner_steps`) and that
            shipment's id, which `rebind` replaces.
        events_url: M's ingress, where the partners post the shipments' events.
        task_queue: M's worker's queue.
        poll_interval_s: How often a partner without webhooks is polled (Tradelane's interval).
        tag: Makes this run's shipment ids unique.
    """

    def __init__(self, client: Client, steps: dict[str, tuple[str, list[Step]]], events_url: str, task_queue: str,
                 poll_interval_s: float, tag: str) -> None:
        self._client, self._steps, self._names = client, steps, list(steps)
        self._events_url, self._queue, self._interval, self._tag = events_url, task_queue, poll_interval_s, tag

    async def one(self, index: int) -> Outcome:
        name = self._names[index % len(self._names)]
        old_id, steps = self._steps[name]
        shipment_id = f"M-{self._tag}-{index:05d}"
        started = time.perf_counter()
        handle = await self._client.start_workflow(
            MINIMAL, MinimalInput(shipment_id=shipment_id, steps=rebind(steps, old_id, shipment_id, self._events_url),
                                  poll_interval_s=self._interval),
            id=minimal_workflow_id(shipment_id), task_queue=self._queue)
        if await result_within(handle) is None:
            return Outcome(workflow_id=handle.id, example=name, latency_s=0, ok=False, note=NO_RESULT)
        return Outcome(workflow_id=handle.id, example=name, latency_s=time.perf_counter() - started, ok=True)
