"""Landed cost: de minimis, duties, import taxes, insurance, fees and who pays, with hand-computed figures."""

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support import in_country, load_example
from tradelane.decisions.fx import FxUnavailable
from tradelane.decisions.landed_cost import landed_cost, regimes_for
from tradelane.decisions.models import CostLine, LandedCost, Money
from tradelane.models import ShipmentRequest
from tradelane.rules import TABLES, RuleStatus, default_book
from tradelane.rules.schemas.landed_cost import DutyRate, Fee, ImportRegime, InsuranceRate, Measure

BOOK = default_book()
D = Decimal


def shipment(dest: str, items: list[tuple[str, int, str]], *, origin: str = "CN", currency: str = "USD",
             incoterm: str = "DAP", ship_date: str = "2026-12-01", insured: bool = False,
             weight_kg: float = 2.0, unit_weight_kg: float = 0.5, item_origin: str = "CN") -> ShipmentRequest:
    """A request from the basic example with the destination, goods and terms a case needs; `item_origin` is every
    item's country of origin (US cases use VN, so China-only measures stay out of the general rules' figures)."""
    body: dict[str, Any] = load_example("basic-cn-de.json", "T-landed-cost")
    body.update(currency=currency, incoterm=incoterm, ship_date=ship_date)
    body["origin"] = in_country(body["origin"], origin)
    body["destination"] = in_country(body["destination"], dest)
    body["parcels"] = [{**body["parcels"][0], "weight_kg": weight_kg}]
    body["items"] = [
        {"sku": f"SKU-{i}", "description": "goods", "hs_code": hs, "quantity": qty, "unit_value": value,
         "origin_country": item_origin, "unit_weight_kg": unit_weight_kg}
        for i, (hs, qty, value) in enumerate(items)
    ]
    if insured:
        body["insurance"] = {"requested": True}
    return ShipmentRequest.model_validate(body)


def money(amount: str, currency: str) -> Money:
    return Money(amount=D(amount), currency=currency)


# (id, request, freight, expected duties / taxes / fees / buyer_pays / total), every figure computed by hand.
CASES = [
    # US: de minimis suspended for all countries from 2025-08-29 (EO 14324); FOB customs value.
    ("us-de-minimis-suspended-2025-08-29",  # 5.3% x 5.00 = 0.265 + Vietnam's reciprocal 20% = 1.00; brokerage 12
     shipment("US", [("392690", 1, "5.00")], item_origin="VN", ship_date="2025-08-29"), money("10", "USD"),
     dict(duties="1.27", taxes="0.00", fees="12.00", buyer_pays="13.27", total="28.27")),
    ("us-de-minimis-800-usd-5-parcel-2025-08-28",
     shipment("US", [("392690", 1, "5.00")], item_origin="VN", ship_date="2025-08-28"), money("10", "USD"),
     dict(duties="0.00", taxes="0.00", fees="0.00", buyer_pays="0.00", total="15.00")),
    ("us-de-minimis-800-at-the-limit-2025-08-28",
     shipment("US", [("392690", 1, "800.00")], item_origin="VN", ship_date="2025-08-28"), money("10", "USD"),
     dict(duties="0.00", taxes="0.00", fees="0.00", buyer_pays="0.00", total="810.00")),
    ("us-de-minimis-above-800-2025-08-28",  # 5.3% x 800.01 = 42.40 + Vietnam's reciprocal 20% = 160.00
     shipment("US", [("392690", 1, "800.01")], item_origin="VN", ship_date="2025-08-28"), money("10", "USD"),
     dict(duties="202.40", taxes="0.00", fees="12.00", buyer_pays="214.40", total="1024.41")),
    ("us-de-minimis-compares-converted-value-eur-780",  # EUR 780 x 1.0389 = USD 810.34 > 800; 5.3% x 780 = 41.34
     shipment("US", [("392690", 1, "780.00")], item_origin="VN", currency="EUR", ship_date="2025-08-28"),
     money("10", "EUR"),  # + Vietnam's reciprocal 20% x 780 = 156.00; brokerage USD 12 / 1.0389
     dict(duties="197.34", taxes="0.00", fees="11.55", buyer_pays="208.89", total="998.89")),
    ("us-de-minimis-compares-converted-value-eur-770",  # EUR 770 x 1.0389 = USD 799.95 <= 800
     shipment("US", [("392690", 1, "770.00")], item_origin="VN", currency="EUR", ship_date="2025-08-28"),
     money("10", "EUR"),
     dict(duties="0.00", taxes="0.00", fees="0.00", buyer_pays="0.00", total="780.00")),
    ("us-section-122-surcharge-10pct-2026-03-01",  # 5.3% + 10% of 100
     shipment("US", [("392690", 1, "100.00")], item_origin="VN", ship_date="2026-03-01"), money("10", "USD"),
     dict(duties="15.30", taxes="0.00", fees="12.00", buyer_pays="27.30", total="137.30")),
    ("us-section-122-ended-2026-07-24",
     shipment("US", [("392690", 1, "100.00")], item_origin="VN", ship_date="2026-07-24"), money("10", "USD"),
     dict(duties="5.30", taxes="0.00", fees="12.00", buyer_pays="17.30", total="127.30")),
    # EU: CIF customs value; IOSS VAT at sale <= EUR 150; flat EUR 3 per distinct subheading from 2026-07-01.
    ("eu-flat-3-eur-per-subheading-2026-07-01",  # 2 subheadings; VAT 19% x (62.30 + 10 + 6) = 14.88 at sale
     shipment("DE", [("392690", 3, "12.50"), ("854442", 2, "9.90"), ("39269097", 1, "5.00")], currency="EUR",
              ship_date="2026-07-01"), money("10", "EUR"),
     dict(duties="6.00", taxes="14.88", fees="10.00", buyer_pays="16.00", total="103.18")),
    ("eu-under-150-no-duty-before-2026-07-01",  # VAT 19% x 72.30 = 13.74 at sale
     shipment("DE", [("392690", 3, "12.50"), ("854442", 2, "9.90"), ("39269097", 1, "5.00")], currency="EUR",
              ship_date="2026-06-30"), money("10", "EUR"),
     dict(duties="0.00", taxes="13.74", fees="0.00", buyer_pays="0.00", total="86.04")),
    ("eu-over-150-duty-and-import-vat-ddp",  # duty 6.5% x 220 = 14.30; VAT 20% x 234.30 = 46.86; fees 10 + min 9
     shipment("FR", [("392690", 10, "20.00")], currency="EUR", incoterm="DDP"), money("20", "EUR"),
     dict(duties="14.30", taxes="46.86", fees="19.00", buyer_pays="0.00", total="300.16")),
    ("eu-intra-eu-no-import-charges",
     shipment("DE", [("392690", 10, "20.00")], origin="FR", currency="EUR"), money("10", "EUR"),
     dict(duties="0.00", taxes="0.00", fees="0.00", buyer_pays="0.00", total="210.00")),
    # UK: duty relief up to GBP 135, VAT 20% collected at sale.
    ("uk-under-135-no-duty-vat-at-sale",  # VAT 20% x 88 = 17.60, seller
     shipment("GB", [("610910", 2, "40.00")], currency="GBP"), money("8", "GBP"),
     dict(duties="0.00", taxes="17.60", fees="0.00", buyer_pays="0.00", total="105.60")),
    ("uk-over-135-duty-and-import-vat",  # duty 12% x 210 = 25.20; VAT 20% x 235.20 = 47.04; brokerage GBP 9
     shipment("GB", [("610910", 5, "40.00")], currency="GBP"), money("10", "GBP"),
     dict(duties="25.20", taxes="47.04", fees="9.00", buyer_pays="81.24", total="291.24")),
    # Canada: CUSMA courier thresholds by ship-from country (CBSA CN20-18); FOB.
    ("ca-cusma-courier-under-40",
     shipment("CA", [("610910", 1, "35.00")], origin="US", currency="CAD"), money("15", "CAD"),
     dict(duties="0.00", taxes="0.00", fees="0.00", buyer_pays="0.00", total="50.00")),
    ("ca-cusma-courier-40-150",  # duty free, GST 5% x 100
     shipment("CA", [("610910", 1, "100.00")], origin="US", currency="CAD"), money("15", "CAD"),
     dict(duties="0.00", taxes="5.00", fees="10.00", buyer_pays="15.00", total="130.00")),
    ("ca-cusma-courier-over-150-from-mx",  # duty 18% x 200 = 36; GST 5% x 236 = 11.80
     shipment("CA", [("610910", 1, "200.00")], origin="MX", currency="CAD"), money("15", "CAD"),
     dict(duties="36.00", taxes="11.80", fees="10.00", buyer_pays="57.80", total="272.80")),
    ("ca-other-origins-over-20",  # duty 18% x 30 = 5.40; GST 5% x 35.40 = 1.77
     shipment("CA", [("610910", 1, "30.00")], origin="CN", currency="CAD"), money("15", "CAD"),
     dict(duties="5.40", taxes="1.77", fees="10.00", buyer_pays="17.17", total="62.17")),
    # Australia: AUD 1000 border threshold; GST collected at sale below it since 2018-07-01.
    ("au-under-1000-gst-at-sale",  # GST 10% x (500 + 50) = 55, seller
     shipment("AU", [("691200", 1, "500.00")], currency="AUD"), money("50", "AUD"),
     dict(duties="0.00", taxes="55.00", fees="0.00", buyer_pays="0.00", total="605.00")),
    ("au-over-1000-duty-fob-gst-at-import",  # duty 5% x 2000 = 100; GST 10% x (2000 + 100 + 100) = 220
     shipment("AU", [("691200", 1, "2000.00")], currency="AUD"), money("100", "AUD"),
     dict(duties="100.00", taxes="220.00", fees="25.00", buyer_pays="345.00", total="2445.00")),
    # Japan: <= JPY 10,000 exempt from duty and consumption tax; 0 decimals.
    ("jp-cif-at-10000-jpy-exempt",  # goods 9000 + freight 1000: CIF exactly JPY 10,000
     shipment("JP", [("610910", 1, "9000")], currency="JPY"), money("1000", "JPY"),
     dict(duties="0", taxes="0", fees="0", buyer_pays="0", total="10000")),
    ("jp-cif-above-10000-jpy-goods-below-pays",  # CIF 10500 > 10000: 10.9% x 10500 = 1145; 10% x 11644.5 = 1164
     shipment("JP", [("610910", 1, "9000")], currency="JPY"), money("1500", "JPY"),
     dict(duties="1145", taxes="1164", fees="2000", buyer_pays="4309", total="14809")),
    ("jp-over-10000-jpy-duty-and-consumption-tax",  # 10.9% x 22000 = 2398; 10% x 24398 = 2440; JPY 2000
     shipment("JP", [("610910", 1, "20000")], currency="JPY"), money("2000", "JPY"),
     dict(duties="2398", taxes="2440", fees="2000", buyer_pays="6838", total="28838")),
    # China cross-border e-commerce: duty 0%, VAT at 70% within RMB 5,000.
    ("cn-cbec-within-5000-vat-at-70pct",  # 13% x 70% x 1100 = 100.10; brokerage USD 15 x 8.26 / 1.175 = 105.45
     shipment("CN", [("330499", 1, "1000.00")], origin="US", currency="CNY"), money("100", "CNY"),
     dict(duties="0.00", taxes="100.10", fees="105.45", buyer_pays="205.55", total="1305.55")),
    # Singapore: GST 9% at checkout <= SGD 400.
    ("sg-under-400-gst-at-sale",  # 9% x 320
     shipment("SG", [("950300", 1, "300.00")], currency="SGD"), money("20", "SGD"),
     dict(duties="0.00", taxes="28.80", fees="0.00", buyer_pays="0.00", total="348.80")),
    # Brazil: Remessa Conforme (DDP, collected at checkout) vs non-member (DAP); thresholds on the CIF value; ICMS
    # 17% "por dentro" (inside its own base): ICMS = (CIF + duty) / 0.83 x 17%.
    ("br-remessa-conforme-cif-at-50",  # CIF 50: 20% x 50 = 10; ICMS 60 / 0.83 x 17% = 12.29; fees 15 + min 10
     shipment("BR", [("950300", 1, "40.00")], incoterm="DDP"), money("10", "USD"),
     dict(duties="10.00", taxes="12.29", fees="25.00", buyer_pays="0.00", total="97.29")),
    ("br-remessa-conforme-cif-above-50-goods-below",  # CIF 55 > 50: 60% x 55 - 20 = 13; ICMS 68 / 0.83 x 17%
     shipment("BR", [("950300", 1, "45.00")], incoterm="DDP"), money("10", "USD"),
     dict(duties="13.00", taxes="13.93", fees="25.00", buyer_pays="0.00", total="106.93")),
    ("br-remessa-conforme-over-50",  # 60% x 120 - 20 = 52; ICMS 172 / 0.83 x 17% = 35.23
     shipment("BR", [("950300", 1, "100.00")], incoterm="DDP"), money("20", "USD"),
     dict(duties="52.00", taxes="35.23", fees="25.00", buyer_pays="0.00", total="232.23")),
    ("br-non-member-60pct",  # 60% x 120 = 72; ICMS 192 / 0.83 x 17% = 39.33
     shipment("BR", [("950300", 1, "100.00")], incoterm="DAP"), money("20", "USD"),
     dict(duties="72.00", taxes="39.33", fees="15.00", buyer_pays="126.33", total="246.33")),
    # Mexico courier regime from 2025-08-15: global rates covering duty and VAT.
    ("mx-courier-non-agreement-33.5",  # 33.5% x 120 = 40.20
     shipment("MX", [("610910", 1, "100.00")], origin="CN"), money("20", "USD"),
     dict(duties="40.20", taxes="0.00", fees="15.00", buyer_pays="55.20", total="175.20")),
    ("mx-courier-us-under-50-exempt",
     shipment("MX", [("610910", 1, "40.00")], origin="US"), money("10", "USD"),
     dict(duties="0.00", taxes="0.00", fees="0.00", buyer_pays="0.00", total="50.00")),
    ("mx-courier-us-50-117-at-17",  # 17% x 110 = 18.70
     shipment("MX", [("610910", 1, "100.00")], origin="US"), money("10", "USD"),
     dict(duties="18.70", taxes="0.00", fees="15.00", buyer_pays="33.70", total="143.70")),
    ("mx-courier-us-over-117-at-19",  # 19% x 210 = 39.90
     shipment("MX", [("610910", 1, "200.00")], origin="US"), money("10", "USD"),
     dict(duties="39.90", taxes="0.00", fees="15.00", buyer_pays="54.90", total="264.90")),
    # India: no de minimis for purchases.
    ("in-no-de-minimis",  # 70% x 150 = 105; IGST 18% x 255 = 45.90; USD 15 x 105.5 / 1.175 = 1346.81
     shipment("IN", [("950300", 1, "100.00")], currency="INR"), money("50", "INR"),
     dict(duties="105.00", taxes="45.90", fees="1346.81", buyer_pays="1497.71", total="1647.71")),
    # Switzerland: import tax <= CHF 5 not collected; duties by gross weight.
    ("ch-import-vat-5-chf-or-less-not-collected",  # 8.1% x 55 = 4.46 <= 5
     shipment("CH", [("610910", 1, "50.00")], origin="DE", currency="CHF"), money("5", "CHF"),
     dict(duties="0.00", taxes="0.00", fees="0.00", buyer_pays="0.00", total="55.00")),
    ("ch-import-vat-8.1",  # 8.1% x 110 = 8.91; USD 15 x 0.931 / 1.175 = 11.89
     shipment("CH", [("610910", 1, "100.00")], origin="DE", currency="CHF"), money("10", "CHF"),
     dict(duties="0.00", taxes="8.91", fees="11.89", buyer_pays="20.80", total="130.80")),
    # Stale default: industrial tariffs abolished 2024-01-01, so the default row no longer charges by weight.
    ("ch-duty-by-gross-weight-2023-12-31",  # CHF 30 per 100 kg x 2 kg = 0.60; 7.7% x 110.60 = 8.52; fee USD 15 =
     shipment("CH", [("420221", 1, "100.00")], origin="DE", currency="CHF", weight_kg=2.0,  # 15 x 0.9868 / 1.0666
              ship_date="2023-12-31"), money("10", "CHF"),
     dict(duties="0.60", taxes="8.52", fees="13.88", buyer_pays="23.00", total="133.00")),
    ("ch-industrial-goods-duty-free-2024-01-01",  # 8.1% x 110 = 8.91; fee 15 x 0.9305 / 1.0956 = 12.74
     shipment("CH", [("420221", 1, "100.00")], origin="DE", currency="CHF", weight_kg=2.0,
              ship_date="2024-01-01"), money("10", "CHF"),
     dict(duties="0.00", taxes="8.91", fees="12.74", buyer_pays="21.65", total="131.65")),
    ("ch-agricultural-chapter-keeps-duty-by-weight",  # HS 1806: CHF 30 per 100 kg x 2 kg = 0.60; 8.1% x 110.60
     shipment("CH", [("180690", 1, "100.00")], origin="DE", currency="CHF", weight_kg=2.0), money("10", "CHF"),
     dict(duties="0.60", taxes="8.96", fees="11.89", buyer_pays="21.45", total="131.45")),
]


@pytest.mark.parametrize(("request_", "freight", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_landed_cost_by_regime(request_, freight, expected):
    cost = landed_cost(request_, freight, BOOK)
    got = {key: getattr(cost, key) for key in expected}
    assert got == {key: D(value) for key, value in expected.items()}, cost.reasons
    assert_invariants(cost, request_.incoterm.value)


def test_usd_5_parcel_pays_duty_from_2025_08_29_and_none_the_day_before():
    after = landed_cost(shipment("US", [("392690", 1, "5.00")], item_origin="VN", ship_date="2025-08-29"),
                        money("0", "USD"), BOOK)
    before = landed_cost(shipment("US", [("392690", 1, "5.00")], item_origin="VN", ship_date="2025-08-28"),
                         money("0", "USD"), BOOK)
    assert after.duties == D("1.27") and before.duties == D("0.00")  # 5.3% + Vietnam's reciprocal 20%
    assert "every import pays duty" in " ".join(after.reasons)
    assert "goods USD 5.00 <= USD 800: within the USD 800 de minimis: no duty" in " ".join(before.reasons)


def test_eu_reasons_name_the_threshold_and_the_subheadings():
    request = shipment("DE", [("392690", 3, "12.50"), ("854442", 2, "9.90")], currency="EUR", incoterm="DDP")
    cost = landed_cost(request, money("10", "EUR"), BOOK)
    reasons = " | ".join(cost.reasons)
    assert "goods EUR 57.30 <= EUR 150: flat EUR 3 per distinct tariff subheading" in reasons
    assert "EUR 3 x 2 subheadings (392690, 854442)" in reasons
    vat = next(line for line in cost.lines if line.component == "tax")
    assert vat.payer == "seller" and "collected at sale by the seller (IOSS)" in vat.label
    assert vat.source == "European Commission, VAT rates applied in the Member States (TEDB)"


def test_at_sale_tax_is_the_sellers_under_dap_while_duty_is_the_buyers():
    cost = landed_cost(shipment("DE", [("392690", 2, "20.00")], currency="EUR", incoterm="DAP"),
                       money("5", "EUR"), BOOK)
    payers = {line.component: line.payer for line in cost.lines}
    assert payers == {"freight": "seller", "duty": "buyer", "tax": "seller", "fee": "buyer"}


def test_unknown_heading_uses_the_default_rate_and_says_so():
    cost = landed_cost(shipment("US", [("420221", 1, "100.00")], item_origin="VN"), money("0", "USD"), BOOK)
    assert cost.duties == D("5.00")
    duty = next(line for line in cost.lines if line.component == "duty")
    assert duty.label == "duty 5% on HS 4202 (US default rate)"
    assert any("HS 4202 has no US rate in duty_rates" in r for r in cost.reasons)


def test_customs_value_basis_is_stated():
    us = landed_cost(shipment("US", [("392690", 1, "100.00")], item_origin="VN"), money("10", "USD"), BOOK)
    de = landed_cost(shipment("DE", [("392690", 1, "200.00")], currency="EUR"), money("10", "EUR"), BOOK)
    assert "customs value for US: goods value (FOB) = USD 100.00" in us.reasons
    assert "customs value for DE: goods + freight + insurance (CIF) = EUR 210.00" in de.reasons


# ---- insurance ----


def test_insurance_not_requested_is_zero_with_a_reason():
    cost = landed_cost(shipment("US", [("392690", 1, "100.00")], item_origin="VN"), money("10", "USD"), BOOK)
    assert cost.insurance == D("0.00") and "insurance not requested" in cost.reasons
    assert not [line for line in cost.lines if line.component == "insurance"]


@pytest.mark.parametrize(("goods", "freight", "loading", "premium"), [
    ("10000.00", "500", "0", "34.65"),  # 0.3% x 110% x 10500
    ("10000.00", "500", "0.2", "57.75"),  # (0.3 + 0.2)% x 11550
    ("100.00", "10", "0", "5.00"),  # 0.3% x 121 = 0.36, below the USD 5 minimum premium
], ids=["insurance-110pct-cif-0.3pct", "insurance-risk-loading-adds-points", "insurance-minimum-premium"])
def test_insurance_premium(goods, freight, loading, premium):
    request = shipment("US", [("392690", 1, goods)], item_origin="VN", insured=True)
    cost = landed_cost(request, money(freight, "USD"), BOOK, insurance_loading_pct=D(loading))
    assert cost.insurance == D(premium)
    line = next(line for line in cost.lines if line.component == "insurance")
    assert line.payer == "seller" and "110% CIF" in line.label and line.source.endswith("[verify]")


def test_insurance_enters_the_cif_customs_value():
    # premium 0.3% x 110% x 2200 = 7.26; CIF 2207.26; duty 6.5% = 143.47; VAT 19% x 2350.73 = 446.64;
    # fees: EUR 10 + 2% x 590.11 = 11.80 (above the EUR 9 minimum).
    request = shipment("DE", [("392690", 100, "20.00")], currency="EUR", incoterm="DDP", insured=True)
    cost = landed_cost(request, money("200", "EUR"), BOOK)
    assert (cost.insurance, cost.duties, cost.taxes, cost.fees, cost.total) == (
        D("7.26"), D("143.47"), D("446.64"), D("21.80"), D("2819.17"))


# ---- fees, freight currency, errors ----


def test_partner_fees_are_added_and_carried_by_the_seller_under_ddp():
    extra = [CostLine(component="fee", label="remote area surcharge (roadlink)", amount=D("7.50"), payer="buyer",
                      source="quote q-1")]
    dap = landed_cost(shipment("US", [("392690", 1, "100.00")], item_origin="VN"), money("10", "USD"), BOOK,
                      partner_fees=extra)
    ddp = landed_cost(shipment("US", [("392690", 1, "100.00")], item_origin="VN", incoterm="DDP"), money("10", "USD"),
                      BOOK, partner_fees=extra)
    assert dap.fees == D("19.50") and dap.buyer_pays == D("5.30") + D("19.50")
    assert ddp.buyer_pays == D("0.00")
    assert ddp.lines[-1].label == "remote area surcharge (roadlink)" and ddp.lines[-1].payer == "seller"


@pytest.mark.parametrize(("fee", "message"), [
    (CostLine(component="fee", label="x", amount=D("-1"), payer="buyer"), r"partner_fees\[0\].amount: -1"),
    (CostLine(component="tip", label="x", amount=D("1"), payer="buyer"), r"partner_fees\[0\].component: 'tip'"),
    (CostLine(component="fee", label="x", amount=D("1"), payer="carrier"), r"partner_fees\[0\].payer: 'carrier'"),
], ids=["negative", "unknown-component", "unknown-payer"])
def test_bad_partner_fees_name_the_field(fee, message):
    with pytest.raises(ValueError, match=message):
        landed_cost(shipment("US", [("392690", 1, "100.00")], item_origin="VN"), money("10", "USD"), BOOK,
                    partner_fees=[fee])


def test_negative_freight_is_refused():
    with pytest.raises(ValueError, match="freight.amount: -1 is negative"):
        landed_cost(shipment("US", [("392690", 1, "1.00")], item_origin="VN"), money("-1", "USD"), BOOK)


def test_freight_in_another_currency_is_converted_on_the_ship_date():
    cost = landed_cost(shipment("US", [("392690", 1, "100.00")], item_origin="VN"), money("117.50", "EUR"), BOOK)
    assert cost.freight == D("138.06")  # 117.50 x 1.1750
    assert cost.fx == ["1 EUR = 1.1750 USD (ECB euro reference rates (illustrative sample figures) [sample], "
                       "2026-01-01)"]


def test_no_rate_on_the_ship_date_raises_fx_unavailable():
    with pytest.raises(FxUnavailable, match="no reference rate for USD on 2022-12-31"):
        landed_cost(shipment("DE", [("392690", 1, "1.00")], currency="EUR", ship_date="2022-12-31"),
                    money("1", "USD"), BOOK)


# ---- the four example shipments ----


def example_cost(name: str, freight: Money, **kw: Any) -> tuple[ShipmentRequest, LandedCost]:
    request = ShipmentRequest.model_validate(load_example(name))
    return request, landed_cost(request, freight, BOOK, **kw)


def test_example_basic_cn_de_pays_the_flat_eu_duty_and_ioss_vat():
    # 2 subheadings x EUR 3 = 6; VAT 19% x (57.30 + 10 + 6) = 13.93 at sale; fees EUR 10 + min 9 (DDP).
    _, cost = example_cost("basic-cn-de.json", money("10", "EUR"))
    assert (cost.duties, cost.taxes, cost.fees, cost.buyer_pays, cost.total) == (
        D("6.00"), D("13.93"), D("19.00"), D("0.00"), D("106.23"))


def test_example_high_value_us_jp_is_insured_and_pays_consumption_tax():
    # insurance 0.3% x 110% x 5597 = 18.47; CIF 5615.47; duty 0% (HS 8471); tax 10% = 561.55.
    _, cost = example_cost("high-value-us-jp.json", money("200", "USD"))
    assert (cost.insurance, cost.duties, cost.taxes) == (D("18.47"), D("0.00"), D("561.55"))
    assert cost.buyer_pays == D("0.00") and cost.seller_pays == cost.total - cost.goods_value


def test_example_lithium_powerbank_cn_us_pays_duty_on_the_fob_value():
    # 3.4% x 240 = 8.16, plus Section 301 on lithium-ion batteries of China origin, 25% x 240 = 60 (from 2026-01-01).
    _, cost = example_cost("lithium-powerbank-cn-us.json", money("95", "USD"))
    assert (cost.duties, cost.taxes, cost.fees) == (D("68.16"), D("0.00"), D("12.00"))
    assert cost.buyer_pays == D("80.16") and cost.seller_pays == D("95.00")


def test_example_pallet_cn_au_is_above_the_border_threshold():
    # duty 5% x 3270 (FOB) = 163.50; GST 10% x (3270 + 2000 + 163.50) = 543.35; brokerage AUD 25.
    _, cost = example_cost("pallet-cn-au.json", money("2000", "AUD"))
    assert (cost.duties, cost.taxes, cost.fees, cost.buyer_pays) == (
        D("163.50"), D("543.35"), D("25.00"), D("731.85"))
    assert [line.label for line in cost.lines if line.component == "duty"] == [
        "duty 5% on HS 6912 (AU MFN)", "duty 5% on HS 7013 (AU MFN)"]


# ---- invariants ----


def assert_invariants(cost: LandedCost, incoterm: str) -> None:
    parts = cost.goods_value + cost.freight + cost.insurance + cost.duties + cost.taxes + cost.fees
    assert cost.total == parts
    assert cost.seller_pays + cost.buyer_pays == cost.total - cost.goods_value
    assert all(line.amount >= 0 for line in cost.lines)
    assert all(line.payer in ("seller", "buyer") for line in cost.lines)
    if incoterm == "DDP":
        assert cost.buyer_pays == 0


DESTINATIONS = ["US", "DE", "FR", "IT", "ES", "NL", "AT", "GB", "CA", "AU", "JP", "CN", "SG", "BR", "MX", "IN", "CH",
                "NZ", "NO", "IS", "LI", "KR", "MY", "SA", "AE", "CL", "TR", "ZA", "EE", "FI", "KE"]
HS = ["392690", "854442", "847130", "850760", "691200", "701337", "610910", "640399", "950300", "330499",
      "420221"]
CURRENCIES = ["USD", "EUR", "GBP", "CNY", "JPY", "AUD", "CAD", "CHF", "SGD", "BRL", "MXN", "INR", "KRW", "NZD"]


@settings(max_examples=300, deadline=None)
@given(dest=st.sampled_from(DESTINATIONS), origin=st.sampled_from(["CN", "US", "MX", "CA", "DE", "GB"]),
       currency=st.sampled_from(CURRENCIES), incoterm=st.sampled_from(["DAP", "DDP"]),
       on=st.dates(min_value=date(2025, 1, 1), max_value=date(2028, 12, 31)),
       items=st.lists(st.tuples(st.sampled_from(HS), st.integers(1, 20),
                                st.decimals(min_value=0, max_value=3000, places=2)), min_size=1, max_size=4),
       freight=st.decimals(min_value=0, max_value=2000, places=2), freight_currency=st.sampled_from(CURRENCIES),
       insured=st.booleans(), loading=st.decimals(min_value=0, max_value=2, places=2),
       partner_fee=st.one_of(st.none(), st.decimals(min_value=0, max_value=100, places=2)))
def test_landed_cost_invariants(dest, origin, currency, incoterm, on, items, freight, freight_currency, insured,
                                loading, partner_fee):
    request = shipment(dest, [(hs, qty, str(value)) for hs, qty, value in items], origin=origin, currency=currency,
                       incoterm=incoterm, ship_date=on.isoformat(), insured=insured)
    fees = None if partner_fee is None else [
        CostLine(component="fee", label="partner surcharge", amount=partner_fee, payer="buyer")]
    cost = landed_cost(request, Money(amount=freight, currency=freight_currency), BOOK,
                       insurance_loading_pct=loading, partner_fees=fees)
    assert_invariants(cost, incoterm)
    exponent = -2 if currency not in ("JPY", "KRW") else 0
    assert all(line.amount.as_tuple().exponent == exponent for line in cost.lines)


# ---- the tables ----


@pytest.mark.parametrize("model", [ImportRegime, DutyRate, InsuranceRate, Fee], ids=lambda m: m.table_name)
def test_every_row_loads_and_cites_a_source(model):
    table = BOOK.table(model)
    assert TABLES[model.table_name] is model and len(table) > 0
    assert all(len(row.source.strip()) >= 3 and row.cite().startswith(row.source) for row in table)


def test_duty_rates_cover_the_required_headings_and_a_default_per_schedule():
    table = BOOK.table(DutyRate)
    on = date(2026, 12, 1)
    for schedule in ["US", "EU", "GB", "JP", "AU", "CA", "CN", "CH", "SG", "BR", "MX", "IN"]:
        for heading in ["3926", "8544", "8471", "8507", "6912", "7013", "6109", "6403", "9503", "3304", "*"]:
            assert table.first(on, schedule=schedule, heading=heading) is not None, (schedule, heading)
    # Sample rates, but for the Swiss default from 2024-01-01, which states the abolition of industrial tariffs.
    assert [(row.schedule, row.heading) for row in table if row.status is not RuleStatus.SAMPLE] == [("CH", "*")]


@pytest.mark.parametrize("country", ["US", "DE", "FR", "IT", "ES", "NL", "GB", "CA", "AU", "JP", "CN", "SG", "BR",
                                     "MX", "IN", "CH"])
def test_each_destination_has_one_duty_and_one_tax_row_for_any_shipment(country):
    # The most specific row wins; two rows of equal specificity for the same shipment would be ambiguous.
    for on in ["2025-06-01", "2025-09-01", "2026-03-01", "2026-12-01", "2028-08-01"]:
        for origin in ["CN", "US", "MX", "CA"]:
            for incoterm in ["DAP", "DDP"]:
                request = shipment(country, [("392690", 1, "10.00")], origin=origin, incoterm=incoterm,
                                   ship_date=on)
                for measure in (Measure.DUTY, Measure.TAX):
                    rows = regimes_for(request, country, measure, BOOK)
                    assert rows, (country, measure, on, origin, incoterm)
                    assert len(rows) == 1 or rows[0].specificity > rows[1].specificity, [r.name for r in rows]


def test_eu_vat_rows_cite_the_commission_and_are_sourced():
    on = date(2026, 12, 1)
    members = {"DE", "FR", "IT", "ES", "NL"}
    rates = {row.countries[0]: (row.rate_pct, row.status) for row in BOOK.table(ImportRegime).where(
        on, measure=Measure.TAX) if row.countries[0] in members}
    assert rates == {"DE": (D("19"), RuleStatus.SOURCED), "FR": (D("20"), RuleStatus.SOURCED),
                     "IT": (D("22"), RuleStatus.SOURCED), "ES": (D("21"), RuleStatus.SOURCED),
                     "NL": (D("21"), RuleStatus.SOURCED)}


@pytest.mark.parametrize(("bands", "message"), [
    ([{"method": "exempt", "label": "open"}, {"up_to": "5", "method": "tariff", "label": "closed"}],
     "only the last band is open"),
    ([{"up_to": "10", "method": "exempt", "label": "ten"}, {"up_to": "5", "method": "exempt", "label": "five"},
      {"method": "tariff", "label": "rest"}], "up_to must increase"),
    ([{"method": "import", "label": "tax as duty"}], r"bands\[0\]\.method: import is not a duty method"),
    ([{"up_to": "150", "method": "per_subheading", "label": "no amount"}, {"method": "tariff", "label": "rest"}],
     r"bands\[0\]\.amount: per_subheading needs an amount"),
], ids=["open-band-in-the-middle", "thresholds-not-increasing", "tax-method-on-a-duty-row", "flat-without-amount"])
def test_malformed_regime_rows_are_refused(bands, message):
    with pytest.raises(ValueError, match=message):
        ImportRegime(name="XX test", countries=["XX"], measure=Measure.DUTY, currency="USD", source="test",
                     valid_from=date(2026, 1, 1), bands=bands)
