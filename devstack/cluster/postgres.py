"""The cluster's PostgreSQL: a private server from the distribution's packages (`make postgres`), its data kept in
the cluster's directory between starts, listening on loopback only.

Root runs it as `postgres` (PostgreSQL refuses root), as `tests/postgres.py` does. The superuser comes in only
through the Unix socket in the cluster's run directory (peer authentication); the applications come in over TCP with
passwords (SCRAM), one user per application as in production (`deploy/postgres-init.sql`): `temporal` owns Temporal's
two databases, `tradelane` the read model's.
"""

import glob
import json
import os
import re
import shutil
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path
from secrets import token_hex

from devstack.cluster.config import (
    LOOPBACK,
    TEMPORAL_DB,
    TEMPORAL_USER,
    TRADELANE_DB,
    TRADELANE_USER,
    VISIBILITY_DB,
    ClusterError,
    ClusterLayout,
    last_line,
)
from infra.platform.logging import get_logger

log = get_logger(__name__)

MAX_CONNECTIONS = 300
"""Five server processes may each open 20 connections to the default store and 10 to visibility, and Tradelane's
workers and API have their pools on top: PostgreSQL's default of 100 would refuse some under load."""


def pg_tool(name: str) -> str:
    """A PostgreSQL program, of the newest server release installed."""
    found = glob.glob(f"/usr/lib/postgresql/*/bin/{name}")
    if found:
        return max(found, key=lambda path: [int(n) for n in re.findall(r"\d+", path)])
    on_path = shutil.which(name)
    if on_path is None:
        raise ClusterError(f"PostgreSQL's {name} is not installed: run `make postgres`")
    return on_path


@dataclass(frozen=True)
class Credentials:
    """The applications' database passwords: random, made at the first start and kept beside the data they open."""

    temporal: str
    tradelane: str

    @classmethod
    def load_or_create(cls, path: Path) -> "Credentials":
        if path.exists():
            return cls(**json.loads(path.read_text()))
        made = cls(temporal=token_hex(16), tradelane=token_hex(16))
        path.parent.mkdir(parents=True, exist_ok=True)
        with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as out:
            json.dump(asdict(made), out)
        return made


def bootstrap_sql(credentials: Credentials) -> str:
    """The superuser's script: users and databases created when missing, passwords set on every start (so a lost
    credentials file is repaired by a new one), btree_gin ready for the visibility schema. Safe to run again."""
    roles = {TEMPORAL_USER: credentials.temporal, TRADELANE_USER: credentials.tradelane}
    databases = {TEMPORAL_DB: TEMPORAL_USER, VISIBILITY_DB: TEMPORAL_USER, TRADELANE_DB: TRADELANE_USER}
    lines = ["\\set ON_ERROR_STOP on"]
    for role, password in roles.items():
        lines += [f"SELECT 'CREATE ROLE {role} LOGIN' WHERE NOT EXISTS "
                  f"(SELECT FROM pg_roles WHERE rolname = '{role}')\\gexec",
                  f"ALTER ROLE {role} PASSWORD '{password}';"]
    for database, owner in databases.items():
        lines += [f"SELECT 'CREATE DATABASE {database} OWNER {owner}' WHERE NOT EXISTS "
                  f"(SELECT FROM pg_database WHERE datname = '{database}')\\gexec",
                  f"REVOKE ALL ON DATABASE {database} FROM PUBLIC;"]
    lines += [f"\\connect {VISIBILITY_DB}", "CREATE EXTENSION IF NOT EXISTS btree_gin;"]
    return "\n".join(lines) + "\n"


class LocalPostgres:
    """The server in `layout.pgdata` on `port`; `start()` creates it the first time."""

    def __init__(self, layout: ClusterLayout, port: int) -> None:
        self.layout, self.port = layout, port
        self._as_user = [_runuser(), "-u", "postgres", "--"] if os.geteuid() == 0 else []

    @property
    def log_path(self) -> Path:
        return self.layout.run_dir / "postgresql.log"

    def url(self, user: str, password: str, database: str) -> str:
        """A SQLAlchemy URL over TCP (psycopg 3)."""
        return f"postgresql+psycopg://{user}:{password}@{LOOPBACK}:{self.port}/{database}"

    def _run(self, tool: str, *args: str, stdin: str | None = None,
             new_session: bool = False) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*self._as_user, pg_tool(tool), *args], input=stdin, capture_output=True, text=True,
                              check=False, start_new_session=new_session)

    def _reachable(self, directory: Path) -> None:
        """Fail in one line when the server user cannot reach `directory` (a parent without search permission for
        others, like pytest's private temporary directories): initdb's own error names no way out."""
        if not self._as_user:
            return
        for parent in directory.resolve().parents:
            if parent.exists() and not parent.stat().st_mode & 0o001:
                raise ClusterError(f"PostgreSQL runs as the user postgres, which cannot reach {directory}: {parent} "
                                   "is closed to other users; put the cluster's directory elsewhere "
                                   "(TRADELANE_CLUSTER_DIR) or open it (chmod o+x)")

    def _give_to_server_user(self, directory: Path) -> None:
        self._reachable(directory)
        directory.mkdir(parents=True, exist_ok=True)
        if self._as_user:
            shutil.chown(directory, "postgres", "postgres")

    def _init(self) -> None:
        self._give_to_server_user(self.layout.pgdata)
        done = self._run("initdb", "-D", str(self.layout.pgdata), "-E", "UTF8", "--auth-local=peer",
                         "--auth-host=scram-sha-256")
        if done.returncode != 0:
            shutil.rmtree(self.layout.pgdata, ignore_errors=True)  # the next start tries afresh
            raise ClusterError(f"initdb failed in {self.layout.pgdata}: {last_line(done.stderr)}")
        log.info("PostgreSQL cluster created", data=str(self.layout.pgdata))

    def start(self) -> None:
        """Start the server (creating it the first time). A server still running from an interrupted start is
        stopped first, so the one this process starts is its own to stop.

        It starts in a session of its own: Ctrl-C in the terminal reaches the stack, which stops the Temporal
        servers before their database, instead of reaching PostgreSQL at once."""
        pg_tool("initdb")  # the one-line reason when PostgreSQL is not installed
        self._give_to_server_user(self.layout.run_dir)
        if not (self.layout.pgdata / "PG_VERSION").exists():
            self._init()
        if self._run("pg_ctl", "-D", str(self.layout.pgdata), "status").returncode == 0:
            log.warning("PostgreSQL was left running by an earlier start; restarting it", data=str(self.layout.pgdata))
            self.stop()
        options = (f"-p {self.port} -k {self.layout.run_dir} -c listen_addresses={LOOPBACK} "
                   f"-c max_connections={MAX_CONNECTIONS}")
        done = self._run("pg_ctl", "-D", str(self.layout.pgdata), "-o", options, "-w", "-l", str(self.log_path),
                         "start", new_session=True)
        if done.returncode != 0:
            reason = last_line(self.log_path.read_text() if self.log_path.exists() else done.stderr)
            raise ClusterError(f"PostgreSQL did not start on port {self.port}: {reason} (its log: {self.log_path})")

    def stop(self) -> None:
        """Fast shutdown: open sessions are ended, committed data is kept."""
        self._run("pg_ctl", "-D", str(self.layout.pgdata), "-m", "fast", "-w", "stop")

    def bootstrap(self, credentials: Credentials) -> None:
        done = self._run("psql", "-h", str(self.layout.run_dir), "-p", str(self.port), "-d", "postgres", "-q",
                         "-X", stdin=bootstrap_sql(credentials))
        if done.returncode != 0:
            raise ClusterError(f"setting up the cluster's database users failed: {last_line(done.stderr)}")


def _runuser() -> str:
    found = shutil.which("runuser") or shutil.which("runuser", path="/usr/sbin:/sbin")
    if found is None:
        raise ClusterError("PostgreSQL refuses to run as root and util-linux's runuser is not found to run it as "
                           "`postgres`: install util-linux, or start the cluster as another user")
    return found
