"""Telemetry building blocks: the Temporal runtime that serves Prometheus metrics, and OpenTelemetry tracing.

Metrics: the worker's `Runtime` serves Temporal's SDK metrics and the metrics that workflow and activity code
records through `workflow.metric_meter()` / `activity.metric_meter()` (`workflows.metrics`) on one Prometheus
endpoint, ``http://<metrics_bind>/metrics``. Names follow Prometheus conventions: counters end in ``_total``,
durations are in seconds with their unit in the name, e.g. ``temporal_workflow_completed_total``,
``temporal_workflow_endtoend_latency_seconds_bucket``, ``tradelane_stage_duration_seconds_bucket``.

Traces: a `TracingInterceptor` on the client (the worker built from that client inherits it) makes spans for
starting, running and signalling workflows and for activities (``StartWorkflow:Shipment``,
``RunActivity:carrier.book``), exported over OTLP/HTTP to a collector.
"""

from collections.abc import Mapping, Sequence

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExporter
from temporalio.client import Interceptor
from temporalio.contrib.opentelemetry import TracingInterceptor
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig

TRACER_NAME = "tradelane"

WAIT_BUCKETS_S: Sequence[float] = (
    1, 10, 60, 300, 900, 1800, 3600, 4 * 3600, 12 * 3600, 86400, 3 * 86400, 7 * 86400, 14 * 86400, 30 * 86400)
"""Buckets of the business histograms, in seconds: a stage or an ops decision takes seconds to weeks (an ocean
leg), far beyond the SDK's default latency buckets."""

HISTOGRAM_BUCKETS: Mapping[str, Sequence[float]] = {
    "tradelane_stage_duration": WAIT_BUCKETS_S,
    "tradelane_approval_wait": WAIT_BUCKETS_S,
}
"""Bucket overrides by metric name as recorded (`workflows.metrics`), before any Prometheus suffix."""


def make_runtime(metrics_bind: str | None) -> Runtime:
    """A Temporal runtime for clients and workers, serving Prometheus metrics at `metrics_bind`.

    The endpoint lives as long as the runtime (in practice the process): create one runtime per process and pass it
    to every `Client.connect` whose workers should be measured.

    Args:
        metrics_bind: ``host:port`` of the ``/metrics`` endpoint, e.g. ``127.0.0.1:9464``; None exports no metrics.

    Returns:
        The runtime (its own thread pool, so not one per client).
    """
    if metrics_bind is None:
        return Runtime(telemetry=TelemetryConfig(metrics=None))
    return Runtime(telemetry=TelemetryConfig(metrics=PrometheusConfig(
        bind_address=metrics_bind,
        counters_total_suffix=True,
        unit_suffix=True,
        durations_as_seconds=True,
        histogram_bucket_overrides=HISTOGRAM_BUCKETS,
    )))


def tracer_provider(service_name: str, otel_endpoint: str | None = None,
                    exporter: SpanExporter | None = None) -> TracerProvider | None:
    """An OpenTelemetry tracer provider exporting to a collector, or to `exporter`.

    Args:
        service_name: The ``service.name`` resource of every span (``tradelane-api``, ``tradelane-worker``).
        otel_endpoint: OTLP/HTTP traces URL, e.g. ``http://127.0.0.1:4318/v1/traces``; spans are batched.
        exporter: An exporter that gets each span as it ends (tests pass an in-memory one).

    Returns:
        The provider (not installed globally; give it to `tracing_interceptors`), or None when there is nowhere
        to export to.
    """
    if otel_endpoint is None and exporter is None:
        return None
    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: service_name}))
    if otel_endpoint is not None:
        # Batched, so a slow or absent collector never holds up a workflow task or an API request.
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=otel_endpoint)))
    if exporter is not None:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider


def tracing_interceptors(provider: TracerProvider | None) -> list[Interceptor]:
    """The client interceptors that trace Temporal calls with `provider` (none without a provider).

    Give them to `Client.connect(interceptors=...)`: workers built from that client trace workflows and activities
    too, so they must not be given to the worker again.
    """
    if provider is None:
        return []
    return [TracingInterceptor(provider.get_tracer(TRACER_NAME))]
