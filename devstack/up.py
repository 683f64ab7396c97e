"""`make up`: the whole stack in one foreground program on embedded defaults; Ctrl-C stops it all cleanly.

Dev server (Web UI on :8233, history in `.tradelane/temporal.db`), carrier sandbox (with the demo merchant's
webhook receiver), a debugging SMTP server (e-mails land in `.tradelane/mail`) and the API run in this process; the
worker runs as its own process (`tradelane worker`), as in production, so its metrics (`TRADELANE_METRICS_PORT`)
and health (`TRADELANE_WORKER_HEALTH_PORT`) endpoints, its schedules and its graceful shutdown are the real ones.
"""

import asyncio
import contextlib
import os
import sys
from dataclasses import dataclass
from datetime import timedelta

import httpx
import structlog

from devstack.devserver import start_dev_server
from devstack.mailserver import DevMailServer
from infra.persistence.db import make_engine, migrate
from infra.platform.http_server import ServedApp
from infra.platform.process import run_until_signalled
from infra.platform.settings import Settings, local_url
from infra.platform.temporal import converter_for
from sandbox.app import create_app as create_sandbox_app
from sandbox.config import SandboxConfig, load_config
from starter.api import create_app
from tradelane.connections import PartnerProtocol, directory

log = structlog.stdlib.get_logger(__name__)


def _port(address: str) -> int:
    return int(address.rsplit(":", 1)[1])


def sandbox_config(settings: Settings) -> SandboxConfig:
    """The sandbox's configuration with Tradelane's secrets: each partner signs its tracking webhooks with its own
    secret and presents its own key; it also plays the merchant, whose receiver checks Tradelane's own
    webhook signatures."""
    return load_config(settings.sandbox_config).model_copy(update={
        "merchant_webhook_secret": settings.webhook_secret.get_secret_value(),
        "merchant_webhook_secrets": {m: [s.get_secret_value() for s in secrets]
                                     for m, secrets in settings.merchant_webhook_secrets.items()},
        "partner_webhook_secrets": {p: s.get_secret_value() for p, s in settings.partner_webhook_secrets.items()},
        "partner_api_keys": settings.partner_keys()})


def partner_table(partners_base_url: str) -> str:
    """Each partner of the directory, the protocol Tradelane speaks to it (a Karrio row with its carrier), how its
    tracking events come, and where its API is (below the sandbox in development, unless the row is absolute)."""
    rows = [("partner", "kind", "protocol", "tracking", "base URL")]
    for name, row in directory().connections.items():
        protocol = str(row.protocol)
        if row.protocol is PartnerProtocol.KARRIO:
            protocol += f" ({row.options['carrier']})"
        rows.append((name, str(row.kind), protocol, str(row.tracking), row.url(partners_base_url)))
    widths = [max(len(cells[i]) for cells in rows) for i in range(len(rows[0]) - 1)]
    return "\n".join("  " + "  ".join(cell.ljust(width) for cell, width in zip(cells, widths)) + "  " + cells[-1]
                     for cells in rows)


SANDBOX_POLL_INTERVAL_S = 2.0
"""The sandbox plays days in seconds: partners without webhooks are polled every few seconds, not minutes."""

WORKER_READY_TIMEOUT_S = 120.0
"""How long the stack waits for its worker to say it is ready (imports, rule data, first poll)."""


@dataclass(frozen=True)
class WorkerProcess:
    """The worker as production runs it: a process of its own (`tradelane worker`), with its metrics and health
    endpoints, reading the stack's environment with the addresses the stack decided on top."""

    argv: list[str]
    env: dict[str, str]
    health_url: str | None
    metrics_url: str | None


def worker_process(settings: Settings, temporal_address: str, partners_base_url: str) -> WorkerProcess:
    """The worker's command line and environment under `make up`: the dev server and sandbox this stack started,
    the sandbox's poll interval. `settings` are the environment's, which the worker reads as well."""
    env = {**os.environ, "TRADELANE_TEMPORAL_ADDRESS": temporal_address,
           "TRADELANE_PARTNERS_BASE_URL": partners_base_url,
           "TRADELANE_POLL_INTERVAL_S": str(settings.poll_interval_s)}
    ops = settings.ops_host

    def endpoint(port: int | None, path: str) -> str | None:
        return None if port is None else f"{local_url(ops, port)}{path}"

    return WorkerProcess(argv=[sys.executable, "-m", "devstack.cli", "worker"], env=env,
                         health_url=endpoint(settings.worker_health_port, "/readyz"),
                         metrics_url=endpoint(settings.metrics_port, "/metrics"))


async def start_worker(plan: WorkerProcess, stop: asyncio.Event) -> asyncio.subprocess.Process:
    """Start the worker and wait until its `/readyz` answers 200 (Temporal and the database reached, polling), or
    `stop` is set (Ctrl-C while it starts); its exit during the wait fails the start, naming its code."""
    process = await asyncio.create_subprocess_exec(*plan.argv, env=plan.env)
    if plan.health_url is None:
        return process
    deadline = asyncio.get_running_loop().time() + WORKER_READY_TIMEOUT_S
    async with httpx.AsyncClient(timeout=2.0) as http:
        while not stop.is_set():
            if process.returncode is not None:
                raise RuntimeError(f"the worker exited with code {process.returncode} while starting; its log is "
                                   "above")
            with contextlib.suppress(httpx.TransportError):
                if (await http.get(plan.health_url)).status_code == 200:
                    return process
            if asyncio.get_running_loop().time() > deadline:
                await stop_worker(process, timedelta(seconds=5))
                raise RuntimeError(f"the worker was not ready at {plan.health_url} within "
                                   f"{WORKER_READY_TIMEOUT_S:.0f} s")
            await asyncio.sleep(0.25)
    return process


async def stop_worker(process: asyncio.subprocess.Process, grace: timedelta) -> None:
    """SIGTERM, as an orchestrator stops it: it stops polling and lets running activities finish within `grace`;
    killed after that."""
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError):  # it may be exiting already (Ctrl-C reaches it too)
            process.terminate()
        try:
            await asyncio.wait_for(process.wait(), grace.total_seconds() + 10)
        except TimeoutError:
            log.warning("worker did not stop in time; killing it", pid=process.pid)
            process.kill()
            await process.wait()


async def run_stack(settings: Settings, stop: asyncio.Event) -> None:
    """Start every component, wait for `stop` (or the worker's end), then stop them in reverse order."""
    settings = settings.model_copy(update={"poll_interval_s": min(settings.poll_interval_s, SANDBOX_POLL_INTERVAL_S)})
    api_url = local_url(settings.api_host, settings.api_port)
    server = await start_dev_server(
        port=_port(settings.temporal_address), ui_port=settings.temporal_ui_port, db_file=settings.temporal_db_file,
        namespace=settings.temporal_namespace, cli_path=settings.temporal_cli_path,
        startup_timeout=timedelta(seconds=settings.temporal_startup_timeout_s), converter=converter_for(settings),
        ui_codec_endpoint=f"{api_url}/codec")
    migrate(settings.database_url)
    engine = make_engine(settings.database_url)
    mail = await asyncio.to_thread(DevMailServer(settings.mail_dir, settings.smtp_host, settings.smtp_port).start)
    sandbox = await ServedApp(create_sandbox_app(sandbox_config(settings)), settings.sandbox_host,
                              settings.sandbox_port).start()
    api = await ServedApp(create_app(settings, client=server.client, engine=engine),
                          settings.api_host, settings.api_port).start()
    worker: asyncio.subprocess.Process | None = None
    died: int | None = None
    try:
        plan = worker_process(settings, server.address, sandbox.url)
        worker = await start_worker(plan, stop)
        if not stop.is_set():
            log.info("tradelane is up", api=api.url, sandbox=sandbox.url, temporal=server.address,
                     web_ui=server.ui_url, database=settings.database_url, worker_pid=worker.pid)
            print(f"\n  Tradelane API   {api_url}/docs\n  Ops console     {api_url}/console (an ops key signs in)\n"
                  f"  Temporal Web UI {server.ui_url}\n"
                  f"  Sandbox         {sandbox.url}/_inspect/bookings\n"
                  f"  Tracking page   {api_url}/track/<token> (linked from the recipient's e-mails)\n"
                  f"  E-mails         {settings.mail_dir}/new (SMTP on {settings.smtp_host}:{settings.smtp_port})\n"
                  f"  Worker          pid {worker.pid}, health {plan.health_url or 'off'}, "
                  f"metrics {plan.metrics_url or 'off'}\n"
                  f"  Ctrl-C stops everything.\n", flush=True)
            print(partner_table(sandbox.url) + "\n", flush=True)
        stopped, exited = asyncio.create_task(stop.wait()), asyncio.create_task(worker.wait())
        await asyncio.wait([stopped, exited], return_when=asyncio.FIRST_COMPLETED)
        stopped.cancel()
        exited.cancel()
        if not stop.is_set():
            log.error("the worker exited; stopping the stack", exit_code=worker.returncode)
            died = worker.returncode
        log.info("stopping")
    finally:
        if worker is not None:
            await stop_worker(worker, timedelta(seconds=settings.graceful_shutdown_s))
        await api.stop()
        await sandbox.stop()
        await asyncio.to_thread(mail.stop)
        engine.dispose()
        await server.stop()
        log.info("stopped")
    if died is not None:
        raise SystemExit(f"the worker exited with code {died}, so the stack stopped; its log is above")


def serve_forever(settings: Settings) -> None:
    run_until_signalled(lambda stop: run_stack(settings, stop))
