"""What the ops console lists, read from the read model: the approvals inbox, the exceptions board and the
shipment search. Plain SQL over the tables the workflows keep up to date, so the pages answer while Temporal is
away and cost the same at 100,000 shipments: lists page by `(updated_at, shipment_id)` (keyset, indexed), never by
offset, and filters use indexed columns.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, literal, or_, tuple_
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from infra.persistence.db import ApprovalRow, ShipmentRow
from infra.persistence.dead_letters import DeadLetterRow
from infra.persistence.inventory import SuggestionRow
from infra.persistence.reconciliation import ReconciliationRow
from tradelane.enums import ExceptionKind, Status
from tradelane.inventory.models import Suggestion, SuggestionState

PAGE_SIZE = 50


def _aware(at: datetime) -> datetime:
    """SQLite hands datetimes back naive; they were written in UTC."""
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


@dataclass(frozen=True)
class PendingGate:
    """One approval waiting for a person, with what they need to decide it."""

    shipment_id: str
    gate: str
    stage: str
    reason: str
    opened_at: datetime
    escalated_at: datetime | None
    merchant_id: str
    destination_country: str
    declared_value: Decimal
    currency: str
    order_ref: str | None

    def age_hours(self, now: datetime) -> float:
        return (now - _aware(self.opened_at)).total_seconds() / 3600


def _pending_query(columns: Any, shipment_id: str | None) -> Any:
    """Approval rows without a decision whose gate the shipment row lists as pending (`pending_gates`, which the
    workflow projects and which is indexed, so the inbox does not scan every shipment)."""
    listed = (literal(",") + col(ShipmentRow.pending_gates) + literal(",")).contains(
        literal(",") + col(ApprovalRow.gate) + literal(","))
    query = select(*columns).select_from(ApprovalRow).join(
        ShipmentRow, col(ShipmentRow.shipment_id) == col(ApprovalRow.shipment_id)).where(
        col(ShipmentRow.pending_gates) > "", col(ApprovalRow.decision).is_(None), listed)
    return query if shipment_id is None else query.where(col(ShipmentRow.shipment_id) == shipment_id)


def pending_gates(engine: Engine, shipment_id: str | None = None, *, limit: int | None = None,
                  offset: int = 0) -> list[PendingGate]:
    """The approval gates waiting for a decision, escalated first, then the longest waiting."""
    query = _pending_query((ApprovalRow, ShipmentRow), shipment_id).order_by(
        col(ApprovalRow.escalated_at).is_(None), col(ApprovalRow.opened_at), col(ApprovalRow.shipment_id),
        col(ApprovalRow.gate_index)).offset(offset).limit(limit)
    with Session(engine) as session:
        rows = session.exec(query).all()
    return [PendingGate(
        shipment_id=ship.shipment_id, gate=gate.gate, stage=gate.stage, reason=gate.reason,
        opened_at=_aware(gate.opened_at), escalated_at=_aware(gate.escalated_at) if gate.escalated_at else None,
        merchant_id=ship.merchant_id, destination_country=ship.destination_country,
        declared_value=Decimal(ship.declared_value), currency=ship.currency, order_ref=ship.order_ref)
        for gate, ship in rows]


def count_pending_gates(engine: Engine) -> int:
    with Session(engine) as session:
        return int(session.exec(_pending_query((func.count(),), None)).one())


def proposed_suggestions(engine: Engine) -> list[Suggestion]:
    """Replenishment suggestions waiting for ops, oldest first."""
    with Session(engine) as session:
        rows = session.exec(select(SuggestionRow).where(SuggestionRow.state == SuggestionState.PROPOSED.value)
                            .order_by(col(SuggestionRow.updated_at), col(SuggestionRow.suggestion_id))).all()
    return [Suggestion.model_validate(row.body) for row in rows]


# ---- the exceptions board ---------------------------------------------------------------------------------------

BOARD_KINDS = ("stalled", "late", "delivery_failed", "customs_hold", "carrier_exception", "delayed", "failed",
               "dead_letter", "reconciliation")
"""What the board can be filtered by: a shipment's open exception, its status (delayed; failed: compensated,
rejected), an open dead letter or an open reconciliation item."""

FAILED = (Status.COMPENSATED.value, Status.REJECTED.value)


@dataclass(frozen=True)
class BoardItem:
    kind: str
    at: datetime
    shipment_id: str | None
    summary: str
    merchant_id: str | None = None
    destination_country: str | None = None


def exceptions_board(engine: Engine, kind: str | None = None, limit: int = 200) -> list[BoardItem]:
    """Shipments with open exceptions, delayed or failed ones, open dead letters and open reconciliation items,
    newest first; `kind` keeps one of `BOARD_KINDS`."""
    items: list[BoardItem] = []
    with Session(engine) as session:
        if kind is None or kind in ExceptionKind.__members__.values() or kind in ("delayed", "failed"):
            query = select(ShipmentRow).order_by(col(ShipmentRow.updated_at).desc()).limit(limit)
            if kind is None:
                query = query.where(or_(col(ShipmentRow.open_exceptions) != "",
                                        col(ShipmentRow.status).in_((Status.DELAYED.value, *FAILED))))
            elif kind == "delayed":
                query = query.where(col(ShipmentRow.status) == Status.DELAYED.value)
            elif kind == "failed":
                query = query.where(col(ShipmentRow.status).in_(FAILED))
            else:
                query = query.where(col(ShipmentRow.open_exceptions).contains(kind))
            for row in session.exec(query):
                kinds = [k for k in row.open_exceptions.split(",") if k]
                if row.status == Status.DELAYED.value:
                    kinds.append("delayed")
                if row.status in FAILED:
                    kinds.append("failed")
                for each in kinds if kind is None else [kind]:
                    summary = f"{row.stage} / {row.status}" + (f": {row.failure}" if row.failure and
                                                                each == "failed" else "")
                    items.append(BoardItem(kind=each, at=_aware(row.updated_at), shipment_id=row.shipment_id,
                                           summary=summary, merchant_id=row.merchant_id,
                                           destination_country=row.destination_country))
        if kind in (None, "dead_letter"):
            for letter in session.exec(select(DeadLetterRow).where(col(DeadLetterRow.resolved_at).is_(None))
                                       .order_by(col(DeadLetterRow.last_failed_at).desc()).limit(limit)):
                items.append(BoardItem(kind="dead_letter", at=_aware(letter.last_failed_at),
                                       shipment_id=letter.shipment_id,
                                       summary=f"{letter.kind} {letter.message_key}: {letter.error_type}: "
                                               f"{letter.error} ({letter.attempts} attempts)"))
        if kind in (None, "reconciliation"):
            for item in session.exec(select(ReconciliationRow).where(ReconciliationRow.state == "open")
                                     .order_by(col(ReconciliationRow.updated_at).desc()).limit(limit)):
                items.append(BoardItem(kind="reconciliation", at=_aware(item.updated_at),
                                       shipment_id=item.shipment_id,
                                       summary=f"{item.partner} {item.operation}: {item.reason}"
                                               + (f" ({item.last_error})" if item.last_error else "")))
    return sorted(items, key=lambda i: i.at, reverse=True)[:limit]


# ---- search and lists -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Search:
    """A shipment search: `q` is a shipment id, order reference or tracking number (exact); the rest filter."""

    q: str = ""
    merchant: str = ""
    status: str = ""
    stage: str = ""
    country: str = ""
    after: str = ""
    """The cursor of the page's last row (`Page.next_cursor`)."""


@dataclass
class Page:
    rows: list[ShipmentRow] = field(default_factory=list)
    next_cursor: str | None = None


def cursor(row: ShipmentRow) -> str:
    raw = f"{_aware(row.updated_at).isoformat()}|{row.shipment_id}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def parse_cursor(value: str) -> tuple[datetime, str] | None:
    """The (updated_at, shipment_id) a cursor names; None for anything that is not one."""
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode()
        at, _, shipment_id = raw.partition("|")
        parsed = datetime.fromisoformat(at)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return None
    return (parsed, shipment_id) if parsed.tzinfo is not None and shipment_id else None


def search(engine: Engine, criteria: Search, limit: int = PAGE_SIZE) -> Page:
    """One page of shipments matching `criteria`, most recently changed first."""
    query = select(ShipmentRow).order_by(col(ShipmentRow.updated_at).desc(), col(ShipmentRow.shipment_id).desc())
    if criteria.q:
        q = criteria.q.strip()
        query = query.where(or_(col(ShipmentRow.shipment_id) == q, col(ShipmentRow.order_ref) == q,
                                col(ShipmentRow.tracking_number) == q))
    for column, value in ((ShipmentRow.merchant_id, criteria.merchant), (ShipmentRow.status, criteria.status),
                          (ShipmentRow.stage, criteria.stage),
                          (ShipmentRow.destination_country, criteria.country.upper())):
        if value:
            query = query.where(col(column) == value)
    after = parse_cursor(criteria.after) if criteria.after else None
    if after is not None:
        at, shipment_id = after
        # A row-value comparison, which both SQLite and PostgreSQL answer from the (updated_at, shipment_id) index.
        query = query.where(tuple_(col(ShipmentRow.updated_at), col(ShipmentRow.shipment_id)) < tuple_(
            literal(at, ShipmentRow.__table__.c.updated_at.type), literal(shipment_id)))
    with Session(engine) as session:
        rows = list(session.exec(query.limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(rows=rows, next_cursor=cursor(rows[-1]) if more and rows else None)
