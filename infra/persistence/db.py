"""The read model: SQLModel tables that activities write from workflow snapshots, for lists and reports.

Temporal holds the truth of every shipment; these tables are a projection of it. SQLite file by default, any
SQLAlchemy URL (PostgreSQL) through `TRADELANE_DATABASE_URL`. The schema is owned by Alembic
(`infra/persistence/migrations`).
"""

import fcntl
from datetime import date, datetime
from enum import Enum
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Index, Table, UniqueConstraint, case, event, literal, or_
from sqlalchemy import delete as sa_delete
from sqlalchemy import update as sa_update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, Session, SQLModel, col, create_engine, select

import infra.persistence.console_sessions  # noqa: F401  (the ops console's sessions)
import infra.persistence.dead_letters  # noqa: F401  (so are the dead letters)
import infra.persistence.merchants  # noqa: F401  (and the merchants' profiles)
import infra.persistence.outbox  # noqa: F401  (the outbox table is part of the read model's schema)
import infra.persistence.receipts  # noqa: F401  (so are the webhook receipts)
import infra.persistence.reconciliation  # noqa: F401  (and the reconciliation list)
import infra.persistence.tracking_tokens  # noqa: F401  (and the tracking page's tokens, which projections write)
from infra.persistence.errors import unique_violation
from infra.persistence.notices import enqueue_notices
from infra.platform.notice_config import NoticeConfig
from tradelane.notify import recipient_timezone
from tradelane.partners import kind_of
from tradelane.shipment.calls import PartnerRecord
from tradelane.shipment.events import CarrierEvent
from tradelane.shipment.projection import ProjectionUpdate, shown
from tradelane.shipment.state import Gate, Transition
from tradelane.tracking_page import token_digest, tracking_token

MIGRATIONS = Path(__file__).parent / "migrations"


class ShipmentRow(SQLModel, table=True):
    __tablename__ = "shipments"
    # Lists are newest first and paged by (updated_at, shipment_id), so a page costs the same at 100,000 shipments.
    __table_args__ = (Index("ix_shipments_updated_at_shipment_id", "updated_at", "shipment_id"),)

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
    pending_gates: str = Field(default="", index=True, max_length=200)
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
    order_ref: str | None = Field(default=None, index=True, max_length=64)
    """The merchant's order reference (the console finds a shipment by it)."""


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


def holds_reference(engine: Engine, shipment_id: str, partner: str, refs: set[str]) -> bool:
    """Whether the read model shows `partner` holding a booking, label or delivery slot of the shipment under one of
    `refs` (the record's id or tracking number, or for a slot the shipment's tracking number): the part of
    `tradelane.shipment.partner_events.refusal` the read model can answer. A shipment only gains references, so a yes
    stays true; a no may only mean the record is not projected yet, and is for the workflow to answer."""
    if not refs:
        return False
    held = ("booking", "label", "slot")
    with Session(engine) as session:
        found = session.exec(select(PartnerBookingRow.id).where(
            PartnerBookingRow.shipment_id == shipment_id, PartnerBookingRow.partner == partner,
            col(PartnerBookingRow.kind).in_(held),
            or_(col(PartnerBookingRow.ref).in_(refs), col(PartnerBookingRow.tracking_number).in_(refs)),
        ).limit(1)).first()
        if found is not None:
            return True
        slot_on_parcel = session.exec(select(PartnerBookingRow.id).join(
            ShipmentRow, col(ShipmentRow.shipment_id) == col(PartnerBookingRow.shipment_id)).where(
            PartnerBookingRow.shipment_id == shipment_id, PartnerBookingRow.partner == partner,
            PartnerBookingRow.kind == "slot", col(ShipmentRow.tracking_number).in_(refs)).limit(1)).first()
        return slot_on_parcel is not None


def has_event(engine: Engine, shipment_id: str, partner: str, event_id: str) -> bool:
    """Whether the read model holds this (partner, event id) of the shipment: it reached the workflow already."""
    with Session(engine) as session:
        return session.exec(select(TrackingEventRow.id).where(
            TrackingEventRow.shipment_id == shipment_id, TrackingEventRow.partner == partner,
            TrackingEventRow.event_id == event_id).limit(1)).first() is not None


def make_engine(url: str) -> Engine:
    """An engine for `url`; SQLite gets its directory created, WAL and a busy timeout for concurrent writers.

    SQLite runs with `synchronous=NORMAL`, a durability choice (docs/visibility.md, "Durability of the read model"):
    in WAL mode a commit no longer waits for an fsync, so a power loss or an OS crash (not a process crash) may lose
    the last transactions, never corrupt the file. The workflows hold the truth: a shipment's next snapshot finds an
    older version stored and writes its row, transitions, gates and records whole again; the events and notices that
    travelled with the lost snapshots are not sent again."""
    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record) -> None:  # noqa: ANN001 - DB-API objects
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute("PRAGMA synchronous=NORMAL")
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

    Core statements, no reads in the usual case: the shipment's row is claimed and written by one `UPDATE ...
    WHERE version < :v` (an older or repeated snapshot matches nothing, so a retry is harmless), and only the rows
    that changed follow. When the snapshot says what changed since one the read model accepted (`update.since`) and
    the row still holds that one, only those transitions, gates and records are written; otherwise every one is
    upserted where it differs from what is stored and what the snapshot lacks is deleted.

    Safe with concurrent writers of one shipment (a timed-out local activity still writing in its thread while its
    fallback activity writes the same snapshot): the conditional update waits for the other writer's lock and is
    evaluated again on the row it committed, so it cannot overwrite a newer snapshot written meanwhile; a first
    snapshot is inserted with `ON CONFLICT DO NOTHING`, so the writer that loses that race finds the row taken and
    writes nothing. A duplicate key that still surfaces (the outbox's ORM inserts) starts the transaction again.

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


class _Claim(Enum):
    """How a snapshot took the shipment's row, which says what its other rows must do."""

    SINCE = "since"
    """The row held the snapshot `update.since` names: only what changed since is written."""
    STORED = "stored"
    """The row held an older, unknown snapshot: every row is compared with what is stored."""
    NEW = "new"
    """The shipment's first row: everything is inserted."""


_TABLES = SQLModel.metadata.tables
SHIPMENTS, EVENTS, TRANSITIONS = _TABLES["shipments"], _TABLES["tracking_events"], _TABLES["stage_transitions"]
APPROVALS, BOOKINGS, TOKENS = _TABLES["approvals"], _TABLES["partner_bookings"], _TABLES["tracking_tokens"]


def _write_snapshot(engine: Engine, update: ProjectionUpdate, notices: NoticeConfig | None) -> bool:
    state, since = update.state, update.since
    with engine.begin() as conn:
        claim = _claim(conn, update)
        if claim is None:
            return False  # this snapshot or a newer one is stored
        _insert_events(conn, update)
        transitions = [_transition_values(state.shipment_id, t) for t in state.transitions]
        gates = [_gate_values(state.shipment_id, index, gate) for index, gate in enumerate(state.gates)]
        records = [_record_values(state.shipment_id, record) for record in state.records]
        if claim is _Claim.SINCE:
            assert since is not None
            transitions = transitions[since.transitions:]
            gates, records = [gates[i] for i in since.gates], [records[i] for i in since.records]
        _upsert(conn, TRANSITIONS, transitions, ("shipment_id", "seq"), ("stage", "status", "at", "note"))
        _upsert(conn, APPROVALS, gates, ("shipment_id", "gate_index"), _GATE_FIELDS)
        _upsert(conn, BOOKINGS, records, ("shipment_id", "kind", "partner", "ref"), ("state", "tracking_number"))
        if claim is _Claim.STORED:
            # A transition never changes once its workflow task completed, but a local-activity projection runs
            # inside the task: when the worker dies before the task completes, what it projected is not in the
            # history, and the task run again may make other transitions and gates under the same numbers (the fault
            # matrix found a delivered shipment whose read model still said `delayed`, `on_hold`). This snapshot is
            # the truth: the upserts above corrected them, and those it lacks go. (`since` is never taken across
            # such a task: the projector names only snapshots the read model accepted in its completed tasks.)
            _delete_phantoms(conn, TRANSITIONS, state.shipment_id, "seq", len(state.transitions))
            _delete_phantoms(conn, APPROVALS, state.shipment_id, "gate_index", len(state.gates))
        if notices is not None and notices.tracking_secret is not None and (claim is _Claim.NEW or update.notices):
            # A link is handed out with the shipment's first state and in its e-mails; a snapshot without either
            # need not record the token again (after a secret rotation, the next e-mail records the new one).
            digest = token_digest(tracking_token(notices.tracking_secret.get_secret_value(), state.shipment_id))
            _insert_new(conn, TOKENS, [{"token_digest": digest, "shipment_id": state.shipment_id}], ("token_digest",))
        if notices is not None and update.notices:
            # The outbox's rules work in an ORM session, here on this snapshot's transaction (a transactional outbox).
            with Session(bind=conn) as session:
                enqueue_notices(session, update, notices)
                session.flush()
        return True


def _claim(conn: Connection, update: ProjectionUpdate) -> _Claim | None:
    """Write the shipment's row for this snapshot, unless it holds this snapshot or a newer one (None)."""
    shipment_id, version, since = update.state.shipment_id, update.version, update.since
    match = SHIPMENTS.c.shipment_id == shipment_id
    if since is not None and conn.execute(sa_update(SHIPMENTS).where(
            match, SHIPMENTS.c.version == since.version).values(_mutable_values(update, since.shown))).rowcount:
        return _Claim.SINCE
    everything = {**_shipment_values(update), **_mutable_values(update)}
    if conn.execute(sa_update(SHIPMENTS).where(match, SHIPMENTS.c.version < version).values(everything)).rowcount:
        return _Claim.STORED
    if update.overwrite and conn.execute(sa_update(SHIPMENTS).where(
            match, SHIPMENTS.c.version >= version).values(everything)).rowcount:
        return _Claim.STORED  # what the row holds came from a lost task: this snapshot is the truth
    newest = _newest(update.events)
    first = {**everything, "shipment_id": shipment_id, "created_at": update.state.transitions[0].at,
             "latest_status": newest.status if newest else None,
             "latest_event_at": newest.occurred_at if newest else None}
    return _Claim.NEW if _insert_new(conn, SHIPMENTS, [first], ("shipment_id",)) else None


def _shipment_values(update: ProjectionUpdate) -> dict[str, Any]:
    """The row's columns that a shipment keeps from its first snapshot (written again only when the stored row's
    snapshot is unknown)."""
    state, recipient = update.state, update.recipient
    values: dict[str, Any] = {
        "workflow_id": state.workflow_id, "merchant_id": state.merchant_id,
        "origin_country": state.origin_country, "destination_country": state.destination_country,
        "declared_value": str(state.declared_value), "currency": state.currency,
        "order_ref": update.order_ref or None}
    if recipient is not None:
        values["recipient_locale"] = recipient.locale
        values["recipient_timezone"] = recipient_timezone(recipient.country, recipient.region)
    return values


def _mutable_values(update: ProjectionUpdate, columns: list[str] | None = None) -> dict[str, Any]:
    """The row's columns that follow the workflow (`shown`, or those of them in `columns`), the version that claims
    the row, and the newest tracking status by when it happened, kept when this snapshot's events are older than the
    stored one."""
    values = shown(update.state)
    if columns is not None:
        values = {name: values[name] for name in columns}
    values["version"] = update.version
    newest = _newest(update.events)
    if newest is not None:
        stored_at = SHIPMENTS.c.latest_event_at
        newer = or_(stored_at.is_(None), stored_at <= newest.occurred_at)
        values["latest_event_at"] = case((newer, literal(newest.occurred_at, stored_at.type)), else_=stored_at)
        values["latest_status"] = case((newer, str(newest.status)), else_=SHIPMENTS.c.latest_status)
    return values


def _newest(events: list[CarrierEvent]) -> CarrierEvent | None:
    """The event that happened last (of those at the same time, the last one listed)."""
    newest: CarrierEvent | None = None
    for event_ in events:
        if newest is None or event_.occurred_at >= newest.occurred_at:
            newest = event_
    return newest


def _insert_events(conn: Connection, update: ProjectionUpdate) -> None:
    """Insert the events not stored yet (a retried projection may carry some again)."""
    shipment_id = update.state.shipment_id
    _insert_new(conn, EVENTS, [
        {"shipment_id": shipment_id, "event_id": e.event_id, "partner": e.partner, "code": e.code,
         "status": e.status, "description": e.description, "location": e.location, "occurred_at": e.occurred_at,
         "received_seq": e.received_seq, "sequence": e.sequence, "via": e.via, "tracking_number": e.tracking_number,
         "booking_ref": e.booking_ref} for e in update.events], ("shipment_id", "event_id"))


def _transition_values(shipment_id: str, t: Transition) -> dict[str, Any]:
    return {"shipment_id": shipment_id, "seq": t.seq, "stage": t.stage, "status": t.status, "at": t.at,
            "note": t.note}


_GATE_FIELDS = ("gate", "stage", "reason", "opened_at", "escalated_at", "decision", "actor", "comment", "decided_at",
                "via")


def _gate_values(shipment_id: str, index: int, gate: Gate) -> dict[str, Any]:
    """One row per gate, by its index: opened once, then escalation and decision as they happen."""
    return {"shipment_id": shipment_id, "gate_index": index, "gate": gate.kind, "stage": gate.stage,
            "reason": gate.reason, "opened_at": gate.opened_at, "escalated_at": gate.escalated_at,
            "decision": gate.decision, "actor": gate.actor, "comment": gate.comment, "decided_at": gate.decided_at,
            "via": gate.via}


def _record_values(shipment_id: str, record: PartnerRecord) -> dict[str, Any]:
    """One row per partner record (booking, label, filing, slot), its state and tracking number kept current."""
    return {"shipment_id": shipment_id, "kind": record.kind, "partner_kind": kind_of(record.partner),
            "partner": record.partner, "ref": record.ref, "state": record.state,
            "tracking_number": record.tracking_number}


def _dialect_insert(conn: Connection, table: Table) -> Any:
    """`INSERT` with `ON CONFLICT`, in the dialect of `conn` (SQLite and PostgreSQL both have it)."""
    dialects = {"sqlite": sqlite_insert, "postgresql": postgresql_insert}
    if conn.dialect.name not in dialects:
        raise RuntimeError(f"the read model runs on SQLite or PostgreSQL, not {conn.dialect.name}: "
                           f"set TRADELANE_DATABASE_URL to one of them")
    return dialects[conn.dialect.name](table)


def _insert_new(conn: Connection, table: Table, rows: list[dict[str, Any]], key: tuple[str, ...]) -> int:
    """Insert the rows whose key is not stored yet; how many were."""
    if not rows:
        return 0
    # Counted from RETURNING: drivers do not agree on the rowcount of a skipped insert (psycopg answers -1).
    statement = _dialect_insert(conn, table).on_conflict_do_nothing(index_elements=list(key)).returning(
        table.c[key[0]])
    return len(conn.execute(statement, rows[0] if len(rows) == 1 else rows).all())


def _upsert(conn: Connection, table: Table, rows: list[dict[str, Any]], key: tuple[str, ...],
            fields: tuple[str, ...]) -> None:
    """Insert the rows, or update the stored ones where one of `fields` differs (an equal row is not written)."""
    if not rows:
        return
    insert = _dialect_insert(conn, table)
    conn.execute(insert.on_conflict_do_update(
        index_elements=list(key), set_={name: insert.excluded[name] for name in fields},
        where=or_(*(table.c[name].is_distinct_from(insert.excluded[name]) for name in fields))), rows)


def _delete_phantoms(conn: Connection, table: Table, shipment_id: str, index: str, count: int) -> None:
    """Delete the shipment's rows numbered `count` or more by `index` (the snapshot has fewer)."""
    conn.execute(sa_delete(table).where(table.c.shipment_id == shipment_id, table.c[index] >= count))
