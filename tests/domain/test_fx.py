"""Currency conversion at the dated reference rates: ship-date selection, cross rates, explanations, errors."""

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tradelane.decisions.fx import FxUnavailable, convert, rate_row
from tradelane.rules import RuleBook, RuleStatus, default_book
from tradelane.rules.schemas.fx import FxRate

CURRENCIES = ["EUR", "USD", "GBP", "CNY", "JPY", "AUD", "CAD", "CHF", "SGD", "BRL", "MXN", "INR", "KRW", "NZD", "NOK",
              "MYR", "ISK", "CLP", "SAR", "AED", "ZAR"]
BOOK = default_book()


def test_every_fx_row_loads_with_a_source_and_sample_status():
    table = BOOK.table(FxRate)
    assert len(table) == 84  # four yearly sets (2023 to 2026) of 21 currencies
    assert all(row.source.strip() and row.status is RuleStatus.SAMPLE for row in table)


@pytest.mark.parametrize("on", [date(2023, 1, 1), date(2024, 12, 31), date(2025, 6, 30), date(2026, 11, 2)],
                         ids=["set-2023", "set-2024", "set-2025", "set-2026"])
def test_both_rate_sets_cover_every_currency(on):
    assert sorted(row.currency for row in BOOK.table(FxRate).in_force(on)) == sorted(CURRENCIES)


@pytest.mark.parametrize(("amount", "source", "target", "on", "expected", "explanation"), [
    ("100", "USD", "EUR", date(2026, 1, 1), "85.1063829787",
     "1 USD = 0.8511 EUR (ECB euro reference rates (illustrative sample figures) [sample], 2026-01-01)"),
    ("100", "USD", "EUR", date(2025, 12, 31), "96.2556550197",
     "1 USD = 0.9626 EUR (ECB euro reference rates (illustrative sample figures) [sample], 2025-01-01)"),
    ("10", "GBP", "JPY", date(2026, 3, 1), "2095.0200343446",
     "1 GBP = 209.5020 JPY (ECB euro reference rates (illustrative sample figures) [sample], 2026-01-01)"),
    ("1000", "KRW", "USD", date(2025, 3, 1), "0.6780667689",
     "1 KRW = 0.0006781 USD (ECB euro reference rates (illustrative sample figures) [sample], 2025-01-01)"),
], ids=["usd-eur-2026-set-from-2026-01-01", "usd-eur-2025-set-until-2025-12-31", "gbp-jpy-cross-rate-via-eur",
        "krw-usd-small-rate-4-significant-digits"])
def test_convert_uses_the_rate_set_of_the_ship_date(amount, source, target, on, expected, explanation):
    converted, how = convert(Decimal(amount), source, target, on, BOOK)
    assert converted.quantize(Decimal("1e-10")) == Decimal(expected)  # unrounded: more digits than any currency
    assert how == explanation


def test_same_currency_is_not_converted():
    assert convert(Decimal("12.34"), "usd", "USD", date(2026, 1, 1), BOOK) == (
        Decimal("12.34"), "no conversion: already in USD")


@pytest.mark.parametrize(("currency", "on"), [("XAU", date(2026, 1, 1)), ("USD", date(2022, 12, 31))],
                         ids=["unknown-currency", "before-the-first-rate-set"])
def test_missing_rate_names_currency_and_date(currency, on):
    with pytest.raises(FxUnavailable, match=f"no reference rate for {currency} on {on}"):
        convert(Decimal("1"), currency, "EUR", on, BOOK)
    assert issubclass(FxUnavailable, ValueError)


def test_a_book_on_another_directory_uses_its_own_rates(tmp_path):
    (tmp_path / "fx_rates.yaml").write_text(
        "table: fx_rates\nrules:\n"
        "  - {currency: EUR, per_eur: '1', valid_from: 2026-01-01, valid_to: null, source: 'test rates', "
        "status: sample}\n"
        "  - {currency: USD, per_eur: '2', valid_from: 2026-01-01, valid_to: null, source: 'test rates', "
        "status: sample}\n")
    book = RuleBook(tmp_path)
    assert convert(Decimal("10"), "USD", "EUR", date(2026, 5, 1), book)[0] == Decimal("5")
    assert rate_row("USD", date(2026, 5, 1), book).per_eur == Decimal("2")


@given(st.decimals(min_value=0, max_value=10_000_000, places=2), st.sampled_from(CURRENCIES),
       st.sampled_from(CURRENCIES), st.dates(min_value=date(2025, 1, 1), max_value=date(2027, 12, 31)))
def test_round_trip_returns_the_amount(amount, source, target, on):
    there, _ = convert(amount, source, target, on, BOOK)
    back, _ = convert(there, target, source, on, BOOK)
    assert there >= 0
    assert abs(back - amount) <= Decimal("1e-18") * max(amount, Decimal(1))
