"""The outbox in batches (issue 20): many rows claimed in one statement (`FOR UPDATE SKIP LOCKED` on PostgreSQL),
a batch's outcomes recorded in one transaction, with the guarantees of one-at-a-time claims. Real SQLite and a
private PostgreSQL cluster."""

import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine

from infra.persistence.outbox import (
    OutboxState,
    SendFailure,
    claim_due,
    give_up_exhausted,
    messages_of,
    record_outcomes,
)
from tests.infra.test_outbox import LEASE, T0, add, migrated_engine, outbox_message, states


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "postgresql":
        yield request.getfixturevalue("pg_engine")
        return
    engine = migrated_engine(tmp_path)
    yield engine
    engine.dispose()


@pytest.fixture
def shipment_id() -> str:
    """Each test its own shipment: the PostgreSQL database is shared by the module's tests."""
    return f"B-{uuid.uuid4().hex[:10]}"


@contextmanager
def statements(engine: Engine) -> Iterator[list[str]]:
    """The SQL statements `engine` runs inside the block, by their first word, and its commits as ``COMMIT``."""
    seen: list[str] = []

    def executed(_conn, _cursor, statement: str, *_args: object) -> None:  # noqa: ANN001 - DB-API objects
        seen.append(statement.split(None, 1)[0].upper())

    def committed(_conn) -> None:  # noqa: ANN001
        seen.append("COMMIT")

    event.listen(engine, "before_cursor_execute", executed)
    event.listen(engine, "commit", committed)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", executed)
        event.remove(engine, "commit", committed)


def test_a_claim_of_many_rows_is_one_update(engine, shipment_id):
    """Before, each row was claimed by an UPDATE and a transaction of its own (20 rows: 20 of each)."""
    add(engine, [outbox_message(shipment_id, seq, not_before=T0 - timedelta(seconds=seq)) for seq in range(20)])
    with statements(engine) as seen:
        claimed = claim_due(engine, T0, shipment_id=shipment_id, lease=LEASE, limit=50)
    assert [r.id for r in claimed] == [f"{shipment_id}:{seq}:email:customer" for seq in reversed(range(20))]
    assert {(r.state, r.attempts, r.lease_until) for r in claimed} == {(OutboxState.SENDING, 1, T0 + LEASE)}
    assert (seen.count("UPDATE"), seen.count("COMMIT")) == (1, 1), seen
    with statements(engine) as seen:
        assert claim_due(engine, T0, shipment_id=shipment_id) == []
    if engine.dialect.name == "sqlite":
        assert seen.count("UPDATE") == 0, "a round with nothing due takes no write lock on SQLite"


def test_concurrent_batch_claims_never_return_the_same_row(engine, shipment_id):
    add(engine, [outbox_message(shipment_id, seq) for seq in range(120)])
    workers = 6
    start = threading.Barrier(workers)
    claimed: list[list[str]] = [[] for _ in range(workers)]
    errors: list[BaseException] = []

    def pending_left() -> bool:
        return any(state == OutboxState.PENDING for state, _ in states(engine, shipment_id).values())

    def deliverer(index: int) -> None:
        # As the relay's rounds do: an empty claim while others claim is not the end (see claim_due); none pending is.
        try:
            start.wait()
            while True:
                if rows := claim_due(engine, T0, shipment_id=shipment_id, limit=7):
                    claimed[index].extend(r.id for r in rows)
                elif not pending_left():
                    break
        except BaseException as err:  # noqa: BLE001 - reported by the assertion below
            errors.append(err)

    threads = [threading.Thread(target=deliverer, args=(i,)) for i in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    everything = Counter(row_id for rows in claimed for row_id in rows)
    assert everything == Counter(f"{shipment_id}:{seq}:email:customer" for seq in range(120)), "each row once"
    assert set(states(engine, shipment_id).values()) == {(OutboxState.SENDING, 1)}


def test_a_batch_of_outcomes_is_recorded_in_one_transaction(engine, shipment_id):
    add(engine, [outbox_message(shipment_id, seq) for seq in range(5)])
    rows = {r.id.split(":")[1]: r for r in claim_due(engine, T0, shipment_id=shipment_id, lease=LEASE)}
    stale = rows["4"].model_copy(update={"attempts": 0})  # a deliverer whose claim was taken over since
    retry_at = T0 + timedelta(seconds=2)
    with statements(engine) as seen:
        outcome = record_outcomes(engine, T0, sent=[rows["0"].id, rows["1"].id], max_attempts=10, failed=[
            SendFailure(rows["2"].id, rows["2"].attempts, "SMTP 451 try later", permanent=False, retry_at=retry_at),
            SendFailure(rows["3"].id, rows["3"].attempts, "HTTP 410", permanent=True),
            SendFailure(stale.id, stale.attempts, "late", permanent=False)])
    assert seen.count("COMMIT") == 1, seen
    assert outcome == {rows["2"].id: OutboxState.PENDING, rows["3"].id: OutboxState.FAILED, stale.id: None}
    stored = {r.id.split(":")[1]: r for r in messages_of(engine, shipment_id)}
    assert {k: (r.state, r.attempts) for k, r in stored.items()} == {
        "0": (OutboxState.SENT, 1), "1": (OutboxState.SENT, 1), "2": (OutboxState.PENDING, 1),
        "3": (OutboxState.FAILED, 1), "4": (OutboxState.SENDING, 1)}
    assert (stored["0"].sent_at, stored["2"].not_before, stored["2"].last_error) == (T0, retry_at,
                                                                                     "SMTP 451 try later")
    # The transient failure waits for its retry time; the failed and sent rows never come back.
    assert claim_due(engine, retry_at - timedelta(microseconds=1), shipment_id=shipment_id) == []
    assert [r.id for r in claim_due(engine, retry_at, shipment_id=shipment_id)] == [rows["2"].id]


def test_rows_whose_claims_are_exhausted_are_failed_together(engine, shipment_id):
    add(engine, [outbox_message(shipment_id, seq) for seq in range(3)])
    for n in range(2):  # two deliverers died holding every row
        claim_due(engine, T0 + n * LEASE, shipment_id=shipment_id, lease=LEASE)
    with statements(engine) as seen:
        failed = give_up_exhausted(engine, T0 + 2 * LEASE, max_attempts=2, shipment_id=shipment_id)
    assert sorted(r.id for r in failed) == sorted(states(engine, shipment_id))
    assert {(r.state, r.attempts) for r in failed} == {(OutboxState.FAILED, 2)}
    assert seen.count("UPDATE") == 1, seen
    assert give_up_exhausted(engine, T0 + 3 * LEASE, max_attempts=2, shipment_id=shipment_id) == []
