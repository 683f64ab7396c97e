"""The reconciliation schedule and runs: created or updated from the settings when a worker starts (and by `make up`),
and started by hand (`POST /v1/ops/reconciliation/runs`) when ops do not want to wait for it."""

from datetime import UTC, datetime, timedelta

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    WorkflowHandle,
)

from infra.platform.settings import Settings
from tradelane.reconciliation import ReconciliationReport, ScanRequest
from workflows.reconciliation import ReconciliationWorkflow
from workflows.schedules import ensure, spec_of

SCHEDULE_ID = "tradelane-reconciliation"
RUN_PREFIX = "reconciliation"
"""Workflow ids of runs: the schedule appends its firing time, a manual run the time it was asked for."""


def scan_request(settings: Settings) -> ScanRequest:
    return ScanRequest(grace=timedelta(seconds=settings.reconciliation_grace_s))


def schedule_for(settings: Settings) -> Schedule | None:
    spec = spec_of(settings.reconciliation_every_s, settings.reconciliation_cron)
    if spec is None:
        return None
    action = ScheduleActionStartWorkflow(ReconciliationWorkflow.run, scan_request(settings), id=RUN_PREFIX,
                                         task_queue=settings.task_queue)
    # A run still going when the next fires: skip the new one, it would only find the same.
    return Schedule(action=action, spec=spec, policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP))


async def ensure_schedule(client: Client, settings: Settings) -> bool:
    """Create the schedule, or bring an existing one in line with the settings; delete it when turned off.
    Returns whether a schedule is in place."""
    return await ensure(client, SCHEDULE_ID, schedule_for(settings))


async def start_run(client: Client, settings: Settings) -> WorkflowHandle[ReconciliationWorkflow, ReconciliationReport]:
    """A run now, besides the schedule's."""
    run_id = f"{RUN_PREFIX}-manual-{datetime.now(UTC):%Y%m%dT%H%M%S%f}"
    return await client.start_workflow(ReconciliationWorkflow.run, scan_request(settings), id=run_id,
                                       task_queue=settings.task_queue)
