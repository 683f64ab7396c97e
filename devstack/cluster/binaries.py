"""The Temporal Server binary and its SQL schema tool, found or built, and the schema files they go with.

Found as the CLI is (`devstack.devserver.find_cli`): an explicit path (`TEMPORAL_SERVER_PATH`,
`TEMPORAL_SQL_TOOL_PATH`), the cluster's build directory, PATH (`temporal-server`, `temporal-sql-tool`, as Temporal's
images name them), Go's bin directory (`server`, `sql`, as a plain `go install` names them). Built only when one is
missing: `go install go.temporal.io/server/cmd/server@v1.32.0 .../cmd/tools/sql@v1.32.0` into the build directory,
a few minutes on a cold machine; every later start finds them there.
"""

import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from devstack.cluster.config import SERVER_RELEASE, ClusterError, ClusterSettings
from devstack.devserver import _go_bin_dir
from infra.platform.logging import get_logger

log = get_logger(__name__)

GO_MODULE = "go.temporal.io/server"


@dataclass(frozen=True)
class Tool:
    """One of the two binaries: its usual name, the name `go install` gives it, its package and its variable."""

    name: str
    go_name: str
    package: str
    env_var: str


SERVER = Tool("temporal-server", "server", f"{GO_MODULE}/cmd/server", "TEMPORAL_SERVER_PATH")
SQL_TOOL = Tool("temporal-sql-tool", "sql", f"{GO_MODULE}/cmd/tools/sql", "TEMPORAL_SQL_TOOL_PATH")


@dataclass(frozen=True)
class Binaries:
    server: Path
    sql_tool: Path


def release_of(binary: Path) -> str | None:
    """The server release a binary reports (`temporal version 1.32.0`, `temporal-sql-tool version 1.32.0`); None when
    it reports none, so a `server` in Go's bin directory that is not Temporal's is passed over."""
    try:
        out = subprocess.run([str(binary), "--version"], capture_output=True, text=True, timeout=30, check=False)
    except OSError:
        return None
    found = re.search(r"^temporal(?:-sql-tool)? version (\d+\.\d+\.\d+)", out.stdout, re.M)
    return found.group(1) if found else None


def find(tool: Tool, explicit: Path | None, build_dir: Path) -> Path | None:
    """The first binary of `tool` in the search order (module docstring); None when there is none to use."""
    if explicit is not None:
        if not explicit.is_file():
            raise ClusterError(f"{tool.env_var}={explicit} does not exist: point it at Temporal Server "
                               f"{SERVER_RELEASE}'s {tool.name}, or unset it to build one")
        return explicit
    candidates = [build_dir / tool.name]
    if (on_path := shutil.which(tool.name)) is not None:
        candidates.append(Path(on_path))
    if shutil.which("go") is not None and (go_bin := _go_bin_dir()) is not None:
        candidates.append(go_bin / tool.go_name)
    for candidate in candidates:
        if candidate.is_file() and release_of(candidate) is not None:
            return candidate
    return None


def build(build_dir: Path) -> None:
    """Both binaries in one `go install` (they share most of their packages, so the second costs little)."""
    go = shutil.which("go")
    if go is None:
        raise ClusterError(f"the Temporal Server {SERVER_RELEASE} binaries are not built and Go is not installed to "
                           f"build them: install Go, or set {SERVER.env_var} and {SQL_TOOL.env_var} to "
                           f"{SERVER.name} and {SQL_TOOL.name} {SERVER_RELEASE}")
    build_dir.mkdir(parents=True, exist_ok=True)
    log.info("building Temporal Server and its SQL tool with Go (first start only; minutes on a cold machine)",
             release=SERVER_RELEASE, into=str(build_dir))
    packages = [f"{tool.package}@v{SERVER_RELEASE}" for tool in (SERVER, SQL_TOOL)]
    done = subprocess.run([go, "install", *packages], env={**os.environ, "GOBIN": str(build_dir)},
                          check=False)
    if done.returncode != 0:
        raise ClusterError(f"`go install {' '.join(packages)}` failed (exit {done.returncode}; its output is above): "
                           f"fix the Go setup, or set {SERVER.env_var} and {SQL_TOOL.env_var}")
    for tool in (SERVER, SQL_TOOL):
        (build_dir / tool.go_name).replace(build_dir / tool.name)


def ensure_binaries(settings: ClusterSettings) -> Binaries:
    """Both binaries, built when either is missing; a release other than the tested one is named in a warning (the
    schema files and the configuration template are those of SERVER_RELEASE)."""
    build_dir = settings.bin_dir.resolve()  # the servers run in the cluster's directory, not here
    server = find(SERVER, settings.server_path, build_dir)
    sql_tool = find(SQL_TOOL, settings.sql_tool_path, build_dir)
    if server is None or sql_tool is None:
        build(build_dir)
        server = server or build_dir / SERVER.name
        sql_tool = sql_tool or build_dir / SQL_TOOL.name
    for tool, path in ((SERVER, server), (SQL_TOOL, sql_tool)):
        release = release_of(path)
        if release != SERVER_RELEASE:
            log.warning("a Temporal binary is not the release Tradelane's cluster is tested with", binary=tool.name,
                        path=str(path), release=release, tested=SERVER_RELEASE)
    return Binaries(server=server.resolve(), sql_tool=sql_tool.resolve())


def schema_dir(explicit: Path | None) -> Path | None:
    """The server module's `schema/postgresql/v12` (its `temporal/versioned` and `visibility/versioned` hold the
    schema's versions): `TEMPORAL_SCHEMA_DIR`, else Go's module cache (which `go install` filled, or `go mod
    download` fills now). None without Go or a cached module: a cluster whose schema is in place needs none."""
    if explicit is not None:
        if not (explicit / "temporal" / "versioned").is_dir():
            raise ClusterError(f"TEMPORAL_SCHEMA_DIR={explicit} has no temporal/versioned directory: point it at "
                               f"schema/postgresql/v12 of Temporal Server {SERVER_RELEASE}'s source")
        return explicit
    go = shutil.which("go")
    if go is None:
        return None
    done = subprocess.run([go, "mod", "download", "-json", f"{GO_MODULE}@v{SERVER_RELEASE}"], capture_output=True,
                          text=True, check=False)
    module_dir = json.loads(done.stdout or "{}").get("Dir") if done.returncode == 0 else None
    if module_dir is None:
        log.warning("Go could not download the server module for its schema files", error=done.stderr.strip())
        return None
    return Path(module_dir) / "schema" / "postgresql" / "v12"
