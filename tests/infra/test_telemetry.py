"""Telemetry on the real dev server: business metrics recorded by workflow code and the SDK's own metrics on the
runtime's Prometheus endpoint, OpenTelemetry spans from the tracing interceptor, and the API's read-model gauges."""

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pydantic import BaseModel
from temporalio import activity, workflow

# The probe workflow below is imported again inside the workflow sandbox; these modules pass through it unchanged.
with workflow.unsafe.imports_passed_through():
    import httpx
    import pytest
    from fastapi import FastAPI
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from prometheus_client import CollectorRegistry, generate_latest
    from prometheus_client.parser import text_string_to_metric_families
    from sqlalchemy import create_engine
    from sqlalchemy.engine import Engine
    from sqlmodel import Session
    from temporalio.client import Client
    from temporalio.contrib.pydantic import pydantic_data_converter
    from temporalio.worker import Worker

    from devstack.ports import free_port
    from infra.persistence.db import ShipmentRow, make_engine, migrate
    from infra.persistence.outbox import OutboxRow
    from infra.platform.telemetry import make_runtime, tracer_provider, tracing_interceptors
    from starter.metrics import ReadModelCollector, metrics_router
    from workflows import metrics

PROBE = "TelemetryProbe"
PING = "telemetry.ping"

Labels = frozenset[tuple[str, str]]


class ProbeRequest(BaseModel):
    stage_seconds: float
    approval_wait_seconds: float
    undone: int
    undo_failed: int


class ProbeResult(BaseModel):
    echoed: str


@activity.defn(name=PING)
async def ping(text: str) -> str:
    return text


@workflow.defn(name=PROBE)
class TelemetryProbe:
    """Calls every business metric once around one activity, as ShipmentWorkflow will."""

    @workflow.run
    async def run(self, req: ProbeRequest) -> ProbeResult:
        metrics.shipment_started()
        echoed = await workflow.execute_activity(PING, "pong", result_type=str,
                                                 start_to_close_timeout=timedelta(seconds=30))
        metrics.stage_completed("booking", req.stage_seconds)
        metrics.approval_decided("high_value", "approve", req.approval_wait_seconds)
        metrics.compensated("compensated", req.undone, req.undo_failed)
        metrics.shipment_finished("delivered")
        return ProbeResult(echoed=echoed)


def samples(exposition: str, **only: str) -> dict[tuple[str, Labels], float]:
    """Every sample of a Prometheus text exposition, keyed by name and labels; `only` keeps those with these labels
    (and leaves them out of the key)."""
    found: dict[tuple[str, Labels], float] = {}
    for family in text_string_to_metric_families(exposition):
        for sample in family.samples:
            if all(sample.labels.get(k) == v for k, v in only.items()):
                labels = frozenset((k, v) for k, v in sample.labels.items() if k not in only)
                found[(sample.name, labels)] = sample.value
    return found


def key(name: str, **labels: str) -> tuple[str, Labels]:
    return name, frozenset(labels.items())


async def run_probe(client: Client, req: ProbeRequest, **worker_options) -> ProbeResult:
    task_queue = f"tq-{uuid.uuid4().hex[:12]}"
    async with Worker(client, task_queue=task_queue, workflows=[TelemetryProbe], activities=[ping],
                      **worker_options):
        return await client.execute_workflow(TelemetryProbe.run, req, id=f"probe-{uuid.uuid4().hex[:12]}",
                                             task_queue=task_queue, result_type=ProbeResult)


@pytest.mark.temporal
async def test_business_and_sdk_metrics_on_the_prometheus_endpoint(temporal_client: Client) -> None:
    port = free_port()
    client = await Client.connect(temporal_client.service_client.config.target_host,
                                  namespace=temporal_client.namespace, runtime=make_runtime(f"127.0.0.1:{port}"),
                                  data_converter=pydantic_data_converter)
    req = ProbeRequest(stage_seconds=2.5, approval_wait_seconds=90.0, undone=2, undo_failed=1)

    # No workflow cache: every workflow task replays the history so far, and the replay-safe meter must not count
    # what was recorded before a second time.
    result = await run_probe(client, req, max_cached_workflows=0)
    async with httpx.AsyncClient(timeout=10) as http:
        response = await http.get(f"http://127.0.0.1:{port}/metrics")

    assert result.echoed == "pong"
    assert response.status_code == 200
    got = samples(response.text, workflow_type=PROBE, namespace=temporal_client.namespace)
    task_queues = {dict(labels)["task_queue"] for _, labels in got}
    assert len(task_queues) == 1
    tq = task_queues.pop()
    expected = {
        key("tradelane_shipments_started_total"): 1,
        key("tradelane_shipments_finished_total", status="delivered"): 1,
        key("tradelane_stage_duration_seconds_count", stage="booking"): 1,
        key("tradelane_stage_duration_seconds_sum", stage="booking"): 2.5,
        key("tradelane_stage_duration_seconds_bucket", stage="booking", le="1"): 0,
        key("tradelane_stage_duration_seconds_bucket", stage="booking", le="10"): 1,
        key("tradelane_approval_wait_seconds_count", gate="high_value", decision="approve"): 1,
        key("tradelane_approval_wait_seconds_sum", gate="high_value", decision="approve"): 90.0,
        key("tradelane_approval_wait_seconds_bucket", gate="high_value", decision="approve", le="60"): 0,
        key("tradelane_approval_wait_seconds_bucket", gate="high_value", decision="approve", le="300"): 1,
        key("tradelane_compensations_total", status="compensated"): 1,
        key("tradelane_undo_steps_total", status="compensated"): 2,
        key("tradelane_undo_failures_total"): 1,
        key("temporal_workflow_completed_total"): 1,
    }
    actual = {}
    for (name, labels), _ in expected.items():
        with_tq = (name, labels | {("task_queue", tq), ("service_name", "temporal-core-sdk")})
        actual[(name, labels)] = got.get(with_tq)
    assert actual == expected
    # Without the cache each workflow task replays, and Temporal reports it: the metrics above counted once anyway.
    assert got[key("temporal_workflow_task_replay_latency_seconds_count", task_queue=tq,
                   service_name="temporal-core-sdk")] >= 1
    activity_runs = samples(response.text, activity_type=PING, task_queue=tq)
    assert activity_runs[key("temporal_activity_execution_latency_seconds_count", namespace=temporal_client.namespace,
                             service_name="temporal-core-sdk", workflow_type=PROBE)] == 1


def test_a_runtime_without_metrics_and_no_tracing_without_a_destination() -> None:
    assert tracer_provider("tradelane-test") is None
    assert tracing_interceptors(None) == []
    # A runtime without an exporter still runs clients; its meter records into nothing.
    runtime = make_runtime(None)
    assert runtime.metric_meter.create_counter("tradelane_probe").name == "tradelane_probe"


@pytest.mark.temporal
async def test_tracing_spans_for_starting_and_running_workflows_and_activities(temporal_client: Client) -> None:
    exporter = InMemorySpanExporter()
    provider = tracer_provider("tradelane-test", exporter=exporter)
    interceptors = tracing_interceptors(provider)
    client = Client(**{**temporal_client.config(), "interceptors": interceptors})

    # The worker gets no interceptors of its own: it inherits the client's.
    await run_probe(client, ProbeRequest(stage_seconds=1, approval_wait_seconds=1, undone=0, undo_failed=0))
    provider.shutdown()

    spans = exporter.get_finished_spans()
    names = {span.name for span in spans}
    assert {f"StartWorkflow:{PROBE}", f"RunWorkflow:{PROBE}", f"StartActivity:{PING}",
            f"RunActivity:{PING}"} <= names
    assert {span.resource.attributes["service.name"] for span in spans} == {"tradelane-test"}
    assert len({span.context.trace_id for span in spans}) == 1, "one trace from the start to the activity"


T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)

SHIPMENTS = [  # (status, stage, open_exceptions)
    ("in_progress", "transit", ""),
    ("delayed", "transit", "late,stalled"),
    ("delayed", "transit", "late"),
    ("delayed", "last_mile", "delivery_failed"),
    ("delivered", "last_mile", ""),
    ("on_hold", "booking", ""),
]
OUTBOX_STATES = ["pending", "pending", "sent", "sent", "sent", "failed"]


def add_rows(engine: Engine) -> None:
    with Session(engine) as session:
        for n, (status, stage, exceptions) in enumerate(SHIPMENTS):
            shipment_id = f"SHP-M-{n}"
            session.add(ShipmentRow(
                shipment_id=shipment_id, workflow_id=f"shipment:{shipment_id}", merchant_id="acme-store",
                origin_country="CN", destination_country="DE", stage=stage, status=status, declared_value="49.30",
                currency="EUR", created_at=T0, updated_at=T0, open_exceptions=exceptions))
        for n, state in enumerate(OUTBOX_STATES):
            session.add(OutboxRow(
                id=f"SHP-M-0:{n}:email:customer", shipment_id="SHP-M-0", notice_id=f"SHP-M-0:{n}", kind="shipped",
                channel="email", audience="customer", recipient="kunde@example.de", locale="de-DE",
                subject="Versandt", body_text="Hallo!", not_before=T0, created_at=T0, state=state))
        session.commit()


@pytest.fixture
def read_model(tmp_path: Path) -> Iterator[Engine]:
    url = f"sqlite:///{tmp_path / 'read_model.db'}"
    migrate(url)
    engine = make_engine(url)
    yield engine
    engine.dispose()


def registry_with(engine: Engine) -> CollectorRegistry:
    registry = CollectorRegistry()
    registry.register(ReadModelCollector(engine))
    return registry


def scrape(engine: Engine) -> dict[tuple[str, Labels], float]:
    return samples(generate_latest(registry_with(engine)).decode())


def test_read_model_gauges_count_shipments_exceptions_and_outbox_messages(read_model: Engine) -> None:
    add_rows(read_model)

    assert scrape(read_model) == {
        key("tradelane_shipments", status="in_progress", stage="transit"): 1,
        key("tradelane_shipments", status="delayed", stage="transit"): 2,
        key("tradelane_shipments", status="delayed", stage="last_mile"): 1,
        key("tradelane_shipments", status="delivered", stage="last_mile"): 1,
        key("tradelane_shipments", status="on_hold", stage="booking"): 1,
        key("tradelane_open_exceptions", kind="late"): 2,
        key("tradelane_open_exceptions", kind="stalled"): 1,
        key("tradelane_open_exceptions", kind="delivery_failed"): 1,
        key("tradelane_open_exceptions", kind="customs_hold"): 0,
        key("tradelane_open_exceptions", kind="carrier_exception"): 0,
        key("tradelane_outbox_messages", state="pending"): 2,
        key("tradelane_outbox_messages", state="sending"): 0,
        key("tradelane_outbox_messages", state="sent"): 3,
        key("tradelane_outbox_messages", state="failed"): 1,
        key("tradelane_outbox_messages", state="withdrawn"): 0,
        key("tradelane_dead_letters", kind="notification"): 0,
        key("tradelane_dead_letters", kind="projection"): 0,
        key("tradelane_dead_letters", kind="partner_event"): 0,
        key("tradelane_read_model_up"): 1,
    }


def test_an_unreachable_read_model_reports_down_instead_of_failing_the_scrape(tmp_path: Path) -> None:
    broken = create_engine(f"sqlite:///{tmp_path / 'no-such-directory' / 'read_model.db'}")

    exposition = generate_latest(registry_with(broken)).decode()

    assert samples(exposition) == {key("tradelane_read_model_up"): 0}
    assert "tradelane_read_model_up 0.0" in exposition


async def test_the_metrics_route_serves_the_registry(read_model: Engine) -> None:
    add_rows(read_model)
    app = FastAPI()
    app.include_router(metrics_router(registry_with(read_model)))

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as api:
        response = await api.get("/metrics")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    got = samples(response.text)
    assert (got[key("tradelane_shipments", status="delayed", stage="transit")],
            got[key("tradelane_read_model_up")]) == (2, 1)
