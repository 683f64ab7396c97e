"""What Tradelane's schedules share: the spec from an `every N seconds` or a cron setting, and keeping a schedule in
line with the settings when a worker starts (create, update, or delete when turned off). The schedules themselves
(`replenishment_schedule.py`, `reconciliation_schedule.py`) say what they start and with which input."""

from datetime import timedelta

import structlog
from temporalio.client import (
    Client,
    Schedule,
    ScheduleAlreadyRunningError,
    ScheduleIntervalSpec,
    ScheduleSpec,
    ScheduleUpdate,
    ScheduleUpdateInput,
)
from temporalio.service import RPCError, RPCStatusCode

log = structlog.stdlib.get_logger(__name__)


def spec_of(every_s: float | None, cron: str | None) -> ScheduleSpec | None:
    """Every `every_s` seconds when set (tests and demos), else the cron; None when both are empty (turned off)."""
    if every_s is not None:
        return ScheduleSpec(intervals=[ScheduleIntervalSpec(every=timedelta(seconds=every_s))])
    if cron:
        return ScheduleSpec(cron_expressions=[cron])
    return None


async def ensure(client: Client, schedule_id: str, schedule: Schedule | None) -> bool:
    """Create the schedule, or bring an existing one in line with `schedule`; delete it when `schedule` is None.
    Returns whether a schedule is in place."""
    handle = client.get_schedule_handle(schedule_id)
    if schedule is None:
        try:
            await handle.delete()
            log.info("schedule deleted", schedule_id=schedule_id)
        except RPCError as err:
            if err.status is not RPCStatusCode.NOT_FOUND:
                raise  # no schedule to delete is the expected case; anything else is a real failure
        return False
    try:
        await client.create_schedule(schedule_id, schedule)
        log.info("schedule created", schedule_id=schedule_id, spec=str(schedule.spec))
    except ScheduleAlreadyRunningError:
        def replace(_: ScheduleUpdateInput) -> ScheduleUpdate:
            return ScheduleUpdate(schedule=schedule)

        await handle.update(replace)
        log.info("schedule updated", schedule_id=schedule_id)
    return True
