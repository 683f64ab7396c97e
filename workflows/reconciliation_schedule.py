"""The reconciliation schedule and runs: created or updated from the settings when a worker starts (and by `make up`),
and started by hand (`POST /v1/ops/reconciliation/runs`) when ops do not want to wait for it."""

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
from tradelane.reconciliation import ReconciliationReport, ScanRequest
from workflows.reconciliation import ReconciliationWorkflow

log = structlog.stdlib.get_logger(__name__)

SCHEDULE_ID = "tradelane-reconciliation"
RUN_PREFIX = "reconciliation"
"""Workflow ids of runs: the schedule appends its firing time, a manual run the time it was asked for."""


def scan_request(settings: Settings) -> ScanRequest:
    return ScanRequest(grace=timedelta(seconds=settings.reconciliation_grace_s))


def schedule_for(settings: Settings) -> Schedule | None:
    if settings.reconciliation_every_s is not None:
        spec = ScheduleSpec(intervals=[ScheduleIntervalSpec(every=timedelta(seconds=settings.reconciliation_every_s))])
    elif settings.reconciliation_cron:
        spec = ScheduleSpec(cron_expressions=[settings.reconciliation_cron])
    else:
        return None
    action = ScheduleActionStartWorkflow(ReconciliationWorkflow.run, scan_request(settings), id=RUN_PREFIX,
                                         task_queue=settings.task_queue)
    # A run still going when the next fires: skip the new one, it would only find the same.
    return Schedule(action=action, spec=spec, policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP))


async def ensure_schedule(client: Client, settings: Settings) -> bool:
    """Create the schedule, or bring an existing one in line with the settings; delete it when turned off.
    Returns whether a schedule is in place."""
    schedule = schedule_for(settings)
    handle = client.get_schedule_handle(SCHEDULE_ID)
    if schedule is None:
        try:
            await handle.delete()
            log.info("reconciliation schedule deleted", schedule_id=SCHEDULE_ID)
        except RPCError as err:
            if err.status is not RPCStatusCode.NOT_FOUND:
                raise  # no schedule to delete is the expected case; anything else is a real failure
        return False
    try:
        await client.create_schedule(SCHEDULE_ID, schedule)
        log.info("reconciliation schedule created", schedule_id=SCHEDULE_ID, cron=settings.reconciliation_cron,
                 every_s=settings.reconciliation_every_s)
    except ScheduleAlreadyRunningError:
        def replace(_: ScheduleUpdateInput) -> ScheduleUpdate:
            return ScheduleUpdate(schedule=schedule)

        await handle.update(replace)
        log.info("reconciliation schedule updated", schedule_id=SCHEDULE_ID)
    return True


async def start_run(client: Client, settings: Settings) -> WorkflowHandle[ReconciliationWorkflow, ReconciliationReport]:
    """A run now, besides the schedule's."""
    run_id = f"{RUN_PREFIX}-manual-{datetime.now(UTC):%Y%m%dT%H%M%S%f}"
    return await client.start_workflow(ReconciliationWorkflow.run, scan_request(settings), id=run_id,
                                       task_queue=settings.task_queue)
