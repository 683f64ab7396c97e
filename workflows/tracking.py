"""The visibility half of ShipmentWorkflow: tracking events, ETA, exceptions from durable timers, and notices.

A mixin so that `workflows/shipment.py` keeps reading as the journey (book, check, file, move, deliver) while this
module owns what happens around it. Everything here is workflow code: deterministic, `workflow.now()` for time,
no I/O; ETA revisions are pure functions of the state (`tradelane/eta.py`).
"""

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.notifications import DeliverRequest, DeliveryReport, NotificationActivities
    from tradelane.enums import ExceptionKind, NoticeKind, Stage, Status, TrackingStatus
    from tradelane.eta import plan_eta, revise_eta
    from tradelane.shipment.events import CarrierEvent
    from tradelane.shipment.run import ShipmentInput
    from tradelane.shipment.state import Notice, ShipmentException, ShipmentState
    from tradelane.tracking_codes import Arrival, merge_event
    from workflows import visibility as sa

# Which notice each tracking status sends to the customer (at most once each, except per delivery attempt).
NOTICE_OF_STATUS: dict[TrackingStatus, NoticeKind] = {
    TrackingStatus.CUSTOMS_CLEARED: NoticeKind.CUSTOMS_CLEARED,
    TrackingStatus.OUT_FOR_DELIVERY: NoticeKind.OUT_FOR_DELIVERY,
    TrackingStatus.DELIVERED: NoticeKind.DELIVERED,
}

# Exceptions the recipient hears about (the rest are for ops: a carrier's internal exception may not delay them).
CUSTOMER_EXCEPTIONS = {ExceptionKind.LATE, ExceptionKind.STALLED, ExceptionKind.CUSTOMS_HOLD,
                       ExceptionKind.DELIVERY_FAILED}

NOTIFIER_RETRY = RetryPolicy(initial_interval=timedelta(seconds=2), backoff_coefficient=2.0,
                             maximum_interval=timedelta(minutes=5), maximum_attempts=0)
"""Delivery is retried without limit here: the outbox itself gives a message up after its own attempt limit."""


class TrackingMixin:
    """Tracking, ETA, exceptions and notices of one shipment. Mixed into ShipmentWorkflow."""

    _input: ShipmentInput
    _state: ShipmentState
    _lean: bool
    """A history recorded since the lean-history patch: one timer watches every clock (`_watch`)."""
    # Provided by ShipmentWorkflow: record a transition (status, search attributes, projection), set search
    # attributes, and ask the read model to catch up.
    _transition: Callable[[Stage, Status, str], None]
    _show: Callable[..., None]
    _project: Callable[[], None]

    def _init_tracking(self) -> None:
        self._event_ids = {e.event_id for e in self._state.events}
        self._moving_since: datetime | None = None
        """Set at the first handover: from then on, silence is measured (stall timer)."""
        self._watchers: list[asyncio.Task[None]] = []
        self._stage_due: datetime | None = None
        """When the stage being waited for is overdue; `_watch` keeps that clock too (lean histories)."""
        self._stage_overdue = False
        self._customs_held_since: datetime | None = None
        self._customs_watch: asyncio.Task[None] | None = None
        self._closing = False
        # Notices are delivered by the outbox once the snapshot carrying them is committed.
        self._deliver_requested = False
        self._notifier: asyncio.Task[None] | None = None

    # ---- events ------------------------------------------------------------------------------------------

    def _on_carrier_event(self, event: CarrierEvent) -> None:
        state = self._state
        event = event.model_copy(update={"received_seq": state.events_received + state.duplicate_events + 1})
        arrival = merge_event(state.events, self._event_ids, event)
        if arrival is Arrival.DUPLICATE:
            state.duplicate_events += 1
            return
        state.events_received += 1
        state.late_events += arrival is Arrival.LATE
        if event.status is TrackingStatus.UNKNOWN:
            # Kept in the timeline; a row in tradelane/data/tracking_codes.yaml gives it a meaning.
            workflow.logger.warning("unmapped tracking code", extra={"partner": event.partner, "code": event.code})
        state.last_event_at = workflow.now()
        if state.status.terminal:
            self._project()  # kept in the timeline; nothing else moves a closed shipment
            return
        self._resolve(ExceptionKind.STALLED, f"event {event.code} received")
        self._react(event)
        self._revise_eta(event)
        self._project()

    def _react(self, event: CarrierEvent) -> None:
        """What one event means for notices and exceptions."""
        state, status = self._state, event.status
        plan = state.plan
        first_leg = plan is not None and plan.legs and event.partner == plan.legs[0].partner
        if status is TrackingStatus.PICKED_UP and first_leg:
            self._notify_once(NoticeKind.SHIPPED, location=event.location)
        elif status is TrackingStatus.ARRIVED_AT_DESTINATION and plan is not None \
                and event.partner == plan.legs[-1].partner and self._customs_held_since is None:
            # Pre-filed and not held: arriving at the destination hub means cleared for import.
            self._notify_once(NoticeKind.CUSTOMS_CLEARED, location=event.location)
        elif status is TrackingStatus.CUSTOMS_HOLD:
            self._customs_hold_started(f"{event.partner} reports {event.code}: {event.description}")
        elif status is TrackingStatus.CUSTOMS_CLEARED:
            self._customs_hold_ended(f"{event.partner} reports {event.code}")
            self._notify_once(NoticeKind.CUSTOMS_CLEARED, location=event.location)
        elif status is TrackingStatus.OUT_FOR_DELIVERY:
            self._notify(NoticeKind.OUT_FOR_DELIVERY, location=event.location, attempt=state.delivery_attempts + 1)
        elif status is TrackingStatus.DELIVERY_FAILED:
            state.delivery_attempts += 1
            self._raise(ExceptionKind.DELIVERY_FAILED,
                        f"delivery attempt {state.delivery_attempts} failed: {event.description or event.code}",
                        attempt=state.delivery_attempts, location=event.location, again=True)
        elif status is TrackingStatus.EXCEPTION:
            self._raise(ExceptionKind.CARRIER_EXCEPTION, f"{event.partner} reports {event.code}: {event.description}",
                        location=event.location)
        elif status is TrackingStatus.DELIVERED:
            for kind in (ExceptionKind.DELIVERY_FAILED, ExceptionKind.CARRIER_EXCEPTION, ExceptionKind.LATE):
                self._resolve(kind, "delivered")
            self._notify_once(NoticeKind.DELIVERED, location=event.location)

    def _has_event(self, partner: str, status: TrackingStatus) -> bool:
        return any(e.partner == partner and e.status is status for e in self._state.events)

    # ---- ETA ---------------------------------------------------------------------------------------------

    def _first_eta(self) -> None:
        """The ETA from the plan at booking; what the customer is promised unless the merchant said a date."""
        state = self._state
        if state.eta_basis is None:
            return
        state.eta = plan_eta(state.eta_basis, self._ship_start())
        state.promised_date = self._input.request.deliver_by or state.eta.latest
        self._eta_attribute()

    def _ship_start(self) -> datetime:
        """When the goods start moving: the ship date, not before now."""
        return max(workflow.now(), datetime.combine(self._input.request.ship_date, time(), UTC))

    def _revise_eta(self, event: CarrierEvent) -> None:
        state = self._state
        if state.eta_basis is None:
            return
        before = state.eta
        state.eta = revise_eta(state.eta_basis, state.events, workflow.now())
        state.eta_revisions += 1
        if before is None or before.expected != state.eta.expected:
            self._eta_attribute()
        promised = state.promised_date
        if promised is None or state.eta.delivered:
            return
        if state.eta.expected > promised:
            self._raise(ExceptionKind.LATE, f"ETA {state.eta.expected} is past the promised {promised} "
                                            f"(after {event.code} at {event.location or event.partner})")
        else:
            self._resolve(ExceptionKind.LATE, f"ETA {state.eta.expected} is back within the promised {promised}")

    def _eta_attribute(self) -> None:
        eta = self._state.eta
        if eta is not None:
            self._show(sa.ETA.value_set(datetime.combine(eta.expected, time(), UTC)))

    # ---- exceptions ----------------------------------------------------------------------------------------

    def _raise(self, kind: ExceptionKind, detail: str, *, again: bool = False, **notice: Any) -> None:
        """Record an exception (one open per kind unless `again`), alert ops, tell the customer if it concerns
        them, and show it in status and search attributes."""
        state = self._state
        if not again and any(e.kind is kind for e in state.open_exceptions):
            return
        customer = kind in CUSTOMER_EXCEPTIONS
        state.exceptions.append(ShipmentException(seq=len(state.exceptions), kind=kind, detail=detail,
                                                  raised_at=workflow.now(), customer_notified=customer))
        workflow.logger.error("shipment exception", extra={"exception": kind.value, "detail": detail})
        notice_kind = NoticeKind.DELAYED if kind in (ExceptionKind.LATE, ExceptionKind.STALLED) else NoticeKind.EXCEPTION
        self._notify(notice_kind, customer=customer, ops=True, exception=kind, **notice)
        self._exception_changed(f"exception {kind}: {detail}")

    def _resolve(self, kind: ExceptionKind, resolution: str) -> None:
        changed = False
        for exc in self._state.open_exceptions:
            if exc.kind is kind:
                exc.resolved_at, exc.resolution, changed = workflow.now(), resolution, True
        if changed:
            self._exception_changed(f"resolved {kind}: {resolution}")

    def _exception_changed(self, note: str) -> None:
        state = self._state
        open_kinds = sorted({e.kind.value for e in state.open_exceptions})
        self._show(sa.EXCEPTIONS.value_set(open_kinds))
        if not state.status.terminal and state.status is not Status.ON_HOLD:
            # `_transition` turns in_progress into delayed while an exception is open, and back when none is.
            self._transition(state.stage, Status.IN_PROGRESS, note)

    def _running_status(self, status: Status) -> Status:
        """`in_progress` reads `delayed` while an exception is open."""
        if status in (Status.IN_PROGRESS, Status.DELAYED):
            return Status.DELAYED if self._state.open_exceptions else Status.IN_PROGRESS
        return status

    # ---- durable timers ------------------------------------------------------------------------------------

    def _start_watching(self) -> None:
        """From the first handover: the stall and promised-date clocks (and, in a lean history, the stage limit),
        on one timer, or on a timer each in histories recorded before the lean-history patch."""
        if self._moving_since is not None:
            return
        self._moving_since = workflow.now()
        if self._lean:
            self._watchers.append(asyncio.create_task(self._watch()))
        else:
            self._watchers += [asyncio.create_task(self._watch_stall()), asyncio.create_task(self._watch_promise())]

    def _watching_stage(self) -> bool:
        """Whether `_watch` runs, so a wait for a partner's event can leave its stage limit to it."""
        return self._lean and any(not task.done() for task in self._watchers)

    async def _watch(self) -> None:
        """Stall, promised date and stage limit on one durable timer at a time: sleep until the earliest deadline,
        then act on those that passed. A deadline that moves later (the stall clock, which every event restarts)
        costs nothing until the sleep ends; one that comes earlier than its end (a new stage limit, the stall clock
        after a stall) wakes it. Raises what `_watch_stall` and `_watch_promise` raise, when they would."""
        limit = self._input.timings.stall_after
        promised = self._state.promised_date
        promise_end = None if promised is None else datetime.combine(promised + timedelta(days=1), time(), UTC)
        stalled_at: int | None = None  # events received when `stalled` was raised: the clock waits for the next

        def quiet_since() -> datetime:
            return max(filter(None, [self._state.last_event_at, self._moving_since]))

        def earliest() -> datetime | None:
            stall_due = None if stalled_at == self._state.events_received else quiet_since() + limit
            return min(filter(None, [stall_due, promise_end, self._stage_due]), default=None)

        while True:
            now = workflow.now()
            if stalled_at is not None and stalled_at != self._state.events_received:
                stalled_at = None
            if stalled_at is None and quiet_since() + limit <= now:
                silent = now - quiet_since()
                self._raise(ExceptionKind.STALLED, f"no tracking event for {_hours(silent)} (limit {_hours(limit)})")
                stalled_at = self._state.events_received
            if promise_end is not None and promise_end <= now:
                promise_end = None
                if not self._has_status(TrackingStatus.DELIVERED):
                    self._raise(ExceptionKind.LATE, f"not delivered by the promised {promised}")
            if self._stage_due is not None and self._stage_due <= now:
                self._stage_due, self._stage_overdue = None, True
            target = earliest()

            def sooner() -> bool:
                due = earliest()
                return due is not None and (target is None or due < target)

            try:
                await workflow.wait_condition(sooner, timeout=None if target is None else target - now)
            except asyncio.TimeoutError:
                pass  # the earliest deadline passed

    def _stop_watching(self) -> None:
        for task in [*self._watchers, *([self._customs_watch] if self._customs_watch else [])]:
            task.cancel()
        self._watchers.clear()

    async def _watch_stall(self) -> None:
        """One timer per quiet period (re-armed from the last event), not one per event: bounded history."""
        limit = self._input.timings.stall_after
        while True:
            quiet_since = max(filter(None, [self._state.last_event_at, self._moving_since]))
            left = quiet_since + limit - workflow.now()
            if left > timedelta(0):
                await workflow.sleep(left)
                continue
            silent = workflow.now() - quiet_since
            self._raise(ExceptionKind.STALLED, f"no tracking event for {_hours(silent)} (limit {_hours(limit)})")
            seen = self._state.events_received
            await workflow.wait_condition(lambda: self._state.events_received != seen)

    async def _watch_promise(self) -> None:
        """Late even without events: still not delivered when the promised day is over (UTC)."""
        promised = self._state.promised_date
        if promised is None:
            return
        end = datetime.combine(promised + timedelta(days=1), time(), UTC)
        if end > workflow.now():
            await workflow.sleep(end - workflow.now())
        if not self._has_status(TrackingStatus.DELIVERED):
            self._raise(ExceptionKind.LATE, f"not delivered by the promised {promised}")

    def _has_status(self, status: TrackingStatus) -> bool:
        return any(e.status is status for e in self._state.events)

    def _customs_hold_started(self, reason: str) -> None:
        if self._customs_held_since is not None:
            return
        self._customs_held_since = workflow.now()
        self._customs_watch = asyncio.create_task(self._watch_customs_hold(reason))

    def _customs_hold_ended(self, resolution: str) -> None:
        self._customs_held_since = None
        if self._customs_watch is not None:
            self._customs_watch.cancel()
            self._customs_watch = None
        self._resolve(ExceptionKind.CUSTOMS_HOLD, resolution)

    async def _watch_customs_hold(self, reason: str) -> None:
        limit = self._input.timings.customs_hold_alert_after
        since = self._customs_held_since
        assert since is not None
        left = since + limit - workflow.now()
        if left > timedelta(0):
            await workflow.sleep(left)
        if self._customs_held_since == since:
            self._raise(ExceptionKind.CUSTOMS_HOLD, f"held at customs for over {_hours(limit)}: {reason}")

    # ---- notices -------------------------------------------------------------------------------------------

    def _resume_notifier(self) -> None:
        """A continued run delivers what the previous one left: messages held for quiet hours, or notices whose
        snapshot was still being written."""
        if self._state.notices:
            self._deliver_requested = True
            self._notifier = asyncio.create_task(self._run_notifier())

    def _notify_once(self, kind: NoticeKind, **fields: Any) -> None:
        if not any(n.kind is kind for n in self._state.notices):
            self._notify(kind, **fields)

    def _notify(self, kind: NoticeKind, *, customer: bool = True, ops: bool = False, **fields: Any) -> None:
        state = self._state
        state.notices.append(Notice(seq=len(state.notices), kind=kind, at=workflow.now(), customer=customer,
                                    ops=ops, eta=state.eta, promised_date=state.promised_date, **fields))
        if self._notifier is None or self._notifier.done():
            self._notifier = asyncio.create_task(self._run_notifier())
        self._project()

    async def _run_notifier(self) -> None:
        """Deliver what the outbox holds for this shipment; sleep until quiet hours end when it says so."""
        next_due: datetime | None = None
        while True:
            timeout = None if next_due is None else max(next_due - workflow.now(), timedelta(seconds=1))
            try:
                await workflow.wait_condition(lambda: self._deliver_requested or (self._closing and next_due is None),
                                              timeout=timeout)
            except asyncio.TimeoutError:
                pass  # quiet hours are over: deliver what was held back
            if not self._deliver_requested and next_due is None:
                return  # closing, and nothing is waiting
            self._deliver_requested = False
            report: DeliveryReport = await workflow.execute_activity_method(
                NotificationActivities.deliver, DeliverRequest(shipment_id=self._state.shipment_id),
                start_to_close_timeout=timedelta(minutes=5), heartbeat_timeout=timedelta(minutes=1),
                retry_policy=NOTIFIER_RETRY)
            next_due = report.next_due



def _hours(span: timedelta) -> str:
    hours = span.total_seconds() / 3600
    return f"{hours:.0f} h" if hours >= 1 else f"{span.total_seconds():.0f} s"
