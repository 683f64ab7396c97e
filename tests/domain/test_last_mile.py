"""Last-mile partner and method choice from the sample rate card."""

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.domain.test_marking import build
from tradelane.decisions.last_mile import choose_last_mile
from tradelane.enums import DeliveryMethod
from tradelane.partners import EU, PARTNERS
from tradelane.rules import DATA_DIR, RuleBook, RuleDataError, RuleStatus
from tradelane.rules.schemas.last_mile import LastMileRow

BOOK = RuleBook()


def request(country: str, method: str | None = None, ship_date: str = "2026-12-01"):
    return build("basic-cn-de.json", {"destination.country": country, "delivery_method": method,
                                      "ship_date": ship_date})


# ---- rule data ----


def test_every_option_row_loads_with_a_source_in_one_currency():
    table = BOOK.table(LastMileRow)
    assert len(table) == 17
    assert all(len(row.source) >= 3 and row.status is RuleStatus.SAMPLE for row in table)
    assert {row.cost.currency for row in table} == {"EUR"}
    raw = yaml.safe_load((DATA_DIR / "last_mile_options.yaml").read_text())
    assert raw["defaults"]["source"]


def test_rate_card_covers_the_partner_directory():
    table = BOOK.table(LastMileRow)
    served = {p: {c for row in table if row.partner == p for c in row.countries}
              for p in ("parcelnow", "roadie", "doorstep")}
    assert served["parcelnow"] == EU | {"GB", "CH", "NO"}
    assert served["roadie"] == {"US"}
    assert served["doorstep"] == {"US", "CA", "JP", "AU", "NZ", "SG", "KR", "MX", "BR", "GB", "CH"}
    for partner, countries in served.items():
        assert countries == PARTNERS[partner].serves
    methods = {p: {row.method for row in table if row.partner == p} for p in served}
    assert methods == {"parcelnow": set(DeliveryMethod), "roadie": {DeliveryMethod.HOME},
                       "doorstep": {DeliveryMethod.HOME, DeliveryMethod.PICKUP_POINT}}


# ---- choices from the packaged rate card ----


@pytest.mark.parametrize(("country", "method", "partner", "chosen_method", "cost", "sla", "alternatives"), [
    ("DE", None, "parcelnow", "home", "6.90", 2, 2),
    ("DE", "locker", "parcelnow", "locker", "3.80", 3, 2),
    ("FR", "pickup_point", "parcelnow", "pickup_point", "4.20", 3, 2),
    ("GB", None, "doorstep", "home", "8.90", 2, 4),
    ("GB", "pickup_point", "parcelnow", "pickup_point", "6.40", 4, 4),
    ("CH", "locker", "parcelnow", "locker", "5.90", 4, 4),
    ("NO", "home", "parcelnow", "home", "9.50", 3, 2),
    ("US", "locker", "roadie", "home", "8.40", 1, 2),
    ("US", None, "roadie", "home", "8.40", 1, 2),
    ("US", "pickup_point", "doorstep", "pickup_point", "5.60", 4, 2),
    ("JP", "pickup_point", "doorstep", "pickup_point", "5.10", 3, 1),
    ("BR", None, "doorstep", "home", "11.50", 6, 1),
], ids=["eu-home-by-default", "eu-locker", "eu-pickup-point", "gb-home-doorstep-cheaper",
        "gb-pickup-parcelnow-cheaper", "ch-locker-only-parcelnow", "norway-home",
        "us-locker-not-offered-falls-back-to-home", "us-home-roadie-same-day", "us-pickup-point-doorstep",
        "jp-pickup-point", "brazil-home"])
def test_choice(country, method, partner, chosen_method, cost, sla, alternatives):
    choice = choose_last_mile(request(country, method), BOOK)
    assert choice.chosen is not None
    assert (choice.chosen.partner, choice.chosen.method, choice.chosen.cost.amount, choice.chosen.sla_days) == (
        partner, DeliveryMethod(chosen_method), Decimal(cost), sla)
    assert choice.chosen.cost.currency == "EUR"
    assert len(choice.alternatives) == alternatives
    assert "[sample]" in choice.chosen.source


def test_gb_home_explains_the_runner_up_and_the_currency():
    choice = choose_last_mile(request("GB"), BOOK)
    assert choice.reasons == [
        "delivery_method not given: home delivery, the default",
        "Chose doorstep home (8.90 EUR, 2 days) in GB (Tradelane sample last-mile rate card (illustrative) [sample])",
        "Beats parcelnow home (9.50 EUR, 3 days): cheaper by 0.60 EUR",
        "Costs compared in EUR: the last-mile rate card prices every offer in EUR",
    ]
    # Same-method offers first, then the other methods, each best first.
    assert [(a.partner, a.method.value) for a in choice.alternatives] == [
        ("parcelnow", "home"), ("parcelnow", "locker"), ("parcelnow", "pickup_point"), ("doorstep", "pickup_point")]


def test_us_home_goes_to_roadie_for_its_speed_at_doorsteps_price():
    choice = choose_last_mile(request("US"), BOOK)
    assert "Beats doorstep home (8.40 EUR, 3 days): same price, 2 day(s) faster" in choice.reasons


def test_unoffered_method_falls_back_to_home_and_says_so():
    choice = choose_last_mile(request("US", "locker"), BOOK)
    assert "delivery_method: no partner offers locker in US on 2026-12-01; falling back to home delivery" in (
        choice.reasons)


@pytest.mark.parametrize(("country", "ship_date"), [("AR", "2026-12-01"), ("DE", "2019-12-31")],
                         ids=["no-partner-serves-argentina", "rate-card-not-in-force-before-2020"])
def test_no_partner(country, ship_date):
    choice = choose_last_mile(request(country, ship_date=ship_date), BOOK)
    assert choice.chosen is None and choice.alternatives == []
    assert choice.reasons == [f"destination.country: no last-mile partner serves {country} on {ship_date}"]


# ---- ranking rules on small tables ----


def _book(directory: Path, rows: list[dict[str, Any]]) -> RuleBook:
    defaults = {"source": "test card", "status": "sample", "valid_from": "2020-01-01", "valid_to": None}
    document = {"table": "last_mile_options", "defaults": defaults, "rules": rows}
    (directory / "last_mile_options.yaml").write_text(yaml.safe_dump(document))
    return RuleBook(directory)


def _row(partner: str, method: str, amount: str, sla: int, currency: str = "EUR", **more: Any) -> dict[str, Any]:
    return {"partner": partner, "method": method, "countries": ["DE"], "cost": {"amount": amount,
            "currency": currency}, "sla_days": sla, **more}


@pytest.mark.parametrize(("rows", "method", "chosen", "why"), [
    ([_row("zeta", "home", "5.00", 3), _row("alpha", "home", "5.01", 1)], None, "zeta",
     "Beats alpha home (5.01 EUR, 1 days): cheaper by 0.01 EUR"),
    ([_row("zeta", "home", "5.00", 2), _row("alpha", "home", "5.00", 3)], None, "zeta",
     "Beats alpha home (5.00 EUR, 3 days): same price, 1 day(s) faster"),
    ([_row("zeta", "home", "5.00", 2), _row("alpha", "home", "5.00", 2)], None, "alpha",
     "Beats zeta home (5.00 EUR, 2 days): same price and SLA: partner name breaks the tie"),
    ([_row("zeta", "locker", "1.00", 1), _row("alpha", "home", "9.00", 5)], None, "alpha", None),
    ([_row("zeta", "locker", "1.00", 1), _row("alpha", "home", "9.00", 5)], "locker", "zeta", None),
    ([_row("zeta", "locker", "2.00", 1), _row("alpha", "pickup_point", "3.00", 1)], "home", "zeta",
     "delivery_method: no partner offers home in DE on 2026-12-01; nor home delivery: choosing among all methods"),
    ([_row("zeta", "home", "1.00", 1, valid_to="2026-12-01"), _row("alpha", "home", "9.00", 5)], None, "alpha",
     None),
], ids=["cost-first", "sla-breaks-cost-tie", "partner-name-breaks-full-tie", "requested-method-before-cost",
        "requested-locker", "no-home-either-choose-among-all", "expired-offer-ignored"])
def test_ranking(tmp_path, rows, method, chosen, why):
    choice = choose_last_mile(request("DE", method), _book(tmp_path, rows))
    assert choice.chosen is not None and choice.chosen.partner == chosen
    if why is not None:
        assert why in choice.reasons


def test_mixed_currencies_are_refused(tmp_path):
    book = _book(tmp_path, [_row("zeta", "home", "5.00", 3), _row("alpha", "home", "5.00", 3, currency="USD")])
    with pytest.raises(RuleDataError, match="one currency .* EUR, USD"):
        choose_last_mile(request("DE"), book)


def test_overlapping_offers_are_refused(tmp_path):
    book = _book(tmp_path, [_row("zeta", "home", "5.00", 3), _row("zeta", "home", "4.00", 3, valid_from="2025-01-01")])
    with pytest.raises(RuleDataError, match=r"rows for DE \('zeta', <DeliveryMethod.HOME: 'home'>\) overlap"):
        choose_last_mile(request("DE"), book)


def test_negative_price_is_refused(tmp_path):
    with pytest.raises(RuleDataError, match="negative"):
        choose_last_mile(request("DE"), _book(tmp_path, [_row("zeta", "home", "-1.00", 3)]))


# ---- properties ----

COUNTRIES = sorted(EU | {"GB", "CH", "NO", "US", "CA", "JP", "AU", "NZ", "SG", "KR", "MX", "BR", "AR", "ZA"})


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(COUNTRIES), st.sampled_from([None, *DeliveryMethod]))
def test_choice_is_the_best_offer_in_the_method_it_settles_on(country, method):
    choice = choose_last_mile(request(country, method), BOOK)
    offers = [row for row in BOOK.table(LastMileRow) if country in row.countries]
    if not offers:
        assert choice.chosen is None
        return
    chosen = choice.chosen
    assert chosen is not None and 1 + len(choice.alternatives) == len(offers)
    wanted = DeliveryMethod(method) if method else DeliveryMethod.HOME
    if any(row.method is wanted for row in offers):
        assert chosen.method is wanted
    same = [chosen] + [a for a in choice.alternatives if a.method is chosen.method]
    keys = [(o.cost.amount, o.sla_days, o.partner) for o in same]
    assert keys == sorted(keys)
    assert choice.alternatives[:len(same) - 1] == same[1:]


# ---- speed ----
