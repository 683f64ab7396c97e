"""The Tradelane worker: runs ShipmentWorkflow and its activities on one task queue.

    python worker.py            # or: tradelane worker
"""

import asyncio
from datetime import timedelta

import httpx
import structlog
from sqlalchemy.engine import Engine
from temporalio.client import Client
from temporalio.worker import Worker

from activities.carriers import CarrierActivities
from activities.customs import CustomsActivities
from activities.decisions import DecisionActivities
from activities.http import PartnerGateway
from activities.last_mile import LastMileActivities
from activities.logging import LogContextInterceptor
from activities.notifications import NotificationActivities
from activities.read_model import ReadModelActivities
from activities.tracking import TrackingActivities
from infra.db import make_engine, migrate
from infra.logging import configure_logging
from infra.process import run_until_signalled
from infra.settings import Settings, get_settings
from infra.temporal import connect
import tradelane.decisions.assess  # noqa: F401  (imports every decision module, so every table is registered)
from tradelane.decisions.screening import ScreeningList
from tradelane.rules import RuleBook, default_book
from workflows.shipment import ShipmentWorkflow

log = structlog.stdlib.get_logger(__name__)


def build_worker(client: Client, *, task_queue: str, http: httpx.AsyncClient, sandbox_url: str,
                 engine: Engine, settings: Settings | None = None, book: RuleBook | None = None,
                 screening: ScreeningList | None = None) -> Worker:
    """A worker with every activity bound to its real dependencies (partners over HTTP, the database, rule data,
    the SMTP relay and merchants' webhooks); `settings` defaults to the environment's."""
    settings = settings or get_settings()
    gateway = PartnerGateway(http, sandbox_url)
    decisions = DecisionActivities(gateway, book or default_book(), screening)
    carriers, customs = CarrierActivities(gateway), CustomsActivities(gateway)
    last_mile, tracking = LastMileActivities(gateway), TrackingActivities(gateway)
    read_model = ReadModelActivities(engine, settings.notice_config())
    notifications = NotificationActivities(engine, settings.mail(), http,
                                           settings.webhook_secret.get_secret_value())
    return Worker(
        client,
        task_queue=task_queue,
        workflows=[ShipmentWorkflow],
        activities=[
            decisions.assess, carriers.book, carriers.cancel_booking, carriers.create_label, carriers.void_label,
            carriers.handover, customs.file, customs.release_hold, customs.withdraw,
            last_mile.schedule, last_mile.release, tracking.poll, read_model.project, notifications.deliver,
        ],
        interceptors=[LogContextInterceptor()],
        graceful_shutdown_timeout=timedelta(seconds=10),
    )


def rule_data(settings: Settings) -> tuple[RuleBook, ScreeningList | None]:
    """The rule tables and denied-party list, loaded and validated now so a bad file stops the start."""
    book = RuleBook(settings.rules_dir) if settings.rules_dir else default_book()
    tables = book.load_all()
    screening = ScreeningList.load(settings.screening_list) if settings.screening_list else None
    log.info("rule data loaded", directory=str(book.directory), tables=len(tables), rows=sum(tables.values()),
             screening_list=str(settings.screening_list or "packaged sample"))
    return book, screening


def partner_http(settings: Settings) -> httpx.AsyncClient:
    return httpx.AsyncClient(timeout=httpx.Timeout(settings.partner_timeout_s))


async def run_worker(settings: Settings, stop: asyncio.Event) -> None:
    migrate(settings.database_url)
    client = await connect(settings.temporal_address, settings.temporal_namespace)
    engine = make_engine(settings.database_url)
    book, screening = rule_data(settings)
    async with partner_http(settings) as http:
        worker = build_worker(client, task_queue=settings.task_queue, http=http, sandbox_url=settings.sandbox_url,
                              engine=engine, settings=settings, book=book, screening=screening)
        async with worker:
            log.info("worker running", task_queue=settings.task_queue, temporal=settings.temporal_address)
            await stop.wait()
    engine.dispose()


def main() -> None:
    settings = get_settings()
    configure_logging(settings.log_format, settings.log_level)

    run_until_signalled(lambda stop: run_worker(settings, stop))


if __name__ == "__main__":
    main()
