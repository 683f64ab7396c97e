"""The worker of workload B: `BareWorkflow` and its no-op activity, on the real worker's configuration.

    python -m bench.bare_worker        # settings from TRADELANE_* like `python -m worker`

Same client (the encrypting data converter, the metrics runtime, tracing interceptors) and the same worker options
(`worker.worker_options`: slots, sticky cache, interceptors) as the Tradelane worker; only the workflow and the
activities differ.
"""

import asyncio

import structlog
from temporalio.worker import Worker

from bench.bare import BareWorkflow, noop
from infra.platform.logging import configure_logging
from infra.platform.process import run_until_signalled
from infra.platform.settings import Settings, get_settings
from infra.platform.telemetry import make_runtime, tracer_provider, tracing_interceptors
from infra.platform.temporal import connect
from worker import worker_options

log = structlog.stdlib.get_logger(__name__)


async def run_bare_worker(settings: Settings, stop: asyncio.Event) -> None:
    metrics = f"{settings.ops_host}:{settings.metrics_port}" if settings.metrics_port is not None else None
    client = await connect(
        settings, runtime=make_runtime(metrics),
        interceptors=tracing_interceptors(tracer_provider("tradelane-bench-bare", settings.otel_endpoint)))
    worker = Worker(client, task_queue=settings.task_queue, workflows=[BareWorkflow], activities=[noop],
                    **worker_options(settings))
    async with worker:
        log.info("bare worker running", task_queue=settings.task_queue)
        await stop.wait()


def main() -> None:
    settings = get_settings()
    configure_logging(settings.log_format, settings.log_level)
    run_until_signalled(lambda stop: run_bare_worker(settings, stop))


if __name__ == "__main__":
    main()
