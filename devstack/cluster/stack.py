"""`make cluster`: Tradelane on a real multi-service Temporal cluster, in one foreground program.

On top of `running_temporal_cluster()`: the read model in its own database on the cluster's PostgreSQL, the carrier
sandbox, the debugging SMTP server and the API in this process (as `make up` runs them), and Tradelane's workers as
processes of their own (`tradelane worker`, two by default), each with its own health and metrics ports, so a test
can lose one and roll them. Ctrl-C or SIGTERM stops everything in reverse order.
"""

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from temporalio.client import Client

from devstack.cluster.config import (
    LOOPBACK,
    REPO_ROOT,
    ClusterError,
    ClusterPorts,
    ClusterSettings,
    check_ports_free,
    load_cluster_settings,
)
from devstack.cluster.processes import ManagedProcess, answers_200
from devstack.cluster.servers import TemporalCluster, running_temporal_cluster
from devstack.mailserver import DevMailServer
from devstack.up import SANDBOX_POLL_INTERVAL_S, WORKER_READY_TIMEOUT_S, partner_table, sandbox_config, worker_process
from infra.persistence.db import make_engine, migrate
from infra.platform.http_server import ServedApp
from infra.platform.logging import get_logger
from infra.platform.process import run_until_signalled
from infra.platform.settings import Settings, local_url
from infra.platform.startup import ended_by_startup_errors, tradelane_port_uses
from infra.platform.temporal import connect
from sandbox.app import create_app as create_sandbox_app
from starter.api import create_app

log = get_logger(__name__)


@dataclass
class Cluster:
    """The running cluster with Tradelane on it: what tests and benchmarks drive.

    `servers` and `workers` are handles a test can `kill()` (SIGKILL), `stop()` (SIGTERM), `start()` and
    `restart()`; `client` is a Tradelane client (encrypting converter) of the frontend.
    """

    temporal: TemporalCluster
    settings: Settings
    """Tradelane's settings as the stack runs them (the cluster's frontend and database)."""
    client: Client
    workers: list[ManagedProcess]
    """`tradelane-worker-1`, `tradelane-worker-2`, ..."""
    api_url: str
    sandbox_url: str

    @property
    def frontend_address(self) -> str:
        return self.temporal.frontend_address

    @property
    def database_url(self) -> str:
        """The read model (PostgreSQL, user `tradelane`)."""
        return self.temporal.tradelane_database_url

    @property
    def servers(self) -> dict[str, ManagedProcess]:
        return self.temporal.servers

    @property
    def frontend(self) -> ManagedProcess:
        return self.temporal.frontend

    @property
    def history(self) -> list[ManagedProcess]:
        return self.temporal.history

    def processes(self) -> list[ManagedProcess]:
        return [*self.servers.values(), *self.workers]


def tradelane_workers(settings: Settings, count: int, sandbox_url: str, logs: Path) -> list[ManagedProcess]:
    """`count` worker processes as `make up` starts its one (`devstack.up.worker_process`), each with its own health
    and metrics port, on the cluster's frontend and read model; started when `/readyz` answers 200."""
    workers = []
    for n in range(count):
        own = settings.model_copy(update={
            "worker_health_port": None if settings.worker_health_port is None else settings.worker_health_port + n,
            "metrics_port": None if settings.metrics_port is None else settings.metrics_port + n})
        plan = worker_process(own, settings.temporal_address, sandbox_url)
        if plan.health_url is None:
            raise ClusterError("the cluster's workers need TRADELANE_WORKER_HEALTH_PORT: it tells when each is ready")
        env = plan.env | {"TRADELANE_DATABASE_URL": settings.database_url,
                          "TRADELANE_WORKER_HEALTH_PORT": str(own.worker_health_port),
                          "TRADELANE_METRICS_PORT": "" if own.metrics_port is None else str(own.metrics_port)}
        workers.append(ManagedProcess(
            f"tradelane-worker-{n + 1}", plan.argv, env, logs / f"tradelane-worker-{n + 1}.log",
            answers_200(plan.health_url), start_timeout_s=WORKER_READY_TIMEOUT_S,
            stop_grace_s=settings.graceful_shutdown_s + 10, cwd=REPO_ROOT))
    return workers


@asynccontextmanager
async def running_cluster(settings: Settings | None = None, cluster_settings: ClusterSettings | None = None, *,
                          ports: ClusterPorts | None = None) -> AsyncIterator[Cluster]:
    """Start the Temporal cluster and Tradelane on it; stop everything, in reverse order, on exit.

    Args:
        settings: Tradelane's settings (API, sandbox, SMTP and worker ports, keys); the environment's by default.
            The Temporal address and the database URL are the cluster's, whatever they say.
        cluster_settings: The cluster's (`TRADELANE_CLUSTER_*`): its directory, ports, history hosts, workers.
        ports: Other server ports than the cluster settings' (`ClusterPorts.free()` in tests).

    Raises:
        ClusterError: Why it cannot start, in one line.
    """
    cluster_settings = cluster_settings or load_cluster_settings()
    settings = settings or Settings()
    check_ports_free(tradelane_port_uses(settings, cluster_settings.tradelane_workers))
    async with running_temporal_cluster(cluster_settings, ports=ports,
                                        namespace=settings.temporal_namespace) as temporal, AsyncExitStack() as stack:
        settings = settings.model_copy(update={
            "temporal_address": temporal.frontend_address, "database_url": temporal.tradelane_database_url,
            "poll_interval_s": min(settings.poll_interval_s, SANDBOX_POLL_INTERVAL_S)})
        await asyncio.to_thread(migrate, settings.database_url)
        engine = make_engine(settings.database_url)
        stack.callback(engine.dispose)
        mail = await asyncio.to_thread(DevMailServer(settings.mail_dir, settings.smtp_host, settings.smtp_port).start)
        stack.push_async_callback(asyncio.to_thread, mail.stop)
        sandbox = await ServedApp(create_sandbox_app(sandbox_config(settings)), settings.sandbox_host,
                                  settings.sandbox_port).start()
        stack.push_async_callback(sandbox.stop)
        client = await connect(settings)
        api = await ServedApp(create_app(settings, client=client, engine=engine), settings.api_host,
                              settings.api_port).start()
        stack.push_async_callback(api.stop)
        workers = tradelane_workers(settings, cluster_settings.tradelane_workers, sandbox.url, temporal.layout.logs)
        for worker in workers:
            stack.push_async_callback(worker.stop)
            await worker.start()
        yield Cluster(temporal, settings, client, workers, api_url=local_url(settings.api_host, settings.api_port),
                      sandbox_url=sandbox.url)
        log.info("stopping Tradelane")


def summary(cluster: Cluster) -> str:
    """Where everything is, for the terminal."""
    temporal, settings = cluster.temporal, cluster.settings
    frontend = temporal.ports.frontend
    servers = "".join(f"\n    {spec.name:<19} {spec.address}, pid {temporal.servers[spec.name].pid}"
                      for spec in temporal.ports.servers)
    workers = "".join(f"\n    {w.name:<19} pid {w.pid}, health :{w.env['TRADELANE_WORKER_HEALTH_PORT']}, "
                      f"metrics :{w.env['TRADELANE_METRICS_PORT'] or 'off'}" for w in cluster.workers)
    return (f"\n  Temporal frontend {frontend.address} (gRPC), {LOOPBACK}:{frontend.http_port} (HTTP)"
            f"\n  Temporal servers{servers}"
            f"\n  PostgreSQL        {LOOPBACK}:{temporal.ports.postgres} (temporal, temporal_visibility, tradelane; "
            f"passwords in {temporal.layout.credentials})"
            f"\n  Tradelane API     {cluster.api_url}/docs"
            f"\n  Ops console       {cluster.api_url}/console (an ops key signs in)"
            f"\n  Sandbox           {cluster.sandbox_url}/_inspect/bookings"
            f"\n  E-mails           {settings.mail_dir}/new (SMTP on {settings.smtp_host}:{settings.smtp_port})"
            f"\n  Tradelane workers{workers}"
            f"\n  Logs              {temporal.layout.logs}"
            f"\n  Visibility        temporal workflow list --address {frontend.address} "
            f"--query 'TradelaneStatus = \"delivered\"'"
            f"\n  Ctrl-C stops everything.\n")


async def serve(settings: Settings, cluster_settings: ClusterSettings, stop: asyncio.Event) -> None:
    """Run until `stop` (Ctrl-C, SIGTERM). A process that exits on its own is started again, as an orchestrator
    would (`restart: unless-stopped`): `kill -9` a history host and watch its shards move and come back. One that
    cannot start again stops everything with its reason. `stop` while the cluster starts abandons the start,
    stopping what had started."""
    started = time.monotonic()
    up = asyncio.Event()

    async def run() -> None:
        async with running_cluster(settings, cluster_settings) as cluster:
            up.set()
            log.info("the cluster is up", seconds=round(time.monotonic() - started, 1))
            print(summary(cluster), flush=True)
            print(partner_table(cluster.sandbox_url) + "\n", flush=True)
            await supervise(cluster.processes(), stop)

    main, stopped = asyncio.create_task(run()), asyncio.create_task(stop.wait())
    await asyncio.wait([main, stopped], return_when=asyncio.FIRST_COMPLETED)
    stopped.cancel()
    if not main.done() and not up.is_set():
        main.cancel()
    try:
        await main
    except asyncio.CancelledError:
        log.info("start abandoned; what had started is stopped")


async def supervise(processes: list[ManagedProcess], stop: asyncio.Event) -> None:
    """Start again each process that exits, until `stop`."""
    while not stop.is_set():
        exits = {asyncio.create_task(process.exited()): process for process in processes}
        stopped = asyncio.create_task(stop.wait())
        done, _ = await asyncio.wait([stopped, *exits], return_when=asyncio.FIRST_COMPLETED)
        for task in [stopped, *exits]:
            task.cancel()
        for task in [task for task in done if task in exits]:
            process = exits[task]
            log.warning("a process exited; starting it again", process=process.name, exit_code=task.result(),
                        log=str(process.log_path))
            await process.start()


def serve_forever(settings: Settings, cluster_settings: ClusterSettings | None = None) -> None:
    """`tradelane cluster`: the whole cluster in the foreground; a ClusterError ends it with its one line."""
    with ended_by_startup_errors():
        chosen = cluster_settings or load_cluster_settings()
        run_until_signalled(lambda stop: serve(settings, chosen, stop))
