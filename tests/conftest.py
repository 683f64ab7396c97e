"""Shared fixtures: one real Temporal dev server per test run, a real carrier sandbox and API on loopback, a real
SQLite read model, and a fresh task queue and worker per test."""

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import Engine
from temporalio.client import Client, WorkflowHandle

from devstack.devserver import DevServer, start_dev_server
from devstack.mailserver import DevMailServer
from devstack.ports import free_port
from infra.persistence.db import make_engine, migrate
from infra.persistence.dead_letters import failed_unrecorded
from infra.persistence.outbox import OutboxRow, OutboxState, messages_of
from infra.platform.http_server import ServedApp
from infra.platform.logging import configure_logging
from infra.platform.settings import Settings
from sandbox.app import create_app as create_sandbox_app
from sandbox.config import SandboxConfig
from starter.api import create_app
from tests.postgres import postgres_cluster
from tests.support import SECONDS_PER_DAY, DevCallers
from tradelane.enums import Status
from tradelane.keys import workflow_id
from tradelane.shipment.state import ShipmentState
from worker import build_worker, outbox_relay


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--record-histories", action="store_true",
                     help="write the replay fixtures in tests/workflows/histories from this run's shipments")


@pytest.fixture(scope="session", autouse=True)
def _logging() -> None:
    configure_logging("console", "WARNING")


@pytest.fixture
def logging_restored() -> Iterator[None]:
    """Put the session's log handlers back after a test that reconfigures logging.

    Calling configure_logging again inside the test would bind the handler to capsys' stream, which is closed when
    the test ends; every later log line (a partner emulator still retrying, say) would then fail to write.
    """
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture(scope="session")
async def dev_server() -> AsyncIterator[DevServer]:
    server = await start_dev_server(startup_timeout=timedelta(minutes=5))
    yield server
    await server.stop()


@pytest.fixture(scope="session")
def temporal_client(dev_server: DevServer) -> Client:
    return dev_server.client


@pytest.fixture(scope="session")
def db_engine(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'read_model.db'}"
    migrate(url)
    return make_engine(url)


@pytest.fixture(scope="module")
def pg_engine() -> Iterator[Engine]:
    """A private PostgreSQL cluster with the migrated schema, for the tests of one module."""
    with postgres_cluster() as cluster:
        migrate(cluster.url)
        engine = make_engine(cluster.url)
        yield engine
        engine.dispose()


@pytest.fixture(scope="session")
def mail_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevMailServer]:
    """The development SMTP server (aiosmtpd), receiving every e-mail the tests' shipments send."""
    server = DevMailServer(tmp_path_factory.mktemp("mail"), port=free_port()).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
async def sandbox() -> AsyncIterator[ServedApp]:
    served = await ServedApp(create_sandbox_app(SandboxConfig(seconds_per_day=SECONDS_PER_DAY,
                                                              timeout_fault_seconds=5))).start()
    yield served
    await served.stop()


@pytest.fixture(scope="session")
async def webhook_api(temporal_client: Client, db_engine: Engine, sandbox: ServedApp) -> AsyncIterator[ServedApp]:
    """The API on a real port, where the sandbox pushes tracking events (they go to workflows by id). It reaches the
    sandbox's partners too: a DCSA line's callback is placed with the booking's ports, read from the line."""
    served = await ServedApp(create_app(Settings(environment="test", partners_base_url=sandbox.url),
                                        client=temporal_client, engine=db_engine)).start()
    yield served
    await served.stop()


@dataclass
class Harness:
    """One test's view of the system: its own task queue and worker, and clients for the API and sandbox."""

    settings: Settings
    client: Client
    api: httpx.AsyncClient
    sandbox: httpx.AsyncClient
    engine: Engine

    async def add_fault(self, **rule: Any) -> None:
        response = await self.sandbox.post("/_faults", json=rule)
        assert response.status_code in (200, 201), response.text

    async def inspect(self, shipment_id: str) -> list[dict[str, Any]]:
        response = await self.sandbox.get("/_inspect/bookings", params={"shipment_id": shipment_id})
        assert response.status_code == 200, response.text
        return response.json()["records"]

    def handle(self, shipment_id: str) -> WorkflowHandle[Any, Any]:
        return self.client.get_workflow_handle(workflow_id(shipment_id), result_type=ShipmentState)

    async def start(self, body: dict[str, Any]) -> WorkflowHandle[Any, Any]:
        response = await self.api.post("/v1/shipments", json=body)
        assert response.status_code == 201, response.text
        return self.handle(body["shipment_id"])

    async def result(self, shipment_id: str, timeout: float = 60) -> ShipmentState:
        return await asyncio.wait_for(self.handle(shipment_id).result(), timeout)

    async def state(self, shipment_id: str) -> ShipmentState:
        from workflows.shipment import ShipmentWorkflow

        return await self.handle(shipment_id).query(ShipmentWorkflow.state)

    async def until_held(self, shipment_id: str) -> ShipmentState:
        """Wait until the shipment holds for an ops decision."""
        return await self.wait_until(shipment_id, lambda s: s.status is Status.ON_HOLD)

    async def decide(self, shipment_id: str, gate: str, decision: str, actor: str = "ops@test",
                     comment: str = "") -> httpx.Response:
        """Decide a gate through the API, as an operator would; the caller checks the answer."""
        return await self.api.post(f"/v1/shipments/{shipment_id}/approvals", json={
            "gate": gate, "decision": decision, "actor": actor, "comment": comment})

    async def approve(self, shipment_id: str, gate: str = "high_value", actor: str = "ops@test",
                      comment: str = "") -> dict[str, Any]:
        response = await self.decide(shipment_id, gate, "approve", actor, comment)
        assert response.status_code == 200, response.text
        return response.json()

    async def until_notified(self, shipment_id: str, timeout: float = 30) -> list[OutboxRow]:
        """Wait until the outbox relay has done what it can with the shipment's messages: none due or being sent,
        and every failed one recorded as a dead letter (whose ops alert is then due, and waited for too). Returns
        the shipment's rows."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            rows = messages_of(self.engine, shipment_id)
            now = datetime.now(UTC)
            busy = [r.id for r in rows if r.state == OutboxState.SENDING or (
                r.state == OutboxState.PENDING and r.not_before.replace(tzinfo=r.not_before.tzinfo or UTC) <= now)]
            unrecorded = [r.id for r in failed_unrecorded(self.engine, shipment_id=shipment_id)]
            if not busy and not unrecorded:
                return rows
            if loop.time() > deadline:
                raise AssertionError(f"the relay left {shipment_id}'s messages due or being sent: {busy}; failed "
                                     f"without a dead letter: {unrecorded}")
            await asyncio.sleep(0.05)

    async def wait_until(self, shipment_id: str, predicate: Any, timeout: float = 30) -> ShipmentState:
        """Poll the workflow's query until `predicate(state)` holds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            state = await self.state(shipment_id)
            if predicate(state):
                return state
            if loop.time() > deadline:
                raise AssertionError(f"timed out; last state: stage={state.stage} status={state.status}")
            await asyncio.sleep(0.05)


def fast_settings(task_queue: str, events_base: str, sandbox_url: str, smtp_port: int = 8025,
                  **overrides: Any) -> Settings:
    values: dict[str, Any] = dict(
        environment="test", task_queue=task_queue, public_url=events_base, partners_base_url=sandbox_url,
        partner_timeout_s=1.0, retry_initial_interval_s=0.1, retry_maximum_interval_s=0.5,
        retry_maximum_attempts=8, gate_escalate_after_s=60, transit_timeout_s=30, last_mile_timeout_s=30,
        smtp_port=smtp_port, quiet_hours="", poll_interval_s=0.2, outbox_relay_every_s=0.1,
        outbox_relay_overdue_s=0,
    )
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def harness_factory(temporal_client: Client, sandbox: ServedApp, webhook_api: ServedApp, db_engine: Engine,
                    mail_server: DevMailServer):
    @asynccontextmanager
    async def factory(engine: Engine | None = None, client: Client | None = None, partners_url: str | None = None,
                      **overrides: Any) -> AsyncIterator[Harness]:
        """`client`: another client of the dev server for the API and the worker (another data converter);
        `partners_url`: where the worker reaches partners (e.g. a recording proxy in front of the sandbox)."""
        partners = partners_url or sandbox.url
        settings = fast_settings(f"tq-{uuid.uuid4().hex[:12]}", webhook_api.url, partners,
                                 smtp_port=mail_server.port, **overrides)
        engine = engine or db_engine
        client = client or temporal_client
        app = create_app(settings, client=client, engine=engine)
        async with (
            httpx.AsyncClient(timeout=httpx.Timeout(settings.partner_timeout_s)) as partner_http,
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api",
                              auth=DevCallers()) as api,
            httpx.AsyncClient(base_url=sandbox.url, timeout=10) as sandbox_http,
        ):
            worker = build_worker(client, task_queue=settings.task_queue, http=partner_http,
                                  partners_base_url=partners, engine=engine, settings=settings)
            # The outbox relay delivers notifications, as each worker process runs it.
            stop = asyncio.Event()
            relay = outbox_relay(settings, engine, partner_http, stop)
            try:
                async with worker:
                    yield Harness(settings=settings, client=client, api=api, sandbox=sandbox_http,
                                  engine=engine)
            finally:
                stop.set()
                if relay is not None:
                    await asyncio.wait_for(relay, 30)

    return factory


@pytest.fixture
async def harness(harness_factory) -> AsyncIterator[Harness]:
    async with harness_factory() as h:
        yield h
