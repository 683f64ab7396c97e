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

Who delivers: the outbox relay (`activities.notifications.OutboxRelay`), which claims every shipment's due rows in
batches (`claim_due`, one statement) and records each batch's outcomes in one transaction (`record_outcomes`).
Shipments from before the relay delivered still have their workflow deliver their own rows while they run
(`notifications.deliver`, the same code); claims are exclusive, so both may run at once.
"""

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
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


def _claimable(now: datetime, *, shipment_id: str | None, max_attempts: int | None,
               overdue: timedelta) -> list[ColumnElement[bool]]:
    conditions = [_due(now, overdue)]
    if max_attempts is not None:
        conditions.append(col(OutboxRow.attempts) < max_attempts)
    if shipment_id is not None:
        conditions.append(col(OutboxRow.shipment_id) == shipment_id)
    return conditions


OLDEST_FIRST = (col(OutboxRow.not_before), col(OutboxRow.created_at), col(OutboxRow.id))


def _oldest_first(row: "OutboxRow") -> tuple[datetime, datetime, str]:
    return row.not_before, row.created_at, row.id


def _detached(rows: Iterable[Any]) -> list[OutboxRow]:
    """Rows a RETURNING clause gave back, as detached `OutboxRow`s, oldest `not_before` first."""
    return sorted((OutboxRow(**dict(row._mapping)) for row in rows), key=_oldest_first)


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
    """Claim due rows for sending until `now + lease`, oldest `not_before` first, in one UPDATE ... RETURNING.

    Due means pending with `not_before <= now`, or sending with an expired lease. The UPDATE itself checks that each
    row is still due, so concurrent deliverers never claim the same row: on PostgreSQL it picks its rows with
    `FOR UPDATE SKIP LOCKED` (a row another deliverer is claiming is skipped, not waited for); elsewhere (SQLite,
    one writer at a time) a plain read picks the candidates first, so a round with nothing due takes no write lock,
    and a candidate another deliverer took in between is no longer due and is left out.

    So a claim racing others may return fewer rows than `limit`, even none while due rows remain: on PostgreSQL the
    limit is applied to the statement's snapshot before the rows are locked, and a row another deliverer claimed
    since is then dropped (PostgreSQL documents this for LIMIT with FOR UPDATE). Nothing is lost: the relay's next
    round takes them.

    Args:
        engine: The read-model database.
        now: Current time (timezone-aware).
        shipment_id: Only this shipment's rows, when given.
        lease: How long the claim holds; must exceed the time to send every claimed row.
        limit: At most this many rows.
        max_attempts: Rows claimed this often already are not claimed again (`give_up_exhausted` fails them):
            a message whose every deliverer died or overran its lease must not be claimed forever.
        overdue: Only pending rows due at least this long ago (a claim held by a crashed deliverer is freed by its
            lease as always).

    Returns:
        The claimed rows (state `sending`, `attempts` counting this claim), detached from any session.
    """
    claimable = _claimable(now, shipment_id=shipment_id, max_attempts=max_attempts, overdue=overdue)
    chosen = select(OutboxRow.id).where(*claimable).order_by(*OLDEST_FIRST).limit(limit)
    # `attempts` grows with every claim: it is the fencing token each outcome is recorded against.
    claim = (update(OutboxRow)
             .values(state=OutboxState.SENDING, lease_until=now + lease, attempts=col(OutboxRow.attempts) + 1)
             .returning(*OutboxRow.__table__.columns))  # type: ignore[attr-defined]
    if engine.dialect.name == "postgresql":
        with engine.begin() as connection:
            return _detached(connection.execute(
                claim.where(col(OutboxRow.id).in_(chosen.with_for_update(skip_locked=True)), *claimable)))
    with engine.connect() as connection:
        candidates = list(connection.execute(chosen).scalars())
    if not candidates:
        return []
    with engine.begin() as connection:
        return _detached(connection.execute(claim.where(col(OutboxRow.id).in_(candidates), *claimable)))


def give_up_exhausted(engine: Engine, now: datetime, *, max_attempts: int,
                      shipment_id: str | None = None) -> list[OutboxRow]:
    """Fail the due rows already claimed `max_attempts` times (each claim's deliverer died or overran its lease,
    so no outcome was recorded): they are not claimed again. One read, and one UPDATE when there is any.

    Returns:
        The rows failed now (state `failed`), detached, for the caller to record as dead letters.
    """
    exhausted = [_due(now), col(OutboxRow.attempts) >= max_attempts]
    if shipment_id is not None:
        exhausted.append(col(OutboxRow.shipment_id) == shipment_id)
    with engine.connect() as connection:
        if connection.execute(select(OutboxRow.id).where(*exhausted).limit(1)).first() is None:
            return []
    with engine.begin() as connection:
        return _detached(connection.execute(
            update(OutboxRow).where(*exhausted)
            .values(state=OutboxState.FAILED, lease_until=None, last_error_at=now,
                    last_error=f"claimed {max_attempts} or more times without an outcome recorded (the deliverer "
                               "died or overran its lease each time); given up")
            .returning(*OutboxRow.__table__.columns)))  # type: ignore[attr-defined]


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


@dataclass(frozen=True)
class SendFailure:
    """A claimed row that did not go out, for `record_outcomes`."""

    id: str
    attempt: int
    """The `attempts` value of the claim: the outcome is recorded only if nobody claimed the row since."""
    error: str
    permanent: bool
    retry_at: datetime | None = None
    """When a transient failure may be tried again (the row's new `not_before`); None: at once."""


def record_outcomes(engine: Engine, now: datetime, *, sent: Sequence[str], failed: Sequence[SendFailure],
                    max_attempts: int) -> dict[str, OutboxState | None]:
    """Record a batch's outcomes in one transaction: what was accepted is `sent` (one UPDATE, unfenced like
    `mark_sent`), what failed goes back to `pending` (from `retry_at`) or ends `failed`, like `mark_failed`.

    Returns:
        Each failed row's new state, None when it was no longer ours (sent, or claimed again since).
    """
    states: dict[str, OutboxState | None] = {}
    with engine.begin() as connection:
        if sent:
            connection.execute(
                update(OutboxRow)
                .where(col(OutboxRow.id).in_(list(sent)), col(OutboxRow.state) != OutboxState.SENT)
                .values(state=OutboxState.SENT, sent_at=now, lease_until=None))
        for failure in failed:
            state = (OutboxState.FAILED if failure.permanent or failure.attempt >= max_attempts
                     else OutboxState.PENDING)
            values: dict[str, Any] = dict(state=state, lease_until=None, last_error=failure.error[:MAX_ERROR_CHARS],
                                          last_error_at=now)
            if state is OutboxState.PENDING and failure.retry_at is not None:
                values["not_before"] = failure.retry_at
            result = connection.execute(
                update(OutboxRow)
                .where(col(OutboxRow.id) == failure.id, col(OutboxRow.state) == OutboxState.SENDING,
                       col(OutboxRow.attempts) == failure.attempt)
                .values(**values))
            states[failure.id] = state if result.rowcount == 1 else None
    return states


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
