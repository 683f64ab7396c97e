"""The stock ledger's tables and transactions, the master data, the sales history and the suggestions.

Stock is a list of movements (`stock_movements`), never edited. Each (warehouse, SKU) has its own stream numbered
by `seq`, unique per stream: a writer reads the stream's position and last `seq`, checks the movement against the
position (`tradelane.inventory.ledger`) and inserts it as `seq + 1`. Two writers that read the same position
collide on that unique key and the loser tries again with the newer position, on SQLite and PostgreSQL alike, so
concurrent reservations can never sell the same unit twice. Every movement also carries an idempotency key
(unique): an activity retried after a crash posts nothing twice.

Stock belongs to the merchant of its warehouse (`warehouses.merchant_id`; a shipment may only name its own
merchant's warehouses), and SKUs and their sales to the SKU's merchant: the views take `merchants` to show only
theirs (None: every merchant's, for ops).
"""

import random
import time
from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import JSON, Column, UniqueConstraint, func
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlmodel import Field, Session, SQLModel, col, select

from infra.persistence.db import ShipmentRow
from infra.persistence.errors import contended
from tradelane.inventory.ledger import LedgerViolation, MovementKind, Position, deltas
from tradelane.inventory.models import (
    InboundView,
    MovementView,
    Network,
    SaleRecord,
    SkuSpec,
    StockView,
    Suggestion,
    SuggestionState,
    Warehouse,
)

POST_ATTEMPTS = 200
"""Tries of one posting against concurrent writers of the same streams (each loser sees a newer position)."""


class WarehouseRow(SQLModel, table=True):
    __tablename__ = "warehouses"

    warehouse_id: str = Field(primary_key=True, max_length=32)
    merchant_id: str = Field(index=True, max_length=64)
    country: str = Field(max_length=2)
    spec: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    """The `Warehouse` as given (name, address, source, handling days)."""
    updated_at: datetime


class SkuRow(SQLModel, table=True):
    __tablename__ = "skus"

    sku: str = Field(primary_key=True, max_length=64)
    merchant_id: str = Field(index=True, max_length=64)
    spec: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    updated_at: datetime


class StockMovementRow(SQLModel, table=True):
    __tablename__ = "stock_movements"
    __table_args__ = (UniqueConstraint("warehouse_id", "sku", "seq"),)

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(unique=True, max_length=200)
    """Idempotency key: `<shipment>:<step>:<warehouse>:<sku>` or the caller's reference."""
    warehouse_id: str = Field(max_length=32)
    sku: str = Field(max_length=64)
    seq: int
    kind: str = Field(max_length=24)
    quantity: int
    on_hand_delta: int
    reserved_delta: int
    in_transit_delta: int
    shipment_id: str | None = Field(default=None, index=True, max_length=64)
    reason: str = Field(default="", max_length=500)
    actor: str = Field(default="", max_length=120)
    at: datetime


class SaleRow(SQLModel, table=True):
    __tablename__ = "sales"

    sku: str = Field(primary_key=True, max_length=64)
    market: str = Field(primary_key=True, max_length=2)
    day: date = Field(primary_key=True)
    quantity: int
    imported_at: datetime


class SuggestionRow(SQLModel, table=True):
    __tablename__ = "replenishment_suggestions"

    suggestion_id: str = Field(primary_key=True, max_length=120)
    run_id: str = Field(index=True, max_length=120)
    as_of: date
    warehouse_id: str = Field(index=True, max_length=32)
    sku: str = Field(index=True, max_length=64)
    state: str = Field(index=True, max_length=16)
    body: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    """The whole `Suggestion` (figures, reasons, the shipment request it starts)."""
    updated_at: datetime


# ---- master data ------------------------------------------------------------------------------------------------


def save_network(engine: Engine, network: Network) -> tuple[int, int]:
    """Insert or replace warehouses and SKUs (master data, not stock). Returns (warehouses, skus) written."""
    now = datetime.now(UTC)
    with Session(engine) as session:
        for w in network.warehouses:
            row = session.get(WarehouseRow, w.warehouse_id) or WarehouseRow(
                warehouse_id=w.warehouse_id, merchant_id=w.merchant_id, country=w.country, spec={}, updated_at=now)
            row.merchant_id, row.country = w.merchant_id, w.country
            row.spec, row.updated_at = w.model_dump(mode="json"), now
            session.add(row)
        for s in network.skus:
            sku_row = session.get(SkuRow, s.sku) or SkuRow(sku=s.sku, merchant_id=s.merchant_id, spec={},
                                                          updated_at=now)
            sku_row.merchant_id, sku_row.spec, sku_row.updated_at = s.merchant_id, s.model_dump(mode="json"), now
            session.add(sku_row)
        session.commit()
    return len(network.warehouses), len(network.skus)


def warehouses(engine: Engine, merchant_id: str | None = None,
               merchants: Collection[str] | None = None) -> dict[str, Warehouse]:
    """The network's warehouses: of one merchant, of `merchants`, or (both None) all."""
    with Session(engine) as session:
        query = select(WarehouseRow)
        if merchant_id is not None:
            query = query.where(WarehouseRow.merchant_id == merchant_id)
        if merchants is not None:
            query = query.where(col(WarehouseRow.merchant_id).in_(sorted(merchants)))
        return {row.warehouse_id: Warehouse.model_validate(row.spec) for row in session.exec(query)}


def skus(engine: Engine, merchants: Collection[str] | None = None) -> dict[str, SkuSpec]:
    """The SKU catalogue: of `merchants`, or (None) every merchant's."""
    with Session(engine) as session:
        query = select(SkuRow)
        if merchants is not None:
            query = query.where(col(SkuRow.merchant_id).in_(sorted(merchants)))
        return {row.sku: SkuSpec.model_validate(row.spec) for row in session.exec(query)}


def _owned_warehouses(merchants: Collection[str]) -> Any:
    """A subquery of the ids of `merchants`' warehouses: their stock is theirs."""
    return select(WarehouseRow.warehouse_id).where(col(WarehouseRow.merchant_id).in_(sorted(merchants)))


# ---- postings -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NewMovement:
    key: str
    warehouse_id: str
    sku: str
    kind: MovementKind
    quantity: int
    shipment_id: str | None = None
    reason: str = ""
    actor: str = ""
    settles_inbound: bool = False


class Refused(Exception):
    """A posting that would leave negative stock; nothing of it was written."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def post(engine: Engine, movements: list[NewMovement]) -> list[StockMovementRow]:
    """Post `movements` all together or not at all, checked against the positions they change.

    Idempotent: movements whose key is already in the ledger are not posted again (a posting is all or nothing,
    so a repeated one is found whole). Retries when another writer got to the same stream first.

    Raises:
        Refused: a movement would leave negative stock (every problem is named); nothing is written.
    """
    if not movements:
        return []
    keys = [m.key for m in movements]
    for attempt in range(POST_ATTEMPTS):
        with Session(engine) as session:
            done = _posted(session, keys)
            if done:
                return done
            try:
                rows = _checked_rows(session, movements)
            except Refused:
                # A copy of this posting may have been committed after the look-up above, and the positions
                # just read include it: that is the repeat finding its own rows, not a refusal.
                done = _posted(session, keys)
                if done:
                    return done
                raise
            session.add_all(rows)
            try:
                session.commit()
            except (IntegrityError, OperationalError) as err:
                # Another writer posted to one of these streams (same seq) or the same key first, or the database
                # made this writer wait its turn: read again and re-check against the newer position. Anything
                # else (a missing table, a full disk) is raised as it is.
                session.rollback()
                if not contended(err):
                    raise
                time.sleep(random.uniform(0, 0.002 * min(attempt + 1, 20)))
                continue
            for row in rows:
                session.refresh(row)
            return rows
    raise RuntimeError(f"stock posting {keys[0]} lost {POST_ATTEMPTS} races in a row")


def _posted(session: Session, keys: list[str]) -> list[StockMovementRow]:
    return list(session.exec(select(StockMovementRow).where(col(StockMovementRow.key).in_(keys))))


def _checked_rows(session: Session, movements: list[NewMovement]) -> list[StockMovementRow]:
    streams = {(m.warehouse_id, m.sku) for m in movements}
    positions = {s: _position(session, *s) for s in streams}
    problems, rows, now = [], [], datetime.now(UTC)
    for m in movements:
        stream = (m.warehouse_id, m.sku)
        position, seq = positions[stream]
        change = deltas(m.kind, m.quantity, settles_inbound=m.settles_inbound)
        try:
            position = position.apply(change, what=f"{m.kind} of {m.quantity} {m.sku} at {m.warehouse_id}")
        except LedgerViolation as err:
            problems.append(str(err))
            continue
        positions[stream] = (position, seq + 1)
        rows.append(StockMovementRow(
            key=m.key, warehouse_id=m.warehouse_id, sku=m.sku, seq=seq + 1, kind=m.kind, quantity=m.quantity,
            on_hand_delta=change.on_hand, reserved_delta=change.reserved, in_transit_delta=change.in_transit,
            shipment_id=m.shipment_id, reason=m.reason[:500], actor=m.actor[:120], at=now))
    if problems:
        raise Refused(problems)
    return rows


def _position(session: Session, warehouse_id: str, sku: str) -> tuple[Position, int]:
    """The stream's position (sums of its movements) and its last seq."""
    r = StockMovementRow
    on_hand, reserved, in_transit, seq = session.exec(
        select(func.coalesce(func.sum(r.on_hand_delta), 0), func.coalesce(func.sum(r.reserved_delta), 0),
               func.coalesce(func.sum(r.in_transit_delta), 0), func.coalesce(func.max(r.seq), 0))
        .where(r.warehouse_id == warehouse_id, r.sku == sku)).one()
    return Position(on_hand=on_hand, reserved=reserved, in_transit=in_transit), seq


def shipment_movements(engine: Engine, shipment_id: str) -> list[StockMovementRow]:
    with Session(engine) as session:
        return list(session.exec(select(StockMovementRow).where(StockMovementRow.shipment_id == shipment_id)
                                 .order_by(col(StockMovementRow.id))))


# ---- views --------------------------------------------------------------------------------------------------------


def stock(engine: Engine, *, sku: str | None = None, warehouse_id: str | None = None,
          merchants: Collection[str] | None = None) -> list[StockView]:
    """Positions per warehouse and SKU (at `merchants`' warehouses only, when given), with the open inbound
    shipments and their current ETAs."""
    r = StockMovementRow
    with Session(engine) as session:
        query = select(r.warehouse_id, r.sku, func.sum(r.on_hand_delta), func.sum(r.reserved_delta),
                       func.sum(r.in_transit_delta), func.count()).group_by(r.warehouse_id, r.sku)
        inbound_query = (select(r.warehouse_id, r.sku, r.shipment_id, func.sum(r.in_transit_delta))
                         .where(col(r.shipment_id).is_not(None), r.in_transit_delta != 0)
                         .group_by(r.warehouse_id, r.sku, r.shipment_id)
                         .having(func.sum(r.in_transit_delta) > 0))
        if sku is not None:
            query, inbound_query = query.where(r.sku == sku), inbound_query.where(r.sku == sku)
        if warehouse_id is not None:
            query = query.where(r.warehouse_id == warehouse_id)
            inbound_query = inbound_query.where(r.warehouse_id == warehouse_id)
        if merchants is not None:
            query = query.where(col(r.warehouse_id).in_(_owned_warehouses(merchants)))
            inbound_query = inbound_query.where(col(r.warehouse_id).in_(_owned_warehouses(merchants)))
        totals = list(session.exec(query.order_by(r.warehouse_id, r.sku)))
        inbound: dict[tuple[str, str], list[InboundView]] = defaultdict(list)
        open_inbound = list(session.exec(inbound_query))
        shipments = {s.shipment_id: s for s in session.exec(select(ShipmentRow).where(
            col(ShipmentRow.shipment_id).in_([row[2] for row in open_inbound])))}
        for wh, s, shipment_id, quantity in open_inbound:
            ship = shipments.get(shipment_id)
            inbound[(wh, s)].append(InboundView(
                shipment_id=shipment_id, quantity=quantity, status=ship.status if ship else None,
                eta_expected=ship.eta_expected if ship else None, eta_latest=ship.eta_latest if ship else None))
        located = session.exec(select(WarehouseRow.warehouse_id, WarehouseRow.country))
        countries = {wh: country for wh, country in located}
    return [StockView(warehouse_id=wh, country=countries.get(wh, ""), sku=s, on_hand=on_hand, reserved=reserved,
                      available=on_hand - reserved, in_transit=in_transit,
                      inbound=sorted(inbound[(wh, s)], key=lambda i: (i.eta_expected or date.max, i.shipment_id)),
                      movements=count)
            for wh, s, on_hand, reserved, in_transit, count in totals]


def movements(engine: Engine, *, sku: str | None = None, warehouse_id: str | None = None, limit: int = 200,
              merchants: Collection[str] | None = None) -> list[MovementView]:
    """Ledger rows, newest first (at `merchants`' warehouses only, when given)."""
    r = StockMovementRow
    with Session(engine) as session:
        query = select(r)
        if merchants is not None:
            query = query.where(col(r.warehouse_id).in_(_owned_warehouses(merchants)))
        if sku is not None:
            query = query.where(r.sku == sku)
        if warehouse_id is not None:
            query = query.where(r.warehouse_id == warehouse_id)
        rows = session.exec(query.order_by(col(r.id).desc()).limit(limit))
        return [MovementView.model_validate(row, from_attributes=True) for row in rows]


# ---- sales ----------------------------------------------------------------------------------------------------


def save_sales(engine: Engine, records: list[SaleRecord]) -> tuple[int, int]:
    """Insert or replace daily sales (a re-import of a day corrects it). Returns (inserted, replaced)."""
    now, inserted, replaced = datetime.now(UTC), 0, 0
    with Session(engine) as session:
        for rec in records:
            row = session.get(SaleRow, (rec.sku, rec.market, rec.day))
            if row is None:
                inserted += 1
                row = SaleRow(sku=rec.sku, market=rec.market, day=rec.day, quantity=rec.quantity, imported_at=now)
            else:
                replaced += 1
                row.quantity, row.imported_at = rec.quantity, now
            session.add(row)
        session.commit()
    return inserted, replaced


def sales_history(engine: Engine, sku: str, market: str, *, until: date) -> tuple[date | None, list[int]]:
    """Daily units sold before `until`, from the first recorded day, with missing days as zero sales."""
    with Session(engine) as session:
        rows = list(session.exec(select(SaleRow.day, SaleRow.quantity).where(
            SaleRow.sku == sku, SaleRow.market == market, col(SaleRow.day) < until).order_by(col(SaleRow.day))))
    if not rows:
        return None, []
    first = rows[0][0]
    series = [0] * (until - first).days
    for day, quantity in rows:
        series[(day - first).days] = quantity
    return first, series


# ---- suggestions ------------------------------------------------------------------------------------------------


def save_suggestions(engine: Engine, suggestions: list[Suggestion]) -> None:
    """Insert or update suggestions (their state follows the replenishment workflow).

    A suggestion's id is its day, warehouse and SKU, so a later run of the same day proposes it again: that
    proposal does not take back what ops decided on it (approved, rejected, started...)."""
    now = datetime.now(UTC)
    with Session(engine) as session:
        for s in suggestions:
            row = session.get(SuggestionRow, s.suggestion_id)
            if row is not None and s.state is SuggestionState.PROPOSED and row.state != SuggestionState.PROPOSED:
                continue
            row = row or SuggestionRow(
                suggestion_id=s.suggestion_id, run_id=s.run_id, as_of=s.as_of, warehouse_id=s.warehouse_id,
                sku=s.sku, state=s.state, body={}, updated_at=now)
            row.state, row.body, row.updated_at = s.state, s.model_dump(mode="json"), now
            session.add(row)
        session.commit()


def suggestions(engine: Engine, *, state: SuggestionState | None = None, sku: str | None = None,
                warehouse_id: str | None = None, run_id: str | None = None, limit: int = 200,
                merchants: Collection[str] | None = None) -> list[Suggestion]:
    """Suggestions, newest first (for `merchants`' warehouses only, when given)."""
    with Session(engine) as session:
        query = select(SuggestionRow)
        if merchants is not None:
            query = query.where(col(SuggestionRow.warehouse_id).in_(_owned_warehouses(merchants)))
        for column, value in ((SuggestionRow.state, state), (SuggestionRow.sku, sku),
                              (SuggestionRow.warehouse_id, warehouse_id), (SuggestionRow.run_id, run_id)):
            if value is not None:
                query = query.where(column == value)
        rows = session.exec(query.order_by(col(SuggestionRow.as_of).desc(), col(SuggestionRow.suggestion_id))
                            .limit(limit))
        return [Suggestion.model_validate(row.body) for row in rows]
