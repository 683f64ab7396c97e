"""Two writers of one shipment's snapshot at once (issue 18): the fault matrix's 40 s read-model lock left a
timed-out local-activity projection writing in its thread while the fallback normal activity wrote the same new
row; the second insert failed `UNIQUE constraint failed: shipments.shipment_id` and was dead-lettered as a poison
message. A unique-key race is transient: both writers succeed, the row is written once, and no dead letter is
recorded. Real databases: a migrated SQLite file, and a private PostgreSQL cluster (tests/postgres.py).

Both writers are made to read before either writes, as the lock did: a third connection holds the write lock (SQLite)
or an EXCLUSIVE lock on the shipments table (PostgreSQL; reads still pass) until both writers have issued their
first write statement. Of two different versions, the older one's writes wait for the newer one's commit, so each
test runs the same race every time.
"""

import asyncio
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import event, text
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from temporalio.testing import ActivityEnvironment

from activities import read_model
from activities.poison import deterministic
from activities.read_model import ReadModelActivities
from infra.persistence.db import ApprovalRow, ShipmentRow, StageTransitionRow, TrackingEventRow, make_engine, migrate
from infra.persistence.dead_letters import letters
from infra.persistence.tracking_tokens import TrackingTokenRow
from infra.platform.notice_config import NoticeConfig
from tests.activities.test_dead_letters import update_for
from tradelane.shipment.projection import ProjectionUpdate

WRITES = ("INSERT", "UPDATE", "DELETE")

Lock = Callable[[Engine], AbstractContextManager[None]]


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    url = f"sqlite:///{tmp_path / 'read_model.db'}"
    migrate(url)
    engine = make_engine(url)
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def pg(pg_engine: Engine) -> Engine:
    return pg_engine


@contextmanager
def sqlite_write_lock(engine: Engine) -> Iterator[None]:
    """Hold the SQLite file's write lock from a connection of its own (readers in WAL mode still read)."""
    holder = sqlite3.connect(engine.url.database or "", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        holder.execute("ROLLBACK")
        holder.close()


@contextmanager
def postgres_table_lock(engine: Engine) -> Iterator[None]:
    """Hold an EXCLUSIVE lock on the shipments table: reads pass, every write to it waits."""
    with engine.connect() as holder:
        holder.execute(text("LOCK TABLE shipments IN EXCLUSIVE MODE"))
        yield
        holder.rollback()


@contextmanager
def writers_in_step(engine: Engine, versions: tuple[int, int]) -> Iterator[threading.Event]:
    """An event set once both writers have issued a write statement (so both have read); when their versions
    differ, the older one's writes wait until the newer one has committed, so the order of the race is fixed."""
    newer, older = max(versions), min(versions)
    writing: set[int] = set()
    ready, newer_committed = threading.Event(), threading.Event()
    version_of = threading.local()
    real = read_model.apply_projection

    def apply_projection(engine_: Engine, update: ProjectionUpdate, notices: NoticeConfig | None = None) -> bool:
        version_of.value = update.version
        return real(engine_, update, notices)

    def before_execute(_conn, _cursor, statement: str, *_args) -> None:  # noqa: ANN001 - SQLAlchemy's hook
        if not statement.lstrip().upper().startswith(WRITES):
            return
        writing.add(threading.get_ident())
        if len(writing) >= 2:
            ready.set()
        if older < newer and getattr(version_of, "value", None) == older:
            assert newer_committed.wait(30), "the newer snapshot should have committed"

    def on_commit(_conn) -> None:  # noqa: ANN001 - SQLAlchemy's hook
        if getattr(version_of, "value", None) == newer:
            newer_committed.set()

    event.listen(engine, "before_cursor_execute", before_execute)
    event.listen(engine, "commit", on_commit)
    read_model.apply_projection = apply_projection
    try:
        yield ready
    finally:
        read_model.apply_projection = real
        event.remove(engine, "before_cursor_execute", before_execute)
        event.remove(engine, "commit", on_commit)


async def project_twice_at_once(engine: Engine, lock: Lock, shipment_id: str,
                                versions: tuple[int, int]) -> list[bool | BaseException]:
    """Run two projections of `shipment_id` together, both reading before either may write."""
    acts = ReadModelActivities(engine, NoticeConfig(ops_email="ops@example.com", tracking_secret="s" * 32))
    with writers_in_step(engine, versions) as ready:
        with lock(engine):
            runs = [asyncio.ensure_future(ActivityEnvironment().run(acts.project, update_for(shipment_id, version=v)))
                    for v in versions]
            reached = await asyncio.to_thread(ready.wait, 60)
            assert reached, "both projections should have read the row and be waiting to write"
        return list(await asyncio.wait_for(asyncio.gather(*runs, return_exceptions=True), 60))


def stored(engine: Engine, shipment_id: str) -> tuple[int, int, int, int]:
    """The shipment's version and how many event, transition and token rows it has."""
    with Session(engine) as session:
        row = session.get(ShipmentRow, shipment_id)
        assert row is not None
        return (row.version,
                len(session.exec(select(TrackingEventRow).where(TrackingEventRow.shipment_id == shipment_id)).all()),
                len(session.exec(select(StageTransitionRow).where(
                    StageTransitionRow.shipment_id == shipment_id)).all()),
                len(session.exec(select(TrackingTokenRow).where(
                    col(TrackingTokenRow.shipment_id) == shipment_id)).all()))


def new_id(prefix: str) -> str:
    return f"{prefix}-{datetime.now(UTC).strftime('%H%M%S%f')}"


LOCKS = {"sqlite": sqlite_write_lock, "postgres": postgres_table_lock}


@pytest.fixture(params=["sqlite", "postgres"])
def database(request: pytest.FixtureRequest) -> tuple[Engine, Lock]:
    engine = request.getfixturevalue("sqlite_engine" if request.param == "sqlite" else "pg")
    return engine, LOCKS[request.param]


async def test_two_projections_of_the_same_new_shipment_both_succeed_without_a_dead_letter(database):
    """The same snapshot twice at once (the timed-out local activity and its fallback): one writes it, the other
    finds it written; before, the second insert's IntegrityError was dead-lettered."""
    engine, lock = database
    shipment_id = new_id("RACE-NEW")

    results = await project_twice_at_once(engine, lock, shipment_id, (1, 1))

    assert sorted(results, key=repr) == [False, True]
    assert stored(engine, shipment_id) == (1, 1, 1, 1)
    assert letters(engine, shipment_id=shipment_id) == []


async def test_a_newer_snapshot_racing_an_older_one_is_the_one_kept(database):
    """Snapshots 2 and 1 of a new shipment at once, 2 committing first: the late older snapshot changes nothing
    and does not fail (before, its insert of the same key was dead-lettered)."""
    engine, lock = database
    shipment_id = new_id("RACE-NEWER")

    results = await project_twice_at_once(engine, lock, shipment_id, (2, 1))

    assert results == [True, False]
    assert stored(engine, shipment_id) == (2, 1, 1, 1)
    assert letters(engine, shipment_id=shipment_id) == []


async def test_a_newer_snapshot_is_not_overwritten_by_an_older_one_written_at_the_same_time(database):
    """A stored shipment (version 1) gets snapshots 3 and 2 at once, both read while at version 1 and 3 commits
    first: the older one must not overwrite it (before, this lost update left version 2)."""
    engine, lock = database
    shipment_id = new_id("RACE-OLD")
    acts = ReadModelActivities(engine, NoticeConfig())
    assert await ActivityEnvironment().run(acts.project, update_for(shipment_id, version=1))

    results = await project_twice_at_once(engine, lock, shipment_id, (3, 2))

    assert results == [True, False]
    assert stored(engine, shipment_id)[0] == 3
    assert letters(engine, shipment_id=shipment_id) == []


def test_a_unique_violation_is_not_judged_a_poison_message(sqlite_engine):
    """A real unique-key violation is retried (up to the cap for unknown errors); the dead letter waits for it."""
    shipment_id = new_id("RACE-UNIQUE")
    with Session(sqlite_engine) as session:
        session.add(TrackingTokenRow(token_digest=shipment_id, shipment_id=shipment_id))
        session.commit()
    with Session(sqlite_engine) as session, pytest.raises(Exception) as err:
        session.add(TrackingTokenRow(token_digest=shipment_id, shipment_id=shipment_id))
        session.commit()
    assert (deterministic(err.value, attempt=1, max_attempts=20),
            deterministic(err.value, attempt=20, max_attempts=20)) == (False, True)


def test_transitions_and_gates_of_a_task_that_never_completed_are_replaced_by_the_next_snapshot(sqlite_engine):
    """A local-activity projection runs inside its workflow task: when the worker dies before the task completes, what
    it projected is not in the history, and the task run again may record other transitions and gates under the same
    numbers. The fault matrix found a delivered shipment whose read model still held the lost task's `delayed` and
    `on_hold` transitions (8 where the workflow had 7). The next snapshot is the truth: it corrects and removes them."""
    from tradelane.enums import GateKind, Stage, Status
    from tradelane.shipment.state import Gate, Transition

    lost = update_for("SHP-PHANTOM", version=2)
    at = lost.state.transitions[0].at
    lost.state.transitions += [
        Transition(seq=1, stage=Stage.LAST_MILE, status=Status.DELAYED, at=at, note="stalled"),
        Transition(seq=2, stage=Stage.LAST_MILE, status=Status.ON_HOLD, at=at, note="waiting for ops")]
    lost.state.gates = [Gate(kind=GateKind.STAGE_OVERDUE, stage=Stage.LAST_MILE, reason="no delivery", opened_at=at)]
    assert read_model.apply_projection(sqlite_engine, lost)

    real = update_for("SHP-PHANTOM", version=3)
    real.state.transitions += [Transition(seq=1, stage=Stage.LAST_MILE, status=Status.DELIVERED, at=at,
                                          note="delivered")]
    assert read_model.apply_projection(sqlite_engine, real)

    with Session(sqlite_engine) as session:
        rows = session.exec(select(StageTransitionRow).where(StageTransitionRow.shipment_id == "SHP-PHANTOM")
                            .order_by(col(StageTransitionRow.seq))).all()
        gates = session.exec(select(ApprovalRow).where(ApprovalRow.shipment_id == "SHP-PHANTOM")).all()
    assert [(r.seq, r.status) for r in rows] == [(0, Status.IN_PROGRESS), (1, Status.DELIVERED)]
    assert gates == []
