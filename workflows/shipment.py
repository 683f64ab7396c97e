"""ShipmentWorkflow: one durable workflow per shipment, through booking, packaging check, customs filing, transit
and last-mile delivery.

Reads as setup (state, handlers) and then `run`: each stage calls partners through activities, pushes the undo of
every completed step, and on an unrecoverable failure, an ops rejection or a cancellation runs the undos in reverse.
"""

import asyncio
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeUpdate
from temporalio.exceptions import ActivityError, ApplicationError, is_cancelled_exception

with workflow.unsafe.imports_passed_through():
    from activities.carriers import CarrierActivities
    from activities.customs import CustomsActivities
    from activities.errors import PARTNER_REJECTED
    from activities.last_mile import LastMileActivities
    from activities.read_model import ReadModelActivities
    from tradelane.approvals import GateNotPending, pending_gate, value_approval_reason
    from tradelane.enums import Decision, GateKind, Stage, Status, TrackingStatus
    from tradelane.keys import idempotency_key
    from tradelane.packaging import packaging_violations
    from tradelane.partners import CUSTOMS_BROKER, PARTNERS, carriers_for, last_mile_for
    from tradelane.planning import NoPlan, choose_plan
    from tradelane.stages import check_move
    from tradelane.state import (
        ApprovalDecision,
        CancelRequest,
        CarrierEvent,
        CompensationRecord,
        Gate,
        IgnoredSignal,
        PartnerCall,
        PartnerRecord,
        Plan,
        ProjectionUpdate,
        QuoteRequest,
        ShipmentInput,
        ShipmentState,
        Transition,
        UndoStep,
    )
    from workflows import visibility as sa


UNDO_ATTEMPTS = 10
"""Attempts per undo; one that still fails is recorded as failed and the other undos run."""


class ShipmentStopped(Exception):
    """The shipment cannot go on for a business reason; the undos run and the status becomes `status`."""

    def __init__(self, status: Status, code: str, reason: str) -> None:
        super().__init__(reason)
        self.status, self.code, self.reason = status, code, reason


@workflow.defn(name="Shipment")
class ShipmentWorkflow:
    @workflow.init
    def __init__(self, inp: ShipmentInput) -> None:
        req = inp.request
        self._input = inp
        self._state = ShipmentState(
            shipment_id=req.shipment_id, workflow_id=workflow.info().workflow_id,
            origin_country=req.origin.country, destination_country=req.destination.country,
            merchant_id=req.merchant_id, declared_value=req.declared_value, currency=req.currency,
        )
        self._undo: list[UndoStep] = []
        self._flow: asyncio.Task[None] | None = None
        # Read-model projection is coalesced: one activity in flight at a time, always with the newest snapshot.
        self._snapshots_wanted = 0
        self._snapshots_written = 0
        self._projector: asyncio.Task[None] | None = None

    # ---- run -----------------------------------------------------------------------------------------------

    @workflow.run
    async def run(self, inp: ShipmentInput) -> ShipmentState:
        self._transition(Stage.BOOKING, Status.IN_PROGRESS, "shipment received")
        try:
            self._flow = asyncio.create_task(self._advance())
            await self._flow
            self._undo.clear()  # delivered: nothing is left to take back
            self._transition(Stage.LAST_MILE, Status.DELIVERED, "delivered to the recipient")
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
        await workflow.wait_condition(lambda: self._snapshots_written >= self._snapshots_wanted)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._state

    async def _advance(self) -> None:
        req = self._input.request
        if self._state.cancel_request is not None:
            raise asyncio.CancelledError()  # cancelled before the first step ran
        # Booking: approval of high values first, then plan, book and label.
        reason = value_approval_reason(req, self._input.approvals)
        if reason is not None:
            await self._gate(GateKind.HIGH_VALUE, reason)
        last_mile = last_mile_for(req.destination.country)
        if last_mile is None:
            raise ShipmentStopped(Status.REJECTED, "NO_LAST_MILE_PARTNER",
                                  f"no last-mile partner delivers to {req.destination.country}")
        plan = await self._plan()
        booking = await self._step(CarrierActivities.book, self._call("book", plan.partner, request=req),
                                   undo="carrier.cancel_booking", undo_text="cancel booking")
        label = await self._step(CarrierActivities.create_label, self._call("label", plan.partner, ref=booking.ref),
                                 undo="carrier.void_label", undo_text="void label")
        self._state.tracking_number = label.tracking_number
        workflow.upsert_memo({"tracking_number": label.tracking_number, "carrier": plan.partner})

        self._transition(Stage.PACKAGING_CHECK, Status.IN_PROGRESS, f"check parcels for {plan.partner}")
        problems = packaging_violations(req, PARTNERS[plan.partner])
        if problems:
            raise ShipmentStopped(Status.COMPENSATED, "PACKAGING_CHECK_FAILED", "; ".join(problems))

        self._transition(Stage.CUSTOMS_FILING, Status.IN_PROGRESS, f"file with {CUSTOMS_BROKER}")
        filing = await self._step(CustomsActivities.file,
                                  self._call("file", CUSTOMS_BROKER, request=req, ref=booking.ref),
                                  undo="customs.withdraw", undo_text="withdraw customs filing")
        if filing.state == "hold":
            gate = await self._gate(GateKind.CUSTOMS_HOLD, f"{CUSTOMS_BROKER} holds the filing: {filing.hold_reason}")
            released = await self._activity(
                CustomsActivities.release_hold,
                self._call("release", CUSTOMS_BROKER, ref=filing.ref, actor=gate.actor, comment=gate.comment))
            self._record(released)
            self._note(f"customs hold released by {gate.actor}")

        self._transition(Stage.TRANSIT, Status.IN_PROGRESS, f"handed over to {plan.partner}")
        await self._activity(CarrierActivities.handover,
                             self._call("handover", plan.partner, ref=booking.ref, events_url=self._input.events_url))
        await self._wait_for_event(plan.partner, TrackingStatus.ARRIVED_AT_DESTINATION, Stage.TRANSIT)

        self._transition(Stage.LAST_MILE, Status.IN_PROGRESS, f"deliver with {last_mile.name}")
        await self._step(LastMileActivities.schedule,
                         self._call("schedule", last_mile.name, request=req, tracking_number=label.tracking_number,
                                    events_url=self._input.events_url),
                         undo="last_mile.release", undo_text="release last-mile slot")
        await self._wait_for_event(last_mile.name, TrackingStatus.DELIVERED, Stage.LAST_MILE)

    async def _plan(self) -> Plan:
        req = self._input.request
        carriers = carriers_for(req.service_level, req.origin.country, req.destination.country)
        results = await asyncio.gather(*[
            self._activity(CarrierActivities.quote,
                           QuoteRequest(shipment_id=req.shipment_id, partner=carrier.name, request=req))
            for carrier in carriers
        ])
        quotes = [r.quote for r in results if r.quote is not None]
        declined = {r.partner: r.declined_code or "declined" for r in results if r.quote is None}
        try:
            plan = choose_plan(quotes, req.preference, declined)
        except NoPlan as err:
            raise ShipmentStopped(Status.REJECTED, "NO_CARRIER", str(err)) from None
        self._state.plan, self._state.carrier, self._state.mode = plan, plan.partner, plan.mode
        self._note("; ".join(plan.reasons))
        return plan

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
        """Run a partner step and, once it succeeded, push its undo (an activity name) onto the compensation stack."""
        record: PartnerRecord = await self._activity(method, call)
        self._record(record)
        undo_call = call.model_copy(update={"ref": record.ref, "request": None})
        self._undo.append(UndoStep(action=undo, call=undo_call,
                                   description=f"{undo_text} {record.ref} at {record.partner}"))
        return record

    async def _cancelled(self) -> None:
        request = self._state.cancel_request or CancelRequest(actor="temporal", reason="workflow cancelled")
        self._state.cancel_request = request
        await self._compensate(Status.CANCELLED, "CANCELLED", f"cancelled by {request.actor}: {request.reason}")

    async def _compensate(self, status: Status, code: str, reason: str) -> None:
        """Run the undos in reverse; each is idempotent and retried on its own policy. Never raises."""
        self._state.failure, self._state.failure_code = reason, code
        workflow.logger.warning("compensating", extra={"status": status.value, "code": code, "steps": len(self._undo)})
        undo_policy = self._retry_policy(maximum_attempts=UNDO_ATTEMPTS)
        while self._undo:
            step = self._undo.pop()
            try:
                record = await workflow.execute_activity(
                    step.action, step.call, result_type=PartnerRecord,
                    start_to_close_timeout=self._input.timings.activity_timeout, retry_policy=undo_policy)
                self._record(record)
                self._state.compensation.append(CompensationRecord(
                    action=step.action, description=step.description, ok=True, at=workflow.now()))
            except ActivityError as err:
                # An undo that keeps failing must not stop the others; ops see it in the state and the log.
                self._state.compensation.append(CompensationRecord(
                    action=step.action, description=step.description, ok=False, at=workflow.now(),
                    error=_failure_of(err)[1]))
                workflow.logger.error("undo failed", extra={"action": step.action, "ref": step.call.ref})
        now = workflow.now()
        for gate in self._state.pending_gates:
            gate.closed_at = now
        self._transition(self._state.stage, status, reason)

    def _record(self, record: PartnerRecord) -> None:
        records = self._state.records
        for index, known in enumerate(records):
            if (known.kind, known.partner, known.ref) == (record.kind, record.partner, record.ref):
                records[index] = record
                break
        else:
            records.append(record)

    # ---- gates and waits --------------------------------------------------------------------------------------

    async def _gate(self, kind: GateKind, reason: str) -> Gate:
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
        if gate.decision is Decision.REJECT:
            raise ShipmentStopped(Status.REJECTED, "GATE_REJECTED",
                                  f"{kind} rejected by {gate.actor}: {gate.comment or 'no comment'}")
        self._transition(stage, Status.IN_PROGRESS, f"{kind} approved by {gate.actor}")
        return gate

    async def _wait_for_event(self, partner: str, status: TrackingStatus, stage: Stage) -> None:
        timeout = self._input.timings.stage_timeout[stage]
        while True:
            try:
                await workflow.wait_condition(lambda: self._has_event(partner, status), timeout=timeout)
                return
            except asyncio.TimeoutError:
                # Approving means: keep waiting another period. Rejecting gives the shipment up.
                await self._gate(GateKind.STAGE_OVERDUE, f"no '{status}' from {partner} within {timeout}")

    def _has_event(self, partner: str, status: TrackingStatus) -> bool:
        return any(e.partner == partner and e.status is status for e in self._state.events)

    # ---- state, visibility, projection --------------------------------------------------------------------

    def _transition(self, stage: Stage, status: Status, note: str) -> None:
        state = self._state
        if state.transitions:
            check_move(state.stage, state.status, stage, status)
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
        workflow.upsert_search_attributes(updates)
        self._project()

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
        while self._snapshots_written < self._snapshots_wanted:
            target = self._snapshots_wanted
            update = ProjectionUpdate(version=target, state=self._state.model_copy(deep=True))
            await workflow.execute_activity_method(
                ReadModelActivities.project, update, start_to_close_timeout=timedelta(seconds=30),
                retry_policy=RetryPolicy(initial_interval=timedelta(seconds=1),
                                         maximum_interval=timedelta(seconds=30), maximum_attempts=0))
            self._snapshots_written = target

    # ---- handlers --------------------------------------------------------------------------------------------

    @workflow.query(name="state")
    def state(self) -> ShipmentState:
        return self._state

    @workflow.update(name="decide")
    async def decide(self, decision: ApprovalDecision) -> Gate:
        """Approve or reject a pending gate. Validated first: a gate that is not pending leaves no history."""
        gate = pending_gate(self._state.gates, decision.gate)
        self._apply_decision(gate, decision, via="update")
        return gate

    @decide.validator
    def _validate_decide(self, decision: ApprovalDecision) -> None:
        try:
            pending_gate(self._state.gates, decision.gate)
        except GateNotPending as err:
            raise ApplicationError(str(err), type="GateNotPending", non_retryable=True) from None

    @workflow.signal(name="decision")
    def decision_signal(self, decision: ApprovalDecision) -> None:
        """The same decision as a signal, for ops in the Web UI or the `temporal` CLI."""
        try:
            gate = pending_gate(self._state.gates, decision.gate)
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
        """A tracking event; duplicates are dropped by id and late events are put in time order."""
        events = self._state.events
        if any(e.event_id == event.event_id for e in events):
            return
        events.append(event)
        events.sort(key=lambda e: (e.occurred_at, e.sequence or 0))


def _failure_of(err: ActivityError) -> tuple[str, str]:
    """(reason code, readable reason) of a failed activity."""
    cause = err.cause
    if isinstance(cause, ApplicationError):
        code = str(cause.details[0]) if cause.details else (cause.type or "ACTIVITY_FAILED")
        return code, f"{cause.type}: {cause.message}"
    return "ACTIVITY_FAILED", str(cause or err)
