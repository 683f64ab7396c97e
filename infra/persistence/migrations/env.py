"""Alembic environment: the schema is SQLModel's metadata from infra.persistence.db."""

from alembic import context
from sqlmodel import SQLModel

import infra.persistence.db  # noqa: F401 - registers the tables on SQLModel.metadata
import infra.persistence.inventory  # noqa: F401 - and the inventory tables

MIGRATION_LOCK = 7_260_011
"""PostgreSQL advisory lock key held while a process migrates (any constant no other code uses)."""

config = context.config
target_metadata = SQLModel.metadata


def run_migrations_offline() -> None:
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata,
                      literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = infra.persistence.db.make_engine(config.get_main_option("sqlalchemy.url"))
    with engine.connect() as connection:
        # Batch mode lets later migrations alter SQLite tables, which cannot ALTER most columns in place.
        context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            if connection.dialect.name == "postgresql":
                # Migrations of one database take turns (see infra.persistence.db.migrate); released at commit.
                connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
