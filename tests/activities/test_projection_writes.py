"""The read model's write path (issue 20): a happy-path shipment's recorded snapshots, projected on a migrated SQLite
file and on PostgreSQL, counted statement by statement (SQLAlchemy's `before_cursor_execute`; counts are
deterministic where timings are not).

Before issue 20 every snapshot was an ORM transaction that claimed the row, read the shipment, its transitions,
gates, partner records (and events, the token) back, and wrote the whole shipment row again: 4-6 SELECTs per
snapshot. Now a snapshot is one conditional UPDATE of the row and the rows that changed, with no read unless it
carries notices (the outbox's rules read the merchant's profile and what is queued).
"""

import gzip
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.engine import Engine

from infra.persistence.db import apply_projection, make_engine, migrate
from infra.platform.notice_config import NoticeConfig
from tests.activities.test_dead_letters import update_for
from tradelane.shipment.projection import ProjectionUpdate

SNAPSHOTS = Path(__file__).parent / "snapshots" / "basic_cn_de.json.gz"
"""Recorded by `record_projection_snapshots.py` from a basic-cn-de shipment delivered on the test stack."""

NOTICES = NoticeConfig(ops_email="ops@example.com", tracking_secret="s" * 32,
                       default_merchant_webhook="http://127.0.0.1:9/hooks")

MAX_STATEMENTS = 60
"""For the whole shipment (10 snapshots), BEGIN and COMMIT not counted. Measured on SQLite: 107 before issue 20 (58
SELECTs, 24 UPDATEs of the shipment's row), 42 since (10 UPDATEs of the row; 8 SELECTs, the outbox's, in the 4
snapshots with notices)."""

TABLES = ("shipments", "tracking_events", "stage_transitions", "approvals", "partner_bookings", "tracking_tokens",
          "notification_outbox")


def recorded(shipment_id: str) -> list[ProjectionUpdate]:
    """The recorded snapshots, renamed to `shipment_id` (PostgreSQL keeps other tests' rows)."""
    data = json.loads(gzip.decompress(SNAPSHOTS.read_bytes()))
    text_ = json.dumps(data["updates"]).replace(data["shipment_id"], shipment_id)
    return [ProjectionUpdate.model_validate(u) for u in json.loads(text_)]


def new_id(prefix: str) -> str:
    return f"{prefix}-{datetime.now(UTC).strftime('%H%M%S%f')}"


@contextmanager
def statements(engine: Engine, changed: list[tuple[str, int]] | None = None) -> Iterator[list[str]]:
    """The SQL statements `engine` runs meanwhile (an executemany counts once); `changed` gets each one's statement
    and the rows it changed."""
    seen: list[str] = []

    def before_execute(_conn, _cursor, statement: str, *_args) -> None:  # noqa: ANN001 - SQLAlchemy's hook
        seen.append(" ".join(statement.split()))

    def after_execute(_conn, cursor, statement: str, *_args) -> None:  # noqa: ANN001 - SQLAlchemy's hook
        if changed is not None:
            changed.append((" ".join(statement.split()), cursor.rowcount))

    event.listen(engine, "before_cursor_execute", before_execute)
    event.listen(engine, "after_cursor_execute", after_execute)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", before_execute)
        event.remove(engine, "after_cursor_execute", after_execute)


def kind(statement: str) -> str:
    return statement.split(" ", 1)[0].upper()


def table_of(statement: str) -> str:
    """The table a write statement writes (`INSERT INTO t`, `UPDATE t`, `DELETE FROM t`)."""
    words = statement.replace('"', "").split()
    return words[2] if words[0].upper() in ("INSERT", "DELETE") else words[1]


def contents(engine: Engine, shipment_id: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the shipment in the read model's tables, surrogate ids left out, in a stable order."""
    found = {}
    with engine.connect() as conn:
        for table in TABLES:
            rows = conn.execute(text(f"SELECT * FROM {table} WHERE shipment_id = :id"), {"id": shipment_id}).mappings()
            found[table] = sorted(tuple((k, str(v)) for k, v in row.items() if k != "id") for row in rows)
    return found


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


@pytest.fixture(params=["sqlite", "postgres"])
def engine(request: pytest.FixtureRequest) -> Engine:
    return request.getfixturevalue("sqlite_engine" if request.param == "sqlite" else "pg")


def test_a_shipment_is_projected_without_reading_back_and_in_few_statements(sqlite_engine):
    """Before issue 20 these snapshots took 107 statements, 4-6 SELECTs each (the row, transitions, gates, records,
    events, the token) and two writes of the shipment's row; now the snapshots without notices read nothing."""
    updates = recorded(new_id("WRITES"))
    assert len(updates) >= 8
    per_snapshot, changes = [], []
    for update in updates:
        changed: list[tuple[str, int]] = []
        with statements(sqlite_engine, changed) as seen:
            assert apply_projection(sqlite_engine, update, NOTICES)
        per_snapshot.append(seen)
        changes.append(changed)

    reads = [[s for s in seen if kind(s) == "SELECT"] for seen, u in zip(per_snapshot, updates, strict=True)
             if not u.notices]
    assert reads and all(r == [] for r in reads), reads
    total = sum(len(seen) for seen in per_snapshot)
    assert total <= MAX_STATEMENTS, total
    assert all(u.since is not None for u in updates[1:])  # each names the one before
    # After the first (an insert), each snapshot writes the shipment's row once: no claim, read and rewrite.
    row_writes = [sum(1 for s, rows in changed if table_of(s) == "shipments" and kind(s) != "SELECT" and rows > 0)
                  for changed in changes[1:]]
    assert row_writes == [1] * (len(updates) - 1), row_writes
    # A transition is written only by the snapshot that made it.
    transition_writes = sum(1 for changed in changes[1:] for s, rows in changed
                            if kind(s) != "SELECT" and table_of(s) == "stage_transitions" and rows > 0)
    assert transition_writes == sum(1 for u in updates[1:] if len(u.state.transitions) > u.since.transitions)


def test_a_snapshot_written_twice_changes_nothing_the_second_time(engine):
    """A retried projection (the same snapshot again, or an older one late) writes nothing and says so."""
    shipment_id = new_id("RETRY")
    updates = recorded(shipment_id)
    for update in updates:
        assert apply_projection(engine, update, NOTICES)
        stored = contents(engine, shipment_id)
        with statements(engine) as seen:
            assert not apply_projection(engine, update, NOTICES)
        assert contents(engine, shipment_id) == stored
        assert len(seen) <= 3, seen  # the two conditional updates and the insert of a first row find nothing
    assert not apply_projection(engine, updates[1], NOTICES)  # an older snapshot, late


def test_only_the_changes_written_make_the_same_tables_as_the_whole_snapshot(engine):
    """The snapshots written one after another, each with only what changed (`since`), leave the same rows as the
    last snapshot written whole on a shipment that missed every earlier one (its events and notices aside: those
    travel once, with the snapshot that made them)."""
    updates = recorded(step := new_id("STEP"))
    for update in updates:
        assert apply_projection(engine, update, NOTICES)
    last = recorded(whole := new_id("WHOLE"))[-1]
    last = last.model_copy(update={"since": None, "events": [e for u in recorded(whole) for e in u.events],
                                   "notices": []})
    assert apply_projection(engine, last, NOTICES)

    stepwise, at_once = contents(engine, step), contents(engine, whole)
    strip = lambda rows: [tuple((k, v.replace(whole, step)) for k, v in row) for row in rows]  # noqa: E731
    for table in ("shipments", "tracking_events", "stage_transitions", "approvals", "partner_bookings"):
        assert stepwise[table] == strip(at_once[table]), table


def test_a_snapshot_whose_base_is_not_stored_is_written_whole(engine):
    """`since` names a snapshot the read model lost (a crash of a SQLite file under `synchronous=NORMAL`, a restore
    from backup): the next snapshot finds another version stored and writes every row again, not its changes."""
    shipment_id = new_id("LOST")
    updates = recorded(shipment_id)
    assert apply_projection(engine, updates[0], NOTICES)
    final = updates[-1]
    assert final.since is not None and final.since.version != updates[0].version
    assert apply_projection(engine, final, NOTICES)

    with engine.connect() as conn:
        row = conn.execute(text("SELECT version, status FROM shipments WHERE shipment_id = :id"),
                           {"id": shipment_id}).one()
        seqs = conn.execute(text("SELECT seq FROM stage_transitions WHERE shipment_id = :id ORDER BY seq"),
                            {"id": shipment_id}).scalars().all()
        records = conn.execute(text("SELECT count(*) FROM partner_bookings WHERE shipment_id = :id"),
                               {"id": shipment_id}).scalar_one()
    assert (row.version, row.status) == (final.version, "delivered")
    assert seqs == [t.seq for t in final.state.transitions]
    assert records == len(final.state.records)


def test_sqlite_commits_without_waiting_for_fsync(sqlite_engine):
    """`synchronous=NORMAL` with WAL: the durability choice of docs/visibility.md ("Durability of the read model")."""
    with sqlite_engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar_one() == "wal"
        assert conn.execute(text("PRAGMA synchronous")).scalar_one() == 1  # NORMAL; FULL is 2


def test_the_newest_status_is_kept_by_when_events_happened_whatever_their_offset(engine):
    """A partner reports in its local time: an event at 09:00+08:00 happened before one at 02:00Z the same day, and
    the row keeps the newest by the instant (the new path compares in SQL, where a time without its offset would
    sort by the wall clock)."""
    shipment_id = new_id("NEWEST")
    first = update_for(shipment_id, version=1)
    at = datetime(2026, 12, 7, 2, 0, tzinfo=UTC)
    first.events[0] = first.events[0].model_copy(update={"occurred_at": at, "status": "in_transit"})
    assert apply_projection(engine, first, NOTICES)

    def later(version: int, event_id: str, occurred_at: datetime, status: str) -> ProjectionUpdate:
        update = update_for(shipment_id, version=version)
        update.events[0] = update.events[0].model_copy(update={"event_id": event_id, "occurred_at": occurred_at,
                                                               "status": status, "received_seq": version})
        return update

    earlier_local = datetime(2026, 12, 7, 9, 0, tzinfo=timezone(timedelta(hours=8)))  # 01:00Z
    assert apply_projection(engine, later(2, "ev-2", earlier_local, "arrived_at_destination"), NOTICES)
    with engine.connect() as conn:
        row = conn.execute(text("SELECT latest_status FROM shipments WHERE shipment_id = :id"),
                           {"id": shipment_id}).one()
    assert row.latest_status == "in_transit"

    newer_local = datetime(2026, 12, 7, 11, 0, tzinfo=timezone(timedelta(hours=8)))  # 03:00Z
    assert apply_projection(engine, later(3, "ev-3", newer_local, "out_for_delivery"), NOTICES)
    with engine.connect() as conn:
        row = conn.execute(text("SELECT latest_status, latest_event_at FROM shipments WHERE shipment_id = :id"),
                           {"id": shipment_id}).one()
    stored_at = row.latest_event_at if isinstance(row.latest_event_at, datetime) else datetime.fromisoformat(
        row.latest_event_at)
    assert row.latest_status == "out_for_delivery"
    assert stored_at.replace(tzinfo=stored_at.tzinfo or UTC) == newer_local
