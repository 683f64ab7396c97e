"""Tradelane's HTTP API, assembled: backends start shipments, ops decide approvals, partners push tracking events.

This module only wires the app: what it holds on `app.state` (read by the dependencies of `starter.deps`), its
lifespan, middleware, error handlers and routers. The routes themselves live in `starter.routes`, one module per
resource; errors are answered by `starter.errors`.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import Depends, FastAPI
from fastapi.staticfiles import StaticFiles
from prometheus_client import CollectorRegistry
from sqlalchemy.engine import Engine
from temporalio.client import Client

from activities.http import PartnerGateway, partner_client
from infra.persistence.db import make_engine, migrate
from infra.platform.codec import EncryptionCodec, codec_router
from infra.platform.settings import Settings
from infra.platform.telemetry import tracer_provider, tracing_interceptors
from infra.platform.temporal import connect, key_ring
from starter.auth import KeyDirectory, PartnerSecrets, Role, require
from starter.console import routes as console
from starter.cors import CodecCors
from starter.deadlines import with_deadline
from starter.docs import TAGS, add_docs
from starter.errors import add_error_handlers
from starter.limits import BodySizeLimit
from starter.metrics import ReadModelCollector, metrics_router
from starter.ratelimit import RateLimit, RatePolicy
from starter.routes import (
    dcsa_events,
    dead_letters,
    documents,
    inventory,
    merchants,
    partner_events,
    probes,
    quotes,
    reconciliation,
    shipments,
    tracking_page,
    visibility,
)
from tradelane.decisions.screening import ScreeningList
from tradelane.rules import RuleBook, default_book

__all__ = ["create_app"]

DESCRIPTION = """Cross-border shipments as durable Temporal workflows.

Every `/v1/` call needs an API key, sent as `Authorization: Bearer <key>` (choose **Authorize** and paste it); the
key's role (backend, ops, partner) decides what it may call. Refusals are `{"error": {"code", "message"}}`, and a
422 names each refused field."""

ROUTERS = (probes.router, shipments.router, visibility.router, quotes.router, documents.router,
           partner_events.router, dcsa_events.router, tracking_page.router, inventory.router, reconciliation.router,
           dead_letters.router, merchants.router)


def create_app(settings: Settings, client: Client | None = None, engine: Engine | None = None) -> FastAPI:
    """The API app. `client` and `engine` may be given (tests, the stack); otherwise made from settings."""
    # Business gauges from the read model (shipments by status and stage, open exceptions, outbox), for ops only.
    registry = CollectorRegistry()
    if engine is not None:
        registry.register(ReadModelCollector(engine))
    # Quotes for `POST /v1/quotes` come from the partners themselves, as the workflow's do.
    partner_http = partner_client(settings.partner_timeout_s)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if engine is None:
            migrate(settings.database_url)
            app.state.engine = make_engine(settings.database_url)
            registry.register(ReadModelCollector(app.state.engine))
        if client is None:
            # Lazily: the API starts while Temporal is away, answers 503 for what needs it, reads from the read
            # model, and its /readyz says Temporal is not reachable.
            app.state.client = with_deadline(await connect(
                settings, lazy=True,
                interceptors=tracing_interceptors(tracer_provider("tradelane-api", settings.otel_endpoint))),
                settings.temporal_rpc_timeout_s)
        yield
        await partner_http.aclose()
        if engine is None:
            app.state.engine.dispose()

    # `/docs` is served from packaged assets (`starter.docs`), not FastAPI's CDN-loaded default; no `/redoc`.
    app = FastAPI(title="Tradelane", version="0.1.0", lifespan=lifespan, docs_url=None, redoc_url=None,
                  openapi_tags=TAGS, description=DESCRIPTION)
    add_docs(app)
    # Dependencies given by the caller (the stack, tests) are ready before any lifespan runs. Every Temporal call
    # of the API has a deadline (a 503 past it, `starter.deadlines`).
    app.state.settings, app.state.engine = settings, engine
    app.state.client = with_deadline(client, settings.temporal_rpc_timeout_s) if client is not None else None
    app.state.book = RuleBook(settings.rules_dir) if settings.rules_dir else default_book()
    app.state.screening = ScreeningList.load(settings.screening_list) if settings.screening_list else None
    app.state.keys = KeyDirectory(settings.api_keys)
    app.state.partner_secrets = PartnerSecrets(settings.partner_webhook_secrets, settings.webhook_tolerance_s)
    app.state.gateway = PartnerGateway(partner_http, settings.partners_base_url, settings.environment,
                                       settings.partner_timeout_s)

    add_error_handlers(app)
    for router in ROUTERS:
        app.include_router(router)
    # The ops console (`/console`): pages over the same models and updates, for ops keys only.
    app.include_router(console.router)
    app.mount("/console/static", StaticFiles(directory=Path(console.__file__).parent / "static"), name="console")
    app.include_router(metrics_router(registry), dependencies=[Depends(require(Role.OPS))], tags=["operations"])
    # The Web UI's codec server: decoding shows personal data, so only an ops key may call it, in every environment
    # (the UI forwards its user's access token: TEMPORAL_CODEC_PASS_ACCESS_TOKEN). The UI calls it from the browser,
    # hence CORS for the UI's origins (and only for them); a preflight carries no key and is answered by CORS alone.
    app.include_router(codec_router(EncryptionCodec(key_ring(settings)), [Depends(require(Role.OPS))]))
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    # Outside the body limit: a client over its rate gets its 429 before it may upload anything.
    app.add_middleware(RateLimit, keys=app.state.keys, policy=RatePolicy.from_settings(settings),
                       storage=settings.rate_limit_storage)
    app.add_middleware(CodecCors, origins=settings.codec_cors_origins)
    return app
