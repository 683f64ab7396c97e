"""The replenishment schedule and runs: created or updated from the settings when a worker starts, and started by
hand (`POST /v1/inventory/replenishments`, `tradelane inventory run`) when ops do not want to wait for it."""

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
from tradelane.inventory.models import ReplenishmentInput, ReplenishmentState
from workflows.replenishment import ReplenishmentWorkflow
from workflows.schedules import ensure, spec_of

SCHEDULE_ID = "tradelane-replenishment"
RUN_PREFIX = "replenishment"
"""Workflow ids of runs: the schedule appends its firing time, a manual run the time it was asked for."""


def run_input(settings: Settings) -> ReplenishmentInput:
    """What every run gets: the approval window, and the shipment settings the API would give its shipments."""
    return ReplenishmentInput(approval_timeout=timedelta(hours=settings.replenishment_approval_h),
                              timings=settings.timings(), approvals=settings.approval_policy(),
                              events_url=settings.events_url)


def schedule_for(settings: Settings) -> Schedule | None:
    spec = spec_of(settings.replenishment_every_s, settings.replenishment_cron)
    if spec is None:
        return None
    action = ScheduleActionStartWorkflow(ReplenishmentWorkflow.run, run_input(settings), id=RUN_PREFIX,
                                         task_queue=settings.task_queue)
    # A run still waiting for approval when the next fires: skip the new one, the waiting run has the newer need.
    return Schedule(action=action, spec=spec, policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP))


async def ensure_schedule(client: Client, settings: Settings) -> bool:
    """Create the schedule, or bring an existing one in line with the settings; delete it when turned off.
    Returns whether a schedule is in place."""
    return await ensure(client, SCHEDULE_ID, schedule_for(settings))


async def start_run(client: Client, settings: Settings) -> WorkflowHandle[ReplenishmentWorkflow, ReplenishmentState]:
    """A run now, besides the schedule's."""
    run_id = f"{RUN_PREFIX}-manual-{datetime.now(UTC):%Y%m%dT%H%M%S%f}"
    return await client.start_workflow(ReplenishmentWorkflow.run, run_input(settings), id=run_id,
                                       task_queue=settings.task_queue)
