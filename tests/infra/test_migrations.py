"""The Alembic migrations build exactly the schema the SQLModel tables declare, and run twice harmlessly."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlmodel import SQLModel

from infra.db import make_engine, migrate


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
