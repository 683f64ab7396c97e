"""The outbox relay as a process of its own: delivers the notification outbox (e-mails over SMTP, signed merchant
webhooks) in batches, with no workflow or activity work.

    python relay.py            # or: python -m relay

Every worker runs a relay too unless `TRADELANE_OUTBOX_RELAY_EVERY_S` is empty in its environment; claims are
exclusive (`FOR UPDATE SKIP LOCKED` on PostgreSQL), so any number of relays and workers share the outbox. Running
it apart keeps delivery off the workers' cores and lets it scale on its own (docs/operations.md). On SIGTERM the
round in progress finishes and no other starts.
"""

import asyncio

import structlog
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from sqlalchemy.engine import Engine

from infra.persistence.db import make_engine, migrate
from infra.platform.health import Check, Readiness, database_check
from infra.platform.http_server import ServedApp
from infra.platform.logging import configure_logging
from infra.platform.process import run_until_signalled
from infra.platform.settings import Settings
from infra.platform.startup import binding, ended_by_startup_errors, load_settings, port_use
from worker import outbox_relay, partner_http

log = structlog.stdlib.get_logger(__name__)


async def run_relay(settings: Settings, stop: asyncio.Event) -> None:
    """Deliver the outbox until `stop` is set; the relay's interval and batch are the worker's settings."""
    if settings.outbox_relay_every_s is None:
        raise SystemExit("TRADELANE_OUTBOX_RELAY_EVERY_S is empty: a relay process needs an interval (e.g. 0.5)")
    migrate(settings.database_url)
    engine = make_engine(settings.database_url)
    try:
        async with partner_http(settings) as http:
            relay = outbox_relay(settings, engine, http, stop)
            assert relay is not None
            health = await serve_health(settings, engine, relay)
            log.info("outbox relay running", every_s=settings.outbox_relay_every_s,
                     batch=settings.outbox_relay_batch)
            try:
                await relay
            finally:
                if health is not None:
                    await health.stop()
    finally:
        engine.dispose()
        log.info("outbox relay stopped")


async def serve_health(settings: Settings, engine: Engine, relay: "asyncio.Task[None]") -> ServedApp | None:
    """`/healthz` (the process answers) and `/readyz` (the database answers and the relay's rounds go on), on
    `TRADELANE_WORKER_HEALTH_PORT` like a worker's."""
    if settings.worker_health_port is None:
        return None
    app = FastAPI(title="Tradelane outbox relay", docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz")
    async def readyz() -> JSONResponse:
        rounds = Check(name="relay", ok=not relay.done(), detail="" if not relay.done() else "the relay stopped")
        checks = [await asyncio.to_thread(database_check, engine), rounds]
        readiness = Readiness(ready=all(c.ok for c in checks), checks=checks)
        return JSONResponse(status_code=200 if readiness.ready else 503, content=readiness.model_dump())

    with binding(port_use(settings, "TRADELANE_WORKER_HEALTH_PORT")):
        served = ServedApp(app, settings.ops_host, settings.worker_health_port)
    return await served.start()


def main() -> None:
    with ended_by_startup_errors():  # a refused setting or a taken port: one line naming it, exit 1
        settings = load_settings()
        configure_logging(settings.log_format, settings.log_level)
        run_until_signalled(lambda stop: run_relay(settings, stop))


if __name__ == "__main__":
    main()
