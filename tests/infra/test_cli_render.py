"""How the CLI and `make demo` lay out tables, on a console that is not a terminal (a pipe, a log file), as a user
of `make demo | tee` reads them (issue 19, point 9)."""

import io
import re

from rich.console import Console

from devstack import demo
from starter.cli_render import clip, live_display, print_table, table_of, when

DEMO_STATE = {
    "status": "compensated", "stage": "customs", "carrier": "dhl_express",
    "plan": {"plan_id": "air_express:dhl_express"}, "emissions_kg_co2e": 13.6,
    "landed_cost": {"total": "154.27", "currency": "EUR"}, "eta": {"expected": "2026-12-09"},
    "exceptions": [{"kind": "carrier_exception"}, {"kind": "late"}],
    "failure": "clearpath RESTRICTED_GOODS: goods restricted at destination by the customs authority of Germany",
    "compensation": [{"action": "carrier.void_label"}, {"action": "carrier.cancel_booking"}],
    "transitions": [{"note": "customs rejected the filing: RESTRICTED_GOODS goods restricted at destination"}],
}


def piped_console(width: int) -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, width=width, force_terminal=False, color_system=None), out


def demo_shipments() -> list[demo.DemoShipment]:
    shipments = []
    for shipment_id, title in (("SHP-DEMO-EMBARGO-1207004328", "embargoed destination"),
                               ("SHP-2026-000123-1207004328", "basic-cn-de")):
        s = demo.DemoShipment(title=title, body={"shipment_id": shipment_id, "origin": {"country": "CN"},
                                                 "destination": {"country": "DE"}}, expected="compensated")
        s.state = dict(DEMO_STATE)
        shipments.append(s)
    return shipments


def test_the_next_title_after_the_demos_live_table_starts_its_own_line():
    console, out = piped_console(120)
    shipments = demo_shipments()
    with live_display(demo.progress_table(shipments), console) as live:
        live.update(demo.progress_table(shipments))
    console.print(demo.summary_table(shipments))
    lines = out.getvalue().splitlines()
    title = next(i for i, line in enumerate(lines) if "Summary" in line)
    assert lines[title].strip() == "Summary", out.getvalue()  # was the live table's last line, then the title


# The summary of a real `make demo` run (2026-12-07): its words' widths are more than 160 columns together.
DEMO_RUN = [
    ("SHP-2026-000207-1207010503", "high-value-us-jp", "air_express:dhl_express", "6148.20 USD", [], None, []),
    ("SHP-2026-000311-1207010503", "lithium-powerbank-cn-us", "air_express:ups", "348.93 USD", [], None, []),
    ("SHP-DEMO-BACKUP-1207010503", "carrier refuses: backup plan", "air_express:dhl_express", "160.96 EUR", [], None,
     []),
    ("SHP-DEMO-EMBARGO-1207010503", "embargoed destination", "air_express:ups", "100.77 EUR", [],
     "destination.country: IR is under a comprehensive embargo (OFAC ITSR, 31 CFR 560)", []),
    ("SHP-DEMO-LATE-1207010503", "missed connection: late", "air_express:dhl_express", "6148.20 USD",
     ["carrier_exception", "late"], None, []),
    ("SHP-DEMO-FAIL-1207010503", "customs rejects", "air_express:ups", "154.27 EUR", [],
     "PartnerRejected: clearpath file: HTTP 422 RESTRICTED_GOODS goods restricted at destination",
     ["carrier.void_label", "carrier.cancel_booking"]),
]


def test_summary_cells_break_between_words_and_ids_stay_whole():
    shipments = []
    for shipment_id, title, plan, cost, exceptions, failure, undo in DEMO_RUN:
        s = demo.DemoShipment(title=title, body={"shipment_id": shipment_id}, expected="delivered")
        total, currency = cost.split()
        s.state = {"status": "delivered", "plan": {"plan_id": plan}, "emissions_kg_co2e": 13.6,
                   "landed_cost": {"total": total, "currency": currency}, "eta": {"expected": "2026-12-10"},
                   "exceptions": [{"kind": k} for k in exceptions], "failure": failure,
                   "compensation": [{"action": a} for a in undo]}
        shipments.append(s)
    console, out = piped_console(160)
    console.print(demo.summary_table(shipments))
    text = out.getvalue()
    assert max(len(line) for line in text.splitlines()) <= 160
    for shipment_id, *_ in DEMO_RUN:
        assert shipment_id in text, text
    # Where a token is wider than its column it breaks after its punctuation, into parts that read whole; a word is
    # never cut ('air_express:dhl_expre' / 'ss' before).
    for part in ("air_express:", "dhl_express", "lithium-powerbank-", "carrier_exception,", "RESTRICTED_GOODS",
                 "comprehensive", "carrier.", "cancel_booking", "void_label,", "PartnerRejected:"):
        assert part in text, f"{part!r} broken or cut:\n{text}"
    # The failure is shortened at a word, never inside one.
    assert re.search(r"\b(HTTP|422|RESTRICTED_GOODS|comprehensive|embargo)\s+…", text), text


def test_ids_stay_whole_at_80_columns_and_the_table_fits():
    console, out = piped_console(80)
    t = table_of("shipment", "lane", "stage", "status", "carrier", "mode", "ETA", "exceptions", "waiting for",
                 title="shipments")
    t.add_row("SHP-DEMO-EMBARGO-1207004328", "CN->DE", "last_mile", "compensated", "dhl_express", "air_express",
              "2026-12-09", "carrier_exception, late", "high_value")
    print_table(console, t)
    text = out.getvalue()
    assert "SHP-DEMO-EMBARGO-1207004328" in text and "…" not in text, text
    assert max(len(line) for line in text.splitlines()) <= 80


def test_an_empty_table_is_one_line_saying_none():
    console, out = piped_console(80)
    print_table(console, table_of("suggestion", "SKU", title="Replenishment suggestions"))
    assert out.getvalue() == "Replenishment suggestions: none\n"


def test_one_time_format_in_utc():
    assert when("2026-12-07T14:32:05.123456Z") == "2026-12-07 14:32:05 UTC"
    assert when("2026-12-07T15:32:05+01:00") == "2026-12-07 14:32:05 UTC"
    assert when(None) == "-"


def test_clip_shortens_at_a_word():
    assert clip("goods restricted at destination", 20) == "goods restricted …"
    assert clip("short", 20) == "short"


def test_text_from_the_api_is_printed_as_written_not_as_markup(monkeypatch):
    """A failure or gate reason holding square brackets ("[red]", "[1]") is text, not rich markup to apply."""
    from starter import cli

    console, out = piped_console(120)
    monkeypatch.setattr(cli, "console", console)
    cli.print_shipment({"shipment_id": "SHP-1", "stage": "customs", "status": "on_hold", "transitions": [],
                        "failure": "items[1]: [bold]not[/bold] allowed",
                        "pending_approvals": [{"kind": "compliance", "reason": "[red]screening[/red] hit"}]})
    assert "items[1]: [bold]not[/bold] allowed" in out.getvalue()
    assert "[red]screening[/red] hit" in out.getvalue()
    assert "transitions: none" in out.getvalue()
