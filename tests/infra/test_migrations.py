"""The Alembic migrations build exactly the schema the SQLModel tables declare, and run twice harmlessly."""

import subprocess
import sys
import time
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlmodel import SQLModel

from infra.persistence.db import make_engine, migrate
from tests.postgres import postgres_cluster

ROOT = Path(__file__).resolve().parent.parent.parent


def test_migrations_match_the_models(tmp_path):
    url = f"sqlite:///{tmp_path / 'rm.db'}"
    migrate(url)
    migrate(url)  # idempotent: a restarted service migrates again
    engine = make_engine(url)
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)
        tables = set(inspect(connection).get_table_names())
    engine.dispose()
    assert diff == [], f"models and migrations differ; write a migration: {diff}"
    assert {"shipments", "stage_transitions", "approvals", "partner_bookings"} <= tables


MIGRATE_AT = """
import sys, time
from infra.persistence.db import migrate
time.sleep(max(0.0, float(sys.argv[2]) - time.time()))  # all start together
migrate(sys.argv[1])
"""


def migrate_together(url: str, processes: int = 4) -> list[subprocess.CompletedProcess[str]]:
    """Migrate one fresh database from several processes at the same instant, like an API and a worker starting."""
    start_at = time.time() + 4  # after every interpreter has imported Alembic and the models
    children = [subprocess.Popen([sys.executable, "-c", MIGRATE_AT, url, str(start_at)], cwd=ROOT, text=True,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(processes)]
    return [subprocess.CompletedProcess(c.args, c.wait(120), *c.communicate()) for c in children]


def test_processes_migrating_a_fresh_sqlite_file_together_take_turns(tmp_path):
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    results = migrate_together(url)
    assert [r.returncode for r in results] == [0] * len(results), [r.stderr[-500:] for r in results]
    engine = make_engine(url)
    with engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), SQLModel.metadata) == []
    engine.dispose()


def test_processes_migrating_a_fresh_postgres_database_together_take_turns():
    with postgres_cluster() as cluster:
        results = migrate_together(cluster.url)
        assert [r.returncode for r in results] == [0] * len(results), [r.stderr[-500:] for r in results]
        engine = make_engine(cluster.url)
        with engine.connect() as connection:
            assert compare_metadata(MigrationContext.configure(connection), SQLModel.metadata) == []
        engine.dispose()
