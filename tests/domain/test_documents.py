"""Required documents per mode (section 3 of the reference) and the commercial invoice's content (19 CFR 141.86)."""

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from tests.support import load_example
from tradelane.decisions.dangerous_goods import assess_dangerous_goods
from tradelane.decisions.documents import CommercialInvoice, commercial_invoice, required_documents
from tradelane.decisions.models import Money
from tradelane.enums import Mode
from tradelane.models import ShipmentRequest
from tradelane.rules import RuleBook, RuleDataError, RuleStatus, default_book
from tradelane.rules.schemas.documents import DocCondition, DocumentRule

BOOK = default_book()
ALWAYS = ["commercial_invoice", "packing_list"]


def request(name: str = "basic-cn-de.json", **changes: Any) -> ShipmentRequest:
    body = load_example(name)
    body.update(changes)
    return ShipmentRequest.model_validate(body)


def fully_regulated(name: str = "high-value-us-jp.json") -> ShipmentRequest:
    """The laptop example with a 160 Wh battery: fully regulated."""
    body = load_example(name)
    body["items"][0]["dangerous_goods"]["watt_hours"] = 160
    return ShipmentRequest.model_validate(body)


def codes(docs) -> list[str]:
    return [d.code for d in docs]


MODES = {
    "air-express-air-waybill": ([Mode.AIR_EXPRESS], ["air_waybill"]),
    "air-freight-air-waybill": ([Mode.AIR_FREIGHT], ["air_waybill"]),
    "ocean-bill-of-lading": ([Mode.OCEAN], ["bill_of_lading"]),
    "ocean-fcl-bill-of-lading": ([Mode.OCEAN_FCL], ["bill_of_lading"]),
    "ocean-lcl-bill-of-lading": ([Mode.OCEAN_LCL], ["bill_of_lading"]),
    "road-cmr": ([Mode.ROAD], ["cmr"]),
    "rail-cim-smgs-consignment-note": ([Mode.RAIL], ["rail_consignment_note"]),
    "rail-then-road-both-notes": ([Mode.RAIL, Mode.ROAD], ["cmr", "rail_consignment_note"]),
    "road-air-road-one-waybill-one-cmr": ([Mode.ROAD, Mode.AIR_FREIGHT, Mode.ROAD], ["air_waybill", "cmr"]),
    "no-plan-yet-invoice-and-packing-list-only": ([], []),
}


@pytest.mark.parametrize("case", MODES.values(), ids=MODES.keys())
def test_transport_document_per_mode(case):
    modes, transport = case
    docs = required_documents(request(), modes, BOOK)
    assert codes(docs) == ALWAYS + transport


@pytest.mark.parametrize(("mode", "convention"), [
    (Mode.AIR_EXPRESS, "Montreal Convention 1999"),
    (Mode.OCEAN_LCL, "Hague-Visby Rules"),
    (Mode.ROAD, "CMR, Geneva 1956"),
    (Mode.RAIL, "COTIF 1999 Appendix B (CIM)"),
], ids=["air-waybill-montreal-convention", "bill-of-lading-hague-visby", "cmr-convention", "cim-smgs"])
def test_transport_documents_cite_their_convention(mode, convention):
    # Issue 21 audit: the transport documents were "general" citing the reference; each is its convention's.
    [document] = [d for d in required_documents(request(), [mode], BOOK) if d.code not in ALWAYS]
    assert convention in document.source and not document.source.endswith("]")


def test_transport_document_reasons_name_the_leg_mode():
    docs = required_documents(request(), [Mode.AIR_EXPRESS, Mode.OCEAN_LCL, Mode.ROAD, Mode.RAIL], BOOK)
    transport = [d for d in docs if d.code not in ALWAYS]
    assert len(transport) == 4
    assert "(air_express)" in transport[0].reason and "(ocean_lcl)" in transport[1].reason


@pytest.mark.parametrize("claim, expected", [(True, ["certificate_of_origin"]), (False, [])],
                         ids=["claim-preference-certificate-of-origin", "no-claim-no-certificate"])
def test_certificate_of_origin_when_preference_claimed(claim, expected):
    docs = required_documents(request(claim_preference=claim), [Mode.RAIL], BOOK)
    assert codes(docs) == ALWAYS + expected + ["rail_consignment_note"]


def test_tradelane_generates_the_invoice_and_packing_list_only():
    docs = required_documents(request(claim_preference=True), [Mode.AIR_EXPRESS], BOOK)
    assert {d.code: d.generated for d in docs} == {"commercial_invoice": True, "packing_list": True,
                                                   "certificate_of_origin": False, "air_waybill": False}
    assert all(d.reason and d.source for d in docs)
    assert docs[0].source == "19 CFR 141.86 (cross-border facts s.3)"


DG_DOCS = {
    "dg-fully-regulated-air-iata-shippers-declaration": (
        [Mode.AIR_EXPRESS], ["Shipper's Declaration for Dangerous Goods (IATA)"]),
    "dg-fully-regulated-sea-imdg-declaration": ([Mode.OCEAN_LCL], ["IMDG dangerous goods declaration"]),
    "dg-fully-regulated-road-adr-document": ([Mode.ROAD], ["Dangerous goods transport document (ADR road / RID rail)"]),
    "dg-fully-regulated-road-sea-road-two-documents": (
        [Mode.ROAD, Mode.OCEAN_FCL, Mode.ROAD],
        ["IMDG dangerous goods declaration", "Dangerous goods transport document (ADR road / RID rail)"]),
    "dg-fully-regulated-no-plan-generic-declaration": ([], ["Shipper's Declaration for Dangerous Goods"]),
}


@pytest.mark.parametrize("case", DG_DOCS.values(), ids=DG_DOCS.keys())
def test_dangerous_goods_declaration_when_fully_regulated(case):
    modes, names = case
    docs = required_documents(fully_regulated(), modes, BOOK)
    assert [d.name for d in docs if d.code == "dangerous_goods_declaration"] == names


def test_no_declaration_for_pi967_section_ii():
    docs = required_documents(request("high-value-us-jp.json"), [Mode.AIR_EXPRESS, Mode.OCEAN_LCL], BOOK)
    assert "dangerous_goods_declaration" not in codes(docs)


@pytest.mark.parametrize("modes, names", [
    ([Mode.AIR_EXPRESS], ["Shipper's Declaration for Dangerous Goods (IATA)"]),
    ([Mode.OCEAN_LCL], []),
    ([], ["Shipper's Declaration for Dangerous Goods"]),
], ids=["un3480-pi965-section-ib-declaration-by-air", "un3480-74-wh-no-imdg-declaration-by-sea",
        "un3480-pi965-section-ib-no-plan-declaration"])
def test_shipper_declaration_for_standalone_lithium_ion_section_ib(modes, names):
    docs = required_documents(request("lithium-powerbank-cn-us.json"), modes, BOOK)
    assert [d.name for d in docs if d.code == "dangerous_goods_declaration"] == names


def test_given_assessment_and_computed_one_agree():
    shipment = fully_regulated()
    dg = assess_dangerous_goods(shipment, BOOK)
    assert required_documents(shipment, [Mode.AIR_FREIGHT], BOOK, dg) == required_documents(
        shipment, [Mode.AIR_FREIGHT], BOOK)


# ---- the table ----

def test_every_row_loads_with_a_source():
    table = BOOK.table(DocumentRule)
    assert len(table) == 10
    assert all(len(row.source) >= 3 for row in table)
    by_code = {row.code: row for row in table}
    assert by_code["commercial_invoice"].status is RuleStatus.SOURCED
    assert {by_code[c].status for c in ("air_waybill", "bill_of_lading", "cmr", "rail_consignment_note")} == {
        RuleStatus.SOURCED}
    assert {by_code[c].status for c in ("packing_list", "certificate_of_origin")} == {RuleStatus.GENERAL}


def _resolves(model: type[BaseModel], path: str) -> bool:
    head, _, rest = path.partition(".")
    info = model.model_fields.get(head)
    if info is None:
        return False
    if not rest:
        return True
    inner = info.annotation.__args__[0]  # list[InvoiceLine] -> InvoiceLine
    return _resolves(inner, rest)


def test_invoice_model_holds_every_141_86_field_the_table_lists():
    row = BOOK.table(DocumentRule).first(date(2026, 12, 3), code="commercial_invoice")
    fields = [f.field for f in row.fields]
    assert {"port_of_entry", "seller", "buyer", "date_of_sale", "place_of_sale", "lines.description",
            "lines.marks_and_numbers", "lines.quantity", "lines.unit_price", "currency", "charges", "rebates",
            "lines.country_of_origin", "assists"} == set(fields)
    assert [f for f in fields if not _resolves(CommercialInvoice, f)] == []


def test_a_mode_row_without_modes_is_refused(tmp_path):
    (tmp_path / "documents.yaml").write_text(
        "table: documents\nrules:\n"
        "  - {code: cmr, name: CMR, when: mode, reason: r, source: test source, valid_from: 2020-01-01, "
        "valid_to: null, status: sample}\n")
    with pytest.raises(RuleDataError, match="documents.yaml: rules.0.*when=mode: modes must be given"):
        RuleBook(tmp_path).table(DocumentRule)
    assert DocCondition.MODE == "mode"


# ---- the commercial invoice ----

def test_invoice_for_the_laptop_example():
    invoice = commercial_invoice(request("high-value-us-jp.json"), freight=Money(amount=Decimal("120.5"),
                                 currency="USD"), insurance=Money(amount=Decimal("30"), currency="USD"))
    assert invoice.invoice_number == "CI-SHP-2026-000207"
    assert (invoice.seller.company, invoice.buyer.name) == ("Northwind Electronics Inc.", "Sato Haruto")
    assert invoice.port_of_entry.startswith("Tokyo, Japan") and "to be determined by carrier" in invoice.port_of_entry
    assert (invoice.date_of_sale, invoice.place_of_sale) == (date(2026, 12, 2), "Long Beach, United States")
    [line] = invoice.lines
    assert (line.marks_and_numbers, line.hs_code, line.quantity, line.unit_price, line.line_total,
            line.country_of_origin) == ("NB-PRO-14", "847130", 3, Decimal("1799.00"), Decimal("5397.00"), "CN")
    assert line.dangerous_goods == "UN3481, PI 967, 72 Wh"
    assert [(c.kind, c.amount) for c in invoice.charges] == [
        ("freight", Decimal("120.50")), ("insurance", Decimal("30.00")), ("packing", None), ("commission", None)]
    assert (invoice.goods_total, invoice.charges_total, invoice.invoice_total) == (
        Decimal("5397.00"), Decimal("150.50"), Decimal("5547.50"))
    assert (invoice.rebates, invoice.assists, invoice.incoterm) == ("None", "None", "DDP Tokyo, Japan (Incoterms 2020)")
    assert (invoice.number_of_packages, invoice.gross_weight_kg, invoice.net_weight_kg) == (1, 7.2, 4.8)


def test_invoice_number_can_be_given():
    assert commercial_invoice(request(), invoice_number="INV-7").invoice_number == "INV-7"


@pytest.mark.parametrize("charge, message", [
    ({"freight": Money(amount=Decimal("10"), currency="USD")}, "freight.currency: USD differs from the invoice "
                                                              "currency EUR"),
    ({"insurance": Money(amount=Decimal("-1"), currency="EUR")}, "insurance.amount: -1 is negative"),
], ids=["freight-in-another-currency", "negative-insurance"])
def test_bad_charges_are_refused(charge, message):
    with pytest.raises(ValueError, match=message):
        commercial_invoice(request(), **charge)


@settings(max_examples=60, deadline=None)
@given(lines=st.lists(st.tuples(st.integers(1, 500), st.decimals(min_value=0, max_value=99999, places=2)),
                      min_size=1, max_size=6),
       freight=st.none() | st.decimals(min_value=0, max_value=9999, places=2))
def test_invoice_total_is_goods_plus_charges(lines, freight):
    body = load_example("basic-cn-de.json")
    template = body["items"][0]
    body["items"] = [{**template, "sku": f"SKU-{i}", "quantity": q, "unit_value": str(p)}
                     for i, (q, p) in enumerate(lines)]
    money = None if freight is None else Money(amount=freight, currency="EUR")
    invoice = commercial_invoice(ShipmentRequest.model_validate(body), freight=money)
    goods = sum((p * q for q, p in lines), Decimal("0"))
    assert invoice.goods_total == goods
    assert invoice.invoice_total == goods + (freight or 0)
    assert [line.line_total for line in invoice.lines] == [p * q for q, p in lines]
