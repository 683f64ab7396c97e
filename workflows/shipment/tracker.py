"""The tracker: what happens around the journey while the goods move. Tracking events (webhook or poll), the ETA,
exceptions from events and from durable timers (stalled, late, customs hold), and the notices they imply.

Everything here is workflow code: deterministic, `workflow.now()` for time, no I/O; ETA revisions are pure
functions of the state (`tradelane/eta/`).
"""

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.polling import PollRequest, TrackingActivities
    from tradelane.enums import ExceptionKind, NoticeKind, Stage, Status, TrackingStatus
    from tradelane.eta import plan_eta, revise_eta
    from tradelane.partners import PARTNERS
    from tradelane.shipment.calls import PartnerRecord
    from tradelane.shipment.events import CarrierEvent
    from tradelane.shipment.run import ShipmentInput
    from tradelane.shipment.state import ShipmentException, ShipmentState
    from tradelane.tracking_codes import Arrival, EventDelivery, event_delivery, event_key, merge_event
    from workflows import visibility as sa
    from workflows.shipment.board import SearchAttributeBoard
    from workflows.shipment.clocks import Clocks, hours
    from workflows.shipment.notifier import Notifier
    from workflows.shipment.patches import POLL_PUSHING_PARTNERS
    from workflows.shipment.projector import Projector
    from workflows.shipment.timeline import Timeline

# Exceptions the recipient hears about (the rest are for ops: a carrier's internal exception may not delay them).
CUSTOMER_EXCEPTIONS = {ExceptionKind.LATE, ExceptionKind.STALLED, ExceptionKind.CUSTOMS_HOLD,
                       ExceptionKind.DELIVERY_FAILED}


class Tracker:
    """Events, ETA, exceptions and their clocks for one shipment."""

    def __init__(self, inp: ShipmentInput, state: ShipmentState, *, lean: bool, timeline: Timeline,
                 board: SearchAttributeBoard, projector: Projector, notifier: Notifier) -> None:
        self._input, self._state = inp, state
        self._timeline, self._board, self._projector, self._notifier = timeline, board, projector, notifier
        self._event_ids = {event_key(e) for e in state.events}
        self.clocks = Clocks(state, stall_after=inp.timings.stall_after, lean=lean,
                             raise_exception=self.raise_exception)
        self.customs_held_since: datetime | None = None if inp.resume is None else inp.resume.customs_held_since
        self._customs_watch: asyncio.Task[None] | None = None
        self._poller: asyncio.Task[Any] | None = None

    # ---- events ------------------------------------------------------------------------------------------

    def knows(self, event: CarrierEvent) -> bool:
        """Whether this (partner, event id) has already reached the shipment."""
        return event_key(event) in self._event_ids

    def on_event(self, event: CarrierEvent) -> None:
        """A tracking event; duplicates are dropped by id and late events put in time order."""
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
            self._projector.request()  # kept in the timeline; nothing else moves a closed shipment
            return
        self.resolve(ExceptionKind.STALLED, f"event {event.code} received")
        self._react(event)
        self._revise_eta(event)
        self._projector.request()

    def _react(self, event: CarrierEvent) -> None:
        """What one event means for notices and exceptions."""
        state, status, notify = self._state, event.status, self._notifier
        plan = state.plan
        first_leg = plan is not None and plan.legs and event.partner == plan.legs[0].partner
        if status is TrackingStatus.PICKED_UP and first_leg:
            notify.notify_once(NoticeKind.SHIPPED, location=event.location)
        elif status is TrackingStatus.ARRIVED_AT_DESTINATION and plan is not None \
                and event.partner == plan.legs[-1].partner and self.customs_held_since is None:
            # Pre-filed and not held: arriving at the destination hub means cleared for import.
            notify.notify_once(NoticeKind.CUSTOMS_CLEARED, location=event.location)
        elif status is TrackingStatus.CUSTOMS_HOLD:
            self.customs_hold_started(f"{event.partner} reports {event.code}: {event.description}")
        elif status is TrackingStatus.CUSTOMS_CLEARED:
            self.customs_hold_ended(f"{event.partner} reports {event.code}")
            notify.notify_once(NoticeKind.CUSTOMS_CLEARED, location=event.location)
        elif status is TrackingStatus.OUT_FOR_DELIVERY:
            notify.notify(NoticeKind.OUT_FOR_DELIVERY, location=event.location, attempt=state.delivery_attempts + 1)
        elif status is TrackingStatus.DELIVERY_FAILED:
            state.delivery_attempts += 1
            self.raise_exception(ExceptionKind.DELIVERY_FAILED,
                                 f"delivery attempt {state.delivery_attempts} failed: "
                                 f"{event.description or event.code}",
                                 attempt=state.delivery_attempts, location=event.location, again=True)
        elif status is TrackingStatus.EXCEPTION:
            self.raise_exception(ExceptionKind.CARRIER_EXCEPTION,
                                 f"{event.partner} reports {event.code}: {event.description}", location=event.location)
        elif status is TrackingStatus.DELIVERED:
            for kind in (ExceptionKind.DELIVERY_FAILED, ExceptionKind.CARRIER_EXCEPTION, ExceptionKind.LATE):
                self.resolve(kind, "delivered")
            notify.notify_once(NoticeKind.DELIVERED, location=event.location)

    def has_event(self, partner: str, status: TrackingStatus) -> bool:
        return any(e.partner == partner and e.status is status for e in self._state.events)

    async def wait_for(self, partner: str, status: TrackingStatus, timeout: timedelta,
                       or_until: Callable[[], bool]) -> None:
        """Wait for a partner's event, or until `or_until()` holds; with the stage limit kept by the watcher's timer
        (lean histories) or one of its own.

        Raises:
            asyncio.TimeoutError: The stage is overdue and the event has not come.
        """
        clocks = self.clocks
        if not clocks.keep_stage_limit():
            await workflow.wait_condition(lambda: self.has_event(partner, status) or or_until(), timeout=timeout)
            return
        clocks.stage_due, clocks.stage_overdue = workflow.now() + timeout, False
        try:
            await workflow.wait_condition(lambda: self.has_event(partner, status) or or_until()
                                          or clocks.stage_overdue)
        finally:
            clocks.stage_due = None
        if clocks.stage_overdue and not self.has_event(partner, status):
            raise TimeoutError()

    # ---- ETA ---------------------------------------------------------------------------------------------

    def first_eta(self) -> None:
        """The ETA from the plan at booking; what the customer is promised unless the merchant said a date."""
        state = self._state
        if state.eta_basis is None:
            return
        state.eta = plan_eta(state.eta_basis, self.ship_start())
        state.promised_date = self._input.request.deliver_by or state.eta.latest
        self._eta_attribute()

    def ship_start(self) -> datetime:
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
            self.raise_exception(ExceptionKind.LATE, f"ETA {state.eta.expected} is past the promised {promised} "
                                                     f"(after {event.code} at {event.location or event.partner})")
        else:
            self.resolve(ExceptionKind.LATE, f"ETA {state.eta.expected} is back within the promised {promised}")

    def _eta_attribute(self) -> None:
        eta = self._state.eta
        if eta is not None:
            self._board.show(sa.ETA.value_set(datetime.combine(eta.expected, time(), UTC)))

    # ---- exceptions ----------------------------------------------------------------------------------------

    def raise_exception(self, kind: ExceptionKind, detail: str, *, again: bool = False, **notice: Any) -> None:
        """Record an exception (one open per kind unless `again`), alert ops, tell the customer if it concerns
        them, and show it in status and search attributes."""
        state = self._state
        if not again and any(e.kind is kind for e in state.open_exceptions):
            return
        customer = kind in CUSTOMER_EXCEPTIONS
        state.exceptions.append(ShipmentException(seq=len(state.exceptions), kind=kind, detail=detail,
                                                  raised_at=workflow.now(), customer_notified=customer))
        workflow.logger.error("shipment exception", extra={"exception": kind.value, "detail": detail})
        delay = kind in (ExceptionKind.LATE, ExceptionKind.STALLED)
        notice_kind = NoticeKind.DELAYED if delay else NoticeKind.EXCEPTION
        self._notifier.notify(notice_kind, customer=customer, ops=True, exception=kind, **notice)
        self._exception_changed(f"exception {kind}: {detail}")

    def resolve(self, kind: ExceptionKind, resolution: str) -> None:
        changed = False
        for exc in self._state.open_exceptions:
            if exc.kind is kind:
                exc.resolved_at, exc.resolution, changed = workflow.now(), resolution, True
        if changed:
            self._exception_changed(f"resolved {kind}: {resolution}")

    def resolve_all(self, resolution: str) -> None:
        """Delivered: every open exception ends with it (no transition: the delivery's own follows)."""
        for exc in self._state.open_exceptions:
            exc.resolved_at, exc.resolution = workflow.now(), resolution

    def _exception_changed(self, note: str) -> None:
        state = self._state
        open_kinds = sorted({e.kind.value for e in state.open_exceptions})
        self._board.show(sa.EXCEPTIONS.value_set(open_kinds))
        if not state.status.terminal and state.status is not Status.ON_HOLD:
            # The timeline turns in_progress into delayed while an exception is open, and back when none is.
            self._timeline.transition(state.stage, Status.IN_PROGRESS, note)

    # ---- durable timers ------------------------------------------------------------------------------------

    def stop_watching(self) -> None:
        """Stop every clock: the journey is over (or continues in a new run)."""
        self.clocks.stop()
        if self._customs_watch:
            self._customs_watch.cancel()

    def customs_hold_started(self, reason: str) -> None:
        if self.customs_held_since is not None:
            return
        self.customs_held_since = workflow.now()
        self._customs_watch = asyncio.create_task(self._watch_customs_hold(reason))

    def customs_hold_ended(self, resolution: str) -> None:
        self.customs_held_since = None
        if self._customs_watch is not None:
            self._customs_watch.cancel()
            self._customs_watch = None
        self.resolve(ExceptionKind.CUSTOMS_HOLD, resolution)

    async def _watch_customs_hold(self, reason: str) -> None:
        limit = self._input.timings.customs_hold_alert_after
        since = self.customs_held_since
        assert since is not None
        left = since + limit - workflow.now()
        if left > timedelta(0):
            await workflow.sleep(left)
        if self.customs_held_since == since:
            self.raise_exception(ExceptionKind.CUSTOMS_HOLD, f"held at customs for over {hours(limit)}: {reason}")

    # ---- polling -------------------------------------------------------------------------------------------

    def start_polling(self, partner: str, record: PartnerRecord, until: TrackingStatus, stage: Stage) -> None:
        """Partners that are polled (no webhooks, or both) are polled by one long-running, heartbeating activity
        per leg (`record` its booking) or for the last mile (`record` its slot), until `until` shows up."""
        if partner not in PARTNERS:
            # Its connection was removed from the directory (SkyExpress, 2026-12, when the express carriers became
            # Karrio's): nothing is left to poll it with, and shipments booked with it waited for its webhook
            # events, so they keep issuing no poll (and replay as they ran).
            return
        delivery = event_delivery(partner)
        if delivery is EventDelivery.WEBHOOK:
            return
        if delivery is EventDelivery.BOTH and not workflow.patched(POLL_PUSHING_PARTNERS):
            return
        t = self._input.timings
        self._poller = asyncio.create_task(workflow.execute_activity_method(
            TrackingActivities.poll,
            PollRequest(shipment_id=self._state.shipment_id, workflow_id=workflow.info().workflow_id,
                        partner=partner, booking_ref=record.ref, tracking_number=record.tracking_number,
                        until=until, interval=t.poll_interval),
            start_to_close_timeout=t.stage_timeout[stage] * 2,
            heartbeat_timeout=max(t.poll_interval * 3, timedelta(seconds=30)),
            retry_policy=RetryPolicy(initial_interval=timedelta(seconds=5), maximum_interval=timedelta(minutes=5),
                                     maximum_attempts=0)))

    async def stop_polling(self) -> None:
        poller, self._poller = self._poller, None
        if poller is None or poller.done():
            return
        poller.cancel()
        try:
            await poller
        except (asyncio.CancelledError, ActivityError):
            pass  # the poll was cancelled on purpose: the awaited event arrived (or the shipment stopped)

