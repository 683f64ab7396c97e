"""`tradelane inventory`: stock and suggestions as tables, master data and sales imports, replenishment runs and
their approval, and a PNG chart of an SKU's history, forecast and reorder point."""

import json
import time
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
import yaml
from rich.table import Table

from starter.cli_options import ApiKeyOpt, ApiUrl, api_client, console, fail
from starter.cli_render import print_table, table_of
from starter.client import TradelaneError

if TYPE_CHECKING:
    from tradelane.inventory.chart import ForecastChart

app = typer.Typer(help="Stock, forecasts and replenishment.", invoke_without_command=True)
File = Annotated[Path, typer.Argument(exists=True, dir_okay=False)]


def stock_table(rows: list[dict[str, Any]]) -> Table:
    stock = table_of("warehouse", "SKU", "on hand", "reserved", "available", "in transit", "inbound (ETA)",
                     title="Stock", ids=2)
    for r in rows:
        inbound = ", ".join(f"{i['quantity']} {i['shipment_id']} ({i.get('eta_expected') or '?'})"
                            for i in r["inbound"])
        stock.add_row(f"{r['warehouse_id']} ({r['country']})", r["sku"], str(r["on_hand"]), str(r["reserved"]),
                      str(r["available"]), str(r["in_transit"]), inbound or "-")
    return stock


def suggestion_table(rows: list[dict[str, Any]]) -> Table:
    suggestions = table_of("suggestion", "SKU", "to", "units", "mode", "lead time", "cost", "CO2e", "stock-out risk",
                           "state", title="Replenishment suggestions", ids=2)
    for s in rows:
        suggestions.add_row(s["suggestion_id"], s["sku"], f"{s['warehouse_id']} <- {s['source_id']}",
                            str(s["quantity"]), s["mode"], f"{s['lead_time_days']:.0f} d",
                            f"{s['cost']['amount']} {s['cost']['currency']}", f"{s['co2e_kg']:.0f} kg",
                            f"{s['stockout_risk']:.0%}", s["state"])
    return suggestions


@app.callback()
def show(ctx: typer.Context, api: ApiUrl = None, key: ApiKeyOpt = None,
         sku: Annotated[str | None, typer.Option(help="Only this SKU.")] = None,
         warehouse: Annotated[str | None, typer.Option(help="Only this warehouse.")] = None) -> None:
    """Stock per warehouse and SKU, and the open suggestions (when no subcommand is given)."""
    if ctx.invoked_subcommand is not None:
        return
    try:
        with api_client(api, key, "backend") as tl:
            print_table(console, stock_table(tl.stock(sku=sku, warehouse=warehouse)))
            print_table(console, suggestion_table(tl.suggestions(state="proposed")))
    except TradelaneError as err:
        fail(err)


@app.command()
def setup(file: File, api: ApiUrl = None, key: ApiKeyOpt = None) -> None:
    """Load warehouses and SKUs from a YAML or JSON file (`warehouses:`, `skus:`), and any `stock:` receipts."""
    data = yaml.safe_load(file.read_text())
    try:
        with api_client(api, key, "ops") as tl:
            saved = tl.put_network({"warehouses": data.get("warehouses", []), "skus": data.get("skus", [])})
            for index, receipt in enumerate(data.get("stock", [])):
                tl.post_movement({"kind": "receipt", "actor": "setup", "reason": f"opening stock ({file.name})",
                                  "reference": f"{file.stem}-{index}", **receipt})
    except TradelaneError as err:
        fail(err)
    console.print(f"{saved['warehouses']} warehouses, {saved['skus']} SKUs, "
                  f"{len(data.get('stock', []))} opening receipts")


@app.command()
def sales(file: File, api: ApiUrl = None, key: ApiKeyOpt = None) -> None:
    """Import sales history from CSV (`day,sku,market,quantity`) or JSON (`{"sales": [...]}`)."""
    text = file.read_text()
    try:
        with api_client(api, key, "backend") as tl:
            done = tl.import_sales(text if file.suffix.lower() != ".json" else json.loads(text),
                                   csv=file.suffix.lower() != ".json")
    except TradelaneError as err:
        fail(err)
    console.print(f"{done['rows']} rows ({done['inserted']} new, {done['replaced']} replaced) for "
                  f"{len(done['skus'])} SKUs, {done['first_day']} to {done['last_day']}")


@app.command()
def run(api: ApiUrl = None, key: ApiKeyOpt = None,
        wait: Annotated[bool, typer.Option(help="Wait for the suggestions and show them.")] = True) -> None:
    """Start a replenishment run now (the schedule runs one daily)."""
    try:
        with api_client(api, key, "ops") as tl:
            run_id = tl.start_replenishment()["run_id"]
            console.print(f"run [bold]{run_id}[/bold]")
            state = tl.replenishment(run_id)
            while wait and state["status"] == "planning":
                time.sleep(0.5)
                state = tl.replenishment(run_id)
    except TradelaneError as err:
        fail(err)
    if wait:
        print_table(console, suggestion_table(state["suggestions"]))
        for line in state["skipped"]:
            console.print(f"  [dim]no suggestion: {line}[/dim]")


@app.command()
def approve(run_id: str, actor: Annotated[str, typer.Option(help="Who decides.")],
            ids: Annotated[list[str] | None, typer.Argument(help="Suggestion ids; none: --all.")] = None,
            all_: Annotated[bool, typer.Option("--all", help="Approve every proposed suggestion.")] = False,
            reject: Annotated[list[str] | None, typer.Option(help="Suggestion ids to reject.")] = None,
            comment: str = "", api: ApiUrl = None, key: ApiKeyOpt = None) -> None:
    """Approve (and reject) a run's suggestions; approved ones start as replenishment shipments."""
    try:
        with api_client(api, key, "ops") as tl:
            state = tl.decide_replenishment(run_id, actor, approve=ids, reject=reject, approve_all=all_,
                                            comment=comment)
    except TradelaneError as err:
        fail(err)
    print_table(console, suggestion_table(state["suggestions"]))


@app.command()
def plot(sku: Annotated[str, typer.Option(help="The SKU.")],
         warehouse: Annotated[str, typer.Option(help="The warehouse (its country is the market).")],
         out: Annotated[Path, typer.Option(help="PNG file to write.")] = Path("forecast.png"),
         as_of: Annotated[str | None, typer.Option(help="Planning day (YYYY-MM-DD); today when absent.")] = None,
         api: ApiUrl = None, key: ApiKeyOpt = None) -> None:
    """A PNG of the SKU's sales history, forecast (with its band) and the stock against the reorder point; a source
    warehouse (nothing replenishes it) shows its stock and the demand it serves, without a reorder point."""
    from tradelane.inventory.chart import caption, render_png

    try:
        with api_client(api, key, "backend") as tl:
            f = tl.forecast(sku, warehouse, as_of)
    except TradelaneError as err:
        fail(err)
    chart = forecast_chart(f)
    out.write_bytes(render_png(chart))
    console.print(f"wrote {out}: {caption(chart)}")


def forecast_chart(f: dict[str, Any]) -> "ForecastChart":
    """The chart of a `GET /v1/inventory/forecast` answer. The stock panel starts from the inventory position
    (available plus in transit), the figure the reorder point is compared with."""
    from tradelane.inventory.chart import ForecastChart

    error = (f"MASE {f['mase']:.2f} (seasonal-naive {f['naive_mase']:.2f})" if f["mase"] is not None
             else "no backtest (short history)")
    # What the stock says about reordering is the chart's to say (`chart.outlook`), from the projection it draws.
    lead = f" · {f['mode']} {f['lead_time_days']:.0f} d" if f["mode"] else ""
    return ForecastChart(
        title=f"{f['sku']} at {f['warehouse_id']} ({f['market']})",
        history_start=date.fromisoformat(f["history_start"]), history=f["history"],
        forecast_start=date.fromisoformat(f["forecast_start"]), forecast=f["forecast"],
        forecast_sigma=f["forecast_sigma"], reorder_point=f["reorder_point"], safety_stock=f["safety_stock"],
        on_hand=f["available"] + f["in_transit"], subtitle=f"{f['method']} · {error}{lead}")
