"""The processes of `make bench`: one dev server, the three workloads' workers, all real, each its own process.

The Temporal dev server (headless, history in memory, warn log level) runs under this program; the carrier
sandbox (tracking played at zero seconds per virtual day, no faults), the debugging SMTP server, the API and the
workers are child processes, so the benchmark's own loop does not share an interpreter with what it measures and
each process's CPU (`bench.cpu`) and peak RSS are its own. Worker A is the real `python -m worker` on the shipment
task queue (a second one is started for the two-worker measurement); worker B0 is `python -m bench.bare_worker` on
its own queue with the same settings; M has its worker (`bench.minimal_worker`) and its webhook ingress
(`bench.minimal_ingress`), which its shipments give the sandbox as their events URL.
"""

import asyncio
import os
import shutil
import sys
from contextlib import AsyncExitStack
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import yaml
from pydantic import BaseModel

from bench.cpu import children_of
from devstack.devserver import DevServer, start_dev_server
from devstack.ports import free_port
from devstack.up import SANDBOX_POLL_INTERVAL_S, sandbox_config
from infra.platform.settings import Settings, get_settings
from reliability.config import RunTimings
from reliability.processes import ChildProcess, StackUrls, output_to, service_env
from tradelane.tracking_codes import EVENTS_PATH

HOST = "127.0.0.1"
QUEUE_A = "bench-shipments"
QUEUE_B = "bench-bare"
QUEUE_M = "bench-minimal"
CLUSTER_SERVERS = ("frontend", "history-1", "history-2", "matching", "worker")
"""The server processes of `--cluster`, each measured as `temporal-<name>`."""
ROLES = {"devserver": "temporal", **{f"temporal-{name}": "temporal" for name in CLUSTER_SERVERS},
         "worker-A": "tradelane", "worker-A2": "tradelane", "api": "tradelane", "worker-B0": "ceiling",
         "worker-M": "minimal", "ingress-M": "minimal", "sandbox": "partners", "mail": "mail", "driver": "driver"}
"""What each measured process is; `partners`, `mail` and `driver` are reported apart (`bench.cpu.APART`)."""
CHILDREN = {"shipment": "worker-A", "shipment2": "worker-A2", "api": "api", "bare": "worker-B0",
            "minimal": "worker-M", "ingress": "ingress-M", "sandbox": "sandbox", "mail": "mail"}
"""Child process name -> its name in the CPU report."""

PRODUCTION_TIMINGS = ("partner_timeout_s", "activity_timeout_s", "retry_initial_interval_s",
                      "retry_maximum_interval_s", "retry_maximum_attempts", "transit_timeout_s", "last_mile_timeout_s",
                      "stall_after_s", "customs_hold_alert_after_s", "gate_escalate_after_s")
TIMINGS = RunTimings(seconds_per_day=0.0, poll_interval_s=SANDBOX_POLL_INTERVAL_S,
                     **{name: Settings.model_fields[name].default for name in PRODUCTION_TIMINGS})
"""Production's retry policies and timeouts (the settings' defaults) and `make up`'s polling interval; only the
sandbox's clock is compressed to zero, so tracking events follow each other without waiting."""


class Workers(BaseModel):
    """Process ids of the two workers, for their peak RSS and for a profiler."""

    shipment: int
    bare: int


def peak_rss_mib(pid: int) -> float:
    """The process's peak resident set size (VmHWM) so far, in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmHWM for process {pid}")


class BenchStack:
    """Every process of a benchmark run.

    Args:
        run_dir: Logs, the read model and mail of the run (must exist).
        settings: This process's settings (API keys, secrets); the children inherit the same environment.
    """

    def __init__(self, run_dir: Path, settings: Settings | None = None, cluster: bool = False) -> None:
        self.run_dir = run_dir
        self.cluster = cluster
        """On a multi-service Temporal cluster (`make cluster`'s, a fresh one) instead of the dev server."""
        self._cluster_exit = AsyncExitStack()
        self._temporal: Any = None
        self.settings = settings or get_settings()
        self.temporal_port, self.api_port, self.sandbox_port = free_port(), free_port(), free_port()
        self.mail_port, self.ingress_port = free_port(), free_port()
        self.server: DevServer | None = None
        self.children: dict[str, ChildProcess] = {}
        self.metrics_ports = {"shipment": free_port(), "bare": free_port(), "shipment2": free_port()}
        self._base_env: dict[str, str] = {}

    @property
    def urls(self) -> StackUrls:
        temporal = self._temporal.frontend_address if self._temporal is not None else f"{HOST}:{self.temporal_port}"
        return StackUrls(temporal=temporal, api=f"http://{HOST}:{self.api_port}",
                         sandbox=f"http://{HOST}:{self.sandbox_port}", smtp_port=self.mail_port)

    @property
    def ingress_url(self) -> str:
        """Where M's shipments have the partners post their events."""
        return f"http://{HOST}:{self.ingress_port}{EVENTS_PATH}"

    def pids(self) -> dict[str, int]:
        """Every measured process by its report name: the children running now, the dev server and this driver."""
        pids = {CHILDREN[name]: child.pid for name, child in self.children.items()
                if child.running and child.pid is not None}
        if self._temporal is not None:  # the cluster's server processes, each its own (PostgreSQL's not counted)
            pids.update({f"temporal-{name}": process.pid for name, process in self._temporal.servers.items()
                         if process.running and process.pid is not None})
        servers = [line.pid for line in children_of(os.getpid())
                   if line.pid not in pids.values() and line.comm.startswith("temporal")]
        if servers and self._temporal is None:  # the dev server the SDK started: the Temporal CLI, a child of ours
            pids["devserver"] = servers[0]
        pids["driver"] = os.getpid()
        return pids

    @property
    def workers(self) -> Workers:
        pids = {name: self.children[name].pid for name in ("shipment", "bare")}
        assert all(pids.values()), "workers not started"
        return Workers(shipment=pids["shipment"], bare=pids["bare"])  # type: ignore[arg-type]

    async def start(self) -> None:
        """Start everything; returns when the API answers and the shipment worker is ready."""
        if self.cluster:
            from devstack.cluster.config import ClusterPorts, load_cluster_settings, scratch_dir
            from devstack.cluster.servers import running_temporal_cluster

            folder = scratch_dir("tradelane-bench-cluster-")
            self._cluster_exit.callback(shutil.rmtree, folder, True)
            settings = load_cluster_settings(dir=folder, server_log_level="warn")
            self._temporal = await self._cluster_exit.enter_async_context(
                running_temporal_cluster(settings, ports=ClusterPorts.free()))
        else:
            with output_to(self.run_dir / "temporal.log"):
                self.server = await start_dev_server(port=self.temporal_port, ui_port=None, db_file=None,
                                                     log_level="warn", startup_timeout=timedelta(minutes=3))
        config = sandbox_config(self.settings).model_copy(update={
            "seconds_per_day": TIMINGS.seconds_per_day, "faults": []})
        config_file = self.run_dir / "sandbox.yaml"
        config_file.write_text(yaml.safe_dump(config.model_dump(mode="json")), encoding="utf-8")
        health_port = free_port()
        base = service_env(self.urls, self.run_dir, TIMINGS, {"metrics": self.metrics_ports["shipment"],
                                                              "health": health_port})
        base["TRADELANE_TASK_QUEUE"] = QUEUE_A
        base["TRADELANE_REPLENISHMENT_CRON"] = ""  # no schedule firing in the middle of a measurement
        self._base_env = base
        bare = {**base, "TRADELANE_TASK_QUEUE": QUEUE_B, "TRADELANE_METRICS_PORT": str(self.metrics_ports["bare"]),
                "TRADELANE_WORKER_HEALTH_PORT": ""}
        minimal = {**bare, "TRADELANE_TASK_QUEUE": QUEUE_M, "TRADELANE_METRICS_PORT": ""}
        python = sys.executable
        specs = {
            "mail": ([python, "-m", "devstack.mailserver", "--dir", str(self.run_dir / "mail"), "--host", HOST,
                      "--port", str(self.mail_port)], base),
            "sandbox": ([python, "-m", "sandbox", "--host", HOST, "--port", str(self.sandbox_port), "--config",
                         str(config_file), "--log-level", "warning"], base),
            "api": ([python, "-m", "devstack.cli", "api"], base),
            "shipment": ([python, "-m", "worker"], base),
            "bare": ([python, "-m", "bench.bare_worker"], bare),
            "minimal": ([python, "-m", "bench.minimal_worker"], minimal),
            "ingress": ([python, "-m", "bench.minimal_ingress", "--host", HOST, "--port", str(self.ingress_port)],
                        minimal),
        }
        for name, (argv, env) in specs.items():
            self.children[name] = ChildProcess(name, argv, env, self.run_dir / f"{name}.log")
            await self.children[name].start()
        await self._wait_ok(f"{self.urls.sandbox}/_inspect/bookings", "sandbox")
        await self._wait_ok(f"{self.urls.api}/healthz", "api")
        await self._wait_ok(f"http://{HOST}:{health_port}/readyz", "shipment")
        await self._wait_ok(f"http://{HOST}:{self.ingress_port}{EVENTS_PATH}", "ingress", any_answer=True)

    async def start_second_worker(self) -> None:
        """A second `python -m worker` on the shipment queue, with ports of its own; returns once it is ready."""
        health_port = free_port()
        env = {**self._base_env, "TRADELANE_METRICS_PORT": str(self.metrics_ports["shipment2"]),
               "TRADELANE_WORKER_HEALTH_PORT": str(health_port)}
        self.children["shipment2"] = ChildProcess("shipment2", [sys.executable, "-m", "worker"], env,
                                                  self.run_dir / "shipment2.log")
        await self.children["shipment2"].start()
        await self._wait_ok(f"http://{HOST}:{health_port}/readyz", "shipment2")

    async def stop_second_worker(self) -> None:
        child = self.children.pop("shipment2", None)
        if child is not None:
            await child.terminate()

    async def _wait_ok(self, url: str, name: str, timeout_s: float = 120, any_answer: bool = False) -> None:
        child = self.children[name]
        deadline = asyncio.get_running_loop().time() + timeout_s
        async with httpx.AsyncClient(timeout=2) as http:
            while True:
                if not child.running:
                    raise RuntimeError(f"the {name} process exited; see {self.run_dir / f'{name}.log'}")
                try:
                    if (await http.get(url)).status_code == 200 or any_answer:
                        return
                except httpx.TransportError:
                    pass  # not listening yet
                if asyncio.get_running_loop().time() > deadline:
                    raise RuntimeError(f"{name} not ready within {timeout_s:g} s; see {self.run_dir / f'{name}.log'}")
                await asyncio.sleep(0.2)

    async def stop(self) -> None:
        """Stop everything that was started, in reverse order; safe after a partial start."""
        for child in reversed(list(self.children.values())):
            await child.terminate()
        if self.server is not None:
            await self.server.stop()
        await self._cluster_exit.aclose()

