"""What the `tradelane` CLI prints, read as a user reads it: at 80 columns, through a pipe, against a real API (issue
19, points 7 and 9)."""

import asyncio
import json
import os
import re
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from typer.testing import CliRunner

from devstack.cli import app
from infra.platform.http_server import ServedApp
from starter.api import create_app
from tests.support import EXAMPLES, load_example

pytestmark = pytest.mark.temporal

ROOT = Path(__file__).resolve().parents[2]
TIME = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} UTC")


async def cli(*args: str, **env: str) -> tuple[int, str]:
    """Exit code and output of the CLI at 80 columns (CliRunner's output is not a terminal: as when piped)."""
    result = await asyncio.to_thread(CliRunner().invoke, app, list(args), env={"COLUMNS": "80", **env})
    return result.exit_code, result.output


def piped(*args: str) -> subprocess.CompletedProcess[str]:
    """The CLI as its own process with standard output into a pipe, no COLUMNS: what `tradelane list | less` sees."""
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    return subprocess.run([sys.executable, "-m", "devstack.cli", *args], capture_output=True, text=True, env=env,
                          cwd=ROOT, timeout=60, stdin=subprocess.DEVNULL)


def long_id(prefix: str) -> str:
    """As long as the demo's ids (`SHP-DEMO-EMBARGO-1207004328`), which `list` cut to `SHP-D…`."""
    return f"SHP-{prefix}-{uuid.uuid4().hex[:16]}"


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_list_prints_whole_ids_at_80_columns_and_through_a_pipe(harness):
    api = await ServedApp(create_app(harness.settings, client=harness.client, engine=harness.engine)).start()
    try:
        shipment_id = long_id("CLI-LIST")
        await harness.start(load_example("basic-cn-de.json", shipment_id))
        await harness.result(shipment_id)
        code, out = await cli("list", "--api", api.url, "--limit", "500")
        assert code == 0, out
        assert shipment_id in out, out
        assert "…" not in out
        run = await asyncio.to_thread(piped, "list", "--api", api.url, "--limit", "500")
        assert run.returncode == 0, run.stderr
        assert shipment_id in run.stdout and "…" not in run.stdout
    finally:
        await api.stop()


async def test_status_and_track_print_times_alike_and_say_none_for_empty_tables(harness):
    api = await ServedApp(create_app(harness.settings, client=harness.client, engine=harness.engine)).start()
    try:
        delivered, embargoed = long_id("CLI-TIMES"), long_id("CLI-EMBARGO")
        await harness.start(load_example("basic-cn-de.json", delivered))
        blocked = load_example("basic-cn-de.json", embargoed)
        blocked["destination"].update(country="IR", city="Tehran", postal_code="11936-12345", locale="fa-IR")
        await harness.start(blocked)
        await harness.result(delivered)
        await harness.result(embargoed)

        code, status = await cli("status", delivered, "--api", api.url)
        assert code == 0, status
        code, track = await cli("track", delivered, "--api", api.url)
        assert code == 0, track
        # One format for both: before, status printed the raw ISO time and track a minute without a zone.
        assert TIME.search(status) and TIME.search(track), (status, track)
        assert not re.search(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}", status + track)
        assert not re.search(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}(?!:\d{2} UTC)", track)

        # Rejected before booking: no tracking event, said in a line instead of an empty grid.
        code, track = await cli("track", embargoed, "--api", api.url)
        assert code == 0, track
        assert "timeline: no tracking events yet" in track
        assert "when" not in track.split("notifications")[0], track  # no header of an empty timeline
        code, out = await cli("inventory", "--sku", f"NO-SUCH-SKU-{uuid.uuid4().hex[:6]}", "--api", api.url)
        assert code == 0, out
        assert "Stock: none" in out and "─" not in out.split("Replenishment suggestions")[0], out
    finally:
        await api.stop()


async def test_a_refusal_is_printed_once(harness):
    api = await ServedApp(create_app(harness.settings, client=harness.client, engine=harness.engine)).start()
    try:
        code, out = await cli("ship", "create", str(EXAMPLES / "invalid" / "bad-hs-code.json"), "--api", api.url)
        assert code == 1
        assert "INVALID_REQUEST" in out and "items[1].hs_code" in out
        assert out.count("'85A4' is not 6-10 digits") == 1, out
    finally:
        await api.stop()


async def test_the_cli_follows_the_api_port_setting_and_says_in_one_line_what_to_start(harness):
    api = await ServedApp(create_app(harness.settings, client=harness.client, engine=harness.engine)).start()
    try:
        shipment_id = long_id("CLI-PORT")
        await harness.start(load_example("basic-cn-de.json", shipment_id))
        # TRADELANE_API_PORT alone (no --api, no TRADELANE_API_URL): the CLI finds the API where it listens.
        code, out = await cli("status", shipment_id, "--json", TRADELANE_API_PORT=str(api.port))
        assert code == 0, out
        assert json.loads(out)["shipment_id"] == shipment_id

        port = closed_port()
        code, out = await cli("status", shipment_id, TRADELANE_API_PORT=str(port))
        assert code == 1
        lines = out.strip().splitlines()
        assert len(lines) == 1, out  # was a 246-line traceback
        assert f"cannot reach the Tradelane API at http://127.0.0.1:{port}" in lines[0]
        assert "make up" in lines[0] and "TRADELANE_API_URL" in lines[0]
        # TRADELANE_API_URL wins over the port, as --api wins over both.
        code, out = await cli("status", shipment_id, "--json", TRADELANE_API_URL=api.url,
                              TRADELANE_API_PORT=str(port))
        assert code == 0 and json.loads(out)["shipment_id"] == shipment_id
        code, out = await cli("list", "--api", f"http://127.0.0.1:{port}", TRADELANE_API_URL=api.url)
        assert code == 1 and f"http://127.0.0.1:{port}" in out
    finally:
        await api.stop()


def test_an_unreachable_api_is_one_line_through_a_pipe_too():
    port = closed_port()
    run = piped("list", "--api", f"http://127.0.0.1:{port}")
    assert run.returncode == 1
    output = (run.stdout + run.stderr).strip().splitlines()
    assert len(output) == 1 and "Traceback" not in run.stderr, run.stdout + run.stderr
    assert f"cannot reach the Tradelane API at http://127.0.0.1:{port}" in output[0]
