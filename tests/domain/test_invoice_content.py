"""Issue 19, point 4: the commercial invoice's freight is the booked plan's, and the invoice carries the named place,
the seller's numbers the landed cost relies on, a signature line, one rendering of absent values, and the seller
and buyer blocks side by side from the same line."""

import io
import re
from decimal import Decimal

import pytest
from pypdf import PdfReader

from tests.domain.test_pdf import request, text
from tradelane.decisions.assess import assess
from tradelane.decisions.documents import SellerProfile, booked_charges, commercial_invoice, registrations
from tradelane.decisions.models import Money
from tradelane.decisions.pdf import commercial_invoice_pdf, money
from tradelane.rules import default_book

BOOK = default_book()


def test_invoice_freight_is_the_landed_costs_freight_of_the_chosen_plan():
    shipment = request("lithium-powerbank-cn-us.json")
    decided = assess(shipment, BOOK)
    charges = booked_charges(decided)
    assert charges is not None and decided.plan is not None and decided.landed_cost is not None
    last_mile = decided.last_mile.chosen
    assert last_mile is not None
    # The landed cost's freight is the plan's cost plus the last mile; the invoice shows that very figure.
    assert charges.freight == Money(amount=decided.landed_cost.freight, currency="USD")
    assert charges.freight.amount > decided.plan.cost.amount
    assert charges.freight_note.startswith(f"plan {decided.plan.plan_id} {decided.plan.cost.amount:,.2f} + last "
                                           f"mile {last_mile.partner} ")
    invoice = commercial_invoice(shipment, charges=charges)
    assert invoice.charges[0].amount == decided.landed_cost.freight
    shown = text(commercial_invoice_pdf(shipment, charges=charges))
    assert f"{charges.freight_note}) {money(decided.landed_cost.freight)}" in shown


def test_after_a_backup_switch_the_backup_plans_cost_replaces_the_first_and_the_last_mile_stays():
    decided = assess(request("lithium-powerbank-cn-us.json"), BOOK)
    assert decided.plan is not None and decided.landed_cost is not None and decided.alternatives
    backup = next(p for p in decided.alternatives if p.plan_id != decided.plan.plan_id)
    charges = booked_charges(decided, backup)
    assert charges is not None
    last_mile = decided.landed_cost.freight - decided.plan.cost.amount
    assert charges.freight.amount == backup.cost.amount + last_mile
    assert charges.freight_note.startswith(f"plan {backup.plan_id} ")


def test_no_plan_no_freight_figure():
    decided = assess(request("basic-cn-de.json"), BOOK).model_copy(update={"plan": None, "landed_cost": None})
    assert booked_charges(decided) is None


@pytest.mark.parametrize("name, expected", [
    ("basic-cn-de.json", "Terms of delivery DDP Berlin, Germany (Incoterms 2020)"),
    ("lithium-powerbank-cn-us.json", "Terms of delivery DAP New York, United States (Incoterms 2020)"),
], ids=["ddp", "dap"])
def test_terms_of_delivery_name_the_place_of_destination(name, expected):
    assert expected in text(commercial_invoice_pdf(request(name)))


@pytest.mark.parametrize("name, profile, expected", [
    # EUR 57.30 into Germany, DDP: VAT collected at sale through IOSS, the seller imports into the EU.
    ("basic-cn-de.json", SellerProfile(ioss_number="IM2760000001"),
     [("ioss", "IM2760000001"), ("eori", None)]),
    # Japan, DDP: the seller pays the import consumption tax; Japan has no EORI.
    ("high-value-us-jp.json", SellerProfile(vat_number="T1234567890123", eori_number="unused"),
     [("vat", "T1234567890123")]),
    # DAP into the US under the de minimis: nothing of the seller's is relied on.
    ("lithium-powerbank-cn-us.json", SellerProfile(vat_number="unused"), []),
], ids=["ioss-and-eori-into-de", "vat-into-jp", "nothing-into-us"])
def test_registrations_the_landed_cost_relies_on(name, profile, expected):
    shipment = request(name)
    landed = assess(shipment, BOOK).landed_cost
    assert landed is not None
    found = registrations(shipment, landed, profile, BOOK)
    assert [(r.kind, r.number) for r in found] == expected
    shown = text(commercial_invoice_pdf(shipment, seller_registrations=found))
    for registration in found:
        number = registration.number or "missing: add it to the merchant profile"
        assert f"{registration.label} (seller) {number} ({registration.reason})" in shown


def test_invoice_ends_with_the_exporters_declaration_and_a_line_to_sign_it():
    shown = text(commercial_invoice_pdf(request("high-value-us-jp.json")))
    declaration = shown[shown.index("Exporter's declaration"):]
    assert "The exporter declares that the information on this invoice is true and correct" in declaration
    assert re.search(r"Name\s+Date\s+Signature", declaration)


def test_absent_values_read_the_same_everywhere():
    shown = text(commercial_invoice_pdf(request("high-value-us-jp.json")))
    assert "Commission None" in shown and "Rebates, drawbacks, bounties None" in shown
    assert re.findall(r"\bnone\b", shown) == []


def _first_line_heights(document: bytes, first: str, second: str) -> tuple[float, float]:
    heights: dict[str, float] = {}

    def visit(line: str, cm: object, tm: list[float], font: object, size: object) -> None:
        heights.setdefault(line.strip(), tm[5])

    PdfReader(io.BytesIO(document)).pages[0].extract_text(visitor_text=visit)
    return heights[first], heights[second]


@pytest.mark.parametrize("name", ["high-value-us-jp.json", "basic-cn-de.json"])
def test_seller_and_buyer_blocks_start_on_the_same_line(name):
    shipment = request(name)
    seller = shipment.origin.company or shipment.origin.name
    buyer = shipment.destination.company or shipment.destination.name
    seller_y, buyer_y = _first_line_heights(commercial_invoice_pdf(shipment), seller, buyer)
    assert seller_y == pytest.approx(buyer_y, abs=0.5)


def test_profile_display_name_heads_the_seller_block():
    shipment = request("high-value-us-jp.json")
    profile = SellerProfile(display_name="Northwind")
    assert commercial_invoice(shipment, profile=profile).seller_trading_name == "Northwind"
    shown = text(commercial_invoice_pdf(shipment, profile=profile))
    assert "Seller (exporter) Buyer (consignee) Northwind Northwind Electronics Inc." in shown
    same = SellerProfile(display_name=shipment.origin.company)
    assert commercial_invoice(shipment, profile=same).seller_trading_name is None


def test_charges_given_by_amount_still_work():
    invoice = commercial_invoice(request("high-value-us-jp.json"),
                                 freight=Money(amount=Decimal("120.5"), currency="USD"))
    assert (invoice.charges[0].amount, invoice.charges[0].note) == (Decimal("120.50"), "")
