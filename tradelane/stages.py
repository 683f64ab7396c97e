"""The shipment stage machine: which stage follows which, and which moves are legal."""

from tradelane.enums import Stage, Status

STAGE_ORDER: tuple[Stage, ...] = (
    Stage.BOOKING,
    Stage.PACKAGING_CHECK,
    Stage.CUSTOMS_FILING,
    Stage.TRANSIT,
    Stage.LAST_MILE,
)

# Which statuses may follow which. A terminal status is final.
_STATUS_MOVES: dict[Status, frozenset[Status]] = {
    Status.IN_PROGRESS: frozenset(Status),
    Status.DELAYED: frozenset(Status),
    Status.ON_HOLD: frozenset({Status.IN_PROGRESS, Status.DELAYED, Status.ON_HOLD, Status.REJECTED,
                               Status.CANCELLED, Status.COMPENSATED}),
    Status.DELIVERED: frozenset(),
    Status.COMPENSATED: frozenset(),
    Status.REJECTED: frozenset(),
    Status.CANCELLED: frozenset(),
}


class IllegalTransition(ValueError):
    """A move the stage machine does not allow; a programming error, never a partner's fault."""


def next_stage(stage: Stage) -> Stage | None:
    """The stage after `stage`, or None after the last one."""
    index = STAGE_ORDER.index(stage)
    return STAGE_ORDER[index + 1] if index + 1 < len(STAGE_ORDER) else None


def check_move(from_stage: Stage, from_status: Status, to_stage: Stage, to_status: Status) -> None:
    """Raise IllegalTransition unless (to_stage, to_status) may follow (from_stage, from_status).

    Stages only move forward one at a time; statuses follow `_STATUS_MOVES`.
    """
    if to_status not in _STATUS_MOVES[from_status]:
        raise IllegalTransition(f"status {from_status} cannot become {to_status}")
    if to_stage != from_stage and to_stage != next_stage(from_stage):
        raise IllegalTransition(f"stage {from_stage} cannot be followed by {to_stage}")
