"""The one launcher of the official Temporal CLI dev server, for the demo, the stack, the tests and the benchmark.

The binary is found in this order: `TEMPORAL_CLI_PATH`, `temporal` on PATH, Go's bin directory, a build with
`go install` when Go is present, and last the SDK's own download (which needs the internet).
"""

import asyncio
import os
import shutil
import subprocess
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

CLI_MODULE = "github.com/temporalio/cli/cmd/temporal"
CLI_VERSION = "v1.5.1"  # Temporal Server 1.29.1 with the Web UI; later CLI versions cannot be `go install`ed.

log = get_logger(__name__)

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
    """Path of a Temporal CLI binary, building it with Go when none exists; None leaves it to the SDK download."""
    explicit = explicit or os.environ.get("TEMPORAL_CLI_PATH")
    if explicit:
        if not Path(explicit).is_file():
            raise FileNotFoundError(f"TEMPORAL_CLI_PATH={explicit} does not exist")
        return explicit
    on_path = shutil.which("temporal")
    if on_path:
        return on_path
    bin_dir = _go_bin_dir()
    if bin_dir is None:
        return None
    candidate = bin_dir / "temporal"
    if candidate.is_file():
        return str(candidate)
    if not build:
        return None
    log.info("building the Temporal CLI with Go (first time only, takes minutes)", module=CLI_MODULE,
             version=CLI_VERSION)
    subprocess.run([shutil.which("go") or "go", "install", f"{CLI_MODULE}@{CLI_VERSION}"], check=True)
    return str(candidate)


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
    cli = cli_path or await asyncio.to_thread(find_cli)
    if cli is None:
        log.warning("no Temporal CLI binary and no Go to build one: the SDK will download the dev server, "
                    "which needs the internet (set TEMPORAL_CLI_PATH to use an existing binary)")
    existing_db = db_file is not None and db_file.exists()
    if db_file is not None:
        db_file.parent.mkdir(parents=True, exist_ok=True)
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
