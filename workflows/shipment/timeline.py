"""The timeline: every change of stage or status (and every decision worth a line) recorded in the state, checked
against the stage machine, counted in metrics, shown as search attributes and projected to the read model."""

from datetime import datetime
from typing import Any

from temporalio import workflow
from temporalio.common import SearchAttributeUpdate

with workflow.unsafe.imports_passed_through():
    from tradelane.enums import Stage, Status
    from tradelane.shipment.state import ShipmentState, Transition
    from tradelane.stages import check_move
    from workflows import metrics
    from workflows import visibility as sa
    from workflows.shipment.board import SearchAttributeBoard
    from workflows.shipment.projector import Projector


def running_status(state: ShipmentState, status: Status) -> Status:
    """`in_progress` reads `delayed` while an exception is open."""
    if status in (Status.IN_PROGRESS, Status.DELAYED):
        return Status.DELAYED if state.open_exceptions else Status.IN_PROGRESS
    return status


class Timeline:
    def __init__(self, state: ShipmentState, *, board: SearchAttributeBoard, projector: Projector) -> None:
        self._state, self._board, self._projector = state, board, projector

    def transition(self, stage: Stage, status: Status, note: str) -> None:
        state = self._state
        status = running_status(state, status)
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
        self._board.show(*updates)
        self._projector.request()

    def note(self, note: str) -> None:
        """A transition that keeps stage and status, to record a decision in the timeline."""
        self.transition(self._state.stage, self._state.status, note)

    def _stage_entered_at(self) -> datetime:
        transitions = self._state.transitions
        first = len(transitions) - 1
        while first > 0 and transitions[first - 1].stage == transitions[-1].stage:
            first -= 1
        return transitions[first].at
