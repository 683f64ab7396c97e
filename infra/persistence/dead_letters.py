"""Dead letters: messages that can never succeed, recorded for ops instead of being retried forever.

A notification the outbox gave up on (built or refused the same way every time, or still undeliverable after its
attempt cap), a read-model projection the database refuses for good (a NUL PostgreSQL cannot store), a partner
event that cannot be taken: each becomes one row here, keyed by what it is about (`kind`, `message_key`), so a
retried recording never makes a second one. A new dead letter also enqueues one ops alert e-mail, in the same
transaction, through the notification outbox (the shipment's notifier sends it with the shipment's other messages).

Rows hold ids, counts and the error's type and first line, never personal data: an error message is cut to its
first line (a database driver's second line quotes the failing values), control characters are dropped, and a
notification's recipient address is blanked out of it.
"""

import unicodedata
from datetime import datetime
from enum import StrEnum

from sqlalchemy import UniqueConstraint, func
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlmodel import Field, Session, SQLModel, col, select

from infra.persistence.outbox import Channel, OutboxMessage, OutboxRow, OutboxState, enqueue

MAX_ERROR_CHARS = 300
ALERT_KIND = "dead_letter"
"""The outbox `kind` of a dead letter's ops alert: such an alert that cannot be sent is dead-lettered without a
further alert (the gauge still counts it)."""


class DeadLetterKind(StrEnum):
    """What could not be processed."""

    NOTIFICATION = "notification"
    """An outbox message (e-mail or webhook); `message_key` is its outbox id."""
    PROJECTION = "projection"
    """A read-model snapshot; `message_key` is the shipment id (one open letter per shipment)."""
    PARTNER_EVENT = "partner_event"
    """A partner's tracking event; `message_key` is ``<partner>:<event_id>``."""


class DeadLetterRow(SQLModel, table=True):
    """One message given up on; open until ops resolve it."""

    __tablename__ = "dead_letters"
    __table_args__ = (UniqueConstraint("kind", "message_key", name="uq_dead_letters_kind_message_key"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=16)
    shipment_id: str | None = Field(default=None, index=True, max_length=64)
    message_key: str = Field(max_length=200)
    attempts: int = 1
    """Attempts (deliveries, projections) before it was given up; grows when the same message fails again."""
    error_type: str = Field(max_length=120)
    """The exception's class, e.g. ``ValueError`` or ``DataError``."""
    error: str = Field(max_length=MAX_ERROR_CHARS)
    """The error's first line, without personal data."""
    created_at: datetime
    last_failed_at: datetime
    resolved_at: datetime | None = Field(default=None, index=True)
    resolved_by: str | None = Field(default=None, max_length=120)


def describe(err: BaseException, *, redact: tuple[str, ...] = ()) -> tuple[str, str]:
    """An error's type name and a message fit to store and show ops: the first line only (a database driver's
    next lines quote the failing statement's values), no control characters, each of `redact` (a recipient
    address) blanked out, at most `MAX_ERROR_CHARS`.

    A SQLAlchemy error is described by the driver's error it wraps (``DataError``, with the driver's first line),
    not by the statement SQLAlchemy adds to it.
    """
    inner: BaseException = err.orig if isinstance(err, DBAPIError) and err.orig is not None else err
    lines = str(inner).strip().splitlines()
    message = lines[0] if lines else ""
    for value in redact:
        if value:
            message = message.replace(value, "<redacted>")
    message = "".join(c for c in message if unicodedata.category(c) != "Cc")
    return type(inner).__name__[:120], message[:MAX_ERROR_CHARS]


def record(engine: Engine, kind: DeadLetterKind, message_key: str, *, shipment_id: str | None, attempts: int,
           error: BaseException, now: datetime, ops_email: str | None = None, alert: bool = True,
           redact: tuple[str, ...] = ()) -> bool:
    """Record a dead letter, and with a new one its ops alert (when `ops_email` is set and `alert`), in one
    transaction. The same message recorded again (a retried activity, the shipment's next snapshot) updates its
    attempts and error; one that ops had resolved is opened again (the gauge counts it again; its one alert was
    sent already, so ops see it on the list and the gauge, not in a second e-mail).

    Returns:
        True when the dead letter is new or opened again.
    """
    error_type, message = describe(error, redact=redact)
    try:
        return _record(engine, kind, message_key, shipment_id, attempts, error_type, message, now,
                       ops_email if alert else None)
    except IntegrityError:  # the same message recorded at the same moment by another worker: now it is an update
        return _record(engine, kind, message_key, shipment_id, attempts, error_type, message, now,
                       ops_email if alert else None)


def _record(engine: Engine, kind: DeadLetterKind, message_key: str, shipment_id: str | None, attempts: int,
            error_type: str, message: str, now: datetime, ops_email: str | None) -> bool:
    with Session(engine) as session:
        row = session.exec(select(DeadLetterRow).where(col(DeadLetterRow.kind) == kind,
                                                       col(DeadLetterRow.message_key) == message_key)).first()
        new = row is None or row.resolved_at is not None
        if row is None:
            row = DeadLetterRow(kind=kind, shipment_id=shipment_id, message_key=message_key, attempts=attempts,
                                error_type=error_type, error=message, created_at=now, last_failed_at=now)
        else:
            row.attempts, row.error_type, row.error, row.last_failed_at = (max(row.attempts, attempts), error_type,
                                                                           message, now)
            row.resolved_at = row.resolved_by = None
        session.add(row)
        session.flush()
        if new and ops_email and shipment_id:
            assert row.id is not None
            enqueue(session, [alert_message(row, ops_email, now)])
        session.commit()
    return new


def alert_message(row: DeadLetterRow, ops_email: str, now: datetime) -> OutboxMessage:
    """The ops alert for a dead letter: ids, counts and the error, no personal data; English, like every ops alert."""
    assert row.shipment_id is not None and row.id is not None
    subject = f"Dead letter {row.id}: {row.kind} {row.message_key} of shipment {row.shipment_id} was given up"
    body = "\n".join([
        f"Tradelane gave up on a {row.kind} after {row.attempts} attempt(s); it will not be retried.",
        "",
        f"Dead letter: {row.id}",
        f"Shipment: {row.shipment_id}",
        f"Message: {row.message_key}",
        f"Error: {row.error_type}: {row.error}",
        f"At (UTC): {now.isoformat()}",
        "",
        "What to do: look the shipment up by its id, correct the data or the receiver, and mark the dead letter",
        "resolved. GET /v1/ops/dead-letters lists the open ones.",
        "",
        "Tradelane operations alert. It holds no customer personal data.",
    ])
    return OutboxMessage(
        id=f"{row.shipment_id}:dead-letter:{row.id}:email:ops"[:200], shipment_id=row.shipment_id,
        notice_id=f"{row.shipment_id}:dead-letter:{row.id}"[:120], kind=ALERT_KIND, channel=Channel.EMAIL,
        audience="ops", recipient=ops_email, locale="en", subject=subject, body_text=body,
        not_before=now, created_at=now)


def failed_unrecorded(engine: Engine, *, shipment_id: str | None = None, limit: int = 100) -> list[OutboxRow]:
    """Outbox rows that ended `failed` without their dead letter: the row's failure and its dead letter are two
    writes, and a deliverer killed between them (the fault matrix's SIGKILL found one) left a message given up
    that nobody was told of. The next delivery of the shipment, or the relay's next round, records them."""
    recorded = select(DeadLetterRow.id).where(col(DeadLetterRow.kind) == DeadLetterKind.NOTIFICATION,
                                              col(DeadLetterRow.message_key) == col(OutboxRow.id))
    query = select(OutboxRow).where(col(OutboxRow.state) == OutboxState.FAILED, ~recorded.exists())
    if shipment_id is not None:
        query = query.where(col(OutboxRow.shipment_id) == shipment_id)
    with Session(engine, expire_on_commit=False) as session:
        return list(session.exec(query.limit(limit)))


def open_letters(engine: Engine, *, kind: DeadLetterKind | None = None, shipment_id: str | None = None,
                 limit: int = 100) -> list[DeadLetterRow]:
    """Open dead letters, newest first (detached)."""
    return letters(engine, resolved=False, kind=kind, shipment_id=shipment_id, limit=limit)


def letters(engine: Engine, *, resolved: bool | None = None, kind: DeadLetterKind | None = None,
            shipment_id: str | None = None, limit: int = 100) -> list[DeadLetterRow]:
    """Dead letters, newest first (detached): open ones (`resolved=False`), resolved ones, or all (None)."""
    query = select(DeadLetterRow)
    if resolved is not None:
        resolved_at = col(DeadLetterRow.resolved_at)
        query = query.where(resolved_at.is_not(None) if resolved else resolved_at.is_(None))
    if kind is not None:
        query = query.where(col(DeadLetterRow.kind) == kind)
    if shipment_id is not None:
        query = query.where(col(DeadLetterRow.shipment_id) == shipment_id)
    with Session(engine, expire_on_commit=False) as session:
        return list(session.exec(query.order_by(col(DeadLetterRow.created_at).desc(),
                                                col(DeadLetterRow.id).desc()).limit(limit)))


def open_counts(session: Session) -> dict[str, int]:
    """Open dead letters by kind, every kind included (0 when none)."""
    counts = {kind.value: 0 for kind in DeadLetterKind}
    for kind, count in session.exec(select(DeadLetterRow.kind, func.count())
                                    .where(col(DeadLetterRow.resolved_at).is_(None))
                                    .group_by(col(DeadLetterRow.kind))):
        counts[kind] = count
    return counts


def resolve(engine: Engine, letter_id: int, *, by: str, now: datetime) -> DeadLetterRow | None:
    """Mark a dead letter resolved by `by` (ops, once they fixed its cause); resolving it again keeps the first.

    Returns:
        The letter, or None when there is no such letter.
    """
    with Session(engine, expire_on_commit=False) as session:
        row = session.get(DeadLetterRow, letter_id)
        if row is None:
            return None
        if row.resolved_at is None:
            row.resolved_at, row.resolved_by = now, by
            session.add(row)
            session.commit()
        return row
