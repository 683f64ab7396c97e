"""`make demo`: start the stack, send the example shipments, approve the one that waits, provoke failures, and
summarise. It uses only what a backend or an operator has: the HTTP API (through the Python client) and the
sandbox's fault controls.
"""

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

from devstack import demo_inventory
from infra.platform.settings import DEV_API_KEYS, STATE_DIR, Settings, get_settings
from starter.cli import console as cli_console
from starter.cli import print_quote, print_timeline
from starter.cli_render import clip, live_display, table_of
from starter.client import TradelaneClient, TradelaneError
from tradelane.tracking_page import tracking_token

# Off a terminal (CI, a log file) rich would assume 80 columns and wrap every row.
console = Console() if sys.stdout.isatty() else Console(width=160)
EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
TERMINAL = {"delivered", "compensated", "rejected", "cancelled"}


CHOSEN_CARRIER = "<chosen>"
"""Placeholder in a fault rule: the first carrier of the plan Tradelane would choose (asked via POST /v1/quotes)."""


@dataclass
class DemoShipment:
    """One shipment of the demo and what it should end as."""

    title: str
    body: dict[str, Any]
    expected: str
    faults: list[dict[str, Any]] = field(default_factory=list)
    state: dict[str, Any] = field(default_factory=dict)

    @property
    def shipment_id(self) -> str:
        return self.body["shipment_id"]


def plan_demo(tag: str) -> list[DemoShipment]:
    """The examples, each under a fresh id, plus the decisions at work: a carrier that fails for good (backup
    plan), an unmarked wood pallet (held at the packaging check until ops record the fix), an embargoed
    destination (rejected before anything is booked), a missed delivery and a missed connection (exceptions the
    customer hears about), and a customs rejection (compensated)."""
    shipments = []
    for path in sorted(EXAMPLES.glob("*.json")):
        body = json.loads(path.read_text())
        body["shipment_id"] = f"{body['shipment_id']}-{tag}"
        shipments.append(DemoShipment(title=path.stem, body=body, expected="delivered"))
    # Both express examples ask for the fastest carrier in their files. Here the lithium shipment's merchant asks for
    # the cheapest express instead, so the two go with different express carriers on the sandbox's quotes (each a
    # carrier's own API through Karrio); the quotes decide which, nothing is set by hand.
    lithium = next(s for s in shipments if s.title == "lithium-powerbank-cn-us")
    lithium.body["preference"] = "cheapest"
    # The first carrier booking of the basic example meets a burst of 503s: Temporal retries, one booking results.
    basic = next(s for s in shipments if s.title == "basic-cn-de")
    basic.faults.append({"operation": "book", "shipment_id": basic.shipment_id, "kind": "error", "status": 503,
                         "times": 2})
    backup = json.loads((EXAMPLES / "basic-cn-de.json").read_text())
    backup["shipment_id"] = f"SHP-DEMO-BACKUP-{tag}"
    # The carrier the plan chooses refuses the booking for good: the workflow re-plans without it.
    shipments.append(DemoShipment(
        title="carrier refuses: backup plan", body=backup, expected="delivered",
        faults=[{"partner": CHOSEN_CARRIER, "operation": "book", "shipment_id": backup["shipment_id"],
                 "kind": "reject", "code": "CAPACITY_EXHAUSTED", "message": "no space on this sailing/flight"}]))
    pallet = json.loads((EXAMPLES / "pallet-cn-au.json").read_text())
    pallet["shipment_id"] = f"SHP-DEMO-ISPM-{tag}"
    pallet["parcels"][1]["ispm15_marked"] = False
    shipments.append(DemoShipment(title="pallet without ISPM 15 mark", body=pallet, expected="delivered"))
    embargoed = json.loads((EXAMPLES / "basic-cn-de.json").read_text())
    embargoed["shipment_id"] = f"SHP-DEMO-EMBARGO-{tag}"
    embargoed["destination"].update(country="IR", city="Tehran", postal_code="11369-13911", locale="fa-IR")
    shipments.append(DemoShipment(title="embargoed destination", body=embargoed, expected="rejected"))
    missed = json.loads((EXAMPLES / "basic-cn-de.json").read_text())
    missed["shipment_id"] = f"SHP-DEMO-MISSED-{tag}"
    # Nobody at home at the first attempt: an exception for the customer (in German), delivered the next day.
    shipments.append(DemoShipment(
        title="missed delivery, delivered next day", body=missed, expected="delivered",
        faults=[{"partner": "parcelnow", "operation": "schedule", "shipment_id": missed["shipment_id"],
                 "kind": "scenario", "scenario": "failed_attempt"}]))
    late = json.loads((EXAMPLES / "high-value-us-jp.json").read_text())
    late["shipment_id"] = f"SHP-DEMO-LATE-{tag}"
    late["service_level"] = "express"
    # The express carrier misses a connection (in its own exception code, read by polling): the ETA slips past the
    # promised date (customer told, in Japanese). Its shipment call is its handover: the story starts there.
    shipments.append(DemoShipment(
        title="missed connection: late", body=late, expected="delivered",
        faults=[{"partner": CHOSEN_CARRIER, "operation": "handover", "shipment_id": late["shipment_id"],
                 "kind": "scenario", "scenario": "delayed"}]))
    failing = json.loads((EXAMPLES / "basic-cn-de.json").read_text())
    failing["shipment_id"] = f"SHP-DEMO-FAIL-{tag}"
    shipments.append(DemoShipment(
        title="customs rejects", body=failing, expected="compensated",
        faults=[{"partner": "clearpath", "operation": "file", "shipment_id": failing["shipment_id"],
                 "kind": "reject", "code": "RESTRICTED_GOODS", "message": "goods restricted at destination"}]))
    return shipments


WEB_UI_FILTERS = (
    ('TradelaneStatus = "compensated"', "the shipment customs rejected, undone"),
    ('TradelaneFailureCode = "RESTRICTED_GOODS"', "the same, by why it was undone"),
    ('TradelaneStatus = "rejected"', "the embargoed destination, refused before booking"),
    ('TradelaneDestination = "JP"', "the high-value example and the late express (held, then delivered)"),
)
"""Web UI filters that find what the demo made once it is over, with what each finds. `TradelaneExceptions` lists
*open* exceptions only (`TradelaneExceptions = "late"` finds a shipment while it is late, not once delivered), so
it is no filter for a finished demo (tests/workflows/test_demo_filters.py runs these on a dev server)."""

EXPRESS_EXAMPLES = ("high-value-us-jp", "lithium-powerbank-cn-us")
"""The examples sent by air express."""


def express_carriers(shipments: list[DemoShipment]) -> dict[str, str]:
    """The express examples' carriers (as booked) by shipment id."""
    return {s.shipment_id: s.state.get("carrier") or "-" for s in shipments if s.title in EXPRESS_EXAMPLES}


def web_ui_lines(settings: Settings) -> list[str]:
    """Where the demo's workflows are in the Web UI, and the filters that find them (quoted in the README)."""
    ui = f"http://localhost:{settings.temporal_ui_port}/namespaces/{settings.temporal_namespace}/workflows"
    return [f"Temporal Web UI: {ui}", "  filters that find this demo's shipments:",
            *(f"    {query:<42} {finds}" for query, finds in WEB_UI_FILTERS),
            '  (TradelaneExceptions = "late" finds a shipment while it is late; a delivered one has no open '
            "exceptions)"]


def console_line(settings: Settings) -> str:
    """The ops console's address and how to sign in (the development ops key, when it is the configured one)."""
    url = f"http://{settings.api_host}:{settings.api_port}/console"
    dev_key = DEV_API_KEYS["ops"]
    configured = any(k.role == "ops" and k.key.get_secret_value() == dev_key for k in settings.api_keys)
    how = f"sign in with the development ops key: {dev_key}" if configured else "sign in with an ops key"
    return f"Ops console: {url}  ({how})"


def start_stack(settings: Settings) -> subprocess.Popen[bytes]:
    STATE_DIR.mkdir(exist_ok=True)
    log = (STATE_DIR / "stack.log").open("ab")
    console.print(f"starting the stack (logs in {STATE_DIR / 'stack.log'}) ...")
    return subprocess.Popen([sys.executable, "-m", "devstack.cli", "up"], stdout=log, stderr=subprocess.STDOUT,
                            env={**os.environ, "TRADELANE_LOG_FORMAT": "json"})


def wait_healthy(client: TradelaneClient, process: subprocess.Popen[bytes] | None, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not client.healthy():
        if process is not None and process.poll() is not None:
            raise SystemExit(f"the stack exited with {process.returncode}; see {STATE_DIR / 'stack.log'}")
        if time.monotonic() > deadline:
            raise SystemExit(f"the stack did not answer within {timeout_s:.0f} s; see {STATE_DIR / 'stack.log'}")
        time.sleep(0.5)


def progress_table(shipments: list[DemoShipment]) -> Table:
    table = table_of("shipment", "lane", "stage", "status", "carrier", "latest")
    for s in shipments:
        st = s.state
        latest = st.get("transitions", [{}])[-1].get("note", "") if st.get("transitions") else "starting"
        table.add_row(s.shipment_id, f"{s.body['origin']['country']}->{s.body['destination']['country']}",
                      st.get("stage", "-"), st.get("status", "-"), st.get("carrier") or "-", clip(latest, 70))
    return table


def summary_table(shipments: list[DemoShipment]) -> Table:
    table = table_of("shipment", "scenario", "plan", "kg CO2e", "landed cost", "ETA", "exceptions", "status",
                     "expected", "why / undo", title="Summary")
    for s in shipments:
        st = s.state
        undo = ", ".join(c["action"] for c in st.get("compensation", []))
        replans = "; ".join(f"backup after {r['failed_partner']}" for r in st.get("replans", []))
        why = "; ".join(x for x in (replans, clip(st.get("failure") or "", 60), undo) if x) or "-"
        ok = "[green]" if st.get("status") == s.expected else "[red]"
        landed = st.get("landed_cost") or {}
        cost = f"{landed['total']} {landed['currency']}" if landed else "-"
        co2 = f"{st['emissions_kg_co2e']:.1f}" if st.get("emissions_kg_co2e") is not None else "-"
        eta = (st.get("eta") or {}).get("expected", "-")
        exceptions = ", ".join(e["kind"] for e in st.get("exceptions", [])) or "-"
        table.add_row(s.shipment_id, s.title, (st.get("plan") or {}).get("plan_id", "-"), co2, cost, eta,
                      exceptions, f"{ok}{st.get('status')}", s.expected, why)
    return table


# What the demo's operator answers at each kind of gate.
OPS_ANSWERS = {
    "high_value": "value checked against the commercial invoice",
    "packaging": "pallet 2 replaced by an ISPM 15 marked (HT) pallet",
}


def show_decisions(client: TradelaneClient, tag: str) -> None:
    """What Tradelane decides for one request before anything starts: `POST /v1/quotes`."""

    body = json.loads((EXAMPLES / "basic-cn-de.json").read_text())
    body["shipment_id"] = f"SHP-DEMO-QUOTE-{tag}"
    console.rule("Decisions for basic-cn-de (POST /v1/quotes, nothing booked)")
    cli_console.width = console.width
    print_quote(client.quote(body))
    console.rule()


def show_visibility(client: TradelaneClient, settings: Settings, shipments: list[DemoShipment]) -> None:
    """The tracking timeline and notifications of one shipment, and where customers and merchants see them."""

    missed = next(s for s in shipments if s.title.startswith("missed delivery"))
    console.rule(f"Tracking {missed.shipment_id} (tradelane track)")
    cli_console.width = console.width
    print_timeline(client.events(missed.shipment_id), client.notifications(missed.shipment_id))
    notices = [n for s in shipments for n in client.notifications(s.shipment_id)]
    by_state: dict[str, int] = {}
    for n in notices:
        by_state[n["state"]] = by_state.get(n["state"], 0) + 1
    console.print(f"notifications: {len(notices)} ({', '.join(f'{k} {v}' for k, v in sorted(by_state.items()))}); "
                  f"pending ones wait for the recipient's quiet hours ({settings.quiet_hours or 'none'})")
    console.print(f"  e-mails as received by the debugging SMTP server: {settings.mail_dir}/new")
    console.print(f"  merchant webhooks: {settings.partners_base_url}/_inspect/merchant-webhooks")
    tracking = missed.state.get("tracking_number")
    if tracking:
        # By its token, as the recipient's e-mails link to it: the carrier's number alone does not open the page.
        token = tracking_token(settings.tracking_secret.get_secret_value(), missed.shipment_id)
        console.print(f"  public tracking page: http://{settings.api_host}:{settings.api_port}/track/{token}"
                      f"  (try ?lang=ar or ?lang=ja)")
    console.rule()


def drive(client: TradelaneClient, ops: TradelaneClient, shipments: list[DemoShipment], timeout_s: float) -> None:
    """Poll until every shipment is terminal, approving (with the ops key) the gates an operator would approve."""
    deadline = time.monotonic() + timeout_s
    with live_display(progress_table(shipments), console) as live:
        while time.monotonic() < deadline:
            for s in shipments:
                if s.state.get("status") in TERMINAL:
                    continue
                try:
                    s.state = client.get_shipment(s.shipment_id)
                except TradelaneError as err:
                    if err.status != 503:
                        raise
                    # Running, but nobody can say how yet (the worker of `make up` is still starting): next round.
                    continue
                for gate in s.state.get("pending_approvals", []):
                    comment = OPS_ANSWERS.get(gate["kind"])
                    if comment is not None:
                        ops.approve(s.shipment_id, gate["kind"], actor="demo-ops@tradelane", comment=comment)
                        live.console.print(f"approved {gate['kind']} gate of {s.shipment_id}: {gate['reason'][:90]} "
                                           f"-> {comment}")
            live.update(progress_table(shipments))
            if all(s.state.get("status") in TERMINAL for s in shipments):
                return
            time.sleep(0.5)
    raise SystemExit(f"shipments still running after {timeout_s:.0f} s")


def inventory_chapter(client: TradelaneClient, ops: TradelaneClient, tag: str,
                      timeout_s: float) -> list[DemoShipment]:
    """Stock in Shenzhen and Berlin: a customer order reserves and ships from stock, a replenishment run suggests,
    ops approve, and the replenishments arrive on the Berlin shelf."""
    console.rule("Inventory (tradelane inventory)")
    demo_inventory.set_up(client, ops, console)
    order = json.loads((EXAMPLES / "basic-cn-de.json").read_text())
    order.update(shipment_id=f"SHP-DEMO-STOCK-{tag}", order_ref=f"ORD-STOCK-{tag}", origin_warehouse="SZX-1")
    shipments = [DemoShipment("customer order from SZX-1 stock", order, "delivered")]
    client.create_shipment(order)
    console.print(f"started {order['shipment_id']}: reserves its items at SZX-1")
    shipments += [DemoShipment(f"replenishment of {r['items'][0]['sku']} to BER-1", r, "delivered")
                  for r in demo_inventory.replenish(ops, console)]
    drive(client, ops, shipments, timeout_s)
    console.print(summary_table(shipments))
    demo_inventory.show_stock(client, console)
    demo_inventory.chart(client, console)
    return shipments


def run_demo(keep: bool = False, timeout_s: float = 240) -> int:
    """Run the demo; 0 when every shipment ended as expected."""
    settings = get_settings()
    # The documented development keys: a backend starts and reads shipments, an operator approves.
    api_url = f"http://{settings.api_host}:{settings.api_port}"
    client = TradelaneClient(api_url, api_key=DEV_API_KEYS["backend"])
    ops = TradelaneClient(api_url, api_key=DEV_API_KEYS["ops"])
    process = None if client.healthy() else start_stack(settings)
    try:
        wait_healthy(client, process, settings.temporal_startup_timeout_s + 60)
        tag = datetime.now(UTC).strftime("%m%d%H%M%S")
        show_decisions(client, tag)
        shipments = plan_demo(tag)
        with httpx.Client(base_url=settings.partners_base_url, timeout=10) as sandbox:
            for s in shipments:
                for rule in s.faults:
                    if rule.get("partner") == CHOSEN_CARRIER:
                        rule["partner"] = client.quote(s.body)["plan"]["legs"][0]["partner"]
                    sandbox.post("/_faults", json=rule).raise_for_status()
        for s in shipments:
            created = client.create_shipment(s.body)
            console.print(f"started {created['shipment_id']} ({s.title}) as workflow {created['workflow_id']}")
        drive(client, ops, shipments, timeout_s)
        console.print(summary_table(shipments))
        console.print("express examples booked with (each carrier's own API, through Karrio): "
                      + ", ".join(f"{sid} {carrier}" for sid, carrier in express_carriers(shipments).items()))
        show_visibility(client, settings, shipments)
        shipments += inventory_chapter(client, ops, tag, timeout_s)
        console.print()
        for line in web_ui_lines(settings):
            console.print(line, highlight=False, markup=False)
        console.print("  payloads are encrypted; the codec server that decodes them "
                      f"(http://{settings.api_host}:{settings.api_port}/codec) needs the ops key, which the dev "
                      "server's UI (no login) cannot pass, so it shows ciphertext; decode with `temporal workflow "
                      "show --codec-endpoint ... --codec-auth \"Bearer <ops key>\"`")
        console.print(f"Sandbox records: {settings.partners_base_url}/_inspect/bookings"
                      f"?shipment_id=SHP-DEMO-FAIL-{tag}")
        failed = [s for s in shipments if s.state.get("status") != s.expected]
        if failed:
            console.print(f"[red]{len(failed)} shipment(s) did not end as expected[/red]")
            return 1
        console.print("[green]every shipment ended as expected[/green]")
        console.print(console_line(settings), highlight=False, markup=False)
        if keep and process is not None:
            console.print("The stack keeps running; Ctrl-C stops it.")
            process.wait()
        return 0
    except KeyboardInterrupt:
        return 130
    finally:
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
        client.close()
        ops.close()
