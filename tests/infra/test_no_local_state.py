"""Issue 20, point 5: with a PostgreSQL URL, nothing in the worker or the API keeps state on local disk, so either
runs as any number of replicas on any machine (a sticky workflow cache is fine: another worker rebuilds it from
history).

The real processes (`tradelane api`, `tradelane worker`, as the production compose runs them) start in an empty
working directory with a home and a temporary directory of their own, run one shipment to delivery against the
test PostgreSQL, and stop; none of the three directories may then hold anything.
"""

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text
from temporalio.client import Client

from devstack.mailserver import DevMailServer
from devstack.ports import free_port
from infra.platform.http_server import ServedApp
from infra.platform.settings import DEV_TRACKING_SECRET
from tests.postgres import postgres_cluster
from tests.support import ROOT, DevCallers, load_example, unique_id
from tradelane.enums import Status
from tradelane.keys import workflow_id
from tradelane.shipment.state import ShipmentState
from tradelane.tracking_page import tracking_token

pytestmark = pytest.mark.temporal

START_TIMEOUT_S = 120


def local_files(*roots: Path) -> list[str]:
    """Every file and directory below `roots` (the roots themselves excluded), as sorted paths."""
    return sorted(str(path) for root in roots for path in root.rglob("*"))


def test_local_files_lists_nested_files_and_directories(tmp_path):
    """The check below can fail: what a process leaves, however deep, is listed."""
    assert local_files(tmp_path) == []
    (tmp_path / ".tradelane" / "mail").mkdir(parents=True)
    (tmp_path / ".tradelane" / "tradelane.db").write_bytes(b"")
    assert local_files(tmp_path) == [str(tmp_path / ".tradelane"), str(tmp_path / ".tradelane" / "mail"),
                                     str(tmp_path / ".tradelane" / "tradelane.db")]


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    """A fresh cluster, not migrated: the processes migrate it themselves, as on a first deployment."""
    with postgres_cluster() as cluster:
        yield cluster.url


@dataclass
class Places:
    """Where the processes may be tempted to write: their working directory, home and temporary directory."""

    work: Path
    home: Path
    tmp: Path
    logs: Path

    @classmethod
    def under(cls, root: Path) -> "Places":
        places = cls(root / "work", root / "home", root / "tmp", root / "logs")
        for path in (places.work, places.home, places.tmp, places.logs):
            path.mkdir()
        return places


def service_env(places: Places, **settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRADELANE_")}
    env.update({f"TRADELANE_{name.upper()}": value for name, value in settings.items()})
    # This tree's code from any working directory; the home and temporary directory are the test's to inspect.
    env.update({"PYTHONPATH": str(ROOT), "HOME": str(places.home), "TMPDIR": str(places.tmp),
                "PYTHONDONTWRITEBYTECODE": "1"})
    return env


@contextlib.asynccontextmanager
async def service(command: str, env: dict[str, str], places: Places, ready_url: str) -> AsyncIterator[
        subprocess.Popen[bytes]]:
    """`tradelane <command>` in `places.work` until `ready_url` answers 200; SIGTERMed (and checked to stop cleanly)
    when the block ends, killed if it does not."""
    log = places.logs / f"{command}.log"
    with log.open("wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "devstack.cli", command], cwd=places.work, env=env,
                                   stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        async with httpx.AsyncClient(timeout=2) as http:
            for _ in range(START_TIMEOUT_S * 10):
                assert process.poll() is None, f"{command} exited:\n{log.read_text()[-3000:]}"
                with contextlib.suppress(httpx.TransportError):
                    if (await http.get(ready_url)).status_code == 200:
                        break
                await asyncio.sleep(0.1)
            else:
                raise AssertionError(f"{command} not ready at {ready_url}:\n{log.read_text()[-3000:]}")
        yield process
        process.send_signal(signal.SIGTERM)
        code = await asyncio.to_thread(process.wait, 60)
        # A clean stop: the worker exits 0; uvicorn, having shut the API down, re-raises the SIGTERM it handled.
        assert code in (0, -signal.SIGTERM), f"{command} exited with {code}:\n{log.read_text()[-3000:]}"
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


async def test_worker_and_api_keep_nothing_on_local_disk_with_postgresql(
        temporal_client: Client, sandbox: ServedApp, mail_server: DevMailServer, postgres_url: str,
        tmp_path: Path):
    places = Places.under(tmp_path)
    api_port, health_port, metrics_port = free_port(), free_port(), free_port()
    api_url = f"http://127.0.0.1:{api_port}"
    common = dict(
        environment="test", temporal_address=temporal_client.service_client.config.target_host,
        task_queue=f"tq-nolocal-{unique_id()}", database_url=postgres_url, partners_base_url=sandbox.url,
        public_url=api_url, smtp_port=str(mail_server.port), quiet_hours="", poll_interval_s="0.2",
        retry_initial_interval_s="0.1", retry_maximum_interval_s="0.5", partner_timeout_s="10", log_format="json",
        api_host="127.0.0.1", api_port=str(api_port), worker_health_port=str(health_port),
        metrics_port=str(metrics_port), graceful_shutdown_s="10")
    env = service_env(places, **common)
    shipment_id = unique_id("nolocal")

    async with (
        service("api", env, places, f"{api_url}/readyz"),
        service("worker", env, places, f"http://127.0.0.1:{health_port}/readyz"),
        httpx.AsyncClient(base_url=api_url, auth=DevCallers(), timeout=30) as api,
    ):
        response = await api.post("/v1/shipments", json=load_example("basic-cn-de.json", shipment_id))
        assert response.status_code == 201, response.text
        handle = temporal_client.get_workflow_handle(workflow_id(shipment_id), result_type=ShipmentState)
        state = await asyncio.wait_for(handle.result(), 120)
        assert state.status is Status.DELIVERED, state.failure
        shown = await api.get(f"/v1/shipments/{shipment_id}")
        assert shown.status_code == 200 and shown.json()["status"] == "delivered", shown.text
        # The API's renderers too: a PDF (fonts) and the public tracking page (templates, locale data).
        invoice = await api.post("/v1/documents/commercial-invoice", json=load_example("basic-cn-de.json", shipment_id))
        assert invoice.status_code == 200 and invoice.content.startswith(b"%PDF"), invoice.text[:300]
        token = tracking_token(DEV_TRACKING_SECRET, shipment_id)
        page = await api.get(f"/track/{token}", headers={"Authorization": ""})  # public: no key
        assert page.status_code == 200, page.text[:300]

    # Both processes used PostgreSQL: the read model and the e-mails' outbox are there ...
    engine = create_engine(postgres_url)
    try:
        with engine.connect() as db:
            status = db.execute(text("SELECT status FROM shipments WHERE shipment_id = :id"),
                                {"id": shipment_id}).scalar_one()
            sent = db.execute(text("SELECT count(*) FROM notification_outbox WHERE shipment_id = :id"),
                              {"id": shipment_id}).scalar_one()
    finally:
        engine.dispose()
    assert status == "delivered" and sent > 0
    # ... and nothing else: no file in their working directory (no `.tradelane`), home or temporary directory.
    assert local_files(places.work, places.home, places.tmp) == []
