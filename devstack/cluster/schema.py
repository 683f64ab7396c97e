"""Temporal's two schemas (the default store and SQL visibility), set up and upgraded with its schema tool.

As production's compose file does it (`setup-schema -v 0.0`, then `update-schema -d <versioned dir>`), but only what
is needed: a database at the schema's newest version is left alone, an older one is upgraded. A database newer than
this release's schema is accepted, as the server accepts it (a rollback after an upgrade).
"""

import json
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import psycopg

from devstack.cluster.config import (
    LOOPBACK,
    SERVER_RELEASE,
    TEMPORAL_DB,
    TEMPORAL_USER,
    VISIBILITY_DB,
    ClusterError,
    last_line,
)
from infra.platform.logging import get_logger

log = get_logger(__name__)

Version = tuple[int, ...]


@dataclass(frozen=True)
class SchemaTarget:
    database: str
    subdir: str
    """Under the schema directory: `temporal` or `visibility`, each with its `versioned/v1.N` steps."""


TARGETS = (SchemaTarget(TEMPORAL_DB, "temporal"), SchemaTarget(VISIBILITY_DB, "visibility"))


def parse_version(text: str) -> Version:
    return tuple(int(part) for part in text.lstrip("v").split("."))


def newest_version(versioned: Path) -> Version:
    """The newest step of a `versioned` directory (`v1.19` is newer than `v1.9`)."""
    steps = [parse_version(step.name) for step in versioned.iterdir() if step.is_dir() and step.name.startswith("v")]
    if not steps:
        raise ClusterError(f"{versioned} holds no schema versions: point TEMPORAL_SCHEMA_DIR at schema/postgresql/v12 "
                           f"of Temporal Server {SERVER_RELEASE}")
    return max(steps)


def current_version(port: int, password: str, database: str) -> Version | None:
    """The version the schema tool recorded in the database; None before the schema is set up."""
    with psycopg.connect(host=LOOPBACK, port=port, user=TEMPORAL_USER, password=password, dbname=database) as conn:
        exists = conn.execute("SELECT to_regclass('schema_version') IS NOT NULL").fetchone()
        if not exists or not exists[0]:
            return None
        row = conn.execute("SELECT curr_version FROM schema_version WHERE version_partition = 0 AND db_name = %s",
                           (database,)).fetchone()
    return parse_version(row[0]) if row else None


ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")


def tool_reason(log_text: str) -> str:
    """The schema tool's reason for failing: the `error` of its last log line (a zap line: time, level, message and
    JSON fields), or the whole line without its colours when it is not one."""
    line = ANSI_ESCAPE.sub("", last_line(log_text))
    fields = line[line.find("{"):] if "{" in line else ""
    try:
        error = json.loads(fields).get("error") if fields else None
    except json.JSONDecodeError:
        error = None
    return str(error) if error else line


class SchemaTool:
    """`temporal-sql-tool` against the cluster's PostgreSQL as the `temporal` user (its password in the
    environment, never on the command line), its output appended to `log_path`."""

    def __init__(self, binary: Path, port: int, password: str, log_path: Path) -> None:
        self.binary, self.port, self.password, self.log_path = binary, port, password, log_path

    def run(self, database: str, *command: str) -> None:
        argv = [str(self.binary), "--plugin", "postgres12", "--ep", LOOPBACK, "-p", str(self.port), "-u",
                TEMPORAL_USER, "--db", database, *command]
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("a") as out:
            out.write(f"--- {' '.join(argv[1:])}\n")
            out.flush()
            done = subprocess.run(argv, env={"SQL_PASSWORD": self.password}, stdout=out, stderr=subprocess.STDOUT,
                                  check=False)
        if done.returncode != 0:
            raise ClusterError(f"`temporal-sql-tool {command[0]}` failed on database {database}: "
                               f"{tool_reason(self.log_path.read_text())} (its log: {self.log_path})")


def ensure_schemas(tool: SchemaTool, schema_dir: Path | None, pgdata: Path) -> None:
    """Set up or upgrade each database's schema to the newest version in `schema_dir` (`pgdata` is named in the
    error as the way to start afresh).

    Raises:
        ClusterError: A schema must be set up or may be out of date and there are no schema files to do it with,
            or the tool failed (naming the database, the versions, the tool's reason and what to do).
    """
    for target in TARGETS:
        current = current_version(tool.port, tool.password, target.database)
        if schema_dir is None:
            if current is None:
                raise ClusterError(f"database {target.database} has no Temporal schema and the schema files are not "
                                   f"found: install Go (they come with the server module), or set TEMPORAL_SCHEMA_DIR "
                                   f"to schema/postgresql/v12 of Temporal Server {SERVER_RELEASE}")
            log.warning("no schema files to check the schema against; the server checks it at start",
                        database=target.database, version=_dotted(current))
            continue
        versioned = schema_dir / target.subdir / "versioned"
        newest = newest_version(versioned)
        if current is not None and current >= newest:
            continue
        if current is None:
            tool.run(target.database, "setup-schema", "-v", "0.0")
        from_version = _dotted(current) if current else "none"
        log.info("upgrading the Temporal schema", database=target.database, from_version=from_version,
                 to_version=_dotted(newest))
        try:
            tool.run(target.database, "update-schema", "-d", str(versioned))
        except ClusterError as failed:
            raise ClusterError(f"the schema of database {target.database} could not be brought from {from_version} "
                               f"to {_dotted(newest)}, the version this server needs: {failed}; restore the database "
                               f"from a backup taken before the failed upgrade, or start from an empty cluster "
                               f"(remove {pgdata})") from None
        reached = current_version(tool.port, tool.password, target.database)
        if reached is None or reached < newest:
            raise ClusterError(f"the schema of database {target.database} is at "
                               f"{_dotted(reached) if reached else 'no version'} after its upgrade to "
                               f"{_dotted(newest)}: see {tool.log_path}, or start from an empty cluster (remove "
                               f"{pgdata})")


def _dotted(version: Version) -> str:
    return ".".join(str(part) for part in version)
