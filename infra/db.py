"""The read model: SQLModel tables that activities write from workflow snapshots, for lists and reports.

Temporal holds the truth of every shipment; these tables are a projection of it. SQLite file by default, any
SQLAlchemy URL (PostgreSQL) through `TRADELANE_DATABASE_URL`. The schema is owned by Alembic (`infra/migrations`).
"""

from datetime import datetime
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import UniqueConstraint, event
from sqlalchemy.engine import Engine
from sqlmodel import Field, Session, SQLModel, create_engine, select

from tradelane.partners import kind_of
from tradelane.state import ProjectionUpdate

MIGRATIONS = Path(__file__).parent / "migrations"


class ShipmentRow(SQLModel, table=True):
    __tablename__ = "shipments"

    shipment_id: str = Field(primary_key=True, max_length=64)
    workflow_id: str = Field(max_length=80)
    merchant_id: str = Field(index=True, max_length=64)
    origin_country: str = Field(max_length=2)
    destination_country: str = Field(index=True, max_length=2)
    stage: str = Field(index=True, max_length=32)
    status: str = Field(index=True, max_length=32)
    carrier: str | None = Field(default=None, max_length=64)
    mode: str | None = Field(default=None, max_length=32)
    tracking_number: str | None = Field(default=None, max_length=64)
    declared_value: str = Field(max_length=32)
    currency: str = Field(max_length=3)
    pending_gates: str = Field(default="", max_length=200)
    failure: str | None = Field(default=None)
    version: int = 0
    created_at: datetime
    updated_at: datetime


class StageTransitionRow(SQLModel, table=True):
    __tablename__ = "stage_transitions"
    __table_args__ = (UniqueConstraint("shipment_id", "seq"),)

    id: int | None = Field(default=None, primary_key=True)
    shipment_id: str = Field(index=True, max_length=64)
    seq: int
    stage: str = Field(max_length=32)
    status: str = Field(max_length=32)
    at: datetime
    note: str = ""


class ApprovalRow(SQLModel, table=True):
    __tablename__ = "approvals"
    __table_args__ = (UniqueConstraint("shipment_id", "gate_index"),)

    id: int | None = Field(default=None, primary_key=True)
    shipment_id: str = Field(index=True, max_length=64)
    gate_index: int
    gate: str = Field(max_length=32)
    stage: str = Field(max_length=32)
    reason: str
    opened_at: datetime
    escalated_at: datetime | None = None
    decision: str | None = Field(default=None, max_length=16)
    actor: str | None = Field(default=None, max_length=120)
    comment: str | None = None
    decided_at: datetime | None = None
    via: str | None = Field(default=None, max_length=16)


class PartnerBookingRow(SQLModel, table=True):
    __tablename__ = "partner_bookings"
    __table_args__ = (UniqueConstraint("shipment_id", "kind", "partner", "ref"),)

    id: int | None = Field(default=None, primary_key=True)
    shipment_id: str = Field(index=True, max_length=64)
    kind: str = Field(max_length=16)
    partner_kind: str = Field(max_length=32)
    partner: str = Field(max_length=64)
    ref: str = Field(max_length=64)
    state: str = Field(max_length=32)
    tracking_number: str | None = Field(default=None, max_length=64)


def make_engine(url: str) -> Engine:
    """An engine for `url`; SQLite gets its directory created, WAL and a busy timeout for concurrent writers."""
    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record) -> None:  # noqa: ANN001 - DB-API objects
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url)
    return config


def migrate(url: str) -> None:
    """Bring the schema to the newest Alembic revision (idempotent)."""
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    command.upgrade(alembic_config(url), "head")


def apply_projection(engine: Engine, update: ProjectionUpdate) -> bool:
    """Write one workflow snapshot; older snapshots than the stored one change nothing.

    Returns:
        True when the snapshot was newer and written.
    """
    state = update.state
    with Session(engine) as session:
        row = session.get(ShipmentRow, state.shipment_id)
        if row is not None and row.version >= update.version:
            return False
        # The workflow records its first transition before anything is projected.
        first_at, last_at = state.transitions[0].at, state.transitions[-1].at
        if row is None:
            row = ShipmentRow(shipment_id=state.shipment_id, workflow_id=state.workflow_id,
                              merchant_id=state.merchant_id, origin_country=state.origin_country,
                              destination_country=state.destination_country,
                              declared_value=str(state.declared_value), currency=state.currency,
                              created_at=first_at)
        row.stage, row.status = state.stage, state.status
        row.carrier, row.mode, row.tracking_number = state.carrier, state.mode, state.tracking_number
        row.pending_gates = ",".join(gate.kind for gate in state.pending_gates)
        row.failure, row.version, row.updated_at = state.failure, update.version, last_at
        session.add(row)

        known_seqs = set(session.exec(select(StageTransitionRow.seq).where(
            StageTransitionRow.shipment_id == state.shipment_id)))
        for t in state.transitions:
            if t.seq not in known_seqs:
                session.add(StageTransitionRow(shipment_id=state.shipment_id, seq=t.seq, stage=t.stage,
                                               status=t.status, at=t.at, note=t.note))

        approvals = {a.gate_index: a for a in session.exec(select(ApprovalRow).where(
            ApprovalRow.shipment_id == state.shipment_id))}
        for index, gate in enumerate(state.gates):
            approval = approvals.get(index) or ApprovalRow(shipment_id=state.shipment_id, gate_index=index,
                                                           gate=gate.kind, stage=gate.stage, reason=gate.reason,
                                                           opened_at=gate.opened_at)
            approval.escalated_at, approval.decision = gate.escalated_at, gate.decision
            approval.actor, approval.comment = gate.actor, gate.comment
            approval.decided_at, approval.via = gate.decided_at, gate.via
            session.add(approval)

        bookings = {(b.kind, b.partner, b.ref): b for b in session.exec(select(PartnerBookingRow).where(
            PartnerBookingRow.shipment_id == state.shipment_id))}
        for record in state.records:
            booking = bookings.get((record.kind, record.partner, record.ref)) or PartnerBookingRow(
                shipment_id=state.shipment_id, kind=record.kind, partner=record.partner, ref=record.ref,
                partner_kind=kind_of(record.partner), state=record.state)
            booking.state, booking.tracking_number = record.state, record.tracking_number
            session.add(booking)
        session.commit()
        return True
