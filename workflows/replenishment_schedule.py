"""The replenishment schedule and runs: created or updated from the settings when a worker starts, and started by
hand (`POST /v1/inventory/replenishments`, `tradelane inventory run`) when ops do not want to wait for it."""

from datetime import UTC, datetime, timedelta

import structlog
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleUpdate,
    ScheduleUpdateInput,
    WorkflowHandle,
)
from temporalio.service import RPCError, RPCStatusCode

from infra.platform.settings import Settings
from tradelane.inventory.models import ReplenishmentInput, ReplenishmentState
from workflows.replenishment import ReplenishmentWorkflow

log = structlog.stdlib.get_logger(__name__)

SCHEDULE_ID = "tradelane-replenishment"
RUN_PREFIX = "replenishment"
"""Workflow ids of runs: the schedule appends its firing time, a manual run the time it was asked for."""


def run_input(settings: Settings) -> ReplenishmentInput:
    """What every run gets: the approval window, and the shipment settings the API would give its shipments."""
    return ReplenishmentInput(approval_timeout=timedelta(hours=settings.replenishment_approval_h),
                              timings=settings.timings(), approvals=settings.approval_policy(),
                              events_url=settings.events_url)


def schedule_for(settings: Settings) -> Schedule | None:
    if settings.replenishment_every_s is not None:
        spec = ScheduleSpec(intervals=[ScheduleIntervalSpec(every=timedelta(seconds=settings.replenishment_every_s))])
    elif settings.replenishment_cron:
        spec = ScheduleSpec(cron_expressions=[settings.replenishment_cron])
    else:
        return None
    action = ScheduleActionStartWorkflow(ReplenishmentWorkflow.run, run_input(settings), id=RUN_PREFIX,
                                         task_queue=settings.task_queue)
    # A run still waiting for approval when the next fires: skip the new one, the waiting run has the newer need.
    return Schedule(action=action, spec=spec, policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP))


async def ensure_schedule(client: Client, settings: Settings) -> bool:
    """Create the schedule, or bring an existing one in line with the settings; delete it when turned off.
    Returns whether a schedule is in place."""
    schedule = schedule_for(settings)
    handle = client.get_schedule_handle(SCHEDULE_ID)
    if schedule is None:
        try:
            await handle.delete()
            log.info("replenishment schedule deleted", schedule_id=SCHEDULE_ID)
        except RPCError as err:
            if err.status is not RPCStatusCode.NOT_FOUND:
                raise  # no schedule to delete is the expected case; anything else is a real failure
        return False
    try:
        await client.create_schedule(SCHEDULE_ID, schedule)
        log.info("replenishment schedule created", schedule_id=SCHEDULE_ID, cron=settings.replenishment_cron,
                 every_s=settings.replenishment_every_s)
    except ScheduleAlreadyRunningError:
        def replace(_: ScheduleUpdateInput) -> ScheduleUpdate:
            return ScheduleUpdate(schedule=schedule)

        await handle.update(replace)
        log.info("replenishment schedule updated", schedule_id=SCHEDULE_ID)
    return True


async def start_run(client: Client, settings: Settings) -> WorkflowHandle[ReplenishmentWorkflow, ReplenishmentState]:
    """A run now, besides the schedule's."""
    run_id = f"{RUN_PREFIX}-manual-{datetime.now(UTC):%Y%m%dT%H%M%S%f}"
    return await client.start_workflow(ReplenishmentWorkflow.run, run_input(settings), id=run_id,
                                       task_queue=settings.task_queue)
