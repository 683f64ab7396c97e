"""Batch-wide disruptions during a reliability run: crashes and restarts at fixed shares of the acknowledged
shipments, partner outages, and a supervisor that restarts a process that died on its own."""

import asyncio
import math
import time
from collections.abc import Callable

import httpx

from reliability.audit import DisruptionEvent
from reliability.catalogue import Disruption
from reliability.processes import ReliabilityStack

WORKER_DOWN_S = 1.0
"""How long a killed worker stays dead before its replacement starts."""
SUPERVISE_INTERVAL_S = 1.0


class AckCounter:
    """Shipments the API acknowledged so far, awaitable by threshold."""

    def __init__(self) -> None:
        self.value = 0
        self._changed = asyncio.Condition()

    async def increment(self) -> None:
        async with self._changed:
            self.value += 1
            self._changed.notify_all()

    async def reach(self, target: int) -> None:
        async with self._changed:
            await self._changed.wait_for(lambda: self.value >= target)


class Disruptor:
    """Performs the planned disruptions and supervises the child processes; records every event.

    Args:
        stack: The running processes.
        planned: Disruptions in order of share (see `reliability.plan.batch_disruptions`).
        shipment_glob: Fault-rule glob of the batch's shipments (partner outages hit only them).
        total: Shipments in the batch; shares are of this.
        acknowledged: The driver's counter of acknowledged shipments.
        clock: Seconds since the batch started.
        progress: Called with a line per event.
    """

    def __init__(self, stack: ReliabilityStack, planned: list[Disruption], shipment_glob: str, total: int,
                 acknowledged: AckCounter, clock: Callable[[], float], progress: Callable[[str], None]) -> None:
        self._stack, self._planned, self._glob, self._total = stack, planned, shipment_glob, total
        self._acknowledged, self._clock, self._progress = acknowledged, clock, progress
        self._busy = False
        self.events: list[DisruptionEvent] = []

    async def run(self, sandbox: httpx.AsyncClient) -> None:
        """Perform each disruption when its share of shipments has been acknowledged."""
        for disruption in self._planned:
            await self._acknowledged.reach(max(1, math.ceil(self._total * disruption.at_share)))
            at, started = self._acknowledged.value, time.monotonic()
            self._busy = True
            try:
                detail, rule_ids = await self._perform(disruption, sandbox)
            finally:
                self._busy = False
            self.events.append(DisruptionEvent(kind=disruption.kind, at_acknowledged=at, at_s=self._clock(),
                                               took_s=time.monotonic() - started, detail=detail,
                                               rule_ids=rule_ids))
            self._progress(f"{disruption.kind} at {at} acknowledged: {detail}")

    async def _perform(self, disruption: Disruption, sandbox: httpx.AsyncClient) -> tuple[str, list[int]]:
        """Returns what happened, and the ids of the sandbox rules it installed (for an outage)."""
        stack = self._stack
        if disruption.kind == "worker_kill":
            code = await stack.kill_worker()
            await asyncio.sleep(WORKER_DOWN_S)
            await stack.start_worker()
            ready = await stack.wait_worker_ready()
            return f"SIGKILL (exit {code}), new worker {'ready' if ready else 'started, health endpoint silent'}", []
        if disruption.kind == "server_restart":
            await stack.restart_server()
            return "dev server stopped, started again on the same port and history file", []
        if disruption.kind == "api_restart":
            waited = await stack.restart_api()
            return f"SIGTERM, started again, answering after {waited:.1f} s", []
        if disruption.kind == "temporal_down":
            down = stack.timings.temporal_down_s
            await stack.stop_server_for(down)
            return f"dev server stopped for {down:g} s, started again on the same history file", []
        if disruption.kind in ("history_kill", "frontend_restart", "workers_rolling_restart"):
            from reliability.cluster import ClusterReliabilityStack  # only a cluster run imports the cluster

            assert isinstance(stack, ClusterReliabilityStack), f"{disruption.kind} is a cluster's fault"
            if disruption.kind == "history_kill":
                return await stack.kill_history_host(), []
            if disruption.kind == "frontend_restart":
                return await stack.restart_frontend(), []
            return await stack.rolling_restart_workers(), []
        if disruption.kind == "database_lock":
            held = stack.timings.database_lock_s
            await stack.lock_database(held)
            return f"read model's write lock held {held:g} s by another connection (writes waited, failed, retried)", []
        rules = disruption.outage_rules(self._glob, stack.sandbox_elapsed_s())
        response = await sandbox.post("/_faults", json=[r.model_dump(mode="json", exclude_none=True) for r in rules])
        response.raise_for_status()
        operations = ", ".join(str(r.operation) for r in rules)
        return (f"{disruption.partner} answers 503 for {disruption.outage_s:g} s ({operations})",
                [rule["id"] for rule in response.json()["rules"]])

    async def supervise(self) -> None:
        """Restart a worker or API that died on its own, as a process supervisor would, and record it."""
        stack = self._stack
        while True:
            await asyncio.sleep(SUPERVISE_INTERVAL_S)
            if self._busy:
                continue
            for child in stack.supervised():
                if child is None or child.running:
                    continue
                started = time.monotonic()
                await child.start()
                if child is stack.api:
                    await stack.wait_api_ready()
                self.events.append(DisruptionEvent(kind="unplanned_restart", at_acknowledged=self._acknowledged.value,
                                                   at_s=self._clock(), took_s=time.monotonic() - started,
                                                   detail=f"{child.name} had exited on its own; restarted"))
                self._progress(f"{child.name} had exited on its own; restarted")

    def resolve(self, fired: dict[int, int]) -> None:
        """Mark each outage by whether any of its rules fired (`fired`: rule id -> times)."""
        for event in self.events:
            if event.rule_ids:
                event.fired = any(fired.get(i, 0) > 0 for i in event.rule_ids)
