"""The dead letters (`/v1/ops/dead-letters`): messages Tradelane gave up on instead of retrying forever.

Ops only. A notification that could not be built or delivered within its attempts, a read-model snapshot the
database refused for good, a partner event that could not be taken: each is one letter, with its shipment, the
message's key, the attempts and the error (type and first line, no personal data). `GET` lists them (open ones by
default); `POST /{id}/resolve` closes one once its cause is dealt with. Each new letter also sent ops one alert
e-mail, and the API's `/metrics` counts the open ones (`tradelane_dead_letters{kind}`).
"""

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel

from infra.persistence import dead_letters
from infra.persistence.dead_letters import DeadLetterKind, DeadLetterRow
from starter.auth import Ops
from starter.deps import EngineDep
from starter.errors import ApiError

router = APIRouter(prefix="/v1/ops/dead-letters", tags=["operations"])

LetterId = Annotated[int, Path(ge=1, le=2**31 - 1)]
"""The table's INTEGER key (32-bit on PostgreSQL): a larger id is refused as a 422, not sent to the database."""


class LetterState(StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"
    ALL = "all"


class DeadLetterPublic(BaseModel):
    """One dead letter as ops see it."""

    id: int
    kind: DeadLetterKind
    shipment_id: str | None
    message_key: str
    """The outbox id of a notification, the shipment id of a projection, ``<partner>:<event_id>`` of an event."""
    attempts: int
    error_type: str
    error: str
    created_at: datetime
    last_failed_at: datetime
    resolved_at: datetime | None
    resolved_by: str | None

    @classmethod
    def of(cls, row: DeadLetterRow) -> "DeadLetterPublic":
        return cls.model_validate(row, from_attributes=True)


@router.get("", summary="List dead letters", response_model=list[DeadLetterPublic])
async def list_dead_letters(
    engine: EngineDep, _: Ops, state: LetterState = LetterState.OPEN, kind: DeadLetterKind | None = None,
    shipment_id: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[DeadLetterPublic]:
    """Dead letters, newest first: `state` open (default), resolved or all; by `kind` and `shipment_id`."""
    resolved = {LetterState.OPEN: False, LetterState.RESOLVED: True, LetterState.ALL: None}[state]
    rows = dead_letters.letters(engine, resolved=resolved, kind=kind, shipment_id=shipment_id, limit=limit)
    return [DeadLetterPublic.of(row) for row in rows]


@router.post("/{letter_id}/resolve", summary="Resolve a dead letter", response_model=DeadLetterPublic)
async def resolve_dead_letter(letter_id: LetterId, engine: EngineDep, caller: Ops) -> DeadLetterPublic:
    """Close a dead letter whose cause ops dealt with; recorded as resolved by the caller's key name."""
    row = dead_letters.resolve(engine, letter_id, by=caller.name, now=datetime.now(UTC))
    if row is None:
        raise ApiError(404, "DEAD_LETTER_NOT_FOUND", f"letter_id: no dead letter {letter_id}; "
                       "GET /v1/ops/dead-letters lists them")
    return DeadLetterPublic.of(row)
