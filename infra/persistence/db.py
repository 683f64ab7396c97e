"""The read model: SQLModel tables that activities write from workflow snapshots, for lists and reports.

Temporal holds the truth of every shipment; these tables are a projection of it. SQLite file by default, any
SQLAlchemy URL (PostgreSQL) through `TRADELANE_DATABASE_URL`. The schema is owned by Alembic
(`infra/persistence/migrations`).
"""

import fcntl
from datetime import date, datetime
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Index, UniqueConstraint, event
from sqlalchemy import update as sa_update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, Session, SQLModel, col, create_engine, select

import infra.persistence.dead_letters  # noqa: F401  (so are the dead letters)
import infra.persistence.merchants  # noqa: F401  (and the merchants' profiles)
import infra.persistence.outbox  # noqa: F401  (the outbox table is part of the read model's schema)
import infra.persistence.receipts  # noqa: F401  (so are the webhook receipts)
import infra.persistence.reconciliation  # noqa: F401  (and the reconciliation list)
from infra.persistence.errors import unique_violation
from infra.persistence.notices import enqueue_notices
from infra.persistence.tracking_tokens import record_token
from infra.platform.notice_config import NoticeConfig
from tradelane.notify import recipient_timezone
from tradelane.partners import kind_of
from tradelane.shipment.projection import ProjectionUpdate
from tradelane.shipment.state import ShipmentState

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
    tracking_number: str | None = Field(default=None, index=True, max_length=64)
    declared_value: str = Field(max_length=32)
    currency: str = Field(max_length=3)
    pending_gates: str = Field(default="", max_length=200)
    failure: str | None = Field(default=None)
    version: int = 0
    created_at: datetime
    updated_at: datetime
    eta_expected: date | None = None
    eta_earliest: date | None = None
    eta_latest: date | None = None
    promised_date: date | None = None
    open_exceptions: str = Field(default="", max_length=200)
    """Open exception kinds, comma-separated (ops filter on it)."""
    latest_status: str | None = Field(default=None, max_length=32)
    """The newest tracking status (by when it happened)."""
    latest_event_at: datetime | None = None
    events_count: int = 0
    recipient_locale: str | None = Field(default=None, max_length=35)
    """For the public tracking page's language; the only recipient detail kept here."""
    recipient_timezone: str | None = Field(default=None, max_length=64)


class TrackingEventRow(SQLModel, table=True):
    __tablename__ = "tracking_events"
    __table_args__ = (UniqueConstraint("shipment_id", "event_id"),)

    id: int | None = Field(default=None, primary_key=True)
    shipment_id: str = Field(index=True, max_length=64)
    event_id: str = Field(max_length=200)
    partner: str = Field(max_length=64)
    code: str = Field(max_length=64)
    status: str = Field(max_length=32)
    description: str = Field(default="", max_length=500)
    location: str = Field(default="", max_length=200)
    occurred_at: datetime
    received_seq: int
    sequence: int | None = None
    via: str = Field(default="webhook", max_length=16)
    tracking_number: str | None = Field(default=None, max_length=64)
    booking_ref: str | None = Field(default=None, max_length=64)


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
    # By partner and reference: a DCSA line's callback names a booking, not a shipment (`shipments_with_booking`).
    __table_args__ = (UniqueConstraint("shipment_id", "kind", "partner", "ref"),
                      Index("ix_partner_bookings_partner_ref", "partner", "ref"))

    id: int | None = Field(default=None, primary_key=True)
    shipment_id: str = Field(index=True, max_length=64)
    kind: str = Field(max_length=16)
    partner_kind: str = Field(max_length=32)
    partner: str = Field(max_length=64)
    ref: str = Field(max_length=64)
    state: str = Field(max_length=32)
    tracking_number: str | None = Field(default=None, max_length=64)


def shipments_with_booking(engine: Engine, partner: str, ref: str) -> list[str]:
    """The shipments on which `partner` holds a booking with reference `ref` (one, unless the partner reused it),
    cancelled bookings included: a line may report on a booking after it was cancelled."""
    with Session(engine) as session:
        return sorted(set(session.exec(select(PartnerBookingRow.shipment_id).where(
            PartnerBookingRow.partner == partner, PartnerBookingRow.kind == "booking",
            PartnerBookingRow.ref == ref))))


def _add_events(session: Session, row: ShipmentRow, update: ProjectionUpdate) -> None:
    """Insert events not stored yet (a retried projection may carry some again) and keep the newest status."""
    if not update.events:
        return
    known = set(session.exec(select(TrackingEventRow.event_id).where(
        TrackingEventRow.shipment_id == row.shipment_id,
        col(TrackingEventRow.event_id).in_([e.event_id for e in update.events]))))
    for e in update.events:
        if e.event_id not in known:
            session.add(TrackingEventRow(
                shipment_id=row.shipment_id, event_id=e.event_id, partner=e.partner, code=e.code, status=e.status,
                description=e.description, location=e.location, occurred_at=e.occurred_at,
                received_seq=e.received_seq, sequence=e.sequence, via=e.via, tracking_number=e.tracking_number,
                booking_ref=e.booking_ref))
        if row.latest_event_at is None or e.occurred_at >= row.latest_event_at:
            row.latest_event_at, row.latest_status = e.occurred_at, e.status


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
    """Bring the schema to the newest Alembic revision (idempotent).

    Processes that start together on a fresh database (the API and the worker) take turns, so the second finds the
    schema made instead of creating the same tables again: a lock file beside a SQLite file, a transaction-scoped
    advisory lock on PostgreSQL (`infra/persistence/migrations/env.py`).
    """
    if not url.startswith("sqlite:///") or url.endswith(":memory:"):
        command.upgrade(alembic_config(url), "head")
        return
    path = Path(url.removeprefix("sqlite:///"))
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.with_name(f"{path.name}.migrate.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        command.upgrade(alembic_config(url), "head")


PROJECTION_ATTEMPTS = 3
"""Transactions one snapshot may take when concurrent writers of its shipment insert the same keys first."""


def apply_projection(engine: Engine, update: ProjectionUpdate, notices: NoticeConfig | None = None) -> bool:
    """Write one workflow snapshot, its new tracking events and its notices' outbox messages in one transaction;
    older snapshots than the stored one change nothing.

    Safe with concurrent writers of one shipment (a timed-out local activity still writing in its thread while
    its fallback activity writes the same snapshot): the transaction first claims the stored row for its version
    with a conditional update, which waits for the other writer's lock and so cannot overwrite a newer snapshot
    written meanwhile; a writer that loses a race to insert the same new key (the shipment, an event, a transition)
    starts again and reads what the other one wrote.

    Returns:
        True when the snapshot was newer and written.
    """
    for _ in range(PROJECTION_ATTEMPTS - 1):
        try:
            return _write_snapshot(engine, update, notices)
        except IntegrityError as err:
            if not unique_violation(err):
                raise
    return _write_snapshot(engine, update, notices)


def _write_snapshot(engine: Engine, update: ProjectionUpdate, notices: NoticeConfig | None) -> bool:
    shipment_id = update.state.shipment_id
    with Session(engine) as session:
        claimed = session.connection().execute(
            sa_update(ShipmentRow)
            .where(col(ShipmentRow.shipment_id) == shipment_id, col(ShipmentRow.version) < update.version)
            .values(version=update.version)).rowcount
        row = session.get(ShipmentRow, shipment_id)
        if row is not None and not claimed:
            return False  # this snapshot or a newer one is stored
        first = row is None
        row = _shipment_row(row, update)
        session.add(row)
        _add_events(session, row, update)
        if notices is not None and notices.tracking_secret is not None and (first or update.notices):
            # A link is handed out with the shipment's first state and in its e-mails; a snapshot without either
            # need not look the token up again (after a secret rotation, the next e-mail records the new one).
            record_token(session, row.shipment_id, notices.tracking_secret.get_secret_value())
        if notices is not None and update.notices:
            enqueue_notices(session, update, notices)
        _add_transitions(session, update.state)
        _write_approvals(session, update.state)
        _write_bookings(session, update.state)
        session.commit()
        return True


def _shipment_row(row: ShipmentRow | None, update: ProjectionUpdate) -> ShipmentRow:
    """The shipment's row (a new one for its first snapshot) with the snapshot's fields."""
    state = update.state
    # The workflow records its first transition before anything is projected.
    first_at, last_at = state.transitions[0].at, state.transitions[-1].at
    if row is None:
        row = ShipmentRow(shipment_id=state.shipment_id, workflow_id=state.workflow_id,
                          merchant_id=state.merchant_id, origin_country=state.origin_country,
                          destination_country=state.destination_country,
                          declared_value=str(state.declared_value), currency=state.currency,
                          created_at=first_at)
    row.stage, row.status = state.stage, state.status
    # What lists show: the carrier once booked and the ETA while the shipment can still arrive (the state keeps
    # the planned carrier and the last estimate).
    row.carrier, row.mode, row.tracking_number = state.booked_carrier, state.mode, state.tracking_number
    row.pending_gates = ",".join(gate.kind for gate in state.pending_gates)
    row.failure, row.version, row.updated_at = state.failure, update.version, last_at
    eta = state.live_eta
    row.eta_expected, row.eta_earliest, row.eta_latest = (
        (eta.expected, eta.earliest, eta.latest) if eta else (None, None, None))
    row.promised_date = state.promised_date
    row.open_exceptions = ",".join(sorted({e.kind for e in state.open_exceptions}))
    row.events_count = state.events_received
    if update.recipient is not None:
        row.recipient_locale = update.recipient.locale
        row.recipient_timezone = recipient_timezone(update.recipient.country, update.recipient.region)
    return row


def _add_transitions(session: Session, state: ShipmentState) -> None:
    """Make the stored stage transitions the snapshot's: insert new ones, and correct or delete any the snapshot does
    not have. A transition never changes once its workflow task completed, but a local-activity projection runs
    inside the task: when the worker dies before the task completes, what it projected is not in the history, and
    the task run again may make other transitions under the same numbers (the fault matrix found a delivered
    shipment whose read model still said `delayed`, `on_hold`)."""
    stored = {row.seq: row for row in session.exec(select(StageTransitionRow).where(
        StageTransitionRow.shipment_id == state.shipment_id))}
    for t in state.transitions:
        row = stored.pop(t.seq, None) or StageTransitionRow(shipment_id=state.shipment_id, seq=t.seq, stage=t.stage,
                                                            status=t.status, at=t.at, note=t.note)
        if (row.stage, row.status, row.at, row.note) != (t.stage, t.status, t.at, t.note):
            row.stage, row.status, row.at, row.note = t.stage, t.status, t.at, t.note
        session.add(row)
    for phantom in stored.values():
        session.delete(phantom)


def _write_approvals(session: Session, state: ShipmentState) -> None:
    """One row per gate, by its index: opened once, then escalation and decision as they happen."""
    approvals = {a.gate_index: a for a in session.exec(select(ApprovalRow).where(
        ApprovalRow.shipment_id == state.shipment_id))}
    for index, gate in enumerate(state.gates):
        approval = approvals.pop(index, None) or ApprovalRow(shipment_id=state.shipment_id, gate_index=index,
                                                             gate=gate.kind, stage=gate.stage, reason=gate.reason,
                                                             opened_at=gate.opened_at)
        # A gate opened by a workflow task that never completed (see `_add_transitions`) is corrected or removed.
        approval.gate, approval.stage, approval.reason = gate.kind, gate.stage, gate.reason
        approval.opened_at = gate.opened_at
        approval.escalated_at, approval.decision = gate.escalated_at, gate.decision
        approval.actor, approval.comment = gate.actor, gate.comment
        approval.decided_at, approval.via = gate.decided_at, gate.via
        session.add(approval)
    for phantom in approvals.values():
        session.delete(phantom)


def _write_bookings(session: Session, state: ShipmentState) -> None:
    """One row per partner record (booking, label, filing, slot), its state and tracking number kept current."""
    bookings = {(b.kind, b.partner, b.ref): b for b in session.exec(select(PartnerBookingRow).where(
        PartnerBookingRow.shipment_id == state.shipment_id))}
    for record in state.records:
        booking = bookings.get((record.kind, record.partner, record.ref)) or PartnerBookingRow(
            shipment_id=state.shipment_id, kind=record.kind, partner=record.partner, ref=record.ref,
            partner_kind=kind_of(record.partner), state=record.state)
        booking.state, booking.tracking_number = record.state, record.tracking_number
        session.add(booking)
