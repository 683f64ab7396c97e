"""`make up`: the whole stack in one foreground program on embedded defaults; Ctrl-C stops it all cleanly.

Dev server (Web UI on :8233, history in `.tradelane/temporal.db`), carrier sandbox (with the demo merchant's
webhook receiver), a debugging SMTP server (e-mails land in `.tradelane/mail`), worker and API.
"""

import asyncio
from datetime import timedelta

import structlog

from devstack.devserver import start_dev_server
from devstack.mailserver import DevMailServer
from infra.persistence.db import make_engine, migrate
from infra.platform.http_server import ServedApp
from infra.platform.process import run_until_signalled
from infra.platform.settings import Settings
from infra.platform.temporal import converter_for
from sandbox.app import create_app as create_sandbox_app
from sandbox.config import SandboxConfig, load_config
from starter.api import create_app
from tradelane.connections import PartnerProtocol, directory
from worker import build_worker, partner_http
from workflows.reconciliation_schedule import ensure_schedule as ensure_reconciliation_schedule
from workflows.replenishment_schedule import ensure_schedule

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


async def run_stack(settings: Settings, stop: asyncio.Event) -> None:
    """Start every component, wait for `stop`, then stop them in reverse order."""
    settings = settings.model_copy(update={"poll_interval_s": min(settings.poll_interval_s, SANDBOX_POLL_INTERVAL_S)})
    server = await start_dev_server(
        port=_port(settings.temporal_address), ui_port=settings.temporal_ui_port, db_file=settings.temporal_db_file,
        namespace=settings.temporal_namespace, cli_path=settings.temporal_cli_path,
        startup_timeout=timedelta(seconds=settings.temporal_startup_timeout_s), converter=converter_for(settings),
        ui_codec_endpoint=f"http://{settings.api_host}:{settings.api_port}/codec")
    migrate(settings.database_url)
    engine = make_engine(settings.database_url)
    mail = await asyncio.to_thread(DevMailServer(settings.mail_dir, settings.smtp_host, settings.smtp_port).start)
    sandbox = await ServedApp(create_sandbox_app(sandbox_config(settings)), settings.sandbox_host,
                              settings.sandbox_port).start()
    api = await ServedApp(create_app(settings, client=server.client, engine=engine),
                          settings.api_host, settings.api_port).start()
    try:
        async with partner_http(settings) as http:
            worker = build_worker(server.client, task_queue=settings.task_queue, http=http,
                                  partners_base_url=sandbox.url, engine=engine, settings=settings)
            async with worker:
                await ensure_schedule(server.client, settings)
                await ensure_reconciliation_schedule(server.client, settings)
                log.info("tradelane is up", api=api.url, sandbox=sandbox.url, temporal=server.address,
                         web_ui=server.ui_url, database=settings.database_url)
                print(f"\n  Tradelane API   {api.url}/docs\n  Temporal Web UI {server.ui_url}\n"
                      f"  Sandbox         {sandbox.url}/_inspect/bookings\n"
                      f"  Tracking page   {api.url}/track/<token> (linked from the recipient's e-mails)\n"
                      f"  E-mails         {settings.mail_dir}/new (SMTP on {settings.smtp_host}:{settings.smtp_port})\n"
                      f"  Ctrl-C stops everything.\n", flush=True)
                print(partner_table(sandbox.url) + "\n", flush=True)
                await stop.wait()
                log.info("stopping")
    finally:
        await api.stop()
        await sandbox.stop()
        await asyncio.to_thread(mail.stop)
        engine.dispose()
        await server.stop()
        log.info("stopped")


def serve_forever(settings: Settings) -> None:
    run_until_signalled(lambda stop: run_stack(settings, stop))
