"""ShipmentWorkflow: one durable workflow per shipment, through booking, packaging check, customs filing, transit
and last-mile delivery.

Reads as setup (state, handlers) and then `run`: each stage calls partners through activities, pushes the undo of
every completed step, and on an unrecoverable failure, an ops rejection or a cancellation runs the undos in reverse.
Tracking, ETA, exceptions and notices live in `workflows/tracking.py` (a mixin). A long voyage continues as new
while it waits for events, carrying its state over (`Resume`), so its history stays bounded.

Since the lean-history patch the history is also small per step: search attributes are upserted once per
activation and only when they change (`_show`), the read model is written by a local activity (`_write_projection`)
and one timer keeps the stall, promise and stage-limit clocks (`_watch`).
"""

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeUpdate
from temporalio.exceptions import ActivityError, ApplicationError, FailureError, is_cancelled_exception

with workflow.unsafe.imports_passed_through():
    from activities.carriers import CarrierActivities
    from activities.customs import CustomsActivities
    from activities.decisions import DecisionActivities
    from activities.errors import PARTNER_REJECTED
    from activities.last_mile import LastMileActivities
    from activities.read_model import ReadModelActivities
    from activities.polling import PollRequest, TrackingActivities
    from tradelane.approvals import GateNotPending, pending_gate, value_approval_reason
    from tradelane.enums import Decision, GateKind, NoticeKind, Stage, Status, TrackingStatus
    from tradelane.keys import idempotency_key
    from tradelane.decisions.assess import blocking, holding
    from tradelane.decisions.models import Assessment, Leg, TransportPlan
    from tradelane.partners import CUSTOMS_BROKER
    from tradelane.stages import check_move
    from tradelane.shipment.calls import AssessRequest, AssessResult, PartnerCall, PartnerRecord, StockRecord
    from tradelane.shipment.events import CarrierEvent
    from tradelane.shipment.projection import ProjectionUpdate, Recipient
    from tradelane.shipment.run import Resume, ShipmentInput
    from tradelane.shipment.state import (
        ApprovalDecision,
        CancelRequest,
        CompensationRecord,
        Gate,
        IgnoredSignal,
        Replan,
        ShipmentState,
        Transition,
        UndoStep,
    )
    from tradelane.tracking_codes import EventDelivery, event_delivery
    from workflows import metrics
    from workflows import visibility as sa
    from workflows.stock import RELEASE, StockMixin
    from workflows.tracking import TrackingMixin


PATCH_FAILURE_CODE = "failure-code-search-attribute"
"""`workflow.patched` id of the TradelaneFailureCode upsert (2026-11); deprecate once no older shipment runs."""

PATCH_FINISH_STEP_ON_CANCEL = "finish-step-on-cancel"
"""`workflow.patched` id (2026-11): a cancellation waits for the partner step in flight instead of abandoning it."""

PATCH_LEAN_HISTORY = "lean-history"
"""`workflow.patched` id (2026-12) of a smaller history: search attributes are upserted only when their value
changes, at most once per activation; the read model is written by a local activity (one marker instead of three
activity events and a workflow task), and one snapshot carries everything an activation changed. Deprecate once no
shipment from before it runs."""

PROJECTION_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=30),
                               maximum_attempts=0)
"""Without limit: a database outage delays the tables, never the shipment, and they catch up when it returns."""

LOCAL_PROJECTION_RETRY = RetryPolicy(initial_interval=timedelta(milliseconds=250), backoff_coefficient=2.0,
                                     maximum_attempts=3)
"""A few quick tries inside the workflow task (a locked SQLite file, a dropped connection); a database that stays
away is left to `PROJECTION_RETRY` on a normal activity. A local activity retried without limit would either hold
the workflow task open for the whole outage (backoffs under its `local_retry_threshold`) or add a timer and a
workflow task to the history for every attempt (backoffs over it)."""

LOCAL_PROJECTION_RETRY_THRESHOLD = timedelta(seconds=5)
"""Above every backoff of `LOCAL_PROJECTION_RETRY`, so its few retries stay inside the workflow task: no timers."""

LOCAL_PROJECTION_TIMEOUT = timedelta(seconds=10)
"""Per attempt of the local projection; the workflow task is heartbeated meanwhile."""

UNDO_ATTEMPTS = 10
"""Attempts per undo; one that still fails is recorded as failed and the other undos run."""


class ContinueAsNew(Exception):
    """The history grew large while waiting: continue as new at this checkpoint."""


class ShipmentStopped(Exception):
    """The shipment cannot go on for a business reason; the undos run and the status becomes `status`."""

    def __init__(self, status: Status, code: str, reason: str) -> None:
        super().__init__(reason)
        self.status, self.code, self.reason = status, code, reason


@workflow.defn(name="Shipment")
class ShipmentWorkflow(TrackingMixin, StockMixin):
    @workflow.init
    def __init__(self, inp: ShipmentInput) -> None:
        req, resume = inp.request, inp.resume
        self._input = inp
        self._state = ShipmentState(
            shipment_id=req.shipment_id, workflow_id=workflow.info().workflow_id,
            origin_country=req.origin.country, destination_country=req.destination.country,
            merchant_id=req.merchant_id, declared_value=req.declared_value, currency=req.currency,
        ) if resume is None else resume.state
        self._undo: list[UndoStep] = [] if resume is None else resume.undo
        self._flow: asyncio.Task[None] | None = None
        # Where the journey is, for a continue-as-new checkpoint.
        self._bookings: list[PartnerRecord] = [] if resume is None else resume.bookings
        self._label: PartnerRecord | None = None if resume is None else resume.label
        self._leg = 0 if resume is None else resume.leg
        self._handed_over = False if resume is None else resume.handed_over
        self._poller: asyncio.Task[Any] | None = None
        # Read-model projection is coalesced: one activity in flight at a time, always with the newest snapshot.
        version = 0 if resume is None else resume.projected_version
        self._snapshots_wanted = self._snapshots_written = version
        self._events_projected = 0 if resume is None else resume.events_projected
        self._notices_projected = 0 if resume is None else resume.notices_projected
        self._projector: asyncio.Task[None] | None = None
        # Checked first, so that histories recorded before it never take the new branches, wherever they are.
        self._lean = workflow.patched(PATCH_LEAN_HISTORY)
        # Search attributes as the server shows them (a continued run inherits them), and those set since the
        # last upsert; written once per activation, only what changed.
        self._shown: dict[str, Any] = {pair.key.name: pair.value for pair in workflow.info().typed_search_attributes}
        self._attributes_due: dict[str, SearchAttributeUpdate[Any]] = {}
        self._attribute_writer: asyncio.Task[None] | None = None
        self._attributes_asked = 0
        self._init_tracking()
        if resume is not None:
            self._customs_held_since = resume.customs_held_since

    # ---- run -----------------------------------------------------------------------------------------------

    @workflow.run
    async def run(self, inp: ShipmentInput) -> ShipmentState:
        if inp.resume is None:
            metrics.shipment_started()
            self._transition(Stage.BOOKING, Status.IN_PROGRESS, "shipment received")
        else:
            self._state.runs += 1
            workflow.logger.info("continued as new", extra={"run": self._state.runs, "leg": self._leg})
        try:
            self._flow = asyncio.create_task(self._advance())
            await self._flow
            await self._stock_received()
            self._undo.clear()  # delivered: nothing is left to take back
            for exc in self._state.open_exceptions:
                exc.resolved_at, exc.resolution = workflow.now(), "delivered"
            self._transition(Stage.LAST_MILE, Status.DELIVERED, "delivered to the recipient")
        except ContinueAsNew:
            await self._continue_as_new()
        except asyncio.CancelledError:
            # Ops cancel through the `cancel` update, or a Temporal cancellation from the Web UI or CLI.
            await self._cancelled()
        except ActivityError as err:
            if is_cancelled_exception(err):
                # A cancellation that reached us through the activity it interrupted.
                await self._cancelled()
            else:
                code, reason = _failure_of(err)
                await self._compensate(Status.COMPENSATED, code, reason)
        except ShipmentStopped as stop:
            await self._compensate(stop.status, stop.code, stop.reason)
        await self._wind_down()
        self._closing = True
        if self._notifier is not None:
            await self._notifier  # the last notices (delivered, say) go out before the workflow closes
        await workflow.wait_condition(workflow.all_handlers_finished)
        self._upsert_attributes()  # now, not after the workflow's completion command
        return self._state

    async def _wind_down(self) -> None:
        """Stop timers and polling, and let the read model catch up."""
        self._stop_watching()
        await self._stop_poller()
        await workflow.wait_condition(lambda: self._snapshots_written >= self._snapshots_wanted)

    def _should_continue_as_new(self) -> bool:
        info = workflow.info()
        limit = self._input.timings.history_limit
        return info.is_continue_as_new_suggested() or (limit is not None and info.get_current_history_length() >= limit)

    async def _continue_as_new(self) -> None:
        """Drain (timers, polling, projections, handlers) and start the next run with the state carried over.

        Notices still held back for quiet hours stay in the outbox; the next run's notifier picks them up.
        """
        await self._wind_down()
        await workflow.wait_condition(workflow.all_handlers_finished)
        assert self._label is not None, "continue as new only while moving"
        resume = Resume(state=self._state, undo=self._undo, bookings=self._bookings, label=self._label,
                        leg=self._leg, handed_over=self._handed_over, projected_version=self._snapshots_written,
                        events_projected=self._events_projected, notices_projected=self._notices_projected,
                        customs_held_since=self._customs_held_since)
        self._upsert_attributes()
        workflow.continue_as_new(self._input.model_copy(update={"resume": resume}))

    async def _advance(self) -> None:
        if self._input.resume is None:
            await self._prepare()
        else:
            self._resume_notifier()
            self._project()  # events and notices that arrived while the last run was closing
        if self._moving_since is None and (self._leg > 0 or self._handed_over):
            self._start_watching()  # a continued run keeps measuring silence and the promise
        await self._move()

    async def _prepare(self) -> None:
        """Booking, packaging check and customs filing: everything before the goods move."""
        req = self._input.request
        if self._state.cancel_request is not None:
            raise asyncio.CancelledError()  # cancelled before the first step ran
        stock = await self._reserve_stock()
        if stock is not None and stock.state == "refused":
            raise ShipmentStopped(Status.REJECTED, "INSUFFICIENT_STOCK", stock.note)
        # Booking: approval of high values, then the decisions and the compliance gate; nothing is booked before.
        reason = value_approval_reason(req, self._input.approvals)
        if reason is not None:
            await self._gate(GateKind.HIGH_VALUE, reason)
        assessment = await self._assess()
        await self._compliance_gate(assessment)
        if assessment.last_mile.chosen is None:
            raise ShipmentStopped(Status.REJECTED, "NO_LAST_MILE_PARTNER", "; ".join(assessment.last_mile.reasons))
        plan, self._bookings, self._label = await self._book_plan()
        await self._stock_shipped()
        self._state.tracking_number = self._label.tracking_number
        workflow.upsert_memo({"tracking_number": self._label.tracking_number, "carrier": self._state.carrier,
                              "plan": plan.plan_id})
        self._first_eta()
        self._notify(NoticeKind.BOOKED)

        self._transition(Stage.PACKAGING_CHECK, Status.IN_PROGRESS, f"check parcels and marks for {plan.plan_id}")
        assessment = self._assessment
        if assessment.marking.violations:
            gate = await self._gate(GateKind.PACKAGING, "; ".join(f.message for f in assessment.marking.violations),
                                    reject_status=Status.COMPENSATED, reject_code="PACKAGING_CHECK_FAILED")
            self._note(f"packaging corrected by {gate.actor}: {gate.comment}")

        self._transition(Stage.CUSTOMS_FILING, Status.IN_PROGRESS, f"file with {CUSTOMS_BROKER}")
        filing = await self._step(CustomsActivities.file,
                                  self._call("file", CUSTOMS_BROKER, request=req, ref=self._bookings[0].ref),
                                  undo="customs.withdraw", undo_text="withdraw customs filing")
        if filing.state == "hold":
            self._customs_hold_started(f"{CUSTOMS_BROKER} holds the filing: {filing.hold_reason}")
            gate = await self._gate(GateKind.CUSTOMS_HOLD, f"{CUSTOMS_BROKER} holds the filing: {filing.hold_reason}")
            released = await self._activity(
                CustomsActivities.release_hold,
                self._call("release", CUSTOMS_BROKER, ref=filing.ref, actor=gate.actor, comment=gate.comment))
            self._record(released)
            self._customs_hold_ended(f"released by {gate.actor}")
            self._note(f"customs hold released by {gate.actor}")

    async def _move(self) -> None:
        """Transit leg by leg, then the last mile: resumable at any leg after a continue-as-new."""
        plan = self._state.plan
        assert plan is not None and self._label is not None
        while self._leg < len(plan.legs):
            leg, booking = plan.legs[self._leg], self._bookings[self._leg]
            if not self._handed_over:
                where = f"leg {leg.seq + 1} ({leg.mode} {leg.origin}-{leg.destination})"
                if leg.seq == 0:
                    self._transition(Stage.TRANSIT, Status.IN_PROGRESS, f"handed over to {leg.partner}: {where}")
                else:
                    self._note(f"handed over to {leg.partner}: {where}")
                polled = event_delivery(leg.partner) is EventDelivery.POLL
                await self._activity(CarrierActivities.handover,
                                     self._call("handover", leg.partner, ref=booking.ref,
                                                events_url=None if polled else self._input.events_url,
                                                ready_at=self._goods_ready_at()))
                self._handed_over = True
                self._start_watching()
            self._start_poller(leg, booking)
            await self._wait_for_event(leg.partner, TrackingStatus.ARRIVED_AT_DESTINATION, Stage.TRANSIT)
            await self._stop_poller()
            self._leg, self._handed_over = self._leg + 1, False

        last_mile = self._assessment.last_mile.chosen
        assert last_mile is not None  # checked before booking
        if not self._handed_over:
            self._transition(Stage.LAST_MILE, Status.IN_PROGRESS,
                             f"deliver with {last_mile.partner} ({last_mile.method})")
            await self._step(LastMileActivities.schedule,
                             self._call("schedule", last_mile.partner, request=self._input.request,
                                        tracking_number=self._label.tracking_number,
                                        events_url=self._input.events_url, ready_at=self._goods_ready_at()),
                             undo="last_mile.release", undo_text="release last-mile slot")
            self._handed_over = True
        await self._wait_for_event(last_mile.partner, TrackingStatus.DELIVERED, Stage.LAST_MILE)

    def _goods_ready_at(self) -> datetime:
        """When the next partner can have the goods: the latest reported event (a leg's arrival), or for the
        first leg the ship date (not before now)."""
        events = self._state.events
        return events[-1].occurred_at if events else self._ship_start()

    def _start_poller(self, leg: Leg, booking: PartnerRecord) -> None:
        """Partners without webhooks are polled by one long-running, heartbeating activity per leg."""
        if event_delivery(leg.partner) is not EventDelivery.POLL:
            return
        t = self._input.timings
        self._poller = asyncio.create_task(workflow.execute_activity_method(
            TrackingActivities.poll,
            PollRequest(shipment_id=self._state.shipment_id, workflow_id=workflow.info().workflow_id,
                        partner=leg.partner, booking_ref=booking.ref, until=TrackingStatus.ARRIVED_AT_DESTINATION,
                        interval=t.poll_interval),
            start_to_close_timeout=t.stage_timeout[Stage.TRANSIT] * 2,
            heartbeat_timeout=max(t.poll_interval * 3, timedelta(seconds=30)),
            retry_policy=RetryPolicy(initial_interval=timedelta(seconds=5), maximum_interval=timedelta(minutes=5),
                                     maximum_attempts=0)))

    async def _stop_poller(self) -> None:
        poller, self._poller = self._poller, None
        if poller is None or poller.done():
            return
        poller.cancel()
        try:
            await poller
        except (asyncio.CancelledError, ActivityError):
            pass  # the poll was cancelled on purpose: the awaited event arrived (or the shipment stopped)

    # ---- decisions, the compliance gate and backup plans -----------------------------------------------------

    @property
    def _assessment(self) -> Assessment:
        assert self._state.assessment is not None, "assessed before booking"
        return self._state.assessment

    async def _assess(self, exclude: list[str] | None = None) -> Assessment:
        """Quotes and every decision, in one activity so the decision is recorded in the history."""
        result: AssessResult = await self._activity(
            DecisionActivities.assess, AssessRequest(request=self._input.request, exclude_partners=exclude or []))
        assessment = result.assessment
        self._state.assessment, self._state.eta_basis = assessment, result.eta_basis
        plan = assessment.plan
        if plan is not None:
            main = plan.main_leg
            self._state.plan, self._state.carrier, self._state.mode = plan, main.partner, main.mode
            self._note("; ".join(assessment.reasons[:3]))
        return assessment

    async def _compliance_gate(self, assessment: Assessment) -> None:
        """Block rejects with the reasons; hold waits for ops; nothing is booked before this passes."""
        blocks, holds = blocking(assessment), holding(assessment)
        if blocks:
            raise ShipmentStopped(Status.REJECTED, blocks[0].code, "; ".join(f.message for f in blocks))
        if holds:
            await self._gate(GateKind.COMPLIANCE, "; ".join(f.message for f in holds))
        if assessment.plan is None:
            why = "; ".join(f"{r.plan_id}: {', '.join(r.reasons)}" for r in assessment.rejected_plans[:5])
            raise ShipmentStopped(Status.REJECTED, "NO_PLAN", f"no plan meets the constraints ({why})")

    async def _book_plan(self) -> tuple[TransportPlan, list[PartnerRecord], PartnerRecord]:
        """Book every leg and the label; when a partner fails for good, undo this plan's steps and switch to the
        next best plan without that partner, before giving the shipment up."""
        failed: list[str] = []
        while True:
            plan = self._assessment.plan
            assert plan is not None
            mark = len(self._undo)
            # A new plan books under new idempotency keys: the refused one's keys belong to other bodies.
            attempt = f"-r{len(self._state.replans)}" if self._state.replans else ""
            partner = ""  # the partner of the step in flight, blamed if it fails
            try:
                bookings = []
                for leg in plan.legs:
                    partner = leg.partner
                    bookings.append(await self._step(
                        CarrierActivities.book,
                        self._call(f"book{attempt}", leg.partner, request=self._input.request, origin=leg.origin,
                                   destination=leg.destination),
                        undo="carrier.cancel_booking", undo_text="cancel booking"))
                partner = plan.legs[0].partner
                label = await self._step(
                    CarrierActivities.create_label,
                    self._call(f"label{attempt}", partner, ref=bookings[0].ref),
                    undo="carrier.void_label", undo_text="void label")
                return plan, bookings, label
            except ActivityError as err:
                if is_cancelled_exception(err):
                    raise
                code, reason = _failure_of(err)
            await self._run_undos(until=mark)
            failed.append(partner)
            backup = await self._assess(exclude=failed)
            to_plan = backup.plan.plan_id if backup.plan else None
            self._state.replans.append(Replan(at=workflow.now(), failed_partner=partner, reason=reason,
                                              from_plan=plan.plan_id, to_plan=to_plan))
            if backup.plan is None:
                raise ShipmentStopped(Status.COMPENSATED, code,
                                      f"{partner} failed for good ({reason}) and no backup plan meets the constraints")
            self._note(f"backup plan: {partner} failed for good ({code}); switched from {plan.plan_id} to {to_plan}")

    # ---- partner calls and the saga -------------------------------------------------------------------------

    def _call(self, action: str, partner: str, **fields: Any) -> PartnerCall:
        shipment_id = self._state.shipment_id
        return PartnerCall(shipment_id=shipment_id, partner=partner,
                           idempotency_key=idempotency_key(shipment_id, action, partner), **fields)

    def _retry_policy(self, maximum_attempts: int | None = None) -> RetryPolicy:
        """Backoff from the shipment's timings; undos pass their own attempt limit."""
        t = self._input.timings
        return RetryPolicy(initial_interval=t.retry_initial_interval, backoff_coefficient=2.0,
                           maximum_interval=t.retry_maximum_interval,
                           maximum_attempts=t.retry_maximum_attempts if maximum_attempts is None else maximum_attempts,
                           non_retryable_error_types=[PARTNER_REJECTED])

    async def _activity(self, method: Any, arg: Any) -> Any:
        return await workflow.execute_activity_method(
            method, arg, start_to_close_timeout=self._input.timings.activity_timeout,
            retry_policy=self._retry_policy())

    async def _step(self, method: Any, call: PartnerCall, *, undo: str, undo_text: str) -> PartnerRecord:
        """Run a partner step and, once it succeeded, push its undo (an activity name) onto the compensation stack.

        A cancellation that arrives while the call is in flight lets the call finish first: a booking the partner
        made must be known to be undone, or it would be left behind (an orphan).
        """
        if not workflow.patched(PATCH_FINISH_STEP_ON_CANCEL):  # shipments started before the change
            record: PartnerRecord = await self._activity(method, call)
            self._push_undo(call, record, undo, undo_text)
            return record
        handle = workflow.start_activity_method(
            method, call, start_to_close_timeout=self._input.timings.activity_timeout,
            retry_policy=self._retry_policy())
        try:
            record = await asyncio.shield(handle)
        except asyncio.CancelledError:
            try:
                self._push_undo(call, await handle, undo, undo_text)
            except ActivityError:
                pass  # the step failed anyway: nothing was made, nothing to undo
            raise
        self._push_undo(call, record, undo, undo_text)
        return record

    def _push_undo(self, call: PartnerCall, record: PartnerRecord, undo: str, undo_text: str) -> None:
        self._record(record)
        undo_call = call.model_copy(update={"ref": record.ref, "request": None})
        self._undo.append(UndoStep(action=undo, call=undo_call,
                                   description=f"{undo_text} {record.ref} at {record.partner}"))

    async def _cancelled(self) -> None:
        request = self._state.cancel_request or CancelRequest(actor="temporal", reason="workflow cancelled")
        self._state.cancel_request = request
        await self._compensate(Status.CANCELLED, "CANCELLED", f"cancelled by {request.actor}: {request.reason}")

    async def _compensate(self, status: Status, code: str, reason: str) -> None:
        """Run the undos in reverse; each is idempotent and retried on its own policy. Never raises."""
        self._state.failure, self._state.failure_code = reason, code
        workflow.logger.warning("compensating", extra={"status": status.value, "code": code, "steps": len(self._undo)})
        # Added after shipments were running: histories made before it have no such command here.
        if workflow.patched(PATCH_FAILURE_CODE):
            self._show(sa.FAILURE_CODE.value_set(code))
        await self._run_undos(until=0)
        undos = self._state.compensation
        metrics.compensated(status.value, undone=sum(c.ok for c in undos), failed=sum(not c.ok for c in undos))
        now = workflow.now()
        for gate in self._state.pending_gates:
            gate.closed_at = now
        self._transition(self._state.stage, status, reason)

    async def _run_undos(self, until: int) -> None:
        """Undo completed steps in reverse down to stack height `until`; a failing undo is recorded, never raised."""
        undo_policy = self._retry_policy(maximum_attempts=UNDO_ATTEMPTS)
        while len(self._undo) > until:
            step = self._undo.pop()
            try:
                if step.action == RELEASE:  # the stock ledger's undo answers with the shipment's stock
                    self._state.stock = await workflow.execute_activity(
                        step.action, step.call, result_type=StockRecord,
                        start_to_close_timeout=self._input.timings.activity_timeout, retry_policy=undo_policy)
                else:
                    self._record(await workflow.execute_activity(
                        step.action, step.call, result_type=PartnerRecord,
                        start_to_close_timeout=self._input.timings.activity_timeout, retry_policy=undo_policy))
                self._state.compensation.append(CompensationRecord(
                    action=step.action, description=step.description, ok=True, at=workflow.now()))
            except ActivityError as err:
                # An undo that keeps failing must not stop the others; ops see it in the state and the log.
                self._state.compensation.append(CompensationRecord(
                    action=step.action, description=step.description, ok=False, at=workflow.now(),
                    error=_failure_of(err)[1]))
                workflow.logger.error("undo failed", extra={"action": step.action, "ref": step.call.ref})

    def _record(self, record: PartnerRecord) -> None:
        records = self._state.records
        for index, known in enumerate(records):
            if (known.kind, known.partner, known.ref) == (record.kind, record.partner, record.ref):
                records[index] = record
                break
        else:
            records.append(record)

    # ---- gates and waits --------------------------------------------------------------------------------------

    async def _gate(self, kind: GateKind, reason: str, *, reject_status: Status = Status.REJECTED,
                    reject_code: str = "GATE_REJECTED") -> Gate:
        """Hold the shipment until ops decide; escalate (never wait silently) when nobody does in time."""
        stage = self._state.stage
        gate = Gate(kind=kind, stage=stage, reason=reason, opened_at=workflow.now())
        self._state.gates.append(gate)
        self._transition(stage, Status.ON_HOLD, f"waiting for ops: {kind}: {reason}")
        try:
            await workflow.wait_condition(lambda: gate.decision is not None,
                                          timeout=self._input.timings.gate_escalate_after)
        except asyncio.TimeoutError:
            gate.escalated_at = workflow.now()
            workflow.logger.error("approval overdue, escalated", extra={"gate": kind.value, "reason": reason})
            self._transition(stage, Status.ON_HOLD, f"escalated: {kind} undecided since {gate.opened_at.isoformat()}")
            await workflow.wait_condition(lambda: gate.decision is not None)
        assert gate.decision is not None and gate.decided_at is not None
        metrics.approval_decided(kind.value, gate.decision.value, (gate.decided_at - gate.opened_at).total_seconds())
        if gate.decision is Decision.REJECT:
            raise ShipmentStopped(reject_status, reject_code,
                                  f"{kind} rejected by {gate.actor}: {gate.comment or 'no comment'}")
        self._transition(stage, Status.IN_PROGRESS, f"{kind} approved by {gate.actor}")
        return gate

    async def _wait_for_event(self, partner: str, status: TrackingStatus, stage: Stage) -> None:
        """Wait for a partner's event; the stage limit counts per run (a continued run starts a new period)."""
        timeout = self._input.timings.stage_timeout[stage]
        while True:
            try:
                if self._watching_stage():
                    await self._wait_watched(partner, status, timeout)
                else:
                    await workflow.wait_condition(
                        lambda: self._has_event(partner, status) or self._should_continue_as_new(), timeout=timeout)
            except asyncio.TimeoutError:
                # Approving means: keep waiting another period. Rejecting gives the shipment up.
                await self._gate(GateKind.STAGE_OVERDUE, f"no '{status}' from {partner} within {timeout}")
                continue
            if self._has_event(partner, status):
                return
            raise ContinueAsNew()

    async def _wait_watched(self, partner: str, status: TrackingStatus, timeout: timedelta) -> None:
        """Wait as `_wait_for_event` does, with the stage limit kept by the watcher's timer instead of one of its
        own (lean histories).

        Raises:
            asyncio.TimeoutError: The stage is overdue and the event has not come.
        """
        self._stage_due, self._stage_overdue = workflow.now() + timeout, False
        try:
            await workflow.wait_condition(lambda: self._has_event(partner, status) or self._should_continue_as_new()
                                          or self._stage_overdue)
        finally:
            self._stage_due = None
        if self._stage_overdue and not self._has_event(partner, status):
            raise asyncio.TimeoutError()

    # ---- state, visibility, projection --------------------------------------------------------------------

    def _transition(self, stage: Stage, status: Status, note: str) -> None:
        state = self._state
        status = self._running_status(status)
        if state.transitions:
            check_move(state.stage, state.status, stage, status)
            if stage != state.stage or status.terminal:
                metrics.stage_completed(state.stage.value, (workflow.now() - self._stage_entered_at()).total_seconds())
            if status.terminal:
                metrics.shipment_finished(status.value)
        state.stage, state.status = stage, status
        state.transitions.append(Transition(seq=len(state.transitions), stage=stage, status=status,
                                            at=workflow.now(), note=note))
        workflow.logger.info("transition", extra={"stage": stage.value, "status": status.value, "note": note})
        pending = state.pending_gates
        updates: list[SearchAttributeUpdate[Any]] = [
            sa.STAGE.value_set(stage.value),
            sa.STATUS.value_set(status.value),
            sa.PENDING_GATE.value_set(pending[-1].kind.value) if pending else sa.PENDING_GATE.value_unset(),
            sa.ESCALATED.value_set(any(g.escalated_at is not None for g in pending)),
        ]
        if state.carrier is not None and state.mode is not None:
            updates += [sa.CARRIER.value_set(state.carrier), sa.MODE.value_set(state.mode.value)]
        self._show(*updates)
        self._project()

    def _show(self, *updates: SearchAttributeUpdate[Any]) -> None:
        """Set search attributes. In a lean history they are collected and written at the end of the activation,
        in one upsert of the values that changed, so the server shows the same values at the end of every workflow
        task as when each was upserted at once."""
        if not self._lean:
            workflow.upsert_search_attributes(list(updates))
            return
        for update in updates:
            self._attributes_due[update.key.name] = update
        self._attributes_asked += 1
        if self._attribute_writer is None or self._attribute_writer.done():
            self._attribute_writer = asyncio.create_task(self._upsert_attributes_when_settled())

    def _progress(self) -> tuple[int, int]:
        """Changes asked for so far: a snapshot, or search attributes."""
        return self._snapshots_wanted, self._attributes_asked

    async def _upsert_attributes_when_settled(self) -> None:
        try:
            await _settled(self._progress)
        finally:  # also when a cancellation request interrupts the wait: what was set is shown now
            self._upsert_attributes()

    def _upsert_attributes(self) -> None:
        """Write the search attributes set since the last upsert whose value differs from the one shown."""
        due, self._attributes_due = self._attributes_due, {}
        changed = [u for name, u in due.items() if self._shown.get(name) != u.value]
        if changed:
            workflow.upsert_search_attributes(changed)
            self._shown.update((u.key.name, u.value) for u in changed)

    def _stage_entered_at(self) -> datetime:
        transitions = self._state.transitions
        first = len(transitions) - 1
        while first > 0 and transitions[first - 1].stage == transitions[-1].stage:
            first -= 1
        return transitions[first].at

    def _note(self, note: str) -> None:
        """A transition that keeps stage and status, to record a decision in the timeline."""
        self._transition(self._state.stage, self._state.status, note)

    def _project(self) -> None:
        """Ask for the read model to catch up, without waiting: the workflow is the truth, the tables follow."""
        self._snapshots_wanted += 1
        if self._projector is None or self._projector.done():
            self._projector = asyncio.create_task(self._run_projector())

    async def _run_projector(self) -> None:
        # Snapshots asked for while one is being written are folded into the next one. Retried without limit:
        # a database outage delays the tables, never the shipment, and they catch up when it returns.
        # Only events and notices not yet written travel with a snapshot, so payloads stay small on long voyages.
        dest, req = self._input.request.destination, self._input.request
        recipient = Recipient(email=dest.email, locale=dest.locale, country=dest.country, region=dest.region)
        while self._snapshots_written < self._snapshots_wanted:
            if self._lean:
                await _settled(self._progress)  # what the rest of this activation changes goes in the same snapshot
            target, state = self._snapshots_wanted, self._state
            events = [e for e in state.events if e.received_seq > self._events_projected]
            notices = state.notices[self._notices_projected:]
            update = ProjectionUpdate(version=target, state=state.model_copy(update={"events": []}, deep=True),
                                      events=[e.model_copy() for e in events],
                                      notices=[n.model_copy() for n in notices],
                                      recipient=recipient, order_ref=req.order_ref)
            if self._lean:
                await self._write_projection(update)
            else:
                await workflow.execute_activity_method(
                    ReadModelActivities.project, update, start_to_close_timeout=timedelta(seconds=30),
                    retry_policy=PROJECTION_RETRY)
            self._snapshots_written = target
            self._events_projected = max([self._events_projected, *(e.received_seq for e in events)])
            self._notices_projected += len(notices)
            if notices:
                self._deliver_requested = True

    async def _write_projection(self, update: ProjectionUpdate) -> None:
        """A local activity: one marker in the history, and usually no workflow task of its own. When the database
        does not answer within its few quick tries, a normal activity takes over the same snapshot and retries it
        without limit on the server: an outage of any length adds a bounded number of events, holds no workflow
        task open, and the shipment goes on meanwhile."""
        try:
            await workflow.execute_local_activity_method(
                ReadModelActivities.project, update, start_to_close_timeout=LOCAL_PROJECTION_TIMEOUT,
                retry_policy=LOCAL_PROJECTION_RETRY, local_retry_threshold=LOCAL_PROJECTION_RETRY_THRESHOLD)
        except FailureError as err:  # a local activity's failure arrives as its cause (ApplicationError, timeout)
            if is_cancelled_exception(err):
                raise
            workflow.logger.warning("read model unavailable, projection retried as an activity",
                                    extra={"version": update.version, "error": str(err)})
            await workflow.execute_activity_method(
                ReadModelActivities.project, update, start_to_close_timeout=timedelta(seconds=30),
                retry_policy=PROJECTION_RETRY)

    # ---- handlers --------------------------------------------------------------------------------------------

    @workflow.query(name="state")
    def state(self) -> ShipmentState:
        return self._state

    @workflow.update(name="decide")
    async def decide(self, decision: ApprovalDecision) -> Gate:
        """Approve or reject a pending gate. Validated first: a gate that is not pending leaves no history."""
        gate = pending_gate(self._state.gates, decision.gate, decision)
        self._apply_decision(gate, decision, via="update")
        return gate

    @decide.validator
    def _validate_decide(self, decision: ApprovalDecision) -> None:
        try:
            pending_gate(self._state.gates, decision.gate, decision)
        except GateNotPending as err:
            raise ApplicationError(str(err), type="GateNotPending", non_retryable=True) from None

    @workflow.signal(name="decision")
    def decision_signal(self, decision: ApprovalDecision) -> None:
        """The same decision as a signal, for ops in the Web UI or the `temporal` CLI."""
        try:
            gate = pending_gate(self._state.gates, decision.gate, decision)
        except GateNotPending as err:
            self._state.ignored_signals.append(IgnoredSignal(
                received_at=workflow.now(), gate=decision.gate.value, decision=decision.decision.value,
                actor=decision.actor, reason=str(err)))
            workflow.logger.warning("decision signal ignored", extra={"gate": decision.gate.value,
                                                                      "reason": str(err)})
            self._project()
            return
        self._apply_decision(gate, decision, via="signal")

    def _apply_decision(self, gate: Gate, decision: ApprovalDecision, via: str) -> None:
        gate.decision, gate.actor, gate.comment = decision.decision, decision.actor, decision.comment
        gate.decided_at, gate.via = workflow.now(), via

    @workflow.update(name="cancel")
    async def cancel(self, request: CancelRequest) -> ShipmentState:
        """Ops cancel: the undos run and the status ends `cancelled`. Returns the state when it was accepted."""
        self._state.cancel_request = request
        if self._flow is not None:
            self._flow.cancel()
        return self._state

    @cancel.validator
    def _validate_cancel(self, request: CancelRequest) -> None:
        if self._state.status.terminal:
            raise ApplicationError(f"shipment is already {self._state.status}; nothing to cancel",
                                   type="ShipmentClosed", non_retryable=True)
        if self._state.cancel_request is not None:
            raise ApplicationError(f"cancellation already requested by {self._state.cancel_request.actor}",
                                   type="ShipmentClosed", non_retryable=True)
        if self._flow is not None and self._flow.done():
            raise ApplicationError(f"shipment is already finishing ({self._state.status}: {self._state.failure})",
                                   type="ShipmentClosed", non_retryable=True)

    @workflow.signal(name="carrier_event")
    def carrier_event(self, event: CarrierEvent) -> None:
        """A tracking event (webhook or poll); duplicates are dropped by id and late events put in time order."""
        self._on_carrier_event(event)


async def _settled(progress: Callable[[], object]) -> None:
    """Return once the other coroutines of this activation have run as far as they can. The SDK checks workflow
    conditions only when no coroutine is ready, and one woken by another's end (a task awaiting a task) runs in the
    pass after, so wait two passes, and more while `progress` still changes. No timer, nothing in the history."""
    await workflow.wait_condition(lambda: True)
    seen = progress()
    while True:
        await workflow.wait_condition(lambda: True)
        now = progress()
        if now == seen:
            return
        seen = now


def _failure_of(err: ActivityError) -> tuple[str, str]:
    """(reason code, readable reason) of a failed activity."""
    cause = err.cause
    if isinstance(cause, ApplicationError):
        code = str(cause.details[0]) if cause.details else (cause.type or "ACTIVITY_FAILED")
        return code, f"{cause.type}: {cause.message}"
    return "ACTIVITY_FAILED", str(cause or err)
