"""The transactional notification outbox: notices to send, written in the same transaction as the read model.

The read-model projection enqueues messages inside its own transaction, so a snapshot and the notifications it
implies are committed together or not at all. A deliverer (`activities.notifications`) later claims due rows
under a lease, sends them and records the outcome. Delivery is at-least-once: a deliverer that crashes after
sending and before recording is replaced when its lease expires, and the message goes out again with the same
id (e-mail Message-ID, webhook event id), so receivers can drop the duplicate.

Row life cycle::

    pending --claim--> sending --sent--> sent
       ^                  |  \\--permanent failure, or transient at max attempts--> failed
       |                  |
       +--transient-------+   (and sending rows whose lease expired are claimable again, up to max attempts)

    pending or sending --withdraw--> withdrawn   (a send already under way that succeeds is still recorded sent)

Who delivers: while a shipment's workflow runs, it has its rows delivered right after each snapshot and when quiet
hours end; once its business outcome is final the workflow closes, and the rows still waiting are the relay's
(`activities.notifications.OutboxRelay`), which sends every shipment's overdue rows.
"""

from collections.abc import Collection
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from pydantic import AwareDatetime, BaseModel, model_validator
from pydantic import Field as PydanticField
from sqlalchemy import JSON, Column, ColumnElement, Index, and_, or_, update
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Field, Session, SQLModel, col, select

MAX_ERROR_CHARS = 2000
"""`last_error` keeps the start of long errors (an HTML error page, a stack of SMTP replies)."""


class Channel(StrEnum):
    """How a message travels."""

    EMAIL = "email"
    WEBHOOK = "webhook"


class OutboxState(StrEnum):
    """Where a row is in its life cycle."""

    PENDING = "pending"
    """Waiting for its `not_before`, or for a retry after a transient failure."""
    SENDING = "sending"
    """Claimed by a deliverer until `lease_until`."""
    SENT = "sent"
    """Accepted by the mail server or the webhook receiver."""
    FAILED = "failed"
    """Given up: a permanent rejection, or `max_attempts` transient failures."""
    WITHDRAWN = "withdrawn"
    """Not to be sent: what it says stopped being true before it went out (`withdraw`); `last_error` says why."""


class OutboxMessage(BaseModel):
    """One message the writer enqueues."""

    id: str = PydanticField(min_length=1, max_length=200)
    """Globally unique and stable, ``<shipment_id>:<notice_seq>:<channel>:<audience>``; the deduplication key."""
    shipment_id: str = PydanticField(min_length=1, max_length=64)
    notice_id: str = PydanticField(min_length=1, max_length=120)
    """The notice this message renders (one notice becomes several messages: channels, audiences)."""
    kind: str = PydanticField(min_length=1, max_length=64)
    """What happened, e.g. ``delayed`` or ``delivered``."""
    channel: Channel
    audience: str = PydanticField(min_length=1, max_length=16)
    """``customer``, ``merchant`` or ``ops``."""
    recipient: str = PydanticField(min_length=1, max_length=2048)
    """E-mail address, or webhook URL."""
    locale: str = PydanticField(min_length=2, max_length=35)
    """BCP 47 tag of the rendered text, e.g. ``de-DE``."""
    subject: str
    body_text: str
    body_html: str | None = None
    payload: dict[str, Any] | None = None
    """The webhook's JSON body; required for webhooks."""
    not_before: AwareDatetime
    """Earliest send time (quiet hours push it to the next morning)."""
    created_at: AwareDatetime

    @model_validator(mode="after")
    def _fits_channel(self) -> "OutboxMessage":
        if self.channel is Channel.WEBHOOK:
            if self.payload is None:
                raise ValueError(f"payload: message {self.id!r} is a webhook and needs a JSON payload")
            if not self.recipient.startswith(("http://", "https://")):
                raise ValueError(f"recipient: webhook {self.id!r} needs an http(s) URL, got {self.recipient!r}")
        elif "@" not in self.recipient:
            raise ValueError(f"recipient: e-mail {self.id!r} needs an address, got {self.recipient!r}")
        return self


class OutboxRow(SQLModel, table=True):
    """A stored `OutboxMessage` plus its delivery state."""

    __tablename__ = "notification_outbox"
    __table_args__ = (Index("ix_notification_outbox_state_not_before", "state", "not_before"),)

    id: str = Field(primary_key=True, max_length=200)
    shipment_id: str = Field(index=True, max_length=64)
    notice_id: str = Field(max_length=120)
    kind: str = Field(max_length=64)
    channel: str = Field(max_length=16)
    audience: str = Field(max_length=16)
    recipient: str = Field(max_length=2048)
    locale: str = Field(max_length=35)
    subject: str
    body_text: str
    body_html: str | None = None
    payload: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    not_before: datetime
    created_at: datetime
    state: str = Field(default=OutboxState.PENDING, max_length=16)
    attempts: int = 0
    """Claims so far; also the fencing token that makes each claim and its outcome conditional."""
    last_error: str | None = None
    last_error_at: datetime | None = None
    lease_until: datetime | None = None
    sent_at: datetime | None = None


def enqueue(session: Session, messages: list[OutboxMessage]) -> int:
    """Add messages inside the caller's transaction; ids already stored (or repeated in `messages`) are skipped.

    Nothing is committed here: the caller commits the snapshot and its messages together. Two transactions adding
    the same new id at once cannot both commit (the id is the primary key); the loser's caller retries and then
    skips it.

    Returns:
        How many rows were added.
    """
    if not messages:
        return 0
    ids = [m.id for m in messages]
    known = set(session.exec(select(OutboxRow.id).where(col(OutboxRow.id).in_(ids))))
    added = 0
    for message in messages:
        if message.id in known:
            continue
        known.add(message.id)
        session.add(OutboxRow(**message.model_dump(), state=OutboxState.PENDING))
        added += 1
    return added


def _due(now: datetime, overdue: timedelta = timedelta(0)) -> ColumnElement[bool]:
    return or_(
        and_(col(OutboxRow.state) == OutboxState.PENDING, col(OutboxRow.not_before) <= now - overdue),
        # A deliverer that crashed (or overran) leaves its rows in `sending`; its lease frees them.
        and_(col(OutboxRow.state) == OutboxState.SENDING, col(OutboxRow.lease_until) <= now),
    )


def _claim_one(connection: Connection, row_id: str, seen_attempts: int, now: datetime, lease_until: datetime,
               overdue: timedelta = timedelta(0)) -> bool:
    # The row must still be due and untouched since we read it: `attempts` grows with every claim, so of two
    # deliverers that read the same row only the first UPDATE matches; the other changes nothing.
    result = connection.execute(
        update(OutboxRow)
        .where(col(OutboxRow.id) == row_id, col(OutboxRow.attempts) == seen_attempts, _due(now, overdue))
        .values(state=OutboxState.SENDING, lease_until=lease_until, attempts=seen_attempts + 1)
    )
    return result.rowcount == 1


def claim_due(
    engine: Engine,
    now: datetime,
    *,
    shipment_id: str | None = None,
    lease: timedelta = timedelta(minutes=2),
    limit: int = 50,
    max_attempts: int | None = None,
    overdue: timedelta = timedelta(0),
) -> list[OutboxRow]:
    """Claim due rows for sending until `now + lease`, oldest `not_before` first.

    Due means pending with `not_before <= now`, or sending with an expired lease. Each row is claimed by its own
    conditional UPDATE, so concurrent deliverers never claim the same row; a row taken by another deliverer
    between our read and our UPDATE is simply left out.

    Args:
        engine: The read-model database.
        now: Current time (timezone-aware).
        shipment_id: Only this shipment's rows, when given.
        lease: How long the claim holds; must exceed the time to send every claimed row.
        limit: At most this many rows.
        max_attempts: Rows claimed this often already are not claimed again (`give_up_exhausted` fails them):
            a message whose every deliverer died or overran its lease must not be claimed forever.
        overdue: Only pending rows due at least this long ago (the relay leaves a running workflow the time to
            deliver its own rows first; a claim held by a crashed deliverer is freed by its lease as always).

    Returns:
        The claimed rows (state `sending`, `attempts` counting this claim), detached from any session.
    """
    query = select(OutboxRow.id, OutboxRow.attempts).where(_due(now, overdue))
    if max_attempts is not None:
        query = query.where(col(OutboxRow.attempts) < max_attempts)
    if shipment_id is not None:
        query = query.where(col(OutboxRow.shipment_id) == shipment_id)
    query = query.order_by(col(OutboxRow.not_before), col(OutboxRow.created_at), col(OutboxRow.id)).limit(limit)
    with Session(engine) as session:
        candidates = list(session.exec(query))
    lease_until = now + lease
    claimed: list[str] = []
    for row_id, attempts in candidates:
        # One short transaction per row: a writer lock is never held across the whole batch.
        with engine.begin() as connection:
            if _claim_one(connection, row_id, attempts, now, lease_until, overdue):
                claimed.append(row_id)
    if not claimed:
        return []
    with Session(engine, expire_on_commit=False) as session:
        rows = {r.id: r for r in session.exec(select(OutboxRow).where(col(OutboxRow.id).in_(claimed)))}
    return [rows[row_id] for row_id in claimed]


def give_up_exhausted(engine: Engine, now: datetime, *, max_attempts: int,
                      shipment_id: str | None = None) -> list[OutboxRow]:
    """Fail the due rows already claimed `max_attempts` times (each claim's deliverer died or overran its lease,
    so no outcome was recorded): they are not claimed again.

    Returns:
        The rows failed now (state `failed`), detached, for the caller to record as dead letters.
    """
    query = select(OutboxRow.id, OutboxRow.attempts).where(_due(now), col(OutboxRow.attempts) >= max_attempts)
    if shipment_id is not None:
        query = query.where(col(OutboxRow.shipment_id) == shipment_id)
    with Session(engine) as session:
        candidates = list(session.exec(query))
    failed: list[str] = []
    for row_id, attempts in candidates:
        with engine.begin() as connection:
            result = connection.execute(
                update(OutboxRow)
                .where(col(OutboxRow.id) == row_id, col(OutboxRow.attempts) == attempts, _due(now))
                .values(state=OutboxState.FAILED, lease_until=None, last_error_at=now,
                        last_error=f"claimed {attempts} times without an outcome recorded (the deliverer died or "
                                   "overran its lease each time); given up"))
            if result.rowcount == 1:
                failed.append(row_id)
    if not failed:
        return []
    with Session(engine, expire_on_commit=False) as session:
        return list(session.exec(select(OutboxRow).where(col(OutboxRow.id).in_(failed))))


def _require(connection: Connection, message_id: str) -> str:
    state = connection.execute(select(OutboxRow.state).where(col(OutboxRow.id) == message_id)).scalar()
    if state is None:
        raise LookupError(f"notification_outbox: no message {message_id!r}")
    return state


def mark_sent(engine: Engine, message_id: str, now: datetime) -> None:
    """Record that the message was accepted; a second report keeps the first `sent_at`.

    Not fenced by the claim: once a receiver accepted the message it is sent, whichever deliverer reports it.

    Raises:
        LookupError: No such message.
    """
    with engine.begin() as connection:
        result = connection.execute(
            update(OutboxRow)
            .where(col(OutboxRow.id) == message_id, col(OutboxRow.state) != OutboxState.SENT)
            .values(state=OutboxState.SENT, sent_at=now, lease_until=None)
        )
        if result.rowcount == 0:
            _require(connection, message_id)


def mark_failed(
    engine: Engine,
    message_id: str,
    error: str,
    now: datetime,
    *,
    max_attempts: int,
    permanent: bool = False,
    attempt: int | None = None,
) -> OutboxState | None:
    """Record a failed send: back to pending for a retry, or failed when permanent or at `max_attempts`.

    Args:
        engine: The read-model database.
        message_id: The row.
        error: What went wrong, kept in `last_error`.
        now: Current time, kept in `last_error_at` (retries wait on Temporal's backoff, not on a column).
        max_attempts: Claims after which a transient failure gives up.
        permanent: The receiver rejected the message for good (e.g. HTTP 410, SMTP 550): give up now.
        attempt: The `attempts` value of our claim. When given, the outcome is recorded only if nobody claimed the
            row since (our lease expired and another deliverer took over: its outcome wins).

    Returns:
        The row's new state, or None when the row was no longer ours to change (sent, or claimed again).

    Raises:
        LookupError: No such message.
    """
    with engine.begin() as connection:
        conditions = [col(OutboxRow.id) == message_id, col(OutboxRow.state) == OutboxState.SENDING]
        if attempt is not None:
            conditions.append(col(OutboxRow.attempts) == attempt)
        row = connection.execute(select(OutboxRow.attempts).where(*conditions)).first()
        if row is None:
            _require(connection, message_id)
            return None
        state = OutboxState.FAILED if permanent or row.attempts >= max_attempts else OutboxState.PENDING
        result = connection.execute(
            update(OutboxRow)
            .where(*conditions, col(OutboxRow.attempts) == row.attempts)
            .values(state=state, lease_until=None, last_error=error[:MAX_ERROR_CHARS], last_error_at=now)
        )
        return state if result.rowcount == 1 else None


def next_due(engine: Engine, shipment_id: str) -> datetime | None:
    """When to deliver next, or None: the earliest `not_before` of the shipment's pending rows, or the end of a
    lease held by a deliverer that may have died (a killed worker's claimed rows come due again then)."""
    with Session(engine) as session:
        due = [session.exec(select(column)
                            .where(col(OutboxRow.shipment_id) == shipment_id, col(OutboxRow.state) == state)
                            .order_by(column).limit(1)).first()
               for column, state in ((col(OutboxRow.not_before), OutboxState.PENDING),
                                     (col(OutboxRow.lease_until), OutboxState.SENDING))]
    return min((t for t in due if t is not None), default=None)


def withdraw(session: Session, shipment_id: str, *, audience: str, kinds: Collection[str], reason: str,
             now: datetime) -> list[str]:
    """Withdraw the shipment's unsent messages of `kinds` to `audience`, inside the caller's transaction.

    Pending rows and rows being sent are withdrawn; a send under way that succeeds is still recorded `sent`
    (`mark_sent`), one that fails is not retried. Rows already sent, failed or withdrawn are left as they are.

    Returns:
        The ids withdrawn now.
    """
    session.flush()  # rows this transaction enqueued are withdrawn like the others
    unsent = [col(OutboxRow.shipment_id) == shipment_id, col(OutboxRow.audience) == audience,
              col(OutboxRow.kind).in_(list(kinds)),
              col(OutboxRow.state).in_([OutboxState.PENDING, OutboxState.SENDING])]
    ids = list(session.exec(select(OutboxRow.id).where(*unsent)))
    if ids:
        session.connection().execute(
            update(OutboxRow).where(col(OutboxRow.id).in_(ids), *unsent)
            .values(state=OutboxState.WITHDRAWN, lease_until=None, last_error=reason[:MAX_ERROR_CHARS],
                    last_error_at=now))
    return ids


def reached(session: Session, shipment_id: str, *, audience: str, channel: Channel) -> bool:
    """Whether a message of the shipment has gone (or is going) to `audience` by `channel`: sent, or being sent."""
    return session.exec(
        select(OutboxRow.id).where(col(OutboxRow.shipment_id) == shipment_id, col(OutboxRow.audience) == audience,
                                   col(OutboxRow.channel) == channel,
                                   col(OutboxRow.state).in_([OutboxState.SENT, OutboxState.SENDING])).limit(1)
    ).first() is not None


def messages_of(engine: Engine, shipment_id: str) -> list[OutboxRow]:
    """Every outbox row of a shipment, oldest first (detached, for the API)."""
    with Session(engine, expire_on_commit=False) as session:
        return list(session.exec(
            select(OutboxRow)
            .where(col(OutboxRow.shipment_id) == shipment_id)
            .order_by(col(OutboxRow.created_at), col(OutboxRow.not_before), col(OutboxRow.id))
        ))
