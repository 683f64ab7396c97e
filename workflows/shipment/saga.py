"""The saga: every completed step pushes its typed undo, and on failure or cancellation the undos run in reverse.

An undo is a `PartnerUndo` (the partner's own cancel, void, withdraw or release call), a `LookupUndo` (a step that
failed after the partner may have acted: whatever the partner made under the step's idempotency key is found and
taken back) or a `StockUndo` (the stock ledger gives back what it holds for the shipment); each knows its activity,
its answer's type and how that answer changes the state, so the saga runs them alike. Every partner undo sends its
own idempotency key (`<step key>:undo`), and one that still fails after its retries lands on the reconciliation list
(`reconciliation.record`), where ops see it and retry it.
"""

import asyncio
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError, is_cancelled_exception

with workflow.unsafe.imports_passed_through():
    from tradelane.shipment.calls import PartnerCall, PartnerRecord
    from tradelane.shipment.config import ShipmentTimings
    from tradelane.shipment.state import CompensationRecord, PartnerUndo, ShipmentState, StockUndo, UndoStep
    from tradelane.shipment.undo import (
        BY_KEY,
        LEDGER,
        LookupUndo,
        ReconciliationItem,
        outcome_unknown,
        reconciliation_reason,
        undo_key,
    )
    from workflows.shipment.outcomes import failure_of
    from workflows.shipment.partner_calls import retry_policy, run_activity
    from workflows.shipment.patches import FINISH_STEP_ON_CANCEL, UNCERTAIN_OUTCOMES

UNDO_ATTEMPTS = 10
"""Attempts per undo; one that still fails goes on the reconciliation list for ops, and the other undos run."""


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
            try:
                record: PartnerRecord = await run_activity(self._timings, method, call)
            except ActivityError as err:
                self._push_lookup_undo(err, call, undo, undo_text)
                raise
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
            except ActivityError as err:
                self._push_lookup_undo(err, call, undo, undo_text)  # it failed, perhaps after the partner acted
            raise
        except ActivityError as err:
            self._push_lookup_undo(err, call, undo, undo_text)
            raise
        self._push_partner_undo(call, record, undo, undo_text)
        return record

    def _push_partner_undo(self, call: PartnerCall, record: PartnerRecord, undo: str, undo_text: str) -> None:
        self._state.keep(record)
        # The undo's own key: a partner deduplicating by key must not take the cancel for a replay of the booking.
        # Only the activity's input changes (replay compares commands, not inputs), so no patch is needed.
        undo_call = call.model_copy(update={"ref": record.ref, "request": None,
                                            "idempotency_key": undo_key(call.idempotency_key)})
        self.push(PartnerUndo(action=undo, call=undo_call, description=f"{undo_text} {record.ref} at {record.partner}"))

    def _push_lookup_undo(self, err: ActivityError, call: PartnerCall, undo: str, undo_text: str) -> None:
        """A step that failed for good after the partner may have acted (not a refusal, not a cancellation): push the
        undo that asks the partner for what it made under the step's key and takes that back."""
        cause = err.cause
        failure_type = cause.type if isinstance(cause, ApplicationError) else None
        if is_cancelled_exception(err) or not outcome_unknown(failure_type) or undo not in BY_KEY:
            return
        if not workflow.patched(UNCERTAIN_OUTCOMES):  # shipments started before the change
            return
        # The request stays: a partner with no lookup by key but an idempotent create is asked by sending the step
        # again under its key (`activities.lookup.find_or_replay`). Only the activity's input changes, no patch.
        undo_call = call.model_copy(update={"ref": None, "idempotency_key": undo_key(call.idempotency_key)})
        self.push(LookupUndo(action=BY_KEY[undo], call=undo_call,
                             description=f"{undo_text} made under {call.idempotency_key} at {call.partner}, if any"))
        workflow.logger.warning("partner step outcome unknown: its undo looks it up by key",
                                extra={"partner": call.partner, "key": call.idempotency_key,
                                       "failure": failure_type or type(cause).__name__})

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
                reason = failure_of(err)[1]
                self._state.compensation.append(CompensationRecord(
                    action=step.action, description=step.description, ok=False, at=workflow.now(), error=reason))
                workflow.logger.error("undo failed", extra={"action": step.action, "undo": step.description})
                await self._report(step, reason)

    async def _report(self, step: UndoStep, error: str) -> None:
        """Put a failed undo on the reconciliation list, where ops see it and retry it. Never raises: a list that
        cannot be written leaves the failure in the state and the log, as before."""
        if not workflow.patched(UNCERTAIN_OUTCOMES):
            return
        if isinstance(step, StockUndo):
            partner, ref = LEDGER, None
        else:
            partner, ref = step.call.partner, step.call.ref
        item = ReconciliationItem(
            shipment_id=step.call.shipment_id, partner=partner, operation=step.action,
            idempotency_key=step.call.idempotency_key, partner_ref=ref, reason=reconciliation_reason(step),
            error=error, call=step.call)
        try:
            await workflow.execute_activity(
                "reconciliation.record", item, start_to_close_timeout=self._timings.activity_timeout,
                retry_policy=retry_policy(self._timings))
        except ActivityError as err:
            workflow.logger.error("reconciliation item not recorded",
                                  extra={"action": step.action, "error": failure_of(err)[1]})
