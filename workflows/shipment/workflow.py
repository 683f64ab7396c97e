"""ShipmentWorkflow: one durable workflow per shipment, through booking, packaging check, customs filing, transit
and last-mile delivery.

`run` reads as the business process: prepare (stock, approvals, decisions, booking), check the packaging, file
customs, move leg by leg, deliver the last mile, and on an unrecoverable failure, an ops rejection or a
cancellation compensate. The mechanics are the work of collaborators it owns:
- `Saga` (`saga.py`): typed undo steps pushed after every completed step and run in reverse;
- `Projector` (`projector.py`): the read model, coalesced snapshots on a local activity with a fallback;
- `SearchAttributeBoard` (`board.py`): what ops filter by in the Web UI, one upsert per stage or status change;
- `Timeline` (`timeline.py`): transitions checked against the stage machine, shown and projected;
- `Tracker` (`tracker.py`): tracking events, ETA, exceptions and their clocks; `Notifier`: notices;
- `StockSteps` (`stock.py`): the merchant's stock ledger; `Gates` (`gates.py`): where ops decide.
A long voyage continues as new while it waits for events, carrying its state over (`Resume`).
"""

import asyncio
from datetime import datetime

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError, is_cancelled_exception

with workflow.unsafe.imports_passed_through():
    from activities.carriers import CarrierActivities
    from activities.customs import CustomsActivities
    from activities.decisions import DecisionActivities
    from activities.last_mile import LastMileActivities
    from tradelane.approvals import value_approval_reason
    from tradelane.decisions.assess import blocking, holding
    from tradelane.decisions.models import Assessment, TransportPlan
    from tradelane.enums import GateKind, NoticeKind, Stage, Status, TrackingStatus
    from tradelane.partners import CUSTOMS_BROKER
    from tradelane.shipment.calls import AssessRequest, AssessResult, PartnerCall, PartnerRecord
    from tradelane.shipment.events import CarrierEvent
    from tradelane.shipment.partner_events import refusal
    from tradelane.shipment.run import Resume, ShipmentInput
    from tradelane.shipment.state import TERMINAL_NOTICES, ApprovalDecision, CancelRequest, Gate, Replan, ShipmentState
    from tradelane.tracking_codes import EventDelivery, event_delivery
    from workflows import metrics
    from workflows import visibility as sa
    from workflows.shipment.activation import Activation
    from workflows.shipment.board import SearchAttributeBoard
    from workflows.shipment.gates import Gates
    from workflows.shipment.notifier import Notifier
    from workflows.shipment.outcomes import ContinueAsNew, ShipmentStopped, failure_of
    from workflows.shipment.partner_calls import partner_call, run_activity
    from workflows.shipment.patches import ENDING_NOTICES, FAILURE_CODE, LEAN_HISTORY, POLL_LAST_MILE, QUIET_ATTRIBUTES
    from workflows.shipment.projector import Projector
    from workflows.shipment.saga import Saga
    from workflows.shipment.stock import StockSteps
    from workflows.shipment.timeline import Timeline
    from workflows.shipment.tracker import Tracker


@workflow.defn(name="Shipment")
class ShipmentWorkflow:
    @workflow.init
    def __init__(self, inp: ShipmentInput) -> None:
        req, resume = inp.request, inp.resume
        self._input = inp
        self._state = ShipmentState(
            shipment_id=req.shipment_id, workflow_id=workflow.info().workflow_id,
            origin_country=req.origin.country, destination_country=req.destination.country,
            merchant_id=req.merchant_id, declared_value=req.declared_value, currency=req.currency,
        ) if resume is None else resume.state
        self._flow: asyncio.Task[None] | None = None
        # Where the journey is, for a continue-as-new checkpoint.
        self._bookings: list[PartnerRecord] = [] if resume is None else resume.bookings
        self._label: PartnerRecord | None = None if resume is None else resume.label
        self._leg = 0 if resume is None else resume.leg
        self._handed_over = False if resume is None else resume.handed_over
        # Checked first, so that histories recorded before it never take the new branches, wherever they are.
        lean = workflow.patched(LEAN_HISTORY)
        quiet = lean and workflow.patched(QUIET_ATTRIBUTES)
        state, activation = self._state, Activation()
        self._board = SearchAttributeBoard(lean=lean, activation=activation, quiet=quiet)
        self._projector = Projector(inp, state, lean=lean, activation=activation,
                                    on_notices_written=lambda: self._notifier.request_delivery(),
                                    on_dead_letter=lambda: self._notifier.deliver_alerts())
        self._notifier = Notifier(state, request_projection=self._projector.request)
        self._timeline = Timeline(state, board=self._board, projector=self._projector)
        self._tracker = Tracker(inp, state, lean=lean, timeline=self._timeline, board=self._board,
                                projector=self._projector, notifier=self._notifier)
        self._saga = Saga(state, inp.timings, [] if resume is None else resume.undo)
        self._stock = StockSteps(inp, state, saga=self._saga, note=self._timeline.note)
        self._gates = Gates(state, inp.timings, timeline=self._timeline)

    # ---- the process ---------------------------------------------------------------------------------------

    @workflow.run
    async def run(self, inp: ShipmentInput) -> ShipmentState:
        if inp.resume is None:
            metrics.shipment_started()
            self._timeline.transition(Stage.BOOKING, Status.IN_PROGRESS, "shipment received")
        else:
            self._state.runs += 1
            workflow.logger.info("continued as new", extra={"run": self._state.runs, "leg": self._leg})
        try:
            self._flow = asyncio.create_task(self._advance())
            await self._flow
            await self._delivered()
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
                code, reason = failure_of(err)
                await self._compensate(Status.COMPENSATED, code, reason)
        except ShipmentStopped as stop:
            await self._compensate(stop.status, stop.code, stop.reason)
        await self._wind_down()
        await self._notifier.close()
        await workflow.wait_condition(workflow.all_handlers_finished)
        self._board.flush()  # now, not after the workflow's completion command
        return self._state

    async def _advance(self) -> None:
        if self._input.resume is None:
            await self._prepare()
        else:
            self._notifier.resume()
            self._projector.request()  # events and notices that arrived while the last run was closing
        if self._leg > 0 or self._handed_over:
            self._tracker.clocks.start()  # a continued run keeps measuring silence and the promise
        await self._transit()
        await self._last_mile()

    async def _prepare(self) -> None:
        """Everything before the goods move: stock, approvals, decisions, booking, packaging, customs."""
        if self._state.cancel_request is not None:
            raise asyncio.CancelledError()  # cancelled before the first step ran
        stock = await self._stock.reserve()
        if stock is not None and stock.state == "refused":
            raise ShipmentStopped(Status.REJECTED, "INSUFFICIENT_STOCK", stock.note)
        plan = await self._book()
        await self._check_packaging(plan)
        await self._file_customs()

    async def _book(self) -> TransportPlan:
        """Approval of high values, then the decisions and the compliance gate; nothing is booked before."""
        reason = value_approval_reason(self._input.request, self._input.approvals)
        if reason is not None:
            await self._gates.hold(GateKind.HIGH_VALUE, reason)
        assessment = await self._assess()
        await self._compliance_gate(assessment)
        if assessment.last_mile.chosen is None:
            raise ShipmentStopped(Status.REJECTED, "NO_LAST_MILE_PARTNER", "; ".join(assessment.last_mile.reasons))
        plan, self._bookings, self._label = await self._book_plan()
        await self._stock.shipped()
        self._state.tracking_number = self._label.tracking_number
        workflow.upsert_memo({"tracking_number": self._label.tracking_number, "carrier": self._state.carrier,
                              "plan": plan.plan_id})
        self._tracker.first_eta()
        self._notifier.notify(NoticeKind.BOOKED)
        return plan

    async def _check_packaging(self, plan: TransportPlan) -> None:
        self._timeline.transition(Stage.PACKAGING_CHECK, Status.IN_PROGRESS,
                                  f"check parcels and marks for {plan.plan_id}")
        violations = self._assessment.marking.violations
        if violations:
            gate = await self._gates.hold(GateKind.PACKAGING, "; ".join(f.message for f in violations),
                                    reject_status=Status.COMPENSATED, reject_code="PACKAGING_CHECK_FAILED")
            self._timeline.note(f"packaging corrected by {gate.actor}: {gate.comment}")

    async def _file_customs(self) -> None:
        self._timeline.transition(Stage.CUSTOMS_FILING, Status.IN_PROGRESS, f"file with {CUSTOMS_BROKER}")
        filing = await self._saga.step(
            CustomsActivities.file, self._call("file", CUSTOMS_BROKER, request=self._input.request,
                                               ref=self._bookings[0].ref),
            undo="customs.withdraw", undo_text="withdraw customs filing")
        if filing.state != "hold":
            return
        self._tracker.customs_hold_started(f"{CUSTOMS_BROKER} holds the filing: {filing.hold_reason}")
        gate = await self._gates.hold(GateKind.CUSTOMS_HOLD, f"{CUSTOMS_BROKER} holds the filing: {filing.hold_reason}")
        released = await run_activity(
            self._input.timings, CustomsActivities.release_hold,
            self._call("release", CUSTOMS_BROKER, ref=filing.ref, actor=gate.actor, comment=gate.comment))
        self._state.keep(released)
        self._tracker.customs_hold_ended(f"released by {gate.actor}")
        self._timeline.note(f"customs hold released by {gate.actor}")

    async def _transit(self) -> None:
        """Leg by leg: hand over, wait for the arrival; resumable at any leg after a continue-as-new."""
        plan = self._state.plan
        assert plan is not None and self._label is not None
        while self._leg < len(plan.legs):
            leg, booking = plan.legs[self._leg], self._bookings[self._leg]
            if not self._handed_over:
                where = f"leg {leg.seq + 1} ({leg.mode} {leg.origin}-{leg.destination})"
                if leg.seq == 0:
                    self._timeline.transition(Stage.TRANSIT, Status.IN_PROGRESS,
                                              f"handed over to {leg.partner}: {where}")
                else:
                    self._timeline.note(f"handed over to {leg.partner}: {where}")
                polled = event_delivery(leg.partner) is EventDelivery.POLL
                await run_activity(self._input.timings, CarrierActivities.handover,
                                   self._call("handover", leg.partner, ref=booking.ref,
                                              events_url=None if polled else self._input.events_url,
                                              ready_at=self._goods_ready_at()))
                self._handed_over = True
                self._tracker.clocks.start()
            self._tracker.start_polling(leg.partner, booking, TrackingStatus.ARRIVED_AT_DESTINATION, Stage.TRANSIT)
            await self._wait_for_event(leg.partner, TrackingStatus.ARRIVED_AT_DESTINATION, Stage.TRANSIT)
            await self._tracker.stop_polling()
            self._leg, self._handed_over = self._leg + 1, False

    async def _last_mile(self) -> None:
        last_mile = self._assessment.last_mile.chosen
        assert last_mile is not None and self._label is not None  # checked before booking
        if not self._handed_over:
            self._timeline.transition(Stage.LAST_MILE, Status.IN_PROGRESS,
                                      f"deliver with {last_mile.partner} ({last_mile.method})")
            await self._saga.step(
                LastMileActivities.schedule,
                self._call("schedule", last_mile.partner, request=self._input.request,
                           tracking_number=self._label.tracking_number, events_url=self._input.events_url,
                           ready_at=self._goods_ready_at()),
                undo="last_mile.release", undo_text="release last-mile slot")
            self._handed_over = True
        # Only a polled partner asks the patch: shipments delivered by a pushing partner keep their commands.
        if event_delivery(last_mile.partner).polled and workflow.patched(POLL_LAST_MILE):
            slot = next(r for r in reversed(self._state.records) if r.kind == "slot" and r.partner == last_mile.partner)
            self._tracker.start_polling(last_mile.partner, slot, TrackingStatus.DELIVERED, Stage.LAST_MILE)
        await self._wait_for_event(last_mile.partner, TrackingStatus.DELIVERED, Stage.LAST_MILE)
        await self._tracker.stop_polling()

    async def _delivered(self) -> None:
        await self._stock.received()
        self._saga.clear()
        self._tracker.resolve_all("delivered")
        self._timeline.transition(Stage.LAST_MILE, Status.DELIVERED, "delivered to the recipient")

    def _goods_ready_at(self) -> datetime:
        """When the next partner can have the goods: the latest reported event (a leg's arrival), or for the
        first leg the ship date (not before now)."""
        events = self._state.events
        return events[-1].occurred_at if events else self._tracker.ship_start()

    def _call(self, action: str, partner: str, **fields: object) -> PartnerCall:
        return partner_call(self._state.shipment_id, action, partner, **fields)

    # ---- decisions, the compliance gate and backup plans -----------------------------------------------------

    @property
    def _assessment(self) -> Assessment:
        assert self._state.assessment is not None, "assessed before booking"
        return self._state.assessment

    async def _assess(self, exclude: list[str] | None = None) -> Assessment:
        """Quotes and every decision, in one activity so the decision is recorded in the history."""
        result: AssessResult = await run_activity(
            self._input.timings, DecisionActivities.assess,
            AssessRequest(request=self._input.request, exclude_partners=exclude or []))
        assessment = result.assessment
        self._state.assessment, self._state.eta_basis = assessment, result.eta_basis
        plan = assessment.plan
        if plan is not None:
            main = plan.main_leg
            self._state.plan, self._state.carrier, self._state.mode = plan, main.partner, main.mode
            self._timeline.note("; ".join(assessment.reasons[:3]))
        return assessment

    async def _compliance_gate(self, assessment: Assessment) -> None:
        """Block rejects with the reasons; hold waits for ops; nothing is booked before this passes."""
        blocks, holds = blocking(assessment), holding(assessment)
        if blocks:
            raise ShipmentStopped(Status.REJECTED, blocks[0].code, "; ".join(f.message for f in blocks))
        if holds:
            await self._gates.hold(GateKind.COMPLIANCE, "; ".join(f.message for f in holds))
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
            mark = self._saga.height
            # A new plan books under new idempotency keys: the refused one's keys belong to other bodies.
            attempt = f"-r{len(self._state.replans)}" if self._state.replans else ""
            partner = ""  # the partner of the step in flight, blamed if it fails
            try:
                bookings = []
                for leg in plan.legs:
                    partner = leg.partner
                    bookings.append(await self._saga.step(
                        CarrierActivities.book,
                        self._call(f"book{attempt}", leg.partner, request=self._input.request, origin=leg.origin,
                                   destination=leg.destination),
                        undo="carrier.cancel_booking", undo_text="cancel booking"))
                partner = plan.legs[0].partner
                label = await self._saga.step(
                    CarrierActivities.create_label, self._call(f"label{attempt}", partner, ref=bookings[0].ref),
                    undo="carrier.void_label", undo_text="void label")
                return plan, bookings, label
            except ActivityError as err:
                if is_cancelled_exception(err):
                    raise
                code, reason = failure_of(err)
            await self._saga.unwind(until=mark)
            failed.append(partner)
            await self._replan(plan, partner, code, reason, failed)

    async def _replan(self, plan: TransportPlan, partner: str, code: str, reason: str, failed: list[str]) -> None:
        """Assess again without the partners that failed for good; stop when no backup plan is left."""
        backup = await self._assess(exclude=failed)
        to_plan = backup.plan.plan_id if backup.plan else None
        self._state.replans.append(Replan(at=workflow.now(), failed_partner=partner, reason=reason,
                                          from_plan=plan.plan_id, to_plan=to_plan))
        if backup.plan is None:
            raise ShipmentStopped(Status.COMPENSATED, code,
                                  f"{partner} failed for good ({reason}) and no backup plan meets the constraints")
        self._timeline.note(f"backup plan: {partner} failed for good ({code}); "
                            f"switched from {plan.plan_id} to {to_plan}")

    # ---- gates and waits --------------------------------------------------------------------------------------

    async def _wait_for_event(self, partner: str, status: TrackingStatus, stage: Stage) -> None:
        """Wait for a partner's event; the stage limit counts per run (a continued run starts a new period)."""
        timeout = self._input.timings.stage_timeout[stage]
        while True:
            try:
                await self._tracker.wait_for(partner, status, timeout, or_until=self._should_continue_as_new)
            except TimeoutError:
                # Approving means: keep waiting another period. Rejecting gives the shipment up.
                await self._gates.hold(GateKind.STAGE_OVERDUE, f"no '{status}' from {partner} within {timeout}")
                continue
            if self._tracker.has_event(partner, status):
                return
            raise ContinueAsNew()

    # ---- endings ------------------------------------------------------------------------------------------------

    async def _cancelled(self) -> None:
        request = self._state.cancel_request or CancelRequest(actor="temporal", reason="workflow cancelled")
        self._state.cancel_request = request
        await self._compensate(Status.CANCELLED, "CANCELLED", f"cancelled by {request.actor}: {request.reason}")

    async def _compensate(self, status: Status, code: str, reason: str) -> None:
        """Run the undos in reverse; each is idempotent and retried on its own policy. Never raises."""
        self._state.failure, self._state.failure_code = reason, code
        workflow.logger.warning("compensating",
                                extra={"status": status.value, "code": code, "steps": self._saga.height})
        # Added after shipments were running: histories made before it have no such command here.
        if workflow.patched(FAILURE_CODE):
            self._board.show(sa.FAILURE_CODE.value_set(code))
        await self._saga.unwind(until=0)
        undos = self._state.compensation
        metrics.compensated(status.value, undone=sum(c.ok for c in undos), failed=sum(not c.ok for c in undos))
        now = workflow.now()
        for gate in self._state.pending_gates:
            gate.closed_at = now
        self._timeline.transition(self._state.stage, status, reason)
        # Added after shipments were running: histories made before it end without telling anyone.
        if workflow.patched(ENDING_NOTICES):
            # The customer hears of the end only when they heard of the shipment (the outbox also checks that an
            # e-mail reached them, and withdraws the unsent ones this makes untrue).
            told = any(n.customer for n in self._state.notices)
            self._notifier.notify(TERMINAL_NOTICES[status], customer=told, ops=True, reason_code=code)

    async def _wind_down(self) -> None:
        """Stop timers and polling, and let the read model catch up."""
        self._tracker.stop_watching()
        await self._tracker.stop_polling()
        await workflow.wait_condition(self._projector.caught_up)

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
        projector = self._projector
        resume = Resume(state=self._state, undo=self._saga.stack, bookings=self._bookings, label=self._label,
                        leg=self._leg, handed_over=self._handed_over, projected_version=projector.written,
                        events_projected=projector.events_projected, notices_projected=projector.notices_projected,
                        customs_held_since=self._tracker.customs_held_since)
        self._board.flush()
        workflow.continue_as_new(self._input.model_copy(update={"resume": resume}))

    # ---- handlers --------------------------------------------------------------------------------------------

    @workflow.query(name="state")
    def state(self) -> ShipmentState:
        return self._state

    @workflow.update(name="decide")
    async def decide(self, decision: ApprovalDecision) -> Gate:
        """Approve or reject a pending gate. Validated first: a gate that is not pending leaves no history."""
        return self._gates.decide(decision, via="update")

    @decide.validator
    def _validate_decide(self, decision: ApprovalDecision) -> None:
        self._gates.validate(decision)

    @workflow.signal(name="decision")
    def decision_signal(self, decision: ApprovalDecision) -> None:
        """The same decision as a signal, for ops in the Web UI or the `temporal` CLI."""
        if not self._gates.decide_by_signal(decision):
            self._projector.request()

    @workflow.update(name="cancel")
    async def cancel(self, request: CancelRequest) -> ShipmentState:
        """Ops cancel: the undos run and the status ends `cancelled`. Returns the state when it was accepted."""
        self._state.cancel_request = request
        if self._flow is not None:
            self._flow.cancel()
        return self._state

    @cancel.validator
    def _validate_cancel(self, request: CancelRequest) -> None:
        state = self._state
        if state.status.terminal:
            raise ApplicationError(f"shipment is already {state.status}; nothing to cancel",
                                   type="ShipmentClosed", non_retryable=True)
        if state.cancel_request is not None:
            raise ApplicationError(f"cancellation already requested by {state.cancel_request.actor}",
                                   type="ShipmentClosed", non_retryable=True)
        if self._flow is not None and self._flow.done():
            raise ApplicationError(f"shipment is already finishing ({state.status}: {state.failure})",
                                   type="ShipmentClosed", non_retryable=True)

    @workflow.signal(name="carrier_event")
    def carrier_event(self, event: CarrierEvent) -> None:
        """A tracking event read by polling (the worker's own activity); duplicates are dropped by partner and id
        and late events put in time order. Partners' webhooks come through `report_event`, which checks first."""
        self._tracker.on_event(event)

    @workflow.query(name="knows_event")
    def knows_event(self, event: CarrierEvent) -> bool:
        """Whether this (partner, event id) has already reached the shipment, by any route: asked before signalling
        an event that may arrive twice (a DCSA line's callback and its polled copy), so the history holds it once."""
        return self._tracker.knows(event)

    @workflow.query(name="event_refusal")
    def event_refusal(self, event: CarrierEvent) -> list[str]:
        """Why this shipment would refuse a partner's webhook event (`[code, message]`), or `[]` to accept it: the
        partner must hold its booking, label or slot and the event name one of its references. Asked by the API
        before it signals, so a refused event leaves no trace in the history (a query writes none)."""
        refused = refusal(self._state, event.partner, event.tracking_number, event.booking_ref)
        return [] if refused is None else [refused[0].value, refused[1]]

