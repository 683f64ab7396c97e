"""The saga: every completed step pushes its typed undo, and on failure or cancellation the undos run in reverse.

An undo is a `PartnerUndo` (the partner's own cancel, void, withdraw or release call) or a `StockUndo` (the stock
ledger gives back what it holds for the shipment); each knows its activity, its answer's type and how that answer
changes the state, so the saga runs them alike.
"""

import asyncio
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from tradelane.shipment.calls import PartnerCall, PartnerRecord
    from tradelane.shipment.config import ShipmentTimings
    from tradelane.shipment.state import CompensationRecord, PartnerUndo, ShipmentState, UndoStep
    from workflows.shipment.outcomes import failure_of
    from workflows.shipment.partner_calls import retry_policy, run_activity
    from workflows.shipment.patches import FINISH_STEP_ON_CANCEL

UNDO_ATTEMPTS = 10
"""Attempts per undo; one that still fails is recorded as failed and the other undos run."""


class Saga:
    """The compensation stack of one shipment (carried over by continue-as-new)."""

    def __init__(self, state: ShipmentState, timings: ShipmentTimings, stack: list[UndoStep]) -> None:
        self._state, self._timings = state, timings
        self.stack = stack

    @property
    def height(self) -> int:
        return len(self.stack)

    def push(self, step: UndoStep) -> None:
        self.stack.append(step)

    def clear(self) -> None:
        """Delivered: nothing is left to take back."""
        self.stack.clear()

    async def step(self, method: Any, call: PartnerCall, *, undo: str, undo_text: str) -> PartnerRecord:
        """Run a partner step and, once it succeeded, push its undo (an activity name).

        A cancellation that arrives while the call is in flight lets the call finish first: a booking the partner
        made must be known to be undone, or it would be left behind (an orphan).
        """
        if not workflow.patched(FINISH_STEP_ON_CANCEL):  # shipments started before the change
            record: PartnerRecord = await run_activity(self._timings, method, call)
            self._push_partner_undo(call, record, undo, undo_text)
            return record
        handle = workflow.start_activity_method(
            method, call, start_to_close_timeout=self._timings.activity_timeout,
            retry_policy=retry_policy(self._timings))
        try:
            record = await asyncio.shield(handle)
        except asyncio.CancelledError:
            try:
                self._push_partner_undo(call, await handle, undo, undo_text)
            except ActivityError:
                pass  # the step failed anyway: nothing was made, nothing to undo
            raise
        self._push_partner_undo(call, record, undo, undo_text)
        return record

    def _push_partner_undo(self, call: PartnerCall, record: PartnerRecord, undo: str, undo_text: str) -> None:
        self._state.keep(record)
        undo_call = call.model_copy(update={"ref": record.ref, "request": None})
        self.push(PartnerUndo(action=undo, call=undo_call, description=f"{undo_text} {record.ref} at {record.partner}"))

    async def unwind(self, until: int = 0) -> None:
        """Undo completed steps in reverse down to stack height `until`; a failing undo is recorded, never raised."""
        policy = retry_policy(self._timings, maximum_attempts=UNDO_ATTEMPTS)
        while len(self.stack) > until:
            step = self.stack.pop()
            try:
                result = await workflow.execute_activity(
                    step.action, step.call, result_type=step.result_type,
                    start_to_close_timeout=self._timings.activity_timeout, retry_policy=policy)
                step.apply(self._state, result)
                self._state.compensation.append(CompensationRecord(
                    action=step.action, description=step.description, ok=True, at=workflow.now()))
            except ActivityError as err:
                # An undo that keeps failing must not stop the others; ops see it in the state and the log.
                self._state.compensation.append(CompensationRecord(
                    action=step.action, description=step.description, ok=False, at=workflow.now(),
                    error=failure_of(err)[1]))
                workflow.logger.error("undo failed", extra={"action": step.action, "undo": step.description})
