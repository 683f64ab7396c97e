"""Temporal unavailable (issue 18): the API answers 503 in its JSON error format with Retry-After within its
deadline, reads a shipment from the read model (marked stale), starts while Temporal is down and says so in
/readyz, and works again once the server is back.

Against a dev server of this module's own, stopped and started again on the same port (the session's server is
shared by every other test), the API over real HTTP with its own lazily connecting client, a real worker until the
server stops, and a database of its own."""

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import Engine

from devstack.devserver import DevServer, start_dev_server
from devstack.ports import free_port
from infra.persistence.db import make_engine, migrate
from infra.platform.http_server import ServedApp
from infra.platform.settings import Settings
from starter.api import create_app
from tests.conftest import fast_settings
from tests.support import DevCallers, load_example, unique_id
from tradelane.keys import workflow_id
from worker import build_worker

pytestmark = pytest.mark.temporal

DEADLINE_S = 2.0
"""TRADELANE_TEMPORAL_RPC_TIMEOUT_S in these tests."""
SLACK_S = 1.5
"""What the answer may take beyond the deadline on a loaded machine (it took about 35 s before)."""


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    url = f"sqlite:///{tmp_path / 'read_model.db'}"
    migrate(url)
    return make_engine(url)


def api_settings(port: int, sandbox_url: str, **overrides: Any) -> Settings:
    return fast_settings(f"tq-{uuid.uuid4().hex[:12]}", "http://127.0.0.1:9", sandbox_url,
                         temporal_address=f"127.0.0.1:{port}", temporal_rpc_timeout_s=DEADLINE_S, **overrides)


@pytest.fixture
async def served(engine, sandbox) -> AsyncIterator[tuple[ServedApp, Settings]]:
    """The API on loopback, its client connecting to a port nothing listens on yet."""
    settings = api_settings(free_port(), sandbox.url)
    api = await ServedApp(create_app(settings, engine=engine)).start()
    yield api, settings
    await api.stop()


async def timed(call: Any) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = await call
    return response, time.monotonic() - started


def assert_unavailable(response: httpx.Response, elapsed: float) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.json()["error"]["code"] == "TEMPORAL_UNAVAILABLE"
    assert int(response.headers["Retry-After"]) > 0
    assert elapsed < DEADLINE_S + SLACK_S, f"answered after {elapsed:.1f} s"


async def test_the_api_starts_without_temporal_and_says_it_is_not_ready(served):
    api, _ = served
    async with httpx.AsyncClient(base_url=api.url, auth=DevCallers(), timeout=30) as http:
        assert (await http.get("/healthz")).status_code == 200
        ready = await http.get("/readyz")
        assert ready.status_code == 503
        temporal = next(c for c in ready.json()["checks"] if c["name"] == "temporal")
        assert temporal["ok"] is False and temporal["detail"]
        response, elapsed = await timed(http.post("/v1/shipments", json=load_example("basic-cn-de.json",
                                                                                        unique_id("DOWN"))))
        assert_unavailable(response, elapsed)


async def wait_projected(http: httpx.AsyncClient, shipment_id: str) -> None:
    for _ in range(300):
        if shipment_id in [s["shipment_id"] for s in (await http.get("/v1/shipments")).json()]:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{shipment_id} never reached the read model")


async def restart(port: int, db_file: Path) -> DevServer:
    return await start_dev_server(port=port, db_file=db_file)


async def test_while_temporal_is_down_starts_answer_503_and_reads_come_from_the_read_model(engine, sandbox,
                                                                                         tmp_path):
    """Finding (issue 18): with Temporal down, POST /v1/shipments hung about 35 s and answered a plain-text 500;
    GET answered 500 instead of the read model."""
    port, db_file = free_port(), tmp_path / "temporal.db"
    server = await start_dev_server(port=port, db_file=db_file)
    settings = api_settings(port, sandbox.url)
    api = await ServedApp(create_app(settings, engine=engine)).start()
    try:
        async with httpx.AsyncClient(base_url=api.url, auth=DevCallers(), timeout=60) as http:
            # Up: a shipment starts and is projected by a real worker.
            known = unique_id("DOWN")
            async with httpx.AsyncClient(timeout=5) as partner_http:
                worker = build_worker(server.client, task_queue=settings.task_queue, http=partner_http,
                                      partners_base_url=sandbox.url, engine=engine, settings=settings)
                async with worker:
                    created = await http.post("/v1/shipments", json=load_example("basic-cn-de.json", known))
                    assert created.status_code == 201, created.text
                    await wait_projected(http, known)
                    live = await http.get(f"/v1/shipments/{known}")
                    assert (live.status_code, live.json()["stale"]) == (200, False)
            await server.stop()

            # Down: a start is refused within the deadline, in the API's format, and creates nothing.
            refused = unique_id("DOWN")
            response, elapsed = await timed(http.post("/v1/shipments",
                                                      json=load_example("basic-cn-de.json", refused)))
            assert_unavailable(response, elapsed)
            assert "not started" in response.json()["error"]["message"]
            # A read answers from the read model, saying it may be stale.
            response, elapsed = await timed(http.get(f"/v1/shipments/{known}"))
            assert response.status_code == 200, response.text
            assert (response.json()["shipment_id"], response.json()["stale"]) == (known, True)
            assert elapsed < DEADLINE_S + SLACK_S
            # One the read model does not have may exist all the same (too new to be projected): 503, not 404.
            response, elapsed = await timed(http.get(f"/v1/shipments/{unique_id('NONE')}"))
            assert_unavailable(response, elapsed)
            assert (await http.get(f"/v1/shipments/{known}/events")).status_code == 200  # the read model only
            assert (await http.get("/readyz")).status_code == 503

            # Back: the refused shipment was never started, and starting it now works.
            server = await restart(port, db_file)
            with pytest.raises(Exception, match="not found"):
                await server.client.get_workflow_handle(workflow_id(refused)).describe()
            for _ in range(50):  # the API's client reconnects on its next calls
                again = await http.post("/v1/shipments", json=load_example("basic-cn-de.json", refused))
                if again.status_code != 503:
                    break
                await asyncio.sleep(0.2)
            assert again.status_code == 201, again.text
            assert (await http.get("/readyz")).status_code == 200
    finally:
        await api.stop()
        await server.stop()
