"""The inventory chapter of `make demo`: the network and a year of sales, a customer order that reserves stock in
Shenzhen, a replenishment run whose suggestions ops approve, the replenishment shipments to Berlin, the stock
afterwards and a forecast chart. Only the HTTP API is used, as a backend and an operator would."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml
from rich.console import Console

from infra.platform.settings import STATE_DIR
from starter.client import TradelaneClient
from starter.inventory_cli import forecast_chart, stock_table, suggestion_table
from tradelane.inventory.chart import caption, render_png
from tradelane.inventory.synthetic import seasonal_sales

NETWORK = Path(__file__).resolve().parent.parent / "examples" / "inventory" / "network.yaml"
SALES = {
    # SKU: daily base in Germany, trend per day, weekday profile (Monday first)
    "CASE-IP15-BLK": (24.0, 0.03, (0.8, 0.9, 1.0, 1.0, 1.2, 1.5, 0.6)),
    "CABLE-USBC-2M": (15.0, 0.0, (1.0, 1.0, 1.0, 1.0, 1.1, 1.3, 0.6)),
}


def sales_csv(today: datetime, days: int = 365) -> str:
    start = today.date() - timedelta(days=days)
    lines = ["day,sku,market,quantity"]
    for seed, (sku, (base, trend, weekly)) in enumerate(sorted(SALES.items())):
        units = seasonal_sales(days, base=base, trend_per_day=trend, weekly=weekly, noise_sd=3.0,
                               annual_amplitude=0.15, start=start, seed=seed + 11)
        lines += [f"{start + timedelta(days=i)},{sku},DE,{q}" for i, q in enumerate(units)]
    return "\n".join(lines) + "\n"


def set_up(client: TradelaneClient, ops: TradelaneClient, console: Console) -> None:
    data = yaml.safe_load(NETWORK.read_text())
    ops.put_network({"warehouses": data["warehouses"], "skus": data["skus"]})
    for index, receipt in enumerate(data["stock"]):
        ops.post_movement({"kind": "receipt", "actor": "demo", "reason": "opening stock",
                           "reference": f"demo-opening-{index}", **receipt})
    imported = client.import_sales(sales_csv(datetime.now(UTC)), csv=True)
    console.print(f"network: {len(data['warehouses'])} warehouses, {len(data['skus'])} SKUs; sales history "
                  f"{imported['first_day']} to {imported['last_day']} ({imported['rows']} rows)")


def replenish(ops: TradelaneClient, console: Console) -> list[dict]:
    """Run the replenishment now, show its suggestions, approve them all; returns the started shipments' requests."""
    run_id = ops.start_replenishment()["run_id"]
    state = ops.replenishment(run_id)
    while state["status"] == "planning":
        state = ops.replenishment(run_id)
    console.print(suggestion_table(state["suggestions"]))
    for line in state["skipped"]:
        console.print(f"  no suggestion: {line}")
    if not state["suggestions"]:
        return []
    for s in state["suggestions"]:
        console.print(f"  {s['suggestion_id']}: {'; '.join(s['reasons'][:2])}")
    ops.decide_replenishment(run_id, "demo-planner@tradelane", approve_all=True,
                             comment="approved in the demo")
    while state["status"] != "done":
        state = ops.replenishment(run_id)
    return [s["request"] for s in state["suggestions"] if s["state"] == "started"]


def chart(client: TradelaneClient, console: Console) -> None:
    f = client.forecast("CASE-IP15-BLK", "BER-1")
    out = STATE_DIR / "forecast-CASE-IP15-BLK-BER-1.png"
    out.parent.mkdir(parents=True, exist_ok=True)
    drawn = forecast_chart(f)
    out.write_bytes(render_png(drawn))
    console.print(f"forecast for CASE-IP15-BLK at BER-1: {caption(drawn)}; chart: {out}")


def show_stock(client: TradelaneClient, console: Console) -> None:
    console.print(stock_table([r for r in client.stock() if r["warehouse_id"] in ("SZX-1", "BER-1")]))
