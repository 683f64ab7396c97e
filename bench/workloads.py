"""The two workloads of `make bench` and the closed loop that drives them.

A: real shipments, started through the API like a backend does; the sandbox pushes their tracking events to the
API's webhook; a gate (the high-value approval) is approved through the API as ops would, by update, as soon as the
shipment's `TradelanePendingGate` attribute shows it. B: `BareWorkflow` with the shape of the same example, its
signals and updates sent by this process. Both are timed from the start request to the fetched result.
"""

import asyncio
import copy
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from pydantic import BaseModel, Field, computed_field
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle

from bench.bare import SIGNAL, UPDATE, WORKFLOW_NAME, BareInput, chars
from bench.shape import Shape
from workflows import visibility as sa

RESULT_TIMEOUT_S = 300.0
"""A workflow without a result this long after its start counts as failed (the run never hangs on one)."""
NO_RESULT = f"no result within {RESULT_TIMEOUT_S:g} s"
GATE_POLL_S = 0.05
"""How often a shipment that will wait for ops is described until its gate shows (one RPC, no workflow task)."""


class Outcome(BaseModel):
    workflow_id: str
    example: str
    latency_s: float
    ok: bool
    note: str = ""


class Rep(BaseModel):
    """One closed-loop run of one workload."""

    workload: str
    in_flight: int
    started: int
    completed: int
    failed: int
    elapsed_s: float
    latency_ms: dict[str, float]
    """p50, p95, p99 of start-to-result."""
    notes: list[str]
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
        while True:
            description = await handle.describe()
            if description.status != WorkflowExecutionStatus.RUNNING:
                return ""
            gate = description.typed_search_attributes.get(sa.PENDING_GATE)
            if gate:
                response = await self._ops.post(f"/v1/shipments/{shipment_id}/approvals", json={
                    "gate": gate, "decision": "approve", "actor": "bench@tradelane", "comment": "benchmark"})
                return "" if response.status_code == 200 else f"approval refused: HTTP {response.status_code}"
            await asyncio.sleep(GATE_POLL_S)


class BareWorkload:
    """Workload B: `BareWorkflow` with the shape of the example A runs at the same index.

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
