"""The processes of `make bench`: one dev server and one worker configuration, all real.

The Temporal dev server (headless, history in memory, warn log level) runs under this program; the carrier
sandbox (tracking played at zero seconds per virtual day, no faults), the API and the two workers are child
processes, so the benchmark's own loop does not share an interpreter with what it measures, and each worker's peak
RSS is its own. Worker A is the real `python -m worker` on the shipment task queue; worker B is
`python -m bench.bare_worker` on its own queue with the same settings. The debugging SMTP server runs in-process.
"""

import asyncio
import sys
from datetime import timedelta
from pathlib import Path

import httpx
import yaml
from pydantic import BaseModel

from devstack.devserver import DevServer, start_dev_server
from devstack.mailserver import DevMailServer, free_port
from devstack.up import SANDBOX_POLL_INTERVAL_S, sandbox_config
from infra.platform.settings import Settings, get_settings
from reliability.config import RunTimings
from reliability.processes import ChildProcess, StackUrls, output_to, service_env

HOST = "127.0.0.1"
QUEUE_A = "bench-shipments"
QUEUE_B = "bench-bare"

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

    def __init__(self, run_dir: Path, settings: Settings | None = None) -> None:
        self.run_dir = run_dir
        self.settings = settings or get_settings()
        self.temporal_port, self.api_port, self.sandbox_port = free_port(), free_port(), free_port()
        self.server: DevServer | None = None
        self.mail: DevMailServer | None = None
        self.children: dict[str, ChildProcess] = {}
        self.metrics_ports = {"shipment": free_port(), "bare": free_port()}

    @property
    def urls(self) -> StackUrls:
        assert self.mail is not None, "start() first"
        return StackUrls(temporal=f"{HOST}:{self.temporal_port}", api=f"http://{HOST}:{self.api_port}",
                         sandbox=f"http://{HOST}:{self.sandbox_port}", smtp_port=self.mail.port)

    @property
    def workers(self) -> Workers:
        pids = {name: self.children[name].pid for name in ("shipment", "bare")}
        assert all(pids.values()), "workers not started"
        return Workers(shipment=pids["shipment"], bare=pids["bare"])  # type: ignore[arg-type]

    async def start(self) -> None:
        """Start everything; returns when the API answers and the shipment worker is ready."""
        with output_to(self.run_dir / "temporal.log"):
            self.server = await start_dev_server(port=self.temporal_port, ui_port=None, db_file=None,
                                                 log_level="warn", startup_timeout=timedelta(minutes=3))
        self.mail = await asyncio.to_thread(DevMailServer(self.run_dir / "mail", HOST, free_port()).start)
        config = sandbox_config(self.settings).model_copy(update={
            "seconds_per_day": TIMINGS.seconds_per_day, "faults": []})
        config_file = self.run_dir / "sandbox.yaml"
        config_file.write_text(yaml.safe_dump(config.model_dump(mode="json")), encoding="utf-8")
        health_port = free_port()
        base = service_env(self.urls, self.run_dir, TIMINGS, {"metrics": self.metrics_ports["shipment"],
                                                              "health": health_port})
        base["TRADELANE_TASK_QUEUE"] = QUEUE_A
        base["TRADELANE_REPLENISHMENT_CRON"] = ""  # no schedule firing in the middle of a measurement
        bare = {**base, "TRADELANE_TASK_QUEUE": QUEUE_B, "TRADELANE_METRICS_PORT": str(self.metrics_ports["bare"]),
                "TRADELANE_WORKER_HEALTH_PORT": ""}
        python = sys.executable
        specs = {
            "sandbox": ([python, "-m", "sandbox", "--host", HOST, "--port", str(self.sandbox_port), "--config",
                         str(config_file), "--log-level", "warning"], base),
            "api": ([python, "-m", "devstack.cli", "api"], base),
            "shipment": ([python, "-m", "worker"], base),
            "bare": ([python, "-m", "bench.bare_worker"], bare),
        }
        for name, (argv, env) in specs.items():
            self.children[name] = ChildProcess(name, argv, env, self.run_dir / f"{name}.log")
            await self.children[name].start()
        await self._wait_ok(f"{self.urls.sandbox}/_inspect/bookings", "sandbox")
        await self._wait_ok(f"{self.urls.api}/healthz", "api")
        await self._wait_ok(f"http://{HOST}:{health_port}/readyz", "shipment")

    async def _wait_ok(self, url: str, name: str, timeout_s: float = 120) -> None:
        child = self.children[name]
        deadline = asyncio.get_running_loop().time() + timeout_s
        async with httpx.AsyncClient(timeout=2) as http:
            while True:
                if not child.running:
                    raise RuntimeError(f"the {name} process exited; see {self.run_dir / f'{name}.log'}")
                try:
                    if (await http.get(url)).status_code == 200:
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
        if self.mail is not None:
            await asyncio.to_thread(self.mail.stop)
        if self.server is not None:
            await self.server.stop()

