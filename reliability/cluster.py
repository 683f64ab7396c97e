"""The reliability run on a real multi-service Temporal cluster (`python -m reliability --cluster`, issue 23).

The same batch, driver and audit as on the dev server, on the cluster `make cluster` runs: a frontend, two history
hosts sharing its history shards, matching and the internal worker, each its own process, on PostgreSQL (Temporal's
persistence and advanced visibility, and Tradelane's read model under its own database and user). Tradelane runs two
worker processes and an API as child processes. The cluster's faults replace the dev server's: a history host
SIGKILLed mid-batch and started again (its shards move to the other host and back: their range ids say so), one
of the two Tradelane workers SIGKILLed, the frontend restarted, a rolling restart of the Tradelane workers.
"""

import asyncio
import shutil
import sys
from contextlib import AsyncExitStack
from pathlib import Path

from devstack.cluster.config import ClusterPorts, load_cluster_settings, scratch_dir
from devstack.cluster.servers import TemporalCluster, running_temporal_cluster
from devstack.ports import free_port
from infra.platform.settings import Settings
from reliability.catalogue import CLUSTER_DISRUPTIONS, Disruption
from reliability.config import TIMINGS, RunTimings
from reliability.plan import batch_disruptions
from reliability.processes import ChildProcess, ReliabilityStack, StackUrls

SHARDS_MOVE_S = 30.0
"""How long shards may take to move after a history host is lost or back (membership notices within seconds)."""
SETTLE_S = 2.0


class ClusterReliabilityStack(ReliabilityStack):
    """`ReliabilityStack` on a Temporal cluster, with two Tradelane workers and the cluster's faults."""

    def __init__(self, run_dir: Path, timings: RunTimings = TIMINGS, settings: Settings | None = None) -> None:
        super().__init__(run_dir, timings, settings)
        self.cluster: TemporalCluster | None = None
        self.worker2: ChildProcess | None = None
        self._exit = AsyncExitStack()
        self._worker2_ports = {"metrics": free_port(), "health": free_port()}
        self._history_kills = 0

    def disruptions(self, crashes: bool) -> list[Disruption]:
        return batch_disruptions(crashes, self.timings, CLUSTER_DISRUPTIONS)

    @property
    def urls(self) -> StackUrls:
        assert self.cluster is not None and self.sandbox_app is not None and self.mail is not None, "start() first"
        return StackUrls(temporal=self.cluster.frontend_address, api=f"http://127.0.0.1:{self.api_port}",
                         sandbox=self.sandbox_app.url, smtp_port=self.mail.port)

    @property
    def db_url(self) -> str:
        assert self.cluster is not None, "start() first"
        return self.cluster.tradelane_database_url

    def supervised(self) -> list[ChildProcess | None]:
        return [self.worker, self.worker2, self.api]

    async def _start_server(self) -> None:
        # A fresh cluster per run (its own PostgreSQL data, removed after), with the binaries `make cluster` found
        # or built once.
        self._cluster_dir = scratch_dir("tradelane-reliability-cluster-")
        self._exit.callback(shutil.rmtree, self._cluster_dir, True)
        settings = load_cluster_settings(dir=self._cluster_dir, server_log_level="warn")
        self.cluster = await self._exit.enter_async_context(
            running_temporal_cluster(settings, ports=ClusterPorts.free()))

    def service_env(self, ports: dict[str, int]) -> dict[str, str]:
        # Workers and API on the cluster's read model (PostgreSQL), not a run directory's SQLite file.
        return super().service_env(ports) | {"TRADELANE_DATABASE_URL": self.db_url}

    async def start(self) -> None:
        await super().start()
        self.worker2 = ChildProcess("worker-2", [sys.executable, "-m", "worker"],
                                    self.service_env(self._worker2_ports), self.run_dir / "worker-2.log")
        await self.worker2.start()
        await self._ready(self._worker2_ports["health"])

    async def kill_history_host(self) -> str:
        """SIGKILL one history host (the two take turns); once the other host has taken its shards over, start it
        again and wait until it has some back. Says how many moved each way."""
        assert self.cluster is not None
        host = self.cluster.history[self._history_kills % len(self.cluster.history)]
        self._history_kills += 1
        before = await asyncio.to_thread(self.cluster.shard_ranges)
        code = await host.kill()
        moved = await self._shards_move(before)
        await host.start()
        back = await self._shards_move(moved)
        away = sum(moved[s] > before[s] for s in before)
        returned = sum(back[s] > moved[s] for s in moved)
        return (f"SIGKILL {host.name} (exit {code}); {away} of {len(before)} shards taken over while it was away, "
                f"{returned} taken again after it was back")

    async def _shards_move(self, since: dict[int, int]) -> dict[int, int]:
        """The shards' range ids once some have grown since `since` (a host took them), or after `SHARDS_MOVE_S`."""
        assert self.cluster is not None
        deadline = asyncio.get_running_loop().time() + SHARDS_MOVE_S
        while True:
            now = await asyncio.to_thread(self.cluster.shard_ranges)
            if any(now[s] > since[s] for s in since) or asyncio.get_running_loop().time() > deadline:
                await asyncio.sleep(SETTLE_S)  # the rest of the host's shards follow within a moment
                return await asyncio.to_thread(self.cluster.shard_ranges)
            await asyncio.sleep(0.25)

    async def restart_frontend(self) -> str:
        assert self.cluster is not None
        frontend = self.cluster.frontend
        code = await frontend.stop()
        await frontend.start()
        return f"frontend stopped (exit {code}) and started again on the same ports"

    async def rolling_restart_workers(self) -> str:
        """One Tradelane worker at a time: SIGTERM (it finishes what it holds), start, wait until it polls again."""
        done = []
        for child, ports in ((self.worker, self._ports), (self.worker2, self._worker2_ports)):
            assert child is not None
            code = await child.terminate()
            await child.start()
            ready = await self._ready(ports["health"])
            done.append(f"{child.name} (exit {code}, {'ready' if ready else 'started, health silent'})")
        return "rolling restart: " + ", then ".join(done)

    async def _ready(self, health_port: int, timeout_s: float = 60) -> bool:
        saved = self._ports
        self._ports = {**saved, "health": health_port}
        try:
            return await self.wait_worker_ready(timeout_s)
        finally:
            self._ports = saved

    async def stop(self) -> None:
        if self.worker2 is not None:
            await self.worker2.terminate()
        try:
            await super().stop()
        finally:
            await self._exit.aclose()
