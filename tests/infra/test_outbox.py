"""The notification outbox on a real, migrated SQLite file: dedup in the caller's transaction, exclusive claims,
leases, retries and quiet hours."""

import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from sqlalchemy import inspect
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel

import infra.persistence.outbox  # noqa: F401 - registers the outbox table on SQLModel.metadata, as infra.persistence.db will
from infra.persistence.db import make_engine, migrate
from infra.persistence.outbox import (
    Channel,
    OutboxMessage,
    OutboxState,
    claim_due,
    enqueue,
    mark_failed,
    mark_sent,
    messages_of,
    next_due,
)

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
LEASE = timedelta(seconds=60)


def outbox_message(shipment_id: str, seq: int, *, channel: Channel = Channel.EMAIL, audience: str = "customer",
                   not_before: datetime = T0, **overrides: Any) -> OutboxMessage:
    webhook = channel is Channel.WEBHOOK
    values: dict[str, Any] = dict(
        id=f"{shipment_id}:{seq}:{channel}:{audience}", shipment_id=shipment_id, notice_id=f"{shipment_id}:{seq}",
        kind="in_transit", channel=channel, audience=audience,
        recipient="https://merchant.test/hooks" if webhook else "kunde@example.de", locale="de-DE",
        subject="Ihre Sendung ist unterwegs", body_text="Hallo!", body_html="<p>Hallo!</p>",
        payload={"shipment_id": shipment_id, "kind": "in_transit"} if webhook else None,
        not_before=not_before, created_at=T0 - timedelta(minutes=1),
    )
    values.update(overrides)
    return OutboxMessage(**values)


def migrated_engine(directory: Path) -> Engine:
    url = f"sqlite:///{directory / 'outbox.db'}"
    migrate(url)
    return make_engine(url)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = migrated_engine(tmp_path)
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def shared_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """One database for the property test's many examples; each example uses its own shipment id."""
    engine = migrated_engine(tmp_path_factory.mktemp("outbox"))
    yield engine
    engine.dispose()


def add(engine: Engine, messages: list[OutboxMessage]) -> int:
    with Session(engine) as session:
        added = enqueue(session, messages)
        session.commit()
    return added


def states(engine: Engine, shipment_id: str) -> dict[str, tuple[str, int]]:
    return {row.id: (row.state, row.attempts) for row in messages_of(engine, shipment_id)}


def test_migrations_build_the_outbox_table_as_the_model_declares(tmp_path):
    url = f"sqlite:///{tmp_path / 'rm.db'}"
    migrate(url)
    engine = make_engine(url)
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)
        indexes = {i["name"] for i in inspect(connection).get_indexes("notification_outbox")}
    engine.dispose()
    # Only this table: tests/infra/test_migrations.py checks the whole schema.
    outbox_diff = [d for d in diff if "notification_outbox" in repr(d)]
    assert outbox_diff == [], f"the outbox model and its migration differ: {outbox_diff}"
    assert indexes == {"ix_notification_outbox_shipment_id", "ix_notification_outbox_state_not_before"}


def test_enqueue_skips_ids_already_stored_or_repeated(engine):
    first = [outbox_message("S-1", 1), outbox_message("S-1", 1, channel=Channel.WEBHOOK, audience="merchant")]
    assert add(engine, first) == 2
    again = [*first, outbox_message("S-1", 2), outbox_message("S-1", 2)]
    assert add(engine, again) == 1
    assert [row.id for row in messages_of(engine, "S-1")] == [
        "S-1:1:email:customer", "S-1:1:webhook:merchant", "S-1:2:email:customer"]


def test_enqueue_is_part_of_the_callers_transaction(engine):
    with Session(engine) as session:
        assert enqueue(session, [outbox_message("S-1", 1)]) == 1
        # The caller's projection failed after enqueueing: nothing of the transaction may remain.
        session.rollback()
    assert messages_of(engine, "S-1") == []
    assert add(engine, [outbox_message("S-1", 1)]) == 1


def test_enqueue_stores_every_field(engine):
    message = outbox_message("S-1", 1, channel=Channel.WEBHOOK, audience="merchant")
    add(engine, [message])
    [row] = messages_of(engine, "S-1")
    stored = row.model_dump(include=set(OutboxMessage.model_fields))
    assert stored == message.model_dump()
    assert (row.state, row.attempts, row.lease_until, row.sent_at) == (OutboxState.PENDING, 0, None, None)


@pytest.mark.parametrize(("overrides", "field"), [
    (dict(channel=Channel.WEBHOOK, payload=None, recipient="https://m.test/h"), "payload"),
    (dict(channel=Channel.WEBHOOK, recipient="ops@example.com"), "recipient"),
    (dict(channel=Channel.EMAIL, recipient="https://m.test/h"), "recipient"),
    (dict(not_before=datetime(2026, 3, 2, 9, 0)), "not_before"),
], ids=["webhook-needs-payload", "webhook-needs-url", "email-needs-address", "naive-time"])
def test_messages_that_cannot_be_sent_are_refused_naming_the_field(overrides, field):
    with pytest.raises(ValidationError) as err:
        outbox_message("S-1", 1, **{"channel": Channel.WEBHOOK, **overrides})
    assert field in str(err.value)


def test_claim_leases_due_rows_and_counts_the_attempt(engine):
    add(engine, [outbox_message("S-1", 1), outbox_message("S-1", 2, not_before=T0 + timedelta(seconds=1)),
                 outbox_message("S-2", 1)])
    claimed = claim_due(engine, T0, shipment_id="S-1", lease=LEASE)
    assert [(r.id, r.state, r.attempts, r.lease_until) for r in claimed] == [
        ("S-1:1:email:customer", OutboxState.SENDING, 1, T0 + LEASE)]
    # Later, the leased row is still taken and the second row has come due.
    later = claim_due(engine, T0 + LEASE - timedelta(seconds=1), shipment_id="S-1", lease=LEASE)
    assert [r.id for r in later] == ["S-1:2:email:customer"]


def test_a_leased_row_is_claimable_again_once_the_lease_expires(engine):
    add(engine, [outbox_message("S-1", 1)])
    claim_due(engine, T0, lease=LEASE)
    assert claim_due(engine, T0 + LEASE - timedelta(microseconds=1), lease=LEASE) == []
    [again] = claim_due(engine, T0 + LEASE, lease=LEASE)
    assert (again.id, again.attempts, again.lease_until) == ("S-1:1:email:customer", 2, T0 + 2 * LEASE)


def test_quiet_hours_keep_a_row_until_its_not_before(engine):
    morning = T0 + timedelta(hours=10)
    add(engine, [outbox_message("S-1", 1, not_before=morning), outbox_message("S-1", 2, not_before=morning
                                                                              + timedelta(hours=1))])
    assert claim_due(engine, T0, shipment_id="S-1") == []
    assert next_due(engine, "S-1") == morning
    [claimed] = claim_due(engine, morning, shipment_id="S-1")
    assert claimed.id == "S-1:1:email:customer"
    assert next_due(engine, "S-1") == claimed.lease_until  # until it is recorded, its lease end comes first
    mark_sent(engine, claimed.id, morning)
    assert next_due(engine, "S-1") == morning + timedelta(hours=1)
    assert next_due(engine, "S-unknown") is None


def test_a_row_claimed_by_a_deliverer_that_died_comes_due_when_its_lease_ends(engine):
    """A worker killed while sending leaves its rows `sending`; the next delivery must come back for them."""
    add(engine, [outbox_message("S-1", 1), outbox_message("S-1", 2, not_before=T0 + 2 * LEASE)])
    claim_due(engine, T0, shipment_id="S-1", lease=LEASE)
    assert next_due(engine, "S-1") == T0 + LEASE  # before the pending row's own time
    [again] = claim_due(engine, T0 + LEASE, shipment_id="S-1", lease=LEASE)
    assert again.id == "S-1:1:email:customer"
    mark_sent(engine, again.id, T0 + LEASE)
    assert next_due(engine, "S-1") == T0 + 2 * LEASE


def test_claim_respects_the_limit_in_not_before_order(engine):
    add(engine, [outbox_message("S-1", seq, not_before=T0 - timedelta(minutes=seq)) for seq in range(1, 6)])
    claimed = claim_due(engine, T0, limit=2)
    assert [r.id for r in claimed] == ["S-1:5:email:customer", "S-1:4:email:customer"]


def test_mark_sent_is_final_and_keeps_the_first_time(engine):
    add(engine, [outbox_message("S-1", 1)])
    claim_due(engine, T0)
    mark_sent(engine, "S-1:1:email:customer", T0 + timedelta(seconds=2))
    mark_sent(engine, "S-1:1:email:customer", T0 + timedelta(seconds=9))
    [row] = messages_of(engine, "S-1")
    assert (row.state, row.sent_at, row.lease_until) == (OutboxState.SENT, T0 + timedelta(seconds=2), None)
    assert claim_due(engine, T0 + timedelta(days=1)) == []


def test_transient_failures_retry_until_max_attempts(engine):
    add(engine, [outbox_message("S-1", 1)])
    outcomes = []
    for n in range(3):
        [row] = claim_due(engine, T0 + n * LEASE)
        outcomes.append(mark_failed(engine, row.id, f"boom {n}", T0 + n * LEASE, max_attempts=3))
    assert outcomes == [OutboxState.PENDING, OutboxState.PENDING, OutboxState.FAILED]
    [row] = messages_of(engine, "S-1")
    assert (row.state, row.attempts, row.last_error, row.last_error_at) == (
        OutboxState.FAILED, 3, "boom 2", T0 + 2 * LEASE)
    assert claim_due(engine, T0 + timedelta(days=1)) == []


def test_a_permanent_failure_gives_up_at_once(engine):
    add(engine, [outbox_message("S-1", 1)])
    [row] = claim_due(engine, T0)
    assert mark_failed(engine, row.id, "HTTP 410", T0, max_attempts=10, permanent=True) is OutboxState.FAILED
    assert states(engine, "S-1") == {row.id: (OutboxState.FAILED, 1)}


def test_a_deliverer_whose_lease_expired_cannot_overwrite_the_new_claim(engine):
    add(engine, [outbox_message("S-1", 1)])
    [mine] = claim_due(engine, T0, lease=LEASE)
    [theirs] = claim_due(engine, T0 + LEASE, lease=LEASE)
    assert mark_failed(engine, mine.id, "late", T0 + LEASE, max_attempts=10, attempt=mine.attempts) is None
    assert states(engine, "S-1") == {mine.id: (OutboxState.SENDING, 2)}
    assert mark_failed(engine, theirs.id, "x", T0 + LEASE, max_attempts=10, attempt=theirs.attempts) is (
        OutboxState.PENDING)


@pytest.mark.parametrize("mark", [
    lambda engine: mark_sent(engine, "nope", T0),
    lambda engine: mark_failed(engine, "nope", "x", T0, max_attempts=3),
], ids=["mark_sent", "mark_failed"])
def test_marking_an_unknown_message_names_it(engine, mark):
    with pytest.raises(LookupError, match="'nope'"):
        mark(engine)


def test_concurrent_claims_never_return_the_same_row(engine):
    batch = [outbox_message("S-1", seq) for seq in range(80)]
    add(engine, batch)
    workers = 6
    start = threading.Barrier(workers)
    claimed: list[list[str]] = [[] for _ in range(workers)]
    errors: list[BaseException] = []

    def deliverer(index: int) -> None:
        try:
            start.wait()
            while rows := claim_due(engine, T0, limit=3):
                claimed[index].extend(r.id for r in rows)
        except BaseException as err:  # noqa: BLE001 - reported by the assertion below
            errors.append(err)

    threads = [threading.Thread(target=deliverer, args=(i,)) for i in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    everything = [row_id for rows in claimed for row_id in rows]
    assert Counter(everything) == Counter(m.id for m in batch), "every row claimed exactly once"
    assert all(state == (OutboxState.SENDING, 1) for state in states(engine, "S-1").values())


# A deliverer's step: claim up to n rows, send+mark sent what it holds, fail what it holds (transient), or crash
# (having sent or not: either way nothing is recorded). "advance" moves the clock; a claim outliving its lease
# counts as a crash, since its deliverer can no longer be sure it holds the row.
DELIVERERS = 3
STEPS = st.lists(st.one_of(
    st.tuples(st.just("claim"), st.integers(0, DELIVERERS - 1), st.integers(1, 4)),
    st.tuples(st.just("send"), st.integers(0, DELIVERERS - 1)),
    st.tuples(st.just("fail"), st.integers(0, DELIVERERS - 1)),
    st.tuples(st.just("crash"), st.integers(0, DELIVERERS - 1)),
    st.tuples(st.just("advance"), st.integers(1, 150)),
), max_size=40)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(offsets=st.lists(st.integers(0, 300), min_size=1, max_size=6), steps=STEPS)
def test_no_row_is_sent_twice_by_live_deliverers_and_every_row_ends_sent(shared_engine, offsets, steps):
    engine = shared_engine
    shipment_id = f"P-{uuid.uuid4().hex[:10]}"
    add(engine, [outbox_message(shipment_id, seq, not_before=T0 + timedelta(seconds=offset))
                 for seq, offset in enumerate(offsets)])
    now = T0
    held: dict[int, list[Any]] = {d: [] for d in range(DELIVERERS)}
    live_sends: Counter[str] = Counter()

    def send(rows: list[Any]) -> None:
        for row in rows:
            live_sends[row.id] += 1
            assert live_sends[row.id] == 1, f"{row.id} sent twice by live deliverers"
            mark_sent(engine, row.id, now)

    for step in steps:
        match step:
            case ("claim", d, n):
                rows = claim_due(engine, now, shipment_id=shipment_id, lease=LEASE, limit=n)
                others = {r.id for e, rs in held.items() if e != d for r in rs}
                assert not others & {r.id for r in rows}, "a row held by another deliverer was claimed"
                held[d].extend(rows)
            case ("send", d):
                send(held[d])
                held[d] = []
            case ("fail", d):
                for row in held[d]:
                    assert mark_failed(engine, row.id, "down", now, max_attempts=1000,
                                       attempt=row.attempts) is OutboxState.PENDING
                held[d] = []
            case ("crash", d):
                held[d] = []  # the lease must bring its rows back
            case ("advance", seconds):
                now += timedelta(seconds=seconds)
                held = {d: [r for r in rows if r.lease_until > now] for d, rows in held.items()}

    now += timedelta(seconds=300) + LEASE
    while rows := claim_due(engine, now, shipment_id=shipment_id, lease=LEASE):
        send(rows)
    assert {state for state, _attempts in states(engine, shipment_id).values()} == {OutboxState.SENT}
    assert live_sends == Counter({row_id: 1 for row_id in states(engine, shipment_id)})
