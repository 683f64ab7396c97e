"""Approval gates: where a shipment waits for a person (high value, compliance, packaging, customs hold, stage
overdue), escalates when nobody decides in time, and takes the decision by update or by signal."""


from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from tradelane.approvals import GateNotPending, pending_gate
    from tradelane.enums import Decision, GateKind, Status
    from tradelane.shipment.config import ShipmentTimings
    from tradelane.shipment.state import ApprovalDecision, Gate, IgnoredSignal, ShipmentState
    from workflows import metrics
    from workflows.shipment.outcomes import ShipmentStopped
    from workflows.shipment.timeline import Timeline


class Gates:
    def __init__(self, state: ShipmentState, timings: ShipmentTimings, *, timeline: Timeline) -> None:
        self._state, self._timings, self._timeline = state, timings, timeline

    async def hold(self, kind: GateKind, reason: str, *, reject_status: Status = Status.REJECTED,
                   reject_code: str = "GATE_REJECTED") -> Gate:
        """Hold the shipment until ops decide; escalate (never wait silently) when nobody does in time.

        Raises:
            ShipmentStopped: Ops rejected; the shipment ends `reject_status` with `reject_code`.
        """
        stage = self._state.stage
        gate = Gate(kind=kind, stage=stage, reason=reason, opened_at=workflow.now())
        self._state.gates.append(gate)
        self._timeline.transition(stage, Status.ON_HOLD, f"waiting for ops: {kind}: {reason}")
        try:
            await workflow.wait_condition(lambda: gate.decision is not None, timeout=self._timings.gate_escalate_after)
        except TimeoutError:
            gate.escalated_at = workflow.now()
            workflow.logger.error("approval overdue, escalated", extra={"gate": kind.value, "reason": reason})
            self._timeline.transition(stage, Status.ON_HOLD,
                                      f"escalated: {kind} undecided since {gate.opened_at.isoformat()}")
            await workflow.wait_condition(lambda: gate.decision is not None)
        assert gate.decision is not None and gate.decided_at is not None
        metrics.approval_decided(kind.value, gate.decision.value, (gate.decided_at - gate.opened_at).total_seconds())
        if gate.decision is Decision.REJECT:
            raise ShipmentStopped(reject_status, reject_code,
                                  f"{kind} rejected by {gate.actor}: {gate.comment or 'no comment'}")
        self._timeline.transition(stage, Status.IN_PROGRESS, f"{kind} approved by {gate.actor}")
        return gate

    def validate(self, decision: ApprovalDecision) -> None:
        """For the update's validator: a decision on a gate that is not pending is refused and leaves no history."""
        try:
            pending_gate(self._state.gates, decision.gate, decision)
        except GateNotPending as err:
            raise ApplicationError(str(err), type="GateNotPending", non_retryable=True) from None

    def decide(self, decision: ApprovalDecision, *, via: str) -> Gate:
        gate = pending_gate(self._state.gates, decision.gate, decision)
        gate.decision, gate.actor, gate.comment = decision.decision, decision.actor, decision.comment
        gate.decided_at, gate.via = workflow.now(), via
        return gate

    def decide_by_signal(self, decision: ApprovalDecision) -> bool:
        """A signal cannot be refused: one for a gate that is not pending is recorded as ignored. Returns whether
        it decided a gate."""
        try:
            self.decide(decision, via="signal")
        except GateNotPending as err:
            self._state.ignored_signals.append(IgnoredSignal(
                received_at=workflow.now(), gate=decision.gate.value, decision=decision.decision.value,
                actor=decision.actor, reason=str(err)))
            workflow.logger.warning("decision signal ignored", extra={"gate": decision.gate.value,
                                                                      "reason": str(err)})
            return False
        return True
