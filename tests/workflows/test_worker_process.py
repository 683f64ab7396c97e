"""The worker as operations run it: a real `python worker.py` process with its health, readiness and Prometheus
endpoints, that finishes the activity in hand on SIGTERM, and whose replacement completes the shipment."""

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from temporalio.api.enums.v1 import EventType, PendingActivityState
from temporalio.client import Client

from devstack.mailserver import DevMailServer
from devstack.ports import free_port
from infra.platform.http_server import ServedApp
from starter.api import create_app
from tests.conftest import fast_settings
from tests.support import ROOT, DevCallers, load_example, unique_id
from tradelane.enums import Status
from tradelane.keys import workflow_id
from tradelane.shipment.state import ShipmentState

pytestmark = pytest.mark.temporal
IN_HAND = PendingActivityState.PENDING_ACTIVITY_STATE_STARTED


@dataclass
class WorkerProcess:
    process: subprocess.Popen[bytes]
    log: Path
    health: str
    metrics: str

    def output(self) -> str:
        return self.log.read_text()


def worker_env(settings, temporal_address: str, database_url: str, health_port: int, metrics_port: int) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRADELANE_")}
    env.update({
        "TRADELANE_ENVIRONMENT": "test", "TRADELANE_TEMPORAL_ADDRESS": temporal_address,
        "TRADELANE_TASK_QUEUE": settings.task_queue, "TRADELANE_DATABASE_URL": database_url,
        "TRADELANE_PARTNERS_BASE_URL": settings.partners_base_url, "TRADELANE_PUBLIC_URL": settings.public_url,
        "TRADELANE_SMTP_PORT": str(settings.smtp_port), "TRADELANE_QUIET_HOURS": "",
        "TRADELANE_POLL_INTERVAL_S": "0.2", "TRADELANE_RETRY_INITIAL_INTERVAL_S": "0.1",
        "TRADELANE_RETRY_MAXIMUM_INTERVAL_S": "0.5", "TRADELANE_PARTNER_TIMEOUT_S": "10",
        "TRADELANE_WORKER_HEALTH_PORT": str(health_port), "TRADELANE_METRICS_PORT": str(metrics_port),
        "TRADELANE_GRACEFUL_SHUTDOWN_S": "20", "TRADELANE_LOG_FORMAT": "json", "TRADELANE_LOG_LEVEL": "INFO",
    })
    return env


@asynccontextmanager
async def worker_process(settings, temporal_address: str, database_url: str, tmp_path: Path,
                         name: str) -> AsyncIterator[WorkerProcess]:
    health_port, metrics_port = free_port(), free_port()
    log = tmp_path / f"{name}.log"
    with log.open("wb") as out:
        process = subprocess.Popen([sys.executable, "worker.py"], cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                                   env=worker_env(settings, temporal_address, database_url, health_port,
                                                  metrics_port))
    worker = WorkerProcess(process, log, f"http://127.0.0.1:{health_port}", f"http://127.0.0.1:{metrics_port}")
    try:
        async with httpx.AsyncClient(timeout=5) as http:
            for _ in range(300):
                assert process.poll() is None, worker.output()
                try:
                    if (await http.get(f"{worker.health}/readyz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
        yield worker
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


async def metric_value(url: str, name: str, **labels: str) -> float:
    async with httpx.AsyncClient(timeout=5) as http:
        text = (await http.get(f"{url}/metrics")).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return sample.value
    raise AssertionError(f"{name}{labels} not exported")


async def test_sigterm_lets_the_activity_in_hand_finish_and_a_new_worker_completes(
        temporal_client: Client, sandbox: ServedApp, webhook_api: ServedApp, db_engine, mail_server: DevMailServer,
        tmp_path: Path):
    settings = fast_settings(f"tq-proc-{unique_id()}", webhook_api.url, sandbox.url, smtp_port=mail_server.port)
    address = temporal_client.service_client.config.target_host
    database_url = str(db_engine.url)
    shipment_id = unique_id("sigterm")
    app = create_app(settings, client=temporal_client, engine=db_engine)
    async with (
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api", auth=DevCallers()) as api,
        httpx.AsyncClient(base_url=sandbox.url, timeout=10) as sandbox_http,
    ):
        # A slow carrier: the booking takes 3 s, so the SIGTERM lands while it is in hand.
        fault = {"operation": "book", "shipment_id": shipment_id, "kind": "latency", "latency_s": 3, "times": 1}
        assert (await sandbox_http.post("/_faults", json=fault)).status_code == 201
        handle = temporal_client.get_workflow_handle(workflow_id(shipment_id), result_type=ShipmentState)

        async with worker_process(settings, address, database_url, tmp_path, "first") as first:
            ready = (await httpx.AsyncClient().get(f"{first.health}/readyz")).json()
            assert ready["ready"] and {c["name"] for c in ready["checks"]} == {"temporal", "database", "worker"}
            body = load_example("basic-cn-de.json", shipment_id)
            body["service_level"] = "economy"  # by rail: a polled carrier, then a last mile that pushes events
            assert (await api.post("/v1/shipments", json=body)).status_code == 201
            for _ in range(200):
                pending = (await handle.describe()).raw_description.pending_activities
                if any(p.activity_type.name == "carrier.book" and p.state == IN_HAND for p in pending):
                    break
                await asyncio.sleep(0.05)
            first.process.send_signal(signal.SIGTERM)
            assert await asyncio.to_thread(first.process.wait, 30) == 0, first.output()
            log = first.output()
            assert "worker stopping" in log and "worker stopped" in log
            assert "jonas" not in log.lower(), "no recipient's data in the worker's log"
            assert '"event": "booked"' in log, "the booking in hand finished in the worker that was stopped"

        async with worker_process(settings, address, database_url, tmp_path, "second") as second:
            state = await asyncio.wait_for(handle.result(), 60)
            assert state.status is Status.DELIVERED
            bookings = (await sandbox_http.get("/_inspect/bookings", params={"shipment_id": shipment_id})).json()
            assert len([r for r in bookings["records"] if r["kind"] == "booking"]) == 1
            # The replacement finished the shipment: its business metrics count it once.
            assert await metric_value(second.metrics, "tradelane_shipments_finished_total", status="delivered") == 1
            assert await metric_value(second.metrics, "tradelane_stage_duration_seconds_count", stage="last_mile") == 1
            assert await metric_value(second.metrics, "temporal_workflow_completed_total") >= 1
            second.process.send_signal(signal.SIGTERM)
            assert await asyncio.to_thread(second.process.wait, 30) == 0, second.output()

        # Read once the shipment is done: the server holds an activity's completion back while a workflow task the
        # stopped worker had taken stays open, until that task times out and the next worker takes over.
        history = [e async for e in handle.fetch_history_events()]
        book_scheduled = [e.event_id for e in history
                          if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
                          and e.activity_task_scheduled_event_attributes.activity_type.name == "carrier.book"]
        completed = [e.activity_task_completed_event_attributes.scheduled_event_id for e in history
                     if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED]
        started = {e.activity_task_started_event_attributes.scheduled_event_id:
                   e.activity_task_started_event_attributes.attempt for e in history
                   if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED}
        assert book_scheduled and book_scheduled[0] in completed, "the booking finished during the shutdown"
        assert started[book_scheduled[0]] == 1, "... on its first attempt, not retried after a kill"
