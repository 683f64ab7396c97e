"""`tradelane inventory plot` end to end: the real command against the API on a real port (issue 19, point 12)."""

import asyncio
from datetime import date, timedelta

import numpy as np
from matplotlib.image import imread
from typer.testing import CliRunner

from infra.persistence import inventory as ledger
from infra.platform.http_server import ServedApp
from infra.platform.settings import DEV_API_KEYS
from starter.api import create_app
from starter.inventory_cli import app as inventory_app
from tests.inventory.network import make_network, receive
from tradelane.inventory.models import SaleRecord

AS_OF = date(2026, 12, 7)


def sales(sku: str, market: str, per_day: int, days: int = 120) -> list[SaleRecord]:
    start = AS_OF - timedelta(days=days)
    return [SaleRecord(day=start + timedelta(days=i), sku=sku, market=market, quantity=per_day + (i % 7))
            for i in range(days)]


async def plot(harness, tmp_path, warehouse: str, sku: str) -> tuple[int, str, np.ndarray | None]:
    """Run `tradelane inventory plot` against the API on a real port: exit code, output (unwrapped), the PNG's
    pixels."""
    api = await ServedApp(create_app(harness.settings, client=harness.client, engine=harness.engine)).start()
    out = tmp_path / f"{warehouse}.png"
    try:
        result = await asyncio.to_thread(CliRunner().invoke, inventory_app, [
            "plot", "--sku", sku, "--warehouse", warehouse, "--out", str(out), "--as-of", AS_OF.isoformat(),
            "--api", api.url, "--api-key", DEV_API_KEYS["backend"]])
    finally:
        await api.stop()
    return result.exit_code, " ".join(result.output.split()), imread(out) if out.exists() else None


async def test_a_source_warehouse_is_plotted_with_the_demand_it_serves(harness, tmp_path):
    """Finding (issue 19): `tradelane inventory plot --warehouse SZX-1` failed with NO_SOURCE, because a source
    warehouse has no upstream. It has stock and serves demand: both are plotted, without a reorder point."""
    net = make_network(harness.engine)
    receive(harness.engine, net.origin, net.sku, 5000)
    ledger.save_sales(harness.engine, sales(net.sku, "DE", 30))  # Berlin's market, served from Shenzhen
    ledger.save_sales(harness.engine, sales(net.sku, "CN", 10))  # Shenzhen's own customers

    response = await harness.api.get("/v1/inventory/forecast",
                                     params={"sku": net.sku, "warehouse": net.origin, "as_of": AS_OF.isoformat()})
    assert response.status_code == 200, response.text
    view = response.json()
    assert (view["warehouse_id"], view["on_hand"], view["reorder"], view["reorder_point"]) == (
        net.origin, 5000, False, None)
    # Both markets' sales: 30 + 10 a day plus the weekly 0..6 each.
    assert view["history"][:7] == [40, 42, 44, 46, 48, 50, 52]
    assert "source warehouse" in view["reasons"][0] and "CN, DE" in view["reasons"][0]

    code, output, image = await plot(harness, tmp_path, net.origin, net.sku)
    assert code == 0, output
    assert image is not None and image.shape == (700, 1200, 4)
    assert "no reorder point (not replenished)" in output and "stock-out" in output


async def test_the_plot_and_its_caption_say_the_same_about_reordering(harness, tmp_path):
    """Finding (issue 19): the subtitle said "no reorder" (the policy orders nothing today) while the panel said
    "reorder by 07 Dec 2026" (the projection crosses the reorder point later). Both now come from one projection."""
    net = make_network(harness.engine)
    ledger.save_sales(harness.engine, sales(net.sku, "DE", 30, days=365))
    receive(harness.engine, net.target, net.sku, 3000)
    forecast = (await harness.api.get("/v1/inventory/forecast", params={
        "sku": net.sku, "warehouse": net.target, "as_of": AS_OF.isoformat()})).json()
    assert forecast["reorder"] is False, forecast  # the policy orders nothing today ...

    code, output, _ = await plot(harness, tmp_path, net.target, net.sku)
    assert code == 0, output
    assert "no reorder" not in output  # ... and the caption does not say "no reorder" against the panel
    assert "reorder by " in output
