"""The `tradelane` CLI against the API on a real port, as an operator would use it."""

import asyncio
import json
from decimal import Decimal

import pytest
from typer.testing import CliRunner

from devstack.cli import app
from infra.platform.http_server import ServedApp
from starter.api import create_app
from tests.domain.test_pdf import text as pdf_text
from tests.support import EXAMPLES, load_example, unique_id
from tradelane.decisions.pdf import money
from tradelane.enums import Status

pytestmark = pytest.mark.temporal


async def cli(*args: str) -> tuple[int, str]:
    """Exit code and output; with --json, standard output alone, the document a pipe would read."""
    # The CLI is synchronous; it runs in a thread so the API in this event loop can answer it.
    result = await asyncio.to_thread(CliRunner().invoke, app, list(args), env={"COLUMNS": "200"})
    return result.exit_code, result.stdout if "--json" in args else result.output


async def test_create_status_approve_list_and_cancel(harness, tmp_path):
    api = await ServedApp(create_app(harness.settings, client=harness.client, engine=harness.engine)).start()
    try:
        held, cancelled = unique_id("cli-hv"), unique_id("cli-cancel")
        request = tmp_path / "request.json"
        request.write_text(json.dumps(load_example("high-value-us-jp.json", held)))
        code, out = await cli("ship", "create", str(request), "--api", api.url)
        assert code == 0 and f"started {held}" in out

        await harness.until_held(held)
        code, out = await cli("status", held, "--api", api.url)
        assert code == 0 and "status=on_hold" in out and "waiting for ops: gate high_value" in out

        code, out = await cli("approve", held, "--gate", "customs_hold", "--actor", "ops@cli", "--api", api.url)
        assert code == 1 and "GATE_NOT_PENDING" in out
        code, out = await cli("approve", held, "--gate", "high_value", "--actor", "ops@cli", "--comment", "ok",
                              "--api", api.url)
        assert code == 0 and "gate high_value approved by ops@cli" in out
        assert (await harness.result(held)).status is Status.DELIVERED

        code, out = await cli("list", "--status", "delivered", "--destination", "JP", "--api", api.url)
        assert code == 0 and held in out

        request.write_text(json.dumps(load_example("high-value-us-jp.json", cancelled)))
        await cli("ship", "create", str(request), "--api", api.url)
        await harness.until_held(cancelled)
        code, out = await cli("reject", cancelled, "--gate", "customs_hold", "--actor", "ops@cli", "--api", api.url)
        assert code == 1 and "GATE_NOT_PENDING" in out
        code, out = await cli("cancel", cancelled, "--actor", "ops@cli", "--reason", "duplicate order",
                              "--api", api.url)
        assert code == 0 and "cancellation accepted" in out
        assert (await harness.result(cancelled)).status is Status.CANCELLED
    finally:
        await api.stop()


async def test_invalid_file_names_the_field_and_exits_non_zero(harness):
    api = await ServedApp(create_app(harness.settings, client=harness.client, engine=harness.engine)).start()
    try:
        code, out = await cli("ship", "create", str(EXAMPLES / "invalid" / "bad-hs-code.json"), "--api", api.url)
        assert code == 1
        assert "INVALID_REQUEST" in out and "items[1].hs_code" in out and "'85A4' is not 6-10 digits" in out
    finally:
        await api.stop()


async def test_reject_says_rejected_and_a_non_json_file_is_a_clear_error(harness, tmp_path):
    api = await ServedApp(create_app(harness.settings, client=harness.client, engine=harness.engine)).start()
    try:
        held = unique_id("cli-rej")
        request = tmp_path / "request.json"
        request.write_text(json.dumps(load_example("high-value-us-jp.json", held)))
        await cli("ship", "create", str(request), "--api", api.url)
        await harness.until_held(held)
        code, out = await cli("reject", held, "--gate", "high_value", "--actor", "ops@cli", "--api", api.url)
        assert code == 0 and "gate high_value rejected by ops@cli" in out
        assert (await harness.result(held)).status is Status.REJECTED

        broken = tmp_path / "broken.json"
        broken.write_text('{"shipment_id": ')
        code, out = await cli("ship", "create", str(broken), "--api", api.url)
        assert code == 1 and "is not JSON: Expecting value at line 1, column 17" in out
    finally:
        await api.stop()


async def test_quote_prints_plans_landed_cost_and_compliance(harness, tmp_path):
    api = await ServedApp(create_app(harness.settings, client=harness.client, engine=harness.engine)).start()
    try:
        request = tmp_path / "pallet.json"
        request.write_text(json.dumps(load_example("pallet-cn-au.json", unique_id("cli-q"))))
        code, out = await cli("quote", str(request), "--api", api.url, "--documents", str(tmp_path / "docs"))
        assert code == 0, out
        assert "Transport plans (Pareto set)" in out and "chosen" in out and "ocean_lcl:bluewave" in out
        assert "Landed cost (DAP, AUD)" in out and "compliance: info" in out
        assert "IPPC/ISPM 15" in out
        pdfs = sorted(p.name for p in (tmp_path / "docs").iterdir())
        shipment_id = json.loads(request.read_text())["shipment_id"]
        assert pdfs == [f"commercial-invoice-{shipment_id}.pdf", f"packing-list-{shipment_id}.pdf"]
        code, out = await cli("quote", str(request), "--api", api.url, "--json")
        landed = json.loads(out)["landed_cost"]
        invoice = pdf_text((tmp_path / "docs" / pdfs[0]).read_bytes())
        # One freight figure (issue 19, point 4): before, the CLI's invoice charged no freight at all.
        assert "Freight (plan ocean_lcl:bluewave " in invoice and money(Decimal(landed["freight"])) in invoice
        code, out = await cli("quote", str(request), "--local", "--json", "--documents", str(tmp_path / "local"))
        assert code == 0 and json.loads(out)["plan"]["plan_id"] == "ocean_lcl:bluewave"
        local = pdf_text((tmp_path / "local" / pdfs[0]).read_bytes())
        assert money(Decimal(json.loads(out)["landed_cost"]["freight"])) in local
        bad = tmp_path / "bad.json"
        bad.write_text(json.dumps({**load_example("pallet-cn-au.json"), "incoterm": "FOB"}))
        code, out = await cli("quote", str(bad), "--local")
        assert code == 1 and "incoterm" in out
    finally:
        await api.stop()


async def test_track_prints_the_timeline_eta_and_notifications(harness):
    api = await ServedApp(create_app(harness.settings, client=harness.client, engine=harness.engine)).start()
    try:
        shipment_id = unique_id("cli-track")
        await harness.start(load_example("basic-cn-de.json", shipment_id))
        state = await harness.result(shipment_id)
        await harness.until_notified(shipment_id)  # sent by the outbox relay
        code, out = await cli("track", shipment_id, "--api", api.url)
        assert code == 0, out
        assert f"tracking {state.tracking_number}" in out and "last_mile / delivered" in out
        assert f"ETA {state.eta.expected}" in out
        for e in state.events:
            assert e.code in out
        assert out.count("sent") >= len(state.notices)  # one customer e-mail and one webhook per notice
        code, raw = await cli("track", shipment_id, "--json", "--api", api.url)
        data = json.loads(raw)
        assert [e["event_id"] for e in data["timeline"]["events"]] == [e.event_id for e in state.events]
        code, out = await cli("track", "no-such-shipment", "--api", api.url)
        assert code == 1 and "SHIPMENT_NOT_FOUND" in out
    finally:
        await api.stop()
