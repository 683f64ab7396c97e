"""Value basis (issue 21, point 2): each market measures its thresholds on its own value (the goods' intrinsic value,
FOB or CIF) and computes its taxes on its own base (on top of CIF + duty, or inside its own base); worked examples
from each authority's rule, the day of and the value at each threshold."""

from decimal import Decimal

import pytest

from tests.domain.test_landed_cost import money, shipment
from tradelane.decisions.landed_cost import landed_cost
from tradelane.rules import default_book

BOOK = default_book()
D = Decimal


def test_eu_ioss_threshold_is_the_intrinsic_value_without_transport():
    """EU: the EUR 150 of IOSS and of the duty relief is the *intrinsic value* (Delegated Regulation (EU) 2015/2446
    art. 1(48) as amended by 2020/877; Commission "Explanatory Notes on VAT e-commerce rules", 2020, on IOSS): the
    price of the goods without transport and insurance. Goods EUR 145 + freight EUR 10 (CIF 155) stay within it:
    no duty before 2026-07-01, VAT 19% x 155 = 29.45 collected at sale through IOSS. The import VAT base stays
    CIF + duty (VAT Directive 2006/112/EC arts. 85-86)."""
    cost = landed_cost(shipment("DE", [("392690", 1, "145.00")], currency="EUR", ship_date="2026-06-30"),
                       money("10", "EUR"), BOOK)
    assert (cost.duties, cost.taxes, cost.buyer_pays) == (D("0.00"), D("29.45"), D("0.00"))
    assert "EU low-value consignment relief: goods EUR 145.00 <= EUR 150: no customs duty on consignments <= " \
           "EUR 150 before 2026-07-01" in cost.reasons


@pytest.mark.parametrize(("goods", "duties", "taxes", "vat_payer"), [
    ("150.00", "0.00", "30.40", "seller"),  # at the threshold: IOSS, 19% x 160
    ("150.01", "10.40", "32.38", "buyer"),  # above: 6.5% x 160.01 = 10.40; 19% x 170.41 = 32.38 at import
], ids=["eu-intrinsic-value-at-150", "eu-intrinsic-value-above-150"])
def test_eu_ioss_threshold_at_the_exact_limit(goods, duties, taxes, vat_payer):
    cost = landed_cost(shipment("DE", [("392690", 1, goods)], currency="EUR", ship_date="2026-06-30"),
                       money("10", "EUR"), BOOK)
    assert (cost.duties, cost.taxes) == (D(duties), D(taxes))
    assert next(line.payer for line in cost.lines if line.component == "tax") == vat_payer


def test_uk_low_value_threshold_is_the_intrinsic_value():
    """UK: the GBP 135 of the low-value goods rules is the intrinsic value, "excluding transport and insurance"
    (HMRC, "VAT and overseas goods sold directly to customers in the UK", 2021). Goods GBP 135 + freight GBP 20:
    no duty, VAT 20% x 155 = 31 charged at sale by the seller."""
    cost = landed_cost(shipment("GB", [("610910", 1, "135.00")], currency="GBP"), money("20", "GBP"), BOOK)
    assert (cost.duties, cost.taxes, cost.buyer_pays) == (D("0.00"), D("31.00"), D("0.00"))


def test_jp_small_amount_exemption_is_measured_on_the_cif_taxable_value():
    """Japan: goods whose total *taxable value* is JPY 10,000 or less are exempt from duty and consumption tax
    (Customs Tariff Act art. 14(18), Enforcement Order art. 16-3; Japan Customs "Customs Answer" on small-amount
    imports); the taxable value is the CIF value, freight and insurance to the port of import included (Customs
    Tariff Act art. 4). Goods JPY 9,000 + freight JPY 1,500 = JPY 10,500: duty 10.9% x 10,500 = 1,145, consumption
    tax 10% x 11,644.5 = 1,164, although the goods alone are below JPY 10,000."""
    cost = landed_cost(shipment("JP", [("610910", 1, "9000")], currency="JPY"), money("1500", "JPY"), BOOK)
    assert (cost.duties, cost.taxes) == (D("1145"), D("1164"))
    assert "JP small-amount exemption: CIF value JPY 10,500 > JPY 10,000: above JPY 10,000: duty at the HS rate" \
           in cost.reasons


@pytest.mark.parametrize(("goods", "freight", "duties", "taxes"), [
    # (40 + 10) CIF 50, at the threshold: 20% x 50 = 10; ICMS (50 + 10) / 0.83 x 17% = 12.29; total 72.29.
    ("40.00", "10", "10.00", "12.29"),
    # CIF 50.01 > 50: 60% x 50.01 - 20 = 10.01; ICMS (50.01 + 10.01) / 0.83 x 17% = 12.29.
    ("40.01", "10", "10.01", "12.29"),
], ids=["br-remessa-conforme-cif-at-50", "br-remessa-conforme-cif-above-50"])
def test_br_icms_is_computed_inside_its_own_base(goods, freight, duties, taxes):
    """Brazil, Remessa Conforme: import tax 20% up to USD 50 and 60% less USD 20 from USD 50.01 to USD 3,000 on the
    customs value, freight and insurance included (Lei 14.902/2024; Portaria MF 1.086/2024); ICMS 17% (Convênio
    ICMS 81/2023) charged "por dentro", the tax being part of its own base (Lei Complementar 87/1996 art. 13 §1 I):
    ICMS = (customs value + import tax) / (1 - 17%) x 17%. A USD 50 CIF purchase pays 10 + 12.29 and lands at
    USD 72.29, the figure the Fazenda's Remessa Conforme simulations give for USD 50 (recomputed here from the rule:
    the simulation page itself was not at hand)."""
    cost = landed_cost(shipment("BR", [("950300", 1, goods)], incoterm="DDP"), money(freight, "USD"), BOOK)
    assert (cost.duties, cost.taxes) == (D(duties), D(taxes))
    assert any(reason.startswith("ICMS base: (CIF value + duty = ") and "/ (1 - 17%)" in reason
               for reason in cost.reasons), cost.reasons


def test_br_usd_50_purchase_lands_at_72_29():
    cost = landed_cost(shipment("BR", [("950300", 1, "50.00")], incoterm="DDP"), money("0", "USD"), BOOK)
    assert cost.goods_value + cost.duties + cost.taxes == D("72.29")


def test_au_gst_threshold_is_the_customs_value_while_gst_is_on_the_value_of_the_taxable_importation():
    """Australia: the AUD 1,000 low-value threshold is the *customs value* (FOB, Customs Act 1901 s. 159), while GST
    is on the value of the taxable importation (customs value + duty + international transport and insurance, GST
    Act 1999 s. 13-20). Goods AUD 990 + freight AUD 50 (CIF 1,040): GST 10% x 1,040 = 104 at sale by the vendor."""
    cost = landed_cost(shipment("AU", [("691200", 1, "990.00")], currency="AUD"), money("50", "AUD"), BOOK)
    assert (cost.duties, cost.taxes, cost.buyer_pays) == (D("0.00"), D("104.00"), D("0.00"))
