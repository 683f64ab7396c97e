"""`tradelane`'s operational commands: start and steer shipments from a terminal, and run the API.

Shipment commands talk to the HTTP API (`--api` or TRADELANE_API_URL); `api` runs the API itself. `devstack.cli`,
the `tradelane` entry point, adds the commands that run the other services (`worker`, `sandbox`) or all of them
(`up`, `demo`), and `temporal-cli`.
"""

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from starter.cli_options import ApiKeyOpt, ApiUrl, api_client, console, fail
from starter.cli_render import clip, print_table, table_of, when
from starter.client import TradelaneError
from starter.inventory_cli import app as inventory_app

if TYPE_CHECKING:
    from infra.platform.settings import Settings

app = typer.Typer(help="Tradelane: cross-border shipments as durable Temporal workflows.", no_args_is_help=True)
ship = typer.Typer(help="Create shipments.", no_args_is_help=True)
app.add_typer(ship, name="ship")
app.add_typer(inventory_app, name="inventory")

Actor = Annotated[str, typer.Option("--actor", help="Who decides (recorded with the decision).")]
Comment = Annotated[str, typer.Option("--comment", help="Why.")]
Gate = Annotated[str, typer.Option(
    "--gate", help="high_value, compliance, packaging, customs_hold or stage_overdue.")]


@ship.command("create")
def ship_create(file: Annotated[Path, typer.Argument(exists=True, dir_okay=False)], api: ApiUrl = None,
                key: ApiKeyOpt = None) -> None:
    """Start a shipment from a JSON request file (the format of examples/*.json)."""
    request = _read_request(file)
    try:
        with api_client(api, key) as tl:
            created = tl.create_shipment(request)
    except TradelaneError as err:
        fail(err)
    console.print(f"started [bold]{created['shipment_id']}[/bold] as workflow {created['workflow_id']}")


def _read_request(file: Path) -> dict[str, Any]:
    try:
        return json.loads(file.read_text())
    except json.JSONDecodeError as err:
        console.print(f"[red]error[/red] {file} is not JSON: {err.msg} at line {err.lineno}, column {err.colno}")
        raise typer.Exit(1) from None


DOCUMENTS = ("commercial-invoice", "packing-list")


def _local_documents(request: dict[str, Any], decided: Any) -> dict[str, bytes]:
    """The documents of a `--local` quote: the invoice charges the freight of the plan it chose (the API's route
    charges the booked plan's, or the plan a quote with live partner prices chooses)."""
    from tradelane.decisions.documents import booked_charges
    from tradelane.decisions.pdf import commercial_invoice_pdf, packing_list_pdf
    from tradelane.models import ShipmentRequest

    parsed = ShipmentRequest.model_validate(request)
    return {"commercial-invoice": commercial_invoice_pdf(parsed, charges=booked_charges(decided)),
            "packing-list": packing_list_pdf(parsed)}


def _local_quote(request: dict[str, Any]) -> tuple[dict[str, Any], Any]:
    """The decisions computed in this process from the rate tables alone (no partner quotes, no API), as the
    quote's view and the assessment."""
    from pydantic import ValidationError

    from infra.platform.settings import RulesLocation
    from starter.errors import field_path
    from starter.routes.quotes import QuoteView
    from tradelane.decisions.assess import assess
    from tradelane.models import ShipmentRequest
    from tradelane.rules import RuleBook, default_book

    try:
        parsed = ShipmentRequest.model_validate(request)
    except ValidationError as err:
        fields = [{"field": field_path(e["loc"]), "message": e["msg"]} for e in err.errors()]
        fail(TradelaneError(422, "INVALID_REQUEST", "invalid request", fields))
    rules_dir = RulesLocation().rules_dir
    book = RuleBook(rules_dir) if rules_dir else default_book()
    decided = assess(parsed, book, notes=["offline: priced from the rate tables, no partner quotes"])
    return QuoteView.of(decided).model_dump(mode="json"), decided


def _plan_row(table: Table, plan: dict[str, Any], tag: str) -> None:
    table.add_row(tag, plan["plan_id"], f"{plan['cost']['amount']} {plan['cost']['currency']}",
                  f"{plan['transit_days_min']}-{plan['transit_days_max']}", f"{plan['co2e_kg']:.1f}",
                  f"{plan['risk']['score']:.2f}")


def print_quote(q: dict[str, Any]) -> None:
    """Plans, landed cost, compliance, documents and marks as tables."""
    plans = table_of("", "plan", "freight", "days", "kg CO2e", "risk", title="Transport plans (Pareto set)", ids=2)
    if q.get("plan"):
        _plan_row(plans, q["plan"], "chosen")
    for alt in q.get("alternatives", []):
        _plan_row(plans, alt, "alternative")
    print_table(console, plans)
    for rejected in q.get("rejected_plans", [])[:8]:
        console.print(f"  [dim]rejected {rejected['plan_id']}: {'; '.join(rejected['reasons'])}[/dim]")
    if q.get("plan"):
        legs = table_of("leg", "mode", "partner", "lane", "km", "kg CO2e", "cost", "source", title="Chosen plan legs")
        for leg in q["plan"]["legs"]:
            legs.add_row(str(leg["seq"] + 1), leg["mode"] + (f" ({leg['aircraft']})" if leg.get("aircraft") else ""),
                         leg["partner"], f"{leg['origin']}-{leg['destination']}",
                         f"{leg['emission']['distance_km']:.0f}", f"{leg['emission']['co2e_kg']:.2f}",
                         f"{leg['cost']['amount']} {leg['cost']['currency']}", clip(leg["cost_source"], 60))
        print_table(console, legs)
    lc = q.get("landed_cost")
    if lc:
        cost = table_of("component", "what", "amount", "payer",
                        title=f"Landed cost ({lc['incoterm']}, {lc['currency']})")
        for line in lc["lines"]:
            cost.add_row(line["component"], line["label"], str(line["amount"]), line["payer"])
        cost.add_row("total", "goods + freight + insurance + duties + taxes + fees", str(lc["total"]), "")
        print_table(console, cost)
        console.print(f"  seller pays {lc['seller_pays']}, buyer pays {lc['buyer_pays']} {lc['currency']}")
        for finding in lc.get("findings", []):
            console.print(f"  [yellow]{finding['code']}[/yellow]: {finding['message']}")
    findings = q.get("compliance", {}).get("findings", [])
    console.print(f"compliance: [bold]{q.get('compliance', {}).get('verdict', '-')}[/bold]")
    for f in findings:
        console.print(f"  {f['severity']}: {f['message']}")
    for v in q.get("packaging_violations", []):
        console.print(f"  [yellow]packaging[/yellow]: {v['message']}")
    console.print(f"emissions: {q.get('emissions_kg_co2e')} kg CO2e   risk score: {q.get('risk_score')}   "
                  f"label language: {q.get('label_language')}")
    console.print("documents: " + ", ".join(d["name"] for d in q.get("documents", [])))
    for mark in [*q.get("marks", []), *q.get("labels", [])]:
        console.print(f"  mark/label: {mark}")
    chosen = (q.get("last_mile") or {}).get("chosen")
    if chosen:
        console.print(f"last mile: {chosen['partner']} ({chosen['method']}), {chosen['sla_days']} days, "
                      f"{chosen['cost']['amount']} {chosen['cost']['currency']}")


@app.command()
def quote(file: Annotated[Path, typer.Argument(exists=True, dir_okay=False)], api: ApiUrl = None,
          key: ApiKeyOpt = None,
          local: Annotated[bool, typer.Option(
              help="Decide in this process from rate tables, without the API.")] = False,
          documents: Annotated[Path | None, typer.Option(
              help="Also write the commercial invoice and packing list PDFs to this directory.")] = None,
          as_json: Annotated[bool, typer.Option("--json", help="Print the raw JSON.")] = False) -> None:
    """Plans, landed cost, compliance, documents and marks for a request file, without starting anything."""
    request = _read_request(file)
    pdfs: dict[str, bytes] = {}
    if local:
        result, decided = _local_quote(request)
        if documents is not None:
            pdfs = _local_documents(request, decided)
    else:
        try:
            with api_client(api, key) as tl:
                result = tl.quote(request)
                if documents is not None:
                    pdfs = {name: tl.document(name, request) for name in DOCUMENTS}
        except TradelaneError as err:
            fail(err)
    if documents is not None:
        documents.mkdir(parents=True, exist_ok=True)
        for name, pdf in pdfs.items():
            (documents / f"{name}-{request.get('shipment_id', 'request')}.pdf").write_bytes(pdf)
        # With --json, stdout is the JSON alone: the note goes to stderr.
        (Console(stderr=True) if as_json else console).print(
            f"wrote the commercial invoice and packing list to {documents}")
    if as_json:
        console.print_json(json.dumps(result))
    else:
        print_quote(result)


def print_shipment(s: dict[str, Any]) -> None:
    console.print(f"[bold]{s['shipment_id']}[/bold]  stage={s['stage']}  status={s['status']}  "
                  f"carrier={s.get('carrier') or '-'}  mode={s.get('mode') or '-'}  "
                  f"tracking={s.get('tracking_number') or '-'}")
    if s.get("plan"):
        landed = s.get("landed_cost") or {}
        console.print(f"  plan {s['plan']['plan_id']}  {s.get('emissions_kg_co2e')} kg CO2e  "
                      f"risk {s.get('risk_score')}  landed {landed.get('total', '-')} {landed.get('currency', '')}")
    for replan in s.get("replans", []):
        console.print(f"  [yellow]backup plan[/yellow]: {replan['failed_partner']} failed "
                      f"({escape(clip(replan['reason'], 80))}): {replan['from_plan']} -> {replan['to_plan']}")
    for gate in s.get("pending_approvals", []):
        console.print(f"  [yellow]waiting for ops[/yellow]: gate {gate['kind']}: {escape(gate['reason'])}")
    if s.get("failure"):
        console.print(f"  [red]failure[/red]: {escape(s['failure'])}")
    transitions = table_of("when", "stage", "status", "note", title="transitions")
    for t in s.get("transitions", []):
        transitions.add_row(when(t["at"]), t["stage"], t["status"], escape(t["note"]))
    print_table(console, transitions)


@app.command()
def status(shipment_id: str, api: ApiUrl = None, key: ApiKeyOpt = None,
           as_json: Annotated[bool, typer.Option("--json", help="Print the raw JSON.")] = False) -> None:
    """Show a shipment: stage, status, approvals waiting, and its timeline."""
    try:
        with api_client(api, key) as tl:
            shipment = tl.get_shipment(shipment_id)
    except TradelaneError as err:
        fail(err)
    if as_json:
        console.print_json(data=shipment)
    else:
        print_shipment(shipment)


def print_timeline(t: dict[str, Any], notices: list[dict[str, Any]]) -> None:
    """The tracking timeline: header with status and ETA, one row per event, then the notifications."""
    eta = t.get("eta")
    eta_text = "-" if eta is None else (
        eta["expected"] if eta["earliest"] == eta["latest"] else
        f"{eta['expected']} (between {eta['earliest']} and {eta['latest']})")
    console.print(f"[bold]{t['shipment_id']}[/bold]  tracking {t.get('tracking_number') or '-'}  "
                  f"{t['stage']} / {t['status']}  ETA {eta_text}  promised {t.get('promised_date') or '-'}")
    if t["open_exceptions"]:
        console.print(f"  [red]open exceptions[/red]: {', '.join(t['open_exceptions'])}")
    timeline = table_of("when", "status", "where", "partner", "code", "via", title="timeline")
    for e in t["events"]:
        style = "red" if e["status"] in ("customs_hold", "delivery_failed", "exception") else None
        timeline.add_row(when(e["occurred_at"]), e["status"], escape(e["location"] or "-"), e["partner"],
                         e["code"], e["via"], style=style)
    print_table(console, timeline, empty="no tracking events yet")
    sent = table_of("notice", "to", "channel", "language", "state", "attempts", title="notifications")
    for n in notices:
        sent.add_row(n["kind"], escape(f"{n['audience']} {n['recipient']}"), n["channel"], n["locale"], n["state"],
                     str(n["attempts"]))
    print_table(console, sent)


@app.command()
def track(shipment_id: str, api: ApiUrl = None, key: ApiKeyOpt = None,
          as_json: Annotated[bool, typer.Option("--json", help="Print the raw JSON.")] = False) -> None:
    """Show a shipment's tracking timeline, ETA, open exceptions and notifications."""
    try:
        with api_client(api, key) as tl:
            timeline, notices = tl.events(shipment_id), tl.notifications(shipment_id)
    except TradelaneError as err:
        fail(err)
    if as_json:
        console.print_json(data={"timeline": timeline, "notifications": notices})
    else:
        print_timeline(timeline, notices)


@app.command("list")
def list_(api: ApiUrl = None, key: ApiKeyOpt = None, status: str | None = None, stage: str | None = None,
          destination: str | None = None, exception: Annotated[str | None, typer.Option(
              help="Only shipments with this open exception (stalled, late, customs_hold, ...).")] = None,
          limit: int = 50) -> None:
    """List shipments, newest first, filtered by status, stage, destination country or open exception."""
    try:
        with api_client(api, key) as tl:
            rows = tl.list_shipments(status=status, stage=stage, destination=destination, exception=exception,
                                     limit=limit)
    except TradelaneError as err:
        fail(err)
    shipments = table_of("shipment", "lane", "stage", "status", "carrier", "mode", "ETA", "exceptions", "waiting for",
                         title="shipments")
    for r in rows:
        shipments.add_row(r["shipment_id"], f"{r['origin_country']}->{r['destination_country']}", r["stage"],
                          r["status"], r["carrier"] or "-", r["mode"] or "-", r.get("eta_expected") or "-",
                          ", ".join(r.get("open_exceptions", [])) or "-", ", ".join(r["pending_gates"]) or "-")
    print_table(console, shipments)


def _decide(shipment_id: str, gate: str, decision: str, actor: str, comment: str, api: str,
            key: str | None) -> None:
    try:
        with api_client(api, key, role="ops") as tl:
            result = tl.decide(shipment_id, gate, decision, actor, comment)
    except TradelaneError as err:
        fail(err)
    verdict = {"approve": "approved", "reject": "rejected"}[result["decision"]]
    console.print(f"{shipment_id}: gate {result['kind']} {verdict} by {result['actor']}")


@app.command()
def approve(shipment_id: str, gate: Gate, actor: Actor, comment: Comment = "", api: ApiUrl = None,
            key: ApiKeyOpt = None) -> None:
    """Approve a pending gate."""
    _decide(shipment_id, gate, "approve", actor, comment, api, key)


@app.command()
def reject(shipment_id: str, gate: Gate, actor: Actor, comment: Comment = "", api: ApiUrl = None,
           key: ApiKeyOpt = None) -> None:
    """Reject a pending gate: the shipment's completed steps are undone."""
    _decide(shipment_id, gate, "reject", actor, comment, api, key)


@app.command()
def cancel(shipment_id: str, actor: Actor, reason: Annotated[str, typer.Option()] = "",
           api: ApiUrl = None, key: ApiKeyOpt = None) -> None:
    """Cancel a shipment: its completed steps are undone in reverse order."""
    try:
        with api_client(api, key, role="ops") as tl:
            result = tl.cancel(shipment_id, actor, reason)
    except TradelaneError as err:
        fail(err)
    console.print(f"{shipment_id}: {result['message']}")


def service_settings() -> "Settings":
    """Settings of a service command, with logging configured from them; a refused value ends the command with one
    line naming its variable."""
    from infra.platform.logging import configure_logging
    from infra.platform.startup import ended_by_startup_errors, load_settings

    with ended_by_startup_errors():
        settings = load_settings()
    configure_logging(settings.log_format, settings.log_level)
    return settings


def refuse_taken_ports(settings: "Settings", *settings_names: str) -> None:
    """End a service command in one line when a port it would listen on is taken: the ports of the settings named,
    or all of Tradelane's (`tradelane up`)."""
    from infra.platform.startup import check_ports_free, ended_by_startup_errors, tradelane_port_uses

    uses = tradelane_port_uses(settings)
    with ended_by_startup_errors():
        check_ports_free([use for use in uses if not settings_names or use.setting in settings_names])


@app.command()
def api() -> None:
    """Run the HTTP API against TRADELANE_TEMPORAL_ADDRESS and TRADELANE_DATABASE_URL."""
    import uvicorn

    from starter.api import create_app

    settings = service_settings()
    refuse_taken_ports(settings, "TRADELANE_API_PORT")
    # X-Forwarded-For is believed only from TRADELANE_TRUSTED_PROXIES (starter/ratelimit.py), not from uvicorn's list.
    uvicorn.run(create_app(settings), host=settings.api_host, port=settings.api_port, log_config=None,
                proxy_headers=False)
