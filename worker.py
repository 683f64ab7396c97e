"""The Tradelane worker: runs ShipmentWorkflow and its activities on one task queue.

    python worker.py            # or: tradelane worker

Besides the work it serves Prometheus metrics (Temporal SDK and business metrics, `TRADELANE_METRICS_PORT`),
`/healthz` and `/readyz` (`TRADELANE_WORKER_HEALTH_PORT`), traces to an OTLP collector when
`TRADELANE_OTEL_ENDPOINT` is set, and on SIGTERM stops polling and lets running activities finish
(`TRADELANE_GRACEFUL_SHUTDOWN_S`) before it exits.
"""

import asyncio
import gc
import hashlib
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import structlog
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from sqlalchemy.engine import Engine
from temporalio.client import Client
from temporalio.common import WorkerDeploymentVersion
from temporalio.worker import Worker, WorkerDeploymentConfig

from activities.carriers import CarrierActivities
from activities.customs import CustomsActivities
from activities.decisions import DecisionActivities
from activities.http import PartnerGateway, partner_client
from activities.inventory import InventoryActivities
from activities.last_mile import LastMileActivities
from activities.logging import LogContextInterceptor
from activities.notifications import NotificationActivities, OutboxRelay
from activities.polling import TrackingActivities
from activities.read_model import ReadModelActivities
from activities.reconciliation import ReconciliationActivities
from infra.persistence.db import make_engine, migrate
from infra.platform.health import Check, check_readiness
from infra.platform.http_server import ServedApp
from infra.platform.logging import configure_logging
from infra.platform.partner_credentials import check_all as check_partner_credentials
from infra.platform.process import run_until_signalled
from infra.platform.settings import Settings, get_settings
from infra.platform.startup import binding, ended_by_startup_errors, load_settings, port_use
from infra.platform.telemetry import make_runtime, tracer_provider, tracing_interceptors
from infra.platform.temporal import connect
from tradelane.decisions.screening import ScreeningList
from tradelane.rules import RuleBook, default_book
from workflows.reconciliation import ReconciliationRetryWorkflow, ReconciliationWorkflow
from workflows.reconciliation_schedule import ensure_schedule as ensure_reconciliation_schedule
from workflows.replenishment import ReplenishmentWorkflow
from workflows.replenishment_schedule import ensure_schedule
from workflows.shipment import ShipmentWorkflow

log = structlog.stdlib.get_logger(__name__)


def build_worker(client: Client, *, task_queue: str, http: httpx.AsyncClient, partners_base_url: str,
                 engine: Engine, settings: Settings | None = None, book: RuleBook | None = None,
                 screening: ScreeningList | None = None) -> Worker:
    """A worker with every activity bound to its real dependencies (partners over HTTP, the database, rule data,
    the SMTP relay and merchants' webhooks); `settings` defaults to the environment's."""
    settings = settings or get_settings()
    gateway = PartnerGateway(http, partners_base_url, settings.environment, settings.partner_timeout_s)
    book = book or default_book()
    decisions = DecisionActivities(gateway, book, screening)
    inventory = InventoryActivities(engine, book)
    carriers, customs = CarrierActivities(gateway), CustomsActivities(gateway)
    last_mile = LastMileActivities(gateway)
    tracking = TrackingActivities(gateway, engine, ops_email=settings.ops_email)
    read_model = ReadModelActivities(engine, settings.notice_config())
    reconciliation = ReconciliationActivities(engine, gateway)
    notifications = NotificationActivities(engine, settings.mail(), http, settings.merchant_secrets(),
                                           ops_email=settings.ops_email)
    return Worker(
        client,
        task_queue=task_queue,
        workflows=[ShipmentWorkflow, ReplenishmentWorkflow, ReconciliationWorkflow, ReconciliationRetryWorkflow],
        activities=[
            decisions.assess, carriers.book, carriers.cancel_booking, carriers.create_label, carriers.void_label,
            carriers.handover, customs.file, customs.release_hold, customs.withdraw,
            last_mile.schedule, last_mile.release, tracking.poll, read_model.project, notifications.deliver,
            inventory.reserve, inventory.ship, inventory.receive, inventory.release, inventory.suggest,
            inventory.record_suggestions,
            carriers.cancel_booking_by_key, carriers.void_label_by_key, customs.withdraw_by_key,
            last_mile.release_by_key, reconciliation.record, reconciliation.resolve, reconciliation.retry_failed,
            reconciliation.scan, reconciliation.due_retries,
        ],
        **worker_options(settings),
    )


DEPLOYMENT_NAME = "tradelane"
"""The Worker Deployment Tradelane's workers report; the build id tells its versions apart."""

CODE_ROOT = Path(__file__).resolve().parent


def workflow_build_id(root: Path = CODE_ROOT) -> str:
    """A hash of the code that decides a workflow's commands: the workflow modules and the domain they call. Two
    workers with the same id run the same workflow code, so a history says which code made each of its tasks."""
    digest = hashlib.sha256()
    for path in sorted([*(root / "workflows").rglob("*.py"), *(root / "tradelane").rglob("*.py")]):
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def deployment_config(settings: Settings) -> WorkerDeploymentConfig:
    """Reported, not routed by: versioned routing (pinned, auto-upgrade) stays off until rolling deploys are tested on
    a real cluster; `workflow.patched` and the replay tests keep running shipments safe meanwhile."""
    version = WorkerDeploymentVersion(deployment_name=DEPLOYMENT_NAME,
                                      build_id=settings.build_id or workflow_build_id())
    return WorkerDeploymentConfig(version=version, use_worker_versioning=False)


def worker_options(settings: Settings) -> dict[str, Any]:
    """Interceptors, slots, cache, shutdown grace and deployment version of a Tradelane worker (the benchmark's bare
    worker uses the same, so both workloads run on one worker configuration)."""
    return {
        "deployment_config": deployment_config(settings),
        "interceptors": [LogContextInterceptor()],
        "graceful_shutdown_timeout": timedelta(seconds=settings.graceful_shutdown_s),
        "max_concurrent_activities": settings.max_concurrent_activities,
        "max_concurrent_workflow_tasks": settings.max_concurrent_workflow_tasks,
        "max_cached_workflows": settings.max_cached_workflows,
        "max_concurrent_activity_task_polls": settings.max_activity_task_polls,
        "max_concurrent_workflow_task_polls": settings.max_workflow_task_polls,
    }


def rule_data(settings: Settings) -> tuple[RuleBook, ScreeningList | None]:
    """The rule tables and denied-party list, loaded and validated now so a bad file stops the start."""
    book = RuleBook(settings.rules_dir) if settings.rules_dir else default_book()
    tables = book.load_all()
    screening = ScreeningList.load(settings.screening_list) if settings.screening_list else None
    log.info("rule data loaded", directory=str(book.directory), tables=len(tables), rows=sum(tables.values()),
             screening_list=str(settings.screening_list or "packaged sample"))
    return book, screening


def partner_http(settings: Settings) -> httpx.AsyncClient:
    return partner_client(settings.partner_timeout_s)


async def run_worker(settings: Settings, stop: asyncio.Event) -> None:
    migrate(settings.database_url)
    metrics = f"{settings.ops_host}:{settings.metrics_port}" if settings.metrics_port is not None else None
    with binding(port_use(settings, "TRADELANE_METRICS_PORT")):
        runtime = make_runtime(metrics)
    client = await connect(
        settings, runtime=runtime,
        interceptors=tracing_interceptors(tracer_provider("tradelane-worker", settings.otel_endpoint)))
    engine = make_engine(settings.database_url)
    book, screening = rule_data(settings)
    async with partner_http(settings) as http:
        worker = build_worker(client, task_queue=settings.task_queue, http=http,
                              partners_base_url=settings.partners_base_url, engine=engine, settings=settings,
                              book=book, screening=screening)
        # The rule tables, partner directory and imported modules live as long as the process: out of the garbage
        # collector's scans from now on, so its full collections stop walking them during every busy minute.
        gc.collect()
        gc.freeze()
        health = await serve_health(settings, client, engine, worker)
        await ensure_schedule(client, settings)
        await ensure_reconciliation_schedule(client, settings)
        relay = outbox_relay(settings, engine, http, stop)
        try:
            async with worker:
                log.info("worker running", task_queue=settings.task_queue, temporal=settings.temporal_address,
                         metrics=metrics and f"http://{metrics}/metrics", deployment=DEPLOYMENT_NAME,
                         build_id=deployment_config(settings).version.build_id)
                await stop.wait()
                # Leaving the block stops polling and waits for running activities (graceful_shutdown_s).
                log.info("worker stopping: no new tasks, waiting for running activities",
                         grace_s=settings.graceful_shutdown_s)
        finally:
            if relay is not None:
                if not stop.is_set():
                    relay.cancel()  # the worker failed: its relay stops with it
                # Stopping: the round in progress finishes and no other starts (a cancelled one only ends).
                await asyncio.gather(relay, return_exceptions=True)
            if health is not None:
                await health.stop()
    engine.dispose()
    log.info("worker stopped")


def outbox_relay(settings: Settings, engine: Engine, http: httpx.AsyncClient,
                 stop: asyncio.Event) -> asyncio.Task[None] | None:
    """The outbox relay's rounds in this worker (`TRADELANE_OUTBOX_RELAY_EVERY_S`), or None when turned off: it
    delivers the outbox's notifications in batches. Each worker may run one: claims are exclusive."""
    if settings.outbox_relay_every_s is None:
        return None
    notifications = NotificationActivities(engine, settings.mail(), http, settings.merchant_secrets(),
                                           ops_email=settings.ops_email)
    relay = OutboxRelay(notifications, every=timedelta(seconds=settings.outbox_relay_every_s),
                        overdue=timedelta(seconds=settings.outbox_relay_overdue_s),
                        batch=settings.outbox_relay_batch)
    return asyncio.create_task(relay.run(stop), name="outbox-relay")


async def serve_health(settings: Settings, client: Client, engine: Engine, worker: Worker) -> ServedApp | None:
    """`/healthz` (the process answers) and `/readyz` (Temporal and the database answer, and the worker polls)."""
    if settings.worker_health_port is None:
        return None
    app = FastAPI(title="Tradelane worker", docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz")
    async def readyz() -> JSONResponse:
        polling = Check(name="worker", ok=worker.is_running and not worker.is_shutdown,
                        detail="" if worker.is_running else "not polling (starting or shutting down)")
        readiness = await check_readiness(client, engine, timeout=settings.query_timeout_s, extra=[polling])
        return JSONResponse(status_code=200 if readiness.ready else 503, content=readiness.model_dump())

    with binding(port_use(settings, "TRADELANE_WORKER_HEALTH_PORT")):
        served = ServedApp(app, settings.ops_host, settings.worker_health_port)
    return await served.start()


def main() -> None:
    with ended_by_startup_errors():  # a refused setting or a taken port: one line naming it, exit 1
        settings = load_settings()
        configure_logging(settings.log_format, settings.log_level)
        check_partner_credentials(settings.environment)  # in production, a missing credential stops the start here
        run_until_signalled(lambda stop: run_worker(settings, stop))


if __name__ == "__main__":
    main()
