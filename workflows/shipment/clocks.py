"""The clocks of a moving shipment: silence (stalled), the promised date (late) and the stage limit, on durable
timers. In a lean history one timer keeps all three; before the lean-history patch stall and promise had a timer
each (and the stage limit was a timeout of the wait itself)."""

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from tradelane.enums import ExceptionKind, TrackingStatus
    from tradelane.shipment.state import ShipmentState


class Clocks:
    """Started at the first handover; `raise_exception(kind, detail)` is called when a clock runs out."""

    def __init__(self, state: ShipmentState, *, stall_after: timedelta, lean: bool,
                 raise_exception: Callable[..., None]) -> None:
        self._state, self._stall_after, self._lean = state, stall_after, lean
        self._raise = raise_exception
        self.moving_since: datetime | None = None
        """Set at the first handover: from then on, silence is measured."""
        self.stage_due: datetime | None = None
        """When the stage being waited for is overdue (lean histories)."""
        self.stage_overdue = False
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        if self.moving_since is not None:
            return
        self.moving_since = workflow.now()
        if self._lean:
            self._tasks.append(asyncio.create_task(self._watch()))
        else:
            self._tasks += [asyncio.create_task(self._watch_stall()), asyncio.create_task(self._watch_promise())]

    def keep_stage_limit(self) -> bool:
        """Whether the one timer runs, so a wait for a partner's event can leave its stage limit to it."""
        return self._lean and any(not task.done() for task in self._tasks)

    def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        self._tasks.clear()

    def _quiet_since(self) -> datetime:
        return max(filter(None, [self._state.last_event_at, self.moving_since]))

    def _delivered(self) -> bool:
        return any(e.status is TrackingStatus.DELIVERED for e in self._state.events)

    async def _watch(self) -> None:
        """Stall, promised date and stage limit on one durable timer at a time: sleep until the earliest deadline,
        then act on those that passed. A deadline that moves later (the stall clock, which every event restarts)
        costs nothing until the sleep ends; one that comes earlier than its end (a new stage limit, the stall clock
        after a stall) wakes it. Raises what `_watch_stall` and `_watch_promise` raise, when they would."""
        limit = self._stall_after
        promised = self._state.promised_date
        promise_end = None if promised is None else datetime.combine(promised + timedelta(days=1), time(), UTC)
        stalled_at: int | None = None  # events received when `stalled` was raised: the clock waits for the next

        def earliest() -> datetime | None:
            stall_due = None if stalled_at == self._state.events_received else self._quiet_since() + limit
            return min(filter(None, [stall_due, promise_end, self.stage_due]), default=None)

        while True:
            now = workflow.now()
            if stalled_at is not None and stalled_at != self._state.events_received:
                stalled_at = None
            if stalled_at is None and self._quiet_since() + limit <= now:
                silent = now - self._quiet_since()
                self._raise(ExceptionKind.STALLED, f"no tracking event for {hours(silent)} (limit {hours(limit)})")
                stalled_at = self._state.events_received
            if promise_end is not None and promise_end <= now:
                promise_end = None
                if not self._delivered():
                    self._raise(ExceptionKind.LATE, f"not delivered by the promised {promised}")
            if self.stage_due is not None and self.stage_due <= now:
                self.stage_due, self.stage_overdue = None, True
            target = earliest()

            def sooner(target: datetime | None = target) -> bool:
                due = earliest()
                return due is not None and (target is None or due < target)

            try:
                await workflow.wait_condition(sooner, timeout=None if target is None else target - now)
            except TimeoutError:
                pass  # the earliest deadline passed

    async def _watch_stall(self) -> None:
        """One timer per quiet period (re-armed from the last event), not one per event: bounded history."""
        limit = self._stall_after
        while True:
            quiet_since = self._quiet_since()
            left = quiet_since + limit - workflow.now()
            if left > timedelta(0):
                await workflow.sleep(left)
                continue
            silent = workflow.now() - quiet_since
            self._raise(ExceptionKind.STALLED, f"no tracking event for {hours(silent)} (limit {hours(limit)})")
            seen = self._state.events_received
            await workflow.wait_condition(lambda seen=seen: self._state.events_received != seen)

    async def _watch_promise(self) -> None:
        """Late even without events: still not delivered when the promised day is over (UTC)."""
        promised = self._state.promised_date
        if promised is None:
            return
        end = datetime.combine(promised + timedelta(days=1), time(), UTC)
        if end > workflow.now():
            await workflow.sleep(end - workflow.now())
        if not self._delivered():
            self._raise(ExceptionKind.LATE, f"not delivered by the promised {promised}")


def hours(span: timedelta) -> str:
    """A span as ops read it: whole hours, or seconds under an hour (tests run days in seconds)."""
    value = span.total_seconds() / 3600
    return f"{value:.0f} h" if value >= 1 else f"{span.total_seconds():.0f} s"

