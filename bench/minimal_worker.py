"""The worker of workload M: `MinimalWorkflow`, the partner calls it makes and its poller, on the SDK's defaults.

    python -m bench.minimal_worker        # settings from TRADELANE_* (Temporal address, task queue, partners)

The partner calls are Tradelane's activities bound to the same protocol adapters (`activities.http.PartnerGateway`),
so M sends the sandbox the same requests; the worker has none of Tradelane's options (interceptors, tuned slots,
deployment versioning): what a user starting from the samples would run.
"""

import asyncio
from collections.abc import Callable
from typing import Any

import structlog
from temporalio.worker import Worker

from activities.carriers import CarrierActivities
from activities.customs import CustomsActivities
from activities.http import PartnerGateway
from activities.last_mile import LastMileActivities
from bench.minimal import MinimalActivities, MinimalWorkflow
from infra.platform.logging import configure_logging
from infra.platform.process import run_until_signalled
from infra.platform.settings import Settings, get_settings
from infra.platform.temporal import connect
from worker import partner_http

log = structlog.stdlib.get_logger(__name__)


async def run_minimal_worker(settings: Settings, stop: asyncio.Event) -> None:
    client = await connect(settings)
    async with partner_http(settings) as http:
        gateway = PartnerGateway(http, settings.partners_base_url, settings.environment, settings.partner_timeout_s)
        carriers, customs = CarrierActivities(gateway), CustomsActivities(gateway)
        last_mile = LastMileActivities(gateway)
        activities: list[Callable[..., Any]] = [carriers.book, carriers.create_label, carriers.handover,
                                                customs.file, last_mile.schedule, MinimalActivities(gateway).poll]
        async with Worker(client, task_queue=settings.task_queue, workflows=[MinimalWorkflow], activities=activities):
            log.info("minimal worker running", task_queue=settings.task_queue)
            await stop.wait()


def main() -> None:
    settings = get_settings()
    configure_logging(settings.log_format, settings.log_level)
    run_until_signalled(lambda stop: run_minimal_worker(settings, stop))


if __name__ == "__main__":
    main()
