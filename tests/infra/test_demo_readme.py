"""The README's demo output is what the demo prints (issue 19, point 11).

The README quotes the summary table `make demo` prints and the replenishment its inventory chapter suggests. Here
the demo's own code makes them again: its shipments (`plan_demo`) are planned by the decision activity on the
sandbox's quotes, the figures go through the demo's `summary_table`, and the inventory chapter's network, opening
stock and sales (`demo_inventory`) are planned by the replenishment analysis on the day the README names.
"""

import re
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
import yaml
from rich.console import Console

from activities.decisions import DecisionActivities
from activities.http import PartnerGateway
from activities.inventory import analyse
from devstack import demo_inventory
from devstack.demo import DemoShipment, console_line, plan_demo, summary_table, web_ui_lines
from infra.persistence import inventory as ledger
from infra.persistence.db import make_engine, migrate
from infra.persistence.inventory import NewMovement
from infra.platform.settings import Settings
from sandbox.app import create_app as create_sandbox_app
from sandbox.config import SandboxConfig
from tradelane.inventory.ledger import MovementKind
from tradelane.inventory.models import Network
from tradelane.inventory.sales import parse_csv
from tradelane.models import ShipmentRequest
from tradelane.rules import default_book
from tradelane.shipment.calls import AssessRequest

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()
COLUMNS = [str(c.header) for c in summary_table([]).columns]


def readme_blocks() -> list[str]:
    """The README's code blocks without a language: what programs print."""
    blocks, current = [], None
    for line in README.splitlines():
        if line.startswith("```"):
            if current is None:
                current = [] if line == "```" else ["<code>"]
            else:
                if current[:1] != ["<code>"]:
                    blocks.append("\n".join(current) + "\n")
                current = None
        elif current is not None:
            current.append(line)
    return blocks


def readme_block() -> str:
    """The README's quoted summary table (the code block that starts with its title)."""
    return next(b for b in readme_blocks() if b.startswith("Summary"))


def parse_summary(block: str) -> tuple[list[str], list[dict[str, str]]]:
    """A printed summary table's column headers and rows, cell by column. Columns start where a header word starts
    after a position blank in every line; a cell wrapped over lines is joined with spaces (compare with `squeezed`)."""
    lines = [line.rstrip() for line in block.strip("\n").splitlines()[1:] if line.strip()]  # [0] is the title
    rule = next(i for i, line in enumerate(lines) if set(line) == {"─"})
    table = lines[:rule] + lines[rule + 1:]
    width = max(len(line) for line in table)
    used = [any(len(line) > x and line[x] != " " for line in table) for x in range(width)]
    # A column starts after a position blank in every line, where a header word starts.
    heads = {x for line in lines[:rule] for x in range(len(line)) if line[x] != " " and (x == 0 or line[x - 1] == " ")}
    starts = [x for x in range(width) if used[x] and (x == 0 or not used[x - 1]) and x in heads]
    bounds = list(zip(starts, [*starts[1:], None], strict=True))

    def cells(line: str) -> list[str]:
        return [line[a:b].strip() for a, b in bounds]

    headers = [" ".join(parts).strip() for parts in zip(*(cells(line) for line in lines[:rule]), strict=True)]
    rows: list[dict[str, str]] = []
    for line in lines[rule + 1:]:
        values = cells(line)
        if values[0]:
            rows.append(dict(zip(headers, values, strict=True)))
        else:  # a wrapped cell's next line
            for name, value in zip(headers, values, strict=True):
                if value:
                    rows[-1][name] = f"{rows[-1][name]} {value}".strip()
    return [" ".join(h.split()) for h in headers], rows


def squeezed(cell: str) -> str:
    """A cell without its white space: a cell wrapped inside a word (`dhl_expre` / `ss`) reads as unwrapped."""
    return re.sub(r"\s+", "", cell)


async def planned_states(shipments: list[DemoShipment]) -> dict[str, dict[str, Any]]:
    """The decision activity's plan, footprint and landed cost for each shipment, in the API's field names (the
    backup plan with the first choice excluded, as the workflow re-plans after a carrier refuses for good)."""
    sandbox = create_sandbox_app(SandboxConfig())
    states = {}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=sandbox), base_url="http://sandbox") as http:
        decisions = DecisionActivities(PartnerGateway(http, "http://sandbox"), default_book())
        for s in shipments:
            request = ShipmentRequest.model_validate(s.body)
            a = (await decisions.assess(AssessRequest(request=request))).assessment
            replans = []
            if any(rule.get("kind") == "reject" and rule.get("operation") == "book" for rule in s.faults):
                assert a.plan is not None
                first = a.plan.main_leg.partner
                a = (await decisions.assess(AssessRequest(request=request, exclude_partners=[first]))).assessment
                replans = [{"failed_partner": first}]
            states[s.title] = {
                "plan": {"plan_id": a.plan.plan_id} if a.plan else None, "replans": replans,
                "emissions_kg_co2e": a.emissions_kg_co2e, "status": s.expected,
                "landed_cost": a.landed_cost.model_dump(mode="json") if a.landed_cost else None}
    return states


def rendered_rows(shipments: list[DemoShipment]) -> list[dict[str, str]]:
    """The demo's summary table of these shipments, as printed and parsed back."""
    console = Console(width=400, record=True)
    console.print(summary_table(shipments))
    return parse_summary(console.export_text())[1]


async def test_the_readme_summary_is_what_the_demo_prints_for_its_shipments():
    """Finding (issue 19): the README's summary differed from the demo's (columns it does not print, notes in its
    cells). Its rows are the demo's shipments in order, with the figures the demo computes for them."""
    _, rows = parse_summary(readme_block())
    shipments = plan_demo("0000000000")
    assert len(rows) == len(shipments)
    for row, s in zip(rows, shipments, strict=True):
        assert re.fullmatch(re.escape(s.shipment_id.removesuffix("-0000000000")) + r"-\d{10}", row["shipment"]), row
        assert row["expected"] == row["status"] == s.expected, row
        assert squeezed(row["scenario"]) == squeezed(s.title), row
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}|-", row["ETA"]), row
        assert not any(cell.startswith("(") for cell in row.values()), f"a note the demo does not print: {row}"
        if s.expected == "delivered":
            assert re.fullmatch(r"-|backup after \w+", row["why / undo"]), f"a note the demo does not print: {row}"
    states = await planned_states(shipments)
    for s in shipments:
        s.state = states[s.title]
    for ours, theirs in zip(rendered_rows(shipments), rows, strict=True):
        for column in ("plan", "kg CO2e", "landed cost"):
            assert squeezed(theirs[column]) == squeezed(ours[column]), (theirs["scenario"], column)
        if ours["why / undo"].startswith("backup after"):
            assert squeezed(theirs["why / undo"]) == squeezed(ours["why / undo"])


def test_the_readme_summary_is_laid_out_as_the_demo_prints_it():
    """The columns are the demo's, at the width the demo prints off a terminal (160 columns)."""
    headers, _ = parse_summary(readme_block())
    assert headers == COLUMNS
    assert max(len(line) for line in readme_block().splitlines()) <= 160


def readme_replenishment() -> tuple[date, int]:
    """The day and number of phone cases the README says the demo's replenishment suggests on a fresh state."""
    found = re.search(r"on a fresh state on (\d{4}-\d{2}-\d{2}),\s+fly\s+([\d,]+)\s+phone\s+cases\s+to\s+Berlin",
                      README)
    assert found, "README: the inventory chapter's suggestion, with its day"
    return date.fromisoformat(found.group(1)), int(found.group(2).replace(",", ""))


def test_the_readme_replenishment_is_what_the_demo_suggests_that_day(tmp_path):
    """Finding (issue 19): the README said 1,750 phone cases, the demo suggested 1,800 (its sales are made relative
    to the day it runs). The README names its day; the demo's network, stock and sales give that figure on it."""
    day, units = readme_replenishment()
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    migrate(url)
    engine = make_engine(url)
    data = yaml.safe_load(demo_inventory.NETWORK.read_text())
    ledger.save_network(engine, Network.model_validate({"warehouses": data["warehouses"], "skus": data["skus"]}))
    ledger.post(engine, [NewMovement(key=f"demo-opening-{i}", warehouse_id=r["warehouse_id"], sku=r["sku"],
                                     kind=MovementKind.RECEIPT, quantity=r["quantity"], reason="opening stock",
                                     actor="demo") for i, r in enumerate(data["stock"])])
    ledger.save_sales(engine, parse_csv(demo_inventory.sales_csv(datetime.combine(day, datetime.min.time(), UTC))))
    network, skus = ledger.warehouses(engine), ledger.skus(engine)
    target = network["BER-1"]
    found = analyse(engine, default_book(), network[target.replenished_from], target, skus["CASE-IP15-BLK"], day)
    assert not isinstance(found, str), found
    assert found.plan.reorder and found.plan.option is not None
    assert (found.plan.quantity, found.plan.option.mode.value) == (units, "air_express")


def test_the_readme_quotes_the_web_ui_lines_the_demo_prints():
    """Finding (issue 19): the demo suggested `TradelaneExceptions = "late"`, which finds nothing once delivered.
    The README quotes the lines the demo prints now (their filters are run on a dev server in
    tests/workflows/test_demo_filters.py)."""
    printed = web_ui_lines(Settings(_env_file=None, environment="development"))
    block = next(b for b in readme_blocks() if b.startswith("Temporal Web UI:"))
    assert block.rstrip("\n").splitlines() == printed


def test_the_demo_ends_with_the_ops_consoles_address_and_the_development_ops_key():
    """Issue 22: `make demo` ends by printing where the console is and the key that signs in there; the README
    quotes the line. With other ops keys configured, the development key is not offered."""
    line = console_line(Settings(_env_file=None, environment="development"))
    assert line == "Ops console: http://127.0.0.1:8000/console  (sign in with the development ops key: dev-ops-key)"
    assert line in (Path(__file__).resolve().parents[2] / "README.md").read_text()
    own = Settings(_env_file=None, environment="development",
                   api_keys=[{"name": "ops-anna", "role": "ops", "key": "anna-" + "k" * 40}])
    assert console_line(own).endswith("(sign in with an ops key)")
