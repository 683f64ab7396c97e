"""`quote --local` (issue 21, point 7): it answers every ship date the rule tables cover, the freight rate table
included, and reads its tables from `TRADELANE_RULES_DIR` like the worker and the API."""

import json

import pytest
import yaml

from starter.cli import _local_quote
from tests.support import EXAMPLES
from tradelane.rules import DATA_DIR


def request(name: str, ship_date: str) -> dict:
    body = json.loads((EXAMPLES / name).read_text(encoding="utf-8"))
    return {**body, "ship_date": ship_date}


@pytest.mark.parametrize("ship_date", ["2023-01-01", "2024-06-03", "2025-12-31", "2026-01-01"],
                         ids=["local-quote-2023-01-01-first-covered-day", "local-quote-2024",
                              "local-quote-2025-12-31-day-before-the-spot-rows", "local-quote-2026-01-01"])
@pytest.mark.parametrize("name", ["basic-cn-de.json", "pallet-cn-au.json"])
def test_local_quote_answers_every_ship_date_the_tables_cover(name, ship_date):
    quote, _ = _local_quote(request(name, ship_date))
    assert quote["plan"] is not None, quote.get("rejected_plans")
    assert quote["landed_cost"] is not None and quote["landed_cost"]["total"]


def test_local_quote_reads_the_tables_of_tradelane_rules_dir(tmp_path, monkeypatch):
    rates = yaml.safe_load((DATA_DIR / "freight_rates.yaml").read_text(encoding="utf-8"))
    rates["defaults"]["source"] = "operator override tariff"
    for row in rates["rules"]:
        row.pop("source", None)
    (tmp_path / "freight_rates.yaml").write_text(yaml.safe_dump(rates), encoding="utf-8")
    monkeypatch.setenv("TRADELANE_RULES_DIR", str(tmp_path))
    quote, _ = _local_quote(request("basic-cn-de.json", "2026-12-01"))
    assert all(leg["cost_source"].endswith(": operator override tariff") for leg in quote["plan"]["legs"])
    monkeypatch.delenv("TRADELANE_RULES_DIR")
    packaged, _ = _local_quote(request("basic-cn-de.json", "2026-12-01"))
    assert not any("operator override tariff" in leg["cost_source"] for leg in packaged["plan"]["legs"])


def test_local_quote_to_a_market_without_rows_says_not_covered(monkeypatch):
    import io

    from rich.console import Console

    import starter.cli

    body = request("basic-cn-de.json", "2026-12-01")
    body["destination"] = {**body["destination"], "country": "KE", "postal_code": "00100"}
    quote, _ = _local_quote(body)
    assert [f["code"] for f in quote["landed_cost"]["findings"]] == ["LANDED_COST_NOT_COVERED"]
    out = io.StringIO()
    monkeypatch.setattr(starter.cli, "console", Console(file=out, width=200, force_terminal=False, color_system=None))
    starter.cli.print_quote(quote)
    assert "LANDED_COST_NOT_COVERED: destination.country: KE has no import_regimes duty and tax rows" in out.getvalue()
