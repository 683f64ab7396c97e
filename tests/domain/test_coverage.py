"""Coverage (issue 21, point 4): the markets the import tables answer, from which ship date, and the explicit
"not covered" finding for a market without rows, never a silent zero."""

from datetime import date, timedelta

import duty27_eu_vat
import pytest

from tests.domain.test_landed_cost import money, shipment
from tradelane.decisions.landed_cost import landed_cost, regimes_for
from tradelane.rules import default_book
from tradelane.rules.schemas.landed_cost import ImportRegime, Measure, Method

BOOK = default_book()

EU27 = ["AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE", "IT", "LV", "LT", "LU",
        "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE"]

COVERED_FROM_2023 = [*EU27, "US", "GB", "CA", "AU", "JP", "CN", "SG", "BR", "MX", "IN", "CH", "LI", "NO", "NZ", "KR",
                     "IS", "MY", "SA", "AE", "CL", "TR", "ZA"]
"""Markets with a duty and a tax row on every ship date from 2023-01-01."""


def _vat_rows(country: str, on: date) -> list[ImportRegime]:
    return [row for row in BOOK.table(ImportRegime).where(on, measure=Measure.TAX) if country in row.countries]


def _days() -> list[date]:
    """The first of every month from 2023-01 to 2026-12, and the day before and the day of every EU rate change."""
    days = [date(year, month, 1) for year in range(2023, 2027) for month in range(1, 13)]
    for country in EU27:
        for change in duty27_eu_vat.get_rate_changes(duty27_eu_vat.normalize_country(country)):
            when = change.date
            if date(2023, 1, 1) <= when <= date(2026, 12, 31):
                days += [when - timedelta(days=1), when]
    return sorted(set(days))


@pytest.mark.parametrize("country", EU27)
def test_eu_vat_rate_of_every_member_state_matches_the_duty27_dataset_on_every_day(country):
    for on in _days():
        rows = _vat_rows(country, on)
        assert len(rows) == 1, (country, on, [r.name for r in rows])
        expected = duty27_eu_vat.get_standard_rate(duty27_eu_vat.normalize_country(country), on)
        assert rows[0].rate_pct == expected, (country, on)


@pytest.mark.parametrize("country", EU27)
def test_eu_ioss_rule_of_every_member_state(country):
    """IOSS (VAT Directive arts. 369l-369x, from 2021-07-01): VAT at sale up to an intrinsic value of EUR 150, at
    import above; no VAT de minimis, so the smallest consignment pays VAT."""
    row = _vat_rows(country, date(2021, 7, 1))[0]
    assert row.threshold_basis is not None and row.threshold_basis.value == "goods"
    assert [(band.up_to, band.method) for band in row.bands] == [(150, Method.AT_SALE), (None, Method.IMPORT)]
    assert _vat_rows(country, date(2021, 6, 30)) == []


@pytest.mark.parametrize(("country", "day_before", "day_of", "before", "after"), [
    ("EE", "2023-12-31", "2024-01-01", "20", "22"),
    ("EE", "2025-06-30", "2025-07-01", "22", "24"),
    ("FI", "2024-08-31", "2024-09-01", "24", "25.5"),
    ("LU", "2022-12-31", "2023-01-01", "17", "16"),
    ("LU", "2023-12-31", "2024-01-01", "16", "17"),
    ("SK", "2024-12-31", "2025-01-01", "20", "23"),
    ("RO", "2025-07-31", "2025-08-01", "19", "21"),
], ids=lambda v: str(v))
def test_eu_vat_rate_changes_the_day_before_and_the_day_of(country, day_before, day_of, before, after):
    request = shipment(country, [("392690", 1, "100.00")], currency="EUR", ship_date=day_before)
    then = landed_cost(request, money("0", "EUR"), BOOK)
    now = landed_cost(request.model_copy(update={"ship_date": date.fromisoformat(day_of)}), money("0", "EUR"), BOOK)
    assert then.lines[-1].label.startswith(f"VAT {before}% ({country})"), then.lines[-1].label
    assert now.lines[-1].label.startswith(f"VAT {after}% ({country})"), now.lines[-1].label


@pytest.mark.parametrize("country", COVERED_FROM_2023)
def test_covered_markets_answer_every_ship_date_from_2023(country):
    for on in ["2023-01-01", "2023-07-31", "2023-08-01", "2024-07-31", "2024-08-01", "2025-06-30", "2026-12-01"]:
        for incoterm in ["DAP", "DDP"]:
            request = shipment(country, [("392690", 1, "10.00")], incoterm=incoterm, ship_date=on)
            for measure in (Measure.DUTY, Measure.TAX):
                assert regimes_for(request, country, measure, BOOK), (country, measure, on, incoterm)


@pytest.mark.parametrize("country", ["KE", "EG", "NG"])
def test_a_market_without_rows_answers_not_covered_never_a_silent_zero(country):
    cost = landed_cost(shipment(country, [("392690", 1, "100.00")]), money("10", "USD"), BOOK)
    assert [(f.code, f.severity.value, f.field) for f in cost.findings] == [
        ("LANDED_COST_NOT_COVERED", "warning", "destination.country")]
    assert cost.findings[0].message == (
        f"destination.country: {country} has no import_regimes duty and tax rows in force on 2026-12-01: its duties "
        "and import taxes are not covered by the rule tables (shown as 0, not known to be 0)")


def test_a_market_with_a_duty_row_but_no_tax_row_names_the_missing_tax():
    cost = landed_cost(shipment("DE", [("392690", 1, "100.00")], currency="EUR", ship_date="2021-06-30"),
                       money("10", "EUR"), BOOK)
    assert [(f.code, f.details["missing"]) for f in cost.findings] == [("LANDED_COST_NOT_COVERED", "tax")]


@pytest.mark.parametrize("country", COVERED_FROM_2023)
def test_a_covered_market_has_no_coverage_finding(country):
    cost = landed_cost(shipment(country, [("392690", 1, "100.00")]), money("10", "USD"), BOOK)
    assert cost.findings == []


def _in_province(province: str, *, origin: str = "CN", ship_date: str = "2026-12-01", value: str = "100.00"):
    request = shipment("CA", [("610910", 1, value)], origin=origin, currency="CAD", ship_date=ship_date)
    return request.model_copy(update={"destination": request.destination.model_copy(update={"region": province})})


# (id, province, ship-from, ship date, expected duties, taxes, tax label). Duty 18% on HS 6109 (CA sample rate).
CANADA = [
    ("ca-hst-ontario-13", "ON", "CN", "2026-12-01", "18.00", "15.34", "import HST 13% (CA)"),  # 13% x 118
    ("ca-hst-ontario-lowercase-region", "on", "CN", "2026-12-01", "18.00", "15.34", "import HST 13% (CA)"),
    ("ca-hst-ontario-by-name", "Ontario", "CN", "2026-12-01", "18.00", "15.34", "import HST 13% (CA)"),
    ("ca-hst-ontario-iso-3166-2", "CA-ON", "CN", "2026-12-01", "18.00", "15.34", "import HST 13% (CA)"),
    ("ca-hst-nova-scotia-by-name-2025-04-01", "nova scotia", "CN", "2025-04-01", "18.00", "16.52",
     "import HST 14% (CA)"),
    ("ca-hst-ontario-cusma-40-150", "ON", "US", "2026-12-01", "0.00", "13.00", "import HST 13% (CA)"),
    ("ca-hst-new-brunswick-15", "NB", "CN", "2026-12-01", "18.00", "17.70", "import HST 15% (CA)"),
    ("ca-hst-nova-scotia-15-2025-03-31", "NS", "CN", "2025-03-31", "18.00", "17.70", "import HST 15% (CA)"),
    ("ca-hst-nova-scotia-14-2025-04-01", "NS", "CN", "2025-04-01", "18.00", "16.52", "import HST 14% (CA)"),
    ("ca-gst-alberta-5", "AB", "CN", "2026-12-01", "18.00", "5.90", "import GST 5% (CA)"),
    ("ca-gst-no-province-5", None, "CN", "2026-12-01", "18.00", "5.90", "import GST 5% (CA)"),
]


@pytest.mark.parametrize(("province", "origin", "ship_date", "duties", "taxes", "label"), [c[1:] for c in CANADA],
                         ids=[c[0] for c in CANADA])
def test_canada_hst_by_province(province, origin, ship_date, duties, taxes, label):
    cost = landed_cost(_in_province(province, origin=origin, ship_date=ship_date), money("0", "CAD"), BOOK)
    assert (str(cost.duties), str(cost.taxes)) == (duties, taxes)
    assert [line.label for line in cost.lines if line.component == "tax"] == [label]


# (id, province, ship-from, ship date, goods value, expected duties, taxes, [(tax line, payer)]). PST beside GST,
# on value for duty + duty; duty 18% on HS 6109. QST at sale by the registered supplier, on the price.
PROVINCIAL = [
    ("ca-pst-british-columbia-7", "BC", "CN", "2026-12-01", "100.00", "18.00", "14.16",  # 5.90 + 7% x 118
     [("import GST 5% (CA)", "buyer"), ("import PST 7% (CA)", "buyer")]),
    ("ca-rst-manitoba-7", "MB", "CN", "2026-12-01", "100.00", "18.00", "14.16",
     [("import GST 5% (CA)", "buyer"), ("import PST 7% (CA)", "buyer")]),
    ("ca-pst-saskatchewan-6", "SK", "CN", "2026-12-01", "100.00", "18.00", "12.98",  # 5.90 + 6% x 118
     [("import GST 5% (CA)", "buyer"), ("import PST 6% (CA)", "buyer")]),
    ("ca-pst-other-origins-at-20-exempt", "BC", "CN", "2026-12-01", "20.00", "0.00", "0.00", []),
    ("ca-pst-other-origins-above-20", "BC", "CN", "2026-12-01", "20.01", "3.60", "2.83",  # 5%, 7% x 23.61
     [("import GST 5% (CA)", "buyer"), ("import PST 7% (CA)", "buyer")]),
    ("ca-pst-cusma-at-40-exempt", "SK", "US", "2026-12-01", "40.00", "0.00", "0.00", []),
    ("ca-pst-cusma-40-150-duty-free", "SK", "US", "2026-12-01", "100.00", "0.00", "11.00",  # 5% + 6% of 100
     [("import GST 5% (CA)", "buyer"), ("import PST 6% (CA)", "buyer")]),
    ("ca-qst-quebec-at-sale", "QC", "CN", "2026-12-01", "100.00", "18.00", "15.88",  # 5.90 + 9.975% x 100
     [("import GST 5% (CA)", "buyer"),
      ("QST 9.975% (CA), collected at sale by the seller (QST specified supplier): seller pays whatever the "
       "incoterm", "seller")]),
    ("ca-qst-quebec-at-sale-below-20", "QC", "CN", "2026-12-01", "20.00", "0.00", "2.00",
     [("QST 9.975% (CA), collected at sale by the seller (QST specified supplier): seller pays whatever the "
       "incoterm", "seller")]),
]


@pytest.mark.parametrize(("province", "origin", "ship_date", "value", "duties", "taxes", "lines"),
                         [c[1:] for c in PROVINCIAL], ids=[c[0] for c in PROVINCIAL])
def test_canada_provincial_sales_tax_beside_gst(province, origin, ship_date, value, duties, taxes, lines):
    request = _in_province(province, origin=origin, ship_date=ship_date, value=value)
    cost = landed_cost(request, money("0", "CAD"), BOOK)
    assert (str(cost.duties), str(cost.taxes)) == (duties, taxes)
    assert [(line.label, line.payer) for line in cost.lines if line.component == "tax"] == lines


@pytest.mark.parametrize(("ship_date", "charged"), [("2018-12-31", False), ("2019-01-01", True)])
def test_canada_qst_specified_supplier_regime_from_2019_01_01(ship_date, charged):
    rows = regimes_for(_in_province("QC", ship_date=ship_date), "CA", Measure.REGIONAL_TAX, BOOK)
    assert [row.tax_name for row in rows] == (["QST"] if charged else [])


def test_a_regional_tax_row_must_name_its_regions():
    row = next(r for r in BOOK.table(ImportRegime) if r.measure is Measure.REGIONAL_TAX)
    with pytest.raises(ValueError, match="regions: a regional tax names the subdivisions"):
        ImportRegime.model_validate({**row.model_dump(), "regions": None})


# (id, destination, ship-from, currency, goods, freight, expected duties, taxes, who pays the tax)
MARKETS = [
    # Norway, VOEC: VAT 25% at sale on goods under NOK 3,000; at import from NOK 3,000 (duty 0%, sample default).
    ("no-voec-under-3000-at-sale", "NO", "CN", "NOK", "2999.99", "100", "0.00", "775.00", "seller"),
    ("no-voec-3000-at-import", "NO", "CN", "NOK", "3000.00", "100", "0.00", "775.00", "buyer"),
    # New Zealand: GST 15% at sale up to NZD 1,000 (customs value); above, duty 5% (sample) and GST on CIF + duty.
    ("nz-low-value-1000-at-sale", "NZ", "CN", "NZD", "1000.00", "50", "0.00", "157.50", "seller"),
    ("nz-above-1000-at-import", "NZ", "CN", "NZD", "1000.01", "50", "50.00", "165.00", "buyer"),
    # South Korea: USD 150 (USD 200 shipped from the US) duty and VAT free; above, duty 8% (sample) on CIF.
    ("kr-150-exempt", "KR", "CN", "USD", "150.00", "10", "0.00", "0.00", None),
    ("kr-above-150-duty-and-vat", "KR", "CN", "USD", "150.01", "10", "12.80", "17.28", "buyer"),
    ("kr-200-from-us-exempt", "KR", "US", "USD", "200.00", "10", "0.00", "0.00", None),
    ("kr-above-200-from-us", "KR", "US", "USD", "200.01", "10", "16.80", "22.68", "buyer"),
    # Liechtenstein: in the Swiss customs territory; Swiss VAT 8.1%.
    ("li-swiss-vat", "LI", "DE", "CHF", "100.00", "10", "0.00", "8.91", "buyer"),
]


@pytest.mark.parametrize(("dest", "origin", "currency", "goods", "freight", "duties", "taxes", "payer"),
                         [c[1:] for c in MARKETS], ids=[c[0] for c in MARKETS])
def test_added_markets_thresholds_and_taxes(dest, origin, currency, goods, freight, duties, taxes, payer):
    request = shipment(dest, [("610910", 1, goods)], origin=origin, currency=currency)
    cost = landed_cost(request, money(freight, currency), BOOK)
    assert (str(cost.duties), str(cost.taxes)) == (duties, taxes), cost.reasons
    assert [line.payer for line in cost.lines if line.component == "tax"] == ([payer] if payer else [])


# (id, destination, currency, goods, freight, ship date, expected duties, taxes, who pays the tax)
MARKETS_BY_DATE = [
    # Malaysia: MYR 500 free of duty and sales tax; from 2024-01-01 the 10% is charged at sale on low-value goods.
    ("my-500-exempt-2023-12-31", "MY", "MYR", "500.00", "20", "2023-12-31", "0.00", "0.00", None),
    ("my-500-low-value-goods-tax-2024-01-01", "MY", "MYR", "500.00", "20", "2024-01-01", "0.00", "52.00", "seller"),
    ("my-above-500-at-import", "MY", "MYR", "500.01", "20", "2026-12-01", "26.00", "54.60", "buyer"),
    # Saudi Arabia: duty 5% (sample) and VAT 15% on CIF + duty, no de minimis.
    ("sa-vat-15-on-cif-and-duty", "SA", "SAR", "100.00", "10", "2026-12-01", "5.50", "17.33", "buyer"),
    # UAE: no duty up to AED 1,000 (goods value); VAT 5% on every import.
    ("ae-1000-duty-free-vat-5", "AE", "AED", "1000.00", "10", "2026-12-01", "0.00", "50.50", "buyer"),
    ("ae-above-1000-duty-and-vat", "AE", "AED", "1000.01", "10", "2026-12-01", "50.50", "53.03", "buyer"),
    # Chile: USD 41 CIF free of duty and IVA; from 2025-10-25 IVA charged at sale by foreign platforms.
    ("cl-41-exempt-2025-10-24", "CL", "USD", "30.00", "10", "2025-10-24", "0.00", "0.00", None),
    ("cl-iva-at-sale-2025-10-25", "CL", "USD", "30.00", "10", "2025-10-25", "0.00", "7.60", "seller"),
    # Iceland: VAT 24% on every import (duty 0%, sample default).
    ("is-vat-24-every-import", "IS", "ISK", "10000", "1000", "2026-12-01", "0", "2640", "buyer"),
]


@pytest.mark.parametrize(("dest", "currency", "goods", "freight", "ship_date", "duties", "taxes", "payer"),
                         [c[1:] for c in MARKETS_BY_DATE], ids=[c[0] for c in MARKETS_BY_DATE])
def test_added_markets_by_ship_date(dest, currency, goods, freight, ship_date, duties, taxes, payer):
    request = shipment(dest, [("610910", 1, goods)], currency=currency, ship_date=ship_date)
    cost = landed_cost(request, money(freight, currency), BOOK)
    assert (str(cost.duties), str(cost.taxes)) == (duties, taxes), cost.reasons
    assert [line.payer for line in cost.lines if line.component == "tax"] == ([payer] if payer else [])


# (id, ship-from, goods, freight, ship date, expected duties, taxes): Turkey's single fixed tax on postal and express
# goods (duty 10% and KDV on CIF + duty above the limit; sample default duty).
TURKEY = [
    ("tr-150-non-eu-30pct-2024-08-20", "CN", "100.00", "10", "2024-08-20", "33.00", "0.00"),
    ("tr-30-non-eu-60pct-2024-08-21", "CN", "25.00", "4", "2024-08-21", "17.40", "0.00"),
    ("tr-30-from-eu-30pct-2024-08-21", "DE", "25.00", "4", "2024-08-21", "8.70", "0.00"),
    ("tr-30-on-goods-2024-12-26", "CN", "28.00", "4", "2024-12-26", "19.20", "0.00"),
    ("tr-30-includes-transport-2024-12-27", "CN", "28.00", "4", "2024-12-27", "3.20", "7.04"),
    ("tr-fixed-tax-ended-2026-02-06", "CN", "25.00", "4", "2026-02-06", "2.90", "6.38"),
    ("tr-kdv-18-2023-07-09", "CN", "200.00", "10", "2023-07-09", "21.00", "41.58"),
    ("tr-kdv-20-2023-07-10", "CN", "200.00", "10", "2023-07-10", "21.00", "46.20"),
]


@pytest.mark.parametrize(("origin", "goods", "freight", "ship_date", "duties", "taxes"), [c[1:] for c in TURKEY],
                         ids=[c[0] for c in TURKEY])
def test_turkey_single_fixed_tax_by_ship_date(origin, goods, freight, ship_date, duties, taxes):
    request = shipment("TR", [("610910", 1, goods)], origin=origin, currency="EUR", ship_date=ship_date)
    cost = landed_cost(request, money(freight, "EUR"), BOOK)
    assert (str(cost.duties), str(cost.taxes)) == (duties, taxes), cost.reasons


@pytest.mark.parametrize(("goods", "ship_date", "duties", "taxes"), [
    ("500.00", "2024-08-31", "100.00", "0.00"),  # flat 20% of ZAR 500, no VAT
    ("500.00", "2024-09-01", "100.00", "97.50"),  # 15% x (500 + 50 + 100)
    ("1000.00", "2026-12-01", "150.00", "187.50"),  # duty 15% (sample); 15% x (1000 + 100 + 150)
], ids=["za-low-value-relief-2024-08-31", "za-vat-on-every-consignment-2024-09-01", "za-above-500"])
def test_south_africa_vat_on_the_added_tax_value(goods, ship_date, duties, taxes):
    """South Africa: VAT on imports is 15% of the added tax value, "customs value, plus any duty levied on the goods,
    plus 10 per cent of the customs value" (SARS FAQ "How is VAT calculated on imported goods?"; VAT Act s. 13(2));
    consignments of ZAR 500 or less paid a flat 20% in lieu of duty and no VAT until SARS added VAT on 2024-09-01."""
    request = shipment("ZA", [("610910", 1, goods)], currency="ZAR", ship_date=ship_date)
    cost = landed_cost(request, money("50", "ZAR"), BOOK)
    assert (str(cost.duties), str(cost.taxes)) == (duties, taxes), cost.reasons
