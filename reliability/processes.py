"""The processes of a reliability run, all real: nothing is mocked.

The Temporal dev server (history in a SQLite file, so a restart keeps it), the carrier sandbox and the SMTP server
run inside this program; the worker and the API are child processes, so they can be killed with SIGKILL or
restarted with SIGTERM like in production. The sandbox runs in-process because its records are the audit's
evidence, and its fault book is wrapped to count which rules fired.
"""

import asyncio
import os
import signal
import sqlite3
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import httpx
import structlog
from pydantic import BaseModel

from devstack.devserver import DevServer, start_dev_server
from devstack.mailserver import DevMailServer
from devstack.ports import free_port
from devstack.up import sandbox_config
from infra.platform.http_server import ServedApp
from infra.platform.settings import Settings, get_settings
from reliability.catalogue import Disruption
from reliability.config import TIMINGS, RunTimings
from reliability.plan import batch_disruptions
from sandbox.app import create_app as create_sandbox_app
from sandbox.context import Sandbox
from sandbox.faults import ActiveRule, FaultBook, FaultContext

log = structlog.stdlib.get_logger(__name__)

ROOT = Path(__file__).resolve().parent.parent
"""The project root: the child processes run from here (`python -m worker`, `python -m devstack.cli api`)."""
TASK_QUEUE = "tradelane-reliability"
HOST = "127.0.0.1"


@contextmanager
def output_to(path: Path) -> Iterator[None]:
    """Point file descriptors 1 and 2 at `path` while child processes are spawned (they inherit them).

    Python's own `sys.stdout` keeps working but lands in `path` meanwhile; the CLI prints through a duplicate of
    the original stdout, which this does not touch.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    try:
        with path.open("ab") as log_file:
            os.dup2(log_file.fileno(), 1)
            os.dup2(log_file.fileno(), 2)
        yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in saved:
            os.close(fd)


class CountingFaultBook(FaultBook):
    """The sandbox's fault book, also counting how often each rule fired (the sandbox only logs it)."""

    def __init__(self) -> None:
        super().__init__()
        self.fired: Counter[int] = Counter()

    def select(self, ctx: FaultContext, elapsed_s: float) -> ActiveRule | None:
        rule = super().select(ctx, elapsed_s)
        if rule is not None:
            self.fired[rule.id] += 1
        return rule


class ChildProcess:
    """A Tradelane service as a child process, its output appended to a log file.

    Args:
        name: For logs and errors (`worker`, `api`).
        argv: The command.
        env: Its whole environment.
        log_path: Where stdout and stderr go; every (re)start appends.
    """

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log_path: Path) -> None:
        self.name, self._argv, self._env, self._log_path = name, argv, env, log_path
        self._proc: asyncio.subprocess.Process | None = None
        self.starts = 0

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.returncode is None

    async def start(self) -> None:
        """Start the process (a running one is left alone)."""
        if self.running:
            return
        with self._log_path.open("ab") as out:
            out.write(f"--- start {self.starts + 1} of {self.name} at {time.strftime('%H:%M:%S')}\n".encode())
            out.flush()
            self._proc = await asyncio.create_subprocess_exec(*self._argv, cwd=ROOT, env=self._env, stdout=out,
                                                              stderr=asyncio.subprocess.STDOUT)
        self.starts += 1

    async def kill(self) -> int | None:
        """SIGKILL: no shutdown hook runs, in-flight work is lost mid-way. Returns the exit code."""
        return await self._signal(signal.SIGKILL, timeout_s=10)

    async def terminate(self, timeout_s: float = 20) -> int | None:
        """SIGTERM and wait (SIGKILL after `timeout_s`). Returns the exit code."""
        return await self._signal(signal.SIGTERM, timeout_s)

    async def _signal(self, sig: int, timeout_s: float) -> int | None:
        proc = self._proc
        if proc is None or proc.returncode is not None:
            return None if proc is None else proc.returncode
        proc.send_signal(sig)
        try:
            return await asyncio.wait_for(proc.wait(), timeout_s)
        except TimeoutError:
            log.warning("process did not stop in time, killing it", process=self.name, pid=proc.pid)
            proc.kill()
            return await proc.wait()


class StackUrls(BaseModel):
    """Where each service of a running stack answers."""

    temporal: str
    api: str
    sandbox: str
    smtp_port: int


def service_env(urls: StackUrls, run_dir: Path, timings: RunTimings, ports: dict[str, int]) -> dict[str, str]:
    """The environment of the worker and API: this process's own (so keys and secrets agree with the driver's and
    the sandbox's), with every address, timing and port of the run set on top.

    Both get the same settings: the API puts the timings into each workflow's input, the worker calls partners.
    """
    api_port = urls.api.rsplit(":", 1)[1]
    return {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "TRADELANE_ENVIRONMENT": "test",
        "TRADELANE_TEMPORAL_ADDRESS": urls.temporal,
        "TRADELANE_TASK_QUEUE": TASK_QUEUE,
        "TRADELANE_DATABASE_URL": f"sqlite:///{run_dir / 'tradelane.db'}",
        "TRADELANE_API_HOST": HOST,
        "TRADELANE_API_PORT": api_port,
        "TRADELANE_PUBLIC_URL": urls.api,
        "TRADELANE_PARTNERS_BASE_URL": urls.sandbox,
        "TRADELANE_PARTNER_TIMEOUT_S": f"{timings.partner_timeout_s}",
        "TRADELANE_ACTIVITY_TIMEOUT_S": f"{timings.activity_timeout_s}",
        "TRADELANE_RETRY_INITIAL_INTERVAL_S": f"{timings.retry_initial_interval_s}",
        "TRADELANE_RETRY_MAXIMUM_INTERVAL_S": f"{timings.retry_maximum_interval_s}",
        "TRADELANE_RETRY_MAXIMUM_ATTEMPTS": f"{timings.retry_maximum_attempts}",
        "TRADELANE_POLL_INTERVAL_S": f"{timings.poll_interval_s}",
        "TRADELANE_TRANSIT_TIMEOUT_S": f"{timings.transit_timeout_s}",
        "TRADELANE_LAST_MILE_TIMEOUT_S": f"{timings.last_mile_timeout_s}",
        "TRADELANE_STALL_AFTER_S": f"{timings.stall_after_s}",
        "TRADELANE_CUSTOMS_HOLD_ALERT_AFTER_S": f"{timings.customs_hold_alert_after_s}",
        "TRADELANE_GATE_ESCALATE_AFTER_S": f"{timings.gate_escalate_after_s}",
        "TRADELANE_QUIET_HOURS": "",
        "TRADELANE_SMTP_HOST": HOST,
        "TRADELANE_SMTP_PORT": str(urls.smtp_port),
        "TRADELANE_MAIL_DIR": str(run_dir / "mail"),
        "TRADELANE_METRICS_PORT": str(ports["metrics"]),
        "TRADELANE_WORKER_HEALTH_PORT": str(ports["health"]),
        "TRADELANE_GRACEFUL_SHUTDOWN_S": "5",
        "TRADELANE_LOG_FORMAT": "json",
        "TRADELANE_LOG_LEVEL": "WARNING",
    }


class ReliabilityStack:
    """Every process of a run, with the crash and restart operations the driver performs.

    Args:
        run_dir: Holds the Temporal history, the read model, mail and each process's log (must exist).
        timings: Sandbox clock, retries and timeouts.
        settings: This process's settings (the environment's by default): the API keys the driver presents and
            the partner secrets the sandbox signs with; the children inherit the same environment.
    """

    def __init__(self, run_dir: Path, timings: RunTimings = TIMINGS, settings: Settings | None = None) -> None:
        self.run_dir = run_dir
        self.timings = timings
        self.settings = settings or get_settings()
        self.temporal_port = free_port()
        self.api_port = free_port()
        self._ports = {"metrics": free_port(), "health": free_port()}
        self.server: DevServer | None = None
        self.mail: DevMailServer | None = None
        self.sandbox_app: ServedApp | None = None
        self.sandbox: Sandbox | None = None
        self.faults = CountingFaultBook()
        self.worker: ChildProcess | None = None
        self.api: ChildProcess | None = None

    def disruptions(self, crashes: bool) -> list[Disruption]:
        """What this stack's batch suffers: the dev server's catalogue (a cluster has its own)."""
        return batch_disruptions(crashes, self.timings)

    @property
    def urls(self) -> StackUrls:
        assert self.sandbox_app is not None and self.mail is not None, "start() first"
        return StackUrls(temporal=f"{HOST}:{self.temporal_port}", api=f"http://{HOST}:{self.api_port}",
                         sandbox=self.sandbox_app.url, smtp_port=self.mail.port)

    @property
    def db_url(self) -> str:
        return f"sqlite:///{self.run_dir / 'tradelane.db'}"

    def sandbox_elapsed_s(self) -> float:
        """Seconds since the sandbox started: the clock of outage windows."""
        assert self.sandbox is not None
        return self.sandbox.elapsed_s()

    async def start(self) -> None:
        """Start everything and wait until the API answers."""
        await self._start_server()
        self.mail = await asyncio.to_thread(DevMailServer(self.run_dir / "mail", HOST, free_port()).start)
        # The stack's sandbox settings (partners sign their webhooks with Tradelane's secret and key), with the
        # run's clock and callback patience, and no fault rules from a config file: the plan installs its own.
        config = sandbox_config(self.settings).model_copy(update={
            "seconds_per_day": self.timings.seconds_per_day, "timeout_fault_seconds": self.timings.timeout_fault_s,
            "callback_retries": self.timings.callback_retries, "callback_backoff_s": self.timings.callback_backoff_s,
            "faults": []})
        app = create_sandbox_app(config)
        self.sandbox = app.state.sandbox
        # Counting wrapper around the same matching logic; rules still arrive through POST /_faults.
        self.sandbox.faults = self.faults
        self.sandbox_app = await ServedApp(app, HOST, 0).start()
        env = self.service_env(self._ports)
        self.worker = ChildProcess("worker", [sys.executable, "-m", "worker"], env, self.run_dir / "worker.log")
        self.api = ChildProcess("api", [sys.executable, "-m", "devstack.cli", "api"], env, self.run_dir / "api.log")
        await self.worker.start()
        await self.api.start()
        await self.wait_api_ready()

    async def _start_server(self) -> None:
        # The dev server inherits this process's stdout and stderr and logs every dropped connection there: its
        # output goes to its own log instead, so the run's report stays readable.
        with output_to(self.run_dir / "temporal.log"):
            self.server = await start_dev_server(port=self.temporal_port, db_file=self.run_dir / "temporal.db",
                                                 startup_timeout=timedelta(minutes=3))

    async def wait_api_ready(self, timeout_s: float = 60) -> float:
        """Wait until `GET /healthz` answers 200; returns the seconds waited."""
        assert self.api is not None
        started = time.monotonic()
        async with httpx.AsyncClient(timeout=2) as http:
            while True:
                if not self.api.running:
                    raise RuntimeError(f"the API exited; see {self.run_dir / 'api.log'}")
                try:
                    if (await http.get(f"{self.urls.api}/healthz")).status_code == 200:
                        return time.monotonic() - started
                except httpx.TransportError:
                    pass  # not listening yet
                if time.monotonic() - started > timeout_s:
                    raise RuntimeError(f"the API did not answer within {timeout_s:g} s; see {self.run_dir / 'api.log'}")
                await asyncio.sleep(0.1)

    async def wait_worker_ready(self, timeout_s: float = 30) -> bool:
        """Wait until the worker's `/readyz` answers 200 (Temporal and the database answer, the worker polls);
        False when it did not within `timeout_s` (the run goes on: tasks wait on the server meanwhile)."""
        assert self.worker is not None
        url = f"http://{HOST}:{self._ports['health']}/readyz"
        started = time.monotonic()
        async with httpx.AsyncClient(timeout=2) as http:
            while time.monotonic() - started < timeout_s:
                if not self.worker.running:
                    raise RuntimeError(f"the worker exited; see {self.run_dir / 'worker.log'}")
                try:
                    if (await http.get(url)).status_code == 200:
                        return True
                except httpx.TransportError:
                    pass  # not listening yet
                await asyncio.sleep(0.2)
        return False

    async def kill_worker(self) -> int | None:
        """SIGKILL the worker mid-batch. Returns its exit code."""
        assert self.worker is not None
        return await self.worker.kill()

    async def start_worker(self) -> None:
        assert self.worker is not None
        await self.worker.start()

    async def restart_server(self) -> None:
        """Stop the dev server and start it again on the same port and history file."""
        assert self.server is not None
        await self.server.stop()
        await self._start_server()

    async def stop_server_for(self, seconds: float) -> None:
        """Stop the dev server, keep it down for `seconds` (clients, worker and API see Temporal unavailable), then
        start it again on the same port and history file."""
        assert self.server is not None
        await self.server.stop()
        await asyncio.sleep(seconds)
        await self._start_server()

    async def lock_database(self, seconds: float) -> None:
        """Hold the read model's write lock for `seconds`, as another process would (a backup, a migration): every
        write in the window waits for the busy timeout and then fails with "database is locked".

        For SQLite this is the realistic outage: moving or deleting the file would not fail the next write, SQLite
        would silently create an empty database in its place. (On PostgreSQL the same promise is tested by stopping
        the server: `tests/workflows/test_database_outage.py`.)
        """
        path = self.run_dir / "tradelane.db"

        def hold() -> None:
            connection = sqlite3.connect(path, timeout=60, isolation_level=None)
            try:
                connection.execute("BEGIN EXCLUSIVE")
                time.sleep(seconds)
                connection.execute("ROLLBACK")
            finally:
                connection.close()

        await asyncio.to_thread(hold)

    def service_env(self, ports: dict[str, int]) -> dict[str, str]:
        """The environment of a worker or the API of this stack (`ports`: its metrics and health ports)."""
        return service_env(self.urls, self.run_dir, self.timings, ports)

    def supervised(self) -> list[ChildProcess | None]:
        """The child processes a supervisor restarts when they exit on their own."""
        return [self.worker, self.api]

    async def restart_api(self) -> float:
        """SIGTERM the API, start it again on the same port; returns seconds until it answered again."""
        assert self.api is not None
        await self.api.terminate()
        await self.api.start()
        return await self.wait_api_ready()

    async def stop(self) -> None:
        """Stop everything that was started, in reverse order; safe after a partial start."""
        for child in (self.api, self.worker):
            if child is not None:
                await child.terminate()
        if self.sandbox_app is not None:
            await self.sandbox_app.stop()
        if self.mail is not None:
            await asyncio.to_thread(self.mail.stop)
        if self.server is not None:
            await self.server.stop()
