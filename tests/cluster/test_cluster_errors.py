"""What stops `make cluster` before it runs: each reason in one line that names what to do (issue 23). A schema
older than the server's is upgraded, as production's schema tool does; one that cannot be upgraded stops the start.
These run the real PostgreSQL and the real schema tool on a private data directory."""

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from devstack.cluster import postgres as postgres_module
from devstack.cluster.binaries import SERVER, SQL_TOOL, ensure_binaries, schema_dir
from devstack.cluster.config import (
    LOOPBACK,
    TEMPORAL_DB,
    TEMPORAL_USER,
    VISIBILITY_DB,
    ClusterError,
    ClusterLayout,
    ClusterSettings,
    scratch_dir,
)
from devstack.cluster.postgres import Credentials, LocalPostgres
from devstack.cluster.schema import SchemaTool, current_version, ensure_schemas, newest_version
from devstack.ports import free_port

pytestmark = pytest.mark.temporal


@dataclass
class Database:
    layout: ClusterLayout
    tool: SchemaTool
    schemas: Path
    port: int
    password: str

    def version(self, database: str) -> tuple[int, ...] | None:
        return current_version(self.port, self.password, database)

    def newest(self, subdir: str) -> tuple[int, ...]:
        return newest_version(self.schemas / subdir / "versioned")


@pytest.fixture(scope="module")
def database() -> Iterator[Database]:
    """The cluster's PostgreSQL with its users and empty databases, no schema yet."""
    layout = ClusterLayout(scratch_dir("tradelane-test-schema-"))
    settings = ClusterSettings(_env_file=None)
    binaries = ensure_binaries(settings)
    schemas = schema_dir(settings.schema_dir)
    assert schemas is not None, "the server module's schema files (Go's module cache) are needed"
    credentials = Credentials.load_or_create(layout.credentials)
    port = free_port()
    server = LocalPostgres(layout, port)
    server.start()
    try:
        server.bootstrap(credentials)
        tool = SchemaTool(binaries.sql_tool, port, credentials.temporal, layout.logs / "schema.log")
        yield Database(layout, tool, schemas, port, credentials.temporal)
    finally:
        server.stop()
        shutil.rmtree(layout.root, ignore_errors=True)


def test_an_older_schema_is_upgraded_and_a_missing_one_set_up(database: Database):
    versioned = database.schemas / "temporal" / "versioned"
    database.tool.run(TEMPORAL_DB, "setup-schema", "-v", "0.0")
    database.tool.run(TEMPORAL_DB, "update-schema", "-d", str(versioned), "-v", "1.10")
    assert database.version(TEMPORAL_DB) == (1, 10)
    assert database.version(VISIBILITY_DB) is None

    ensure_schemas(database.tool, database.schemas, database.layout.pgdata)

    assert database.version(TEMPORAL_DB) == database.newest("temporal") > (1, 10)
    assert database.version(VISIBILITY_DB) == database.newest("visibility")
    log = database.tool.log_path.read_text()
    ensure_schemas(database.tool, database.schemas, database.layout.pgdata)  # up to date: the tool is not run again
    assert database.tool.log_path.read_text() == log


def test_a_schema_that_cannot_be_upgraded_stops_in_one_line_naming_what_to_do(database: Database):
    # A database whose recorded version is older than its tables (a hand-made or half-restored copy): the upgrade's
    # steps meet what is not there, and the real tool fails.
    ensure_schemas(database.tool, database.schemas, database.layout.pgdata)
    with psycopg.connect(host=LOOPBACK, port=database.port, user=TEMPORAL_USER, password=database.password,
                         dbname=TEMPORAL_DB) as conn:
        conn.execute("UPDATE schema_version SET curr_version = '1.0' WHERE db_name = %s", (TEMPORAL_DB,))

    with pytest.raises(ClusterError) as err:
        ensure_schemas(database.tool, database.schemas, database.layout.pgdata)

    reason = str(err.value)
    newest = ".".join(map(str, database.newest("temporal")))
    assert "\n" not in reason and "\x1b" not in reason
    assert reason.startswith(f"the schema of database temporal could not be brought from 1.0 to {newest}, the "
                             "version this server needs: `temporal-sql-tool update-schema` failed on database "
                             "temporal: error executing statement: ")
    assert reason.endswith(f"(its log: {database.tool.log_path}); restore the database from a backup taken before "
                           f"the failed upgrade, or start from an empty cluster (remove {database.layout.pgdata})")


def test_postgresql_missing_is_one_line_naming_the_make_target(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A machine without PostgreSQL's server programs: neither the distribution's directory nor the PATH has them."""
    monkeypatch.setattr(postgres_module.glob, "glob", lambda pattern: [])
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ClusterError) as err:
        LocalPostgres(ClusterLayout(tmp_path / "cluster"), free_port()).start()
    assert str(err.value) == "PostgreSQL's initdb is not installed: run `make postgres`"
    assert not (tmp_path / "cluster").exists()  # stopped before it made anything


def test_go_missing_with_no_binaries_is_one_line_naming_the_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    settings = ClusterSettings(_env_file=None, bin_dir=tmp_path / "bin")
    with pytest.raises(ClusterError) as err:
        ensure_binaries(settings)
    assert str(err.value) == ("the Temporal Server 1.32.0 binaries are not built and Go is not installed to build "
                              f"them: install Go, or set {SERVER.env_var} and {SQL_TOOL.env_var} to temporal-server "
                              "and temporal-sql-tool 1.32.0")
