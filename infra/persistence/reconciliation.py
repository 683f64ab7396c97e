"""The reconciliation list: partner records Tradelane could not take back or account for, for ops to see and retry.

An item comes from the saga (an undo that still failed after its retries: `undo_failed`; a step whose outcome is
unknown and the partner cannot be asked by key: `outcome_unknown`) or from the scheduled reconciliation (a booking the
partner holds for no live shipment: `orphan`; a live shipment's booking the partner does not know:
`missing_at_partner`). One item per idempotency key and reason: a saga or a reconciliation that reports the same
thing again updates it (attempts, last error) instead of adding a second. Ops retry an item through Temporal
(`workflows/reconciliation.py`): the undo runs again and, when it succeeds, the item is resolved.
"""

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Column, UniqueConstraint
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, Session, SQLModel, col, select

from tradelane.shipment.undo import ReconciliationItem, ReconciliationReason, ReconciliationState


class ReconciliationRow(SQLModel, table=True):
    """One item of the reconciliation list."""

    __tablename__ = "reconciliation_items"
    __table_args__ = (UniqueConstraint("idempotency_key", "reason", name="uq_reconciliation_items_key_reason"),)

    id: int | None = Field(default=None, primary_key=True)
    shipment_id: str | None = Field(default=None, index=True, max_length=64)
    partner: str = Field(max_length=64)
    operation: str = Field(max_length=64)
    """The undo a retry runs (an activity name such as `carrier.cancel_booking`)."""
    idempotency_key: str = Field(max_length=200)
    """The key the undo sends (the step's key plus `:undo`; an orphan's `reconcile:<partner>:<ref>:undo`)."""
    partner_ref: str | None = Field(default=None, max_length=64)
    reason: str = Field(max_length=32)
    """A `ReconciliationReason`: undo_failed, outcome_unknown, orphan, missing_at_partner."""
    state: str = Field(default=ReconciliationState.OPEN, index=True, max_length=16)
    """open or resolved."""
    attempts: int = 1
    """Times the item was reported or retried without success."""
    last_error: str | None = None
    call: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    """The undo's input, run again by a retry; None when Tradelane has nothing to retry (ops check by hand)."""
    created_at: datetime
    updated_at: datetime
    resolved_at: datetime | None = None
    resolved_by: str | None = Field(default=None, max_length=120)
    """Who resolved it: `retry:<ops key name>`, `ops:<name>` by hand, or `reconciliation` when the cause vanished."""


def _now() -> datetime:
    return datetime.now(UTC)


def record_item(engine: Engine, item: ReconciliationItem, now: datetime | None = None) -> ReconciliationRow:
    """Add the item, or update the one with its key and reason (reopened if it was resolved): idempotent, so a
    retried activity or a reconciliation run that finds the same orphan again leaves one row."""
    now = now or _now()
    call = item.call.model_dump(mode="json") if item.call is not None else None
    for _ in range(2):  # a concurrent insert of the same key wins the race; then update it
        with Session(engine) as session:
            row = session.exec(select(ReconciliationRow).where(
                ReconciliationRow.idempotency_key == item.idempotency_key,
                ReconciliationRow.reason == item.reason)).first()
            if row is None:
                row = ReconciliationRow(
                    shipment_id=item.shipment_id, partner=item.partner, operation=item.operation,
                    idempotency_key=item.idempotency_key, partner_ref=item.partner_ref, reason=item.reason,
                    last_error=item.error, call=call, created_at=now, updated_at=now)
            else:
                if row.state == ReconciliationState.RESOLVED:
                    row.state, row.resolved_at, row.resolved_by = ReconciliationState.OPEN, None, None
                row.attempts += 1
                row.last_error, row.updated_at = item.error or row.last_error, now
                row.call = call if call is not None else row.call
                row.partner_ref = item.partner_ref or row.partner_ref
            session.add(row)
            try:
                session.commit()
            except IntegrityError:
                session.rollback()
                continue
            session.refresh(row)
            return row
    raise RuntimeError(f"reconciliation item {item.idempotency_key} ({item.reason}) could not be written")


def list_items(engine: Engine, state: ReconciliationState | None = None,
               reason: ReconciliationReason | None = None, limit: int = 200) -> list[ReconciliationRow]:
    """Items newest first, optionally of one state and reason."""
    with Session(engine) as session:
        query = select(ReconciliationRow)
        if state is not None:
            query = query.where(ReconciliationRow.state == state)
        if reason is not None:
            query = query.where(ReconciliationRow.reason == reason)
        return list(session.exec(query.order_by(col(ReconciliationRow.id).desc()).limit(limit)))


def open_claims(engine: Engine, partner: str) -> tuple[set[str], set[str]]:
    """(partner refs, idempotency keys) of the open items at `partner` that are not orphans: a booking the saga
    already listed (its undo failed, its outcome is unknown) is not listed a second time as an orphan."""
    with Session(engine) as session:
        rows = session.exec(select(ReconciliationRow).where(
            ReconciliationRow.partner == partner, ReconciliationRow.state == ReconciliationState.OPEN,
            ReconciliationRow.reason != ReconciliationReason.ORPHAN)).all()
    return {r.partner_ref for r in rows if r.partner_ref}, {r.idempotency_key for r in rows}


def due_retries(engine: Engine, limit: int) -> list[ReconciliationRow]:
    """Open `undo_failed` items with an undo to run, least recently tried first: what a reconciliation retries."""
    with Session(engine) as session:
        return list(session.exec(select(ReconciliationRow).where(
            ReconciliationRow.reason == ReconciliationReason.UNDO_FAILED,
            ReconciliationRow.state == ReconciliationState.OPEN, col(ReconciliationRow.call).is_not(None))
            .order_by(col(ReconciliationRow.updated_at)).limit(limit)))


def get_item(engine: Engine, item_id: int) -> ReconciliationRow | None:
    with Session(engine) as session:
        return session.get(ReconciliationRow, item_id)


def resolve_item(engine: Engine, item_id: int, by: str, note: str | None = None,
                 now: datetime | None = None) -> ReconciliationRow | None:
    """Mark the item resolved by `by`, with ops' `note` as its last word (idempotent: an item already resolved keeps
    its first resolution)."""
    now = now or _now()
    with Session(engine) as session:
        row = session.get(ReconciliationRow, item_id)
        if row is None:
            return None
        if row.state != ReconciliationState.RESOLVED:
            row.state, row.resolved_at, row.resolved_by, row.updated_at = (
                ReconciliationState.RESOLVED, now, by, now)
            row.last_error = f"{by}: {note}" if note else row.last_error
            session.add(row)
            session.commit()
            session.refresh(row)
        return row


def retry_failed(engine: Engine, item_id: int, error: str, now: datetime | None = None) -> ReconciliationRow | None:
    """A retry by ops that failed again: one more attempt and its error; the item stays open."""
    now = now or _now()
    with Session(engine) as session:
        row = session.get(ReconciliationRow, item_id)
        if row is None:
            return None
        row.attempts, row.last_error, row.updated_at = row.attempts + 1, error, now
        session.add(row)
        session.commit()
        session.refresh(row)
        return row


def resolve_vanished(engine: Engine, reason: ReconciliationReason, partners: set[str], still_there: set[str],
                     by: str, now: datetime | None = None) -> int:
    """Resolve the open items of `reason` at `partners` (those a reconciliation could ask) whose idempotency key it
    no longer finds (an orphan ops cancelled at the partner, a booking that turned up). Returns how many."""
    now = now or _now()
    with Session(engine) as session:
        rows = session.exec(select(ReconciliationRow).where(
            ReconciliationRow.reason == reason, ReconciliationRow.state == ReconciliationState.OPEN,
            col(ReconciliationRow.partner).in_(partners))).all()
        gone = [row for row in rows if row.idempotency_key not in still_there]
        for row in gone:
            row.state, row.resolved_at, row.resolved_by, row.updated_at = ReconciliationState.RESOLVED, now, by, now
            session.add(row)
        session.commit()
        return len(gone)
