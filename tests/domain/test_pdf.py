"""The commercial invoice and packing list PDFs, read back with pypdf."""

import io
import re
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader

from tests.support import load_example
from tradelane.decisions import pdf
from tradelane.decisions.documents import country_name
from tradelane.decisions.models import Money
from tradelane.decisions.pdf import CORE_FONT, commercial_invoice_pdf, find_font, money, packing_list_pdf
from tradelane.models import ShipmentRequest

EXAMPLES = ["basic-cn-de.json", "high-value-us-jp.json", "lithium-powerbank-cn-us.json", "pallet-cn-au.json"]


def request(name: str, body: dict[str, Any] | None = None) -> ShipmentRequest:
    return ShipmentRequest.model_validate(body or load_example(name))


def text(document: bytes) -> str:
    """All pages' text with runs of whitespace as one space: table cells wrap at the column edge."""
    reader = PdfReader(io.BytesIO(document))
    return re.sub(r"\s+", " ", " ".join(page.extract_text() for page in reader.pages))


@pytest.mark.parametrize("name", EXAMPLES, ids=[n.removesuffix(".json") for n in EXAMPLES])
def test_invoice_shows_every_field(name):
    shipment = request(name)
    shown = text(commercial_invoice_pdf(shipment))
    seller, buyer = shipment.origin, shipment.destination
    expected = [
        "COMMERCIAL INVOICE", f"CI-{shipment.shipment_id}", seller.name, buyer.name, *seller.address_lines,
        *buyer.address_lines, f"Port of entry {buyer.city}, {country_name(buyer.country)}",
        "to be determined by carrier", f"Date of sale {shipment.ship_date.isoformat()}",
        f"Place of sale {seller.city}",
        f"{shipment.incoterm.value} {buyer.city}, {country_name(buyer.country)} (Incoterms 2020)",
        f"Currency {shipment.currency}",
        "Rebates, drawbacks, bounties None", "Assists", "Freight not charged separately",
        f"Invoice total ({shipment.currency}) {money(shipment.declared_value)}",
    ]
    for party in (seller, buyer):
        if party.company:
            expected.append(party.company)
    for item in shipment.items:
        origin = f"{item.origin_country} ({country_name(item.origin_country)})"
        expected += [item.sku, item.hs_code, f"{item.quantity} pcs", money(item.unit_value),
                     money(item.unit_value * item.quantity), origin]
    assert [value for value in expected if value not in shown] == []


# Hand-computed figures: quantity x unit price, plus the charges.
FIGURES = {
    "lithium-powerbank-cn-us": ("lithium-powerbank-cn-us.json", "USD", "10.00", "5.00",
                                ["PB-20000", "850760", "10 pcs", "24.00", "240.00", "CN (China)",
                                 "Freight 10.00", "Insurance 5.00", "Invoice total (USD) 255.00",
                                 "Dangerous goods: UN3480, PI 965, 74 Wh, SoC 30%", "Voltcraft Warehouse",
                                 "Dongguan Voltcraft Power Co.", "Maria Gonzalez"]),
    "high-value-us-jp": ("high-value-us-jp.json", "USD", "120.50", "30.00",
                         ["NB-PRO-14", "847130", "3 pcs", "1,799.00", "5,397.00", "CN (China)",
                          "Freight 120.50", "Insurance 30.00", "Invoice total (USD) 5,547.50",
                          "Northwind Electronics Inc.", "Sato Haruto", "Sato Design K.K.", "Tokyo, Japan"]),
}


@pytest.mark.parametrize("case", FIGURES.values(), ids=FIGURES.keys())
def test_invoice_figures(case):
    name, currency, freight, insurance, expected = case
    shown = text(commercial_invoice_pdf(request(name), freight=Money(amount=Decimal(freight), currency=currency),
                                        insurance=Money(amount=Decimal(insurance), currency=currency),
                                        invoice_number="INV-2026-0042"))
    assert [value for value in expected + ["INV-2026-0042"] if value not in shown] == []


@pytest.mark.parametrize("name, expected", [
    ("lithium-powerbank-cn-us.json", ["PACKING LIST", "SHP-2026-000311", "carton", "40 x 30 x 20", "0.024",
                                      "PB-20000", "Dangerous goods: UN3480", "Total gross weight 4.1 kg",
                                      "Total net weight 3.8 kg", "Total quantity 10 pcs", "Packages 1"]),
    ("pallet-cn-au.json", ["wood pallet", "120 x 100 x 150", "120 x 100 x 140", "420", "380", "CER-DINNER-16",
                           "GLS-TUMBLER-6", "Total 150 678", "Total gross weight 800 kg", "Packages 2",
                           "Homeware Co. Australia Pty Ltd"]),
], ids=["powerbank-one-carton", "pallet-two-wood-pallets"])
def test_packing_list(name, expected):
    shown = text(packing_list_pdf(request(name)))
    assert [value for value in expected if value not in shown] == []


def test_same_request_gives_the_same_bytes_dated_by_the_ship_date():
    shipment = request("high-value-us-jp.json")
    first = commercial_invoice_pdf(shipment)
    assert first == commercial_invoice_pdf(shipment)
    assert packing_list_pdf(shipment) == packing_list_pdf(shipment)
    assert PdfReader(io.BytesIO(first)).metadata.creation_date == datetime(2026, 12, 2, tzinfo=UTC)
    later = shipment.model_copy(update={"ship_date": shipment.ship_date.replace(day=3)})
    assert commercial_invoice_pdf(later) != first


def test_many_items_run_over_pages_and_all_appear():
    body = load_example("basic-cn-de.json")
    template = body["items"][0]
    body["items"] = [{**template, "sku": f"SKU-{i:03d}", "quantity": i + 1} for i in range(90)]
    document = commercial_invoice_pdf(request("", body))
    assert len(PdfReader(io.BytesIO(document)).pages) > 1
    shown = text(document)
    assert [f"SKU-{i:03d}" for i in range(90) if f"SKU-{i:03d}" not in shown] == []
    assert "Page 2/" in shown


# ---- characters outside Latin-1 ----

def _unicode_request() -> ShipmentRequest:
    body = load_example("high-value-us-jp.json")
    body["destination"]["address_lines"] = ["東京都千代田区", "Müller Straße 5", "ул. Тверская 7"]
    return request("", body)


def test_font_text_transliterates_only_what_it_cannot_draw():
    assert CORE_FONT.text("Müller 東京 Москва") == "Müller DongJing Moskva"
    assert CORE_FONT.text("plain ASCII") == "plain ASCII"


def test_non_latin_addresses_render_with_the_machine_font():
    shown = text(commercial_invoice_pdf(_unicode_request()))
    assert "DongJingDouQianDaiTianQu" in shown and "Müller Straße 5" in shown  # no CJK in DejaVu or Latin-1
    cyrillic = "ул. Тверская 7" if find_font() is not CORE_FONT else "ul. Tverskaya 7"
    assert cyrillic in shown


def test_core_font_fallback_renders_non_latin_text(monkeypatch):
    monkeypatch.setattr(pdf, "find_font", lambda: CORE_FONT)
    shipment = _unicode_request()
    shown = text(commercial_invoice_pdf(shipment)) + text(packing_list_pdf(shipment))
    assert "DongJingDouQianDaiTianQu" in shown and "Müller Straße 5" in shown and "ul. Tverskaya 7" in shown


def test_find_font_falls_back_cleanly(tmp_path: Path):
    assert find_font((tmp_path,)) is CORE_FONT  # no font there
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "DejaVuSans.ttf").write_bytes(b"not a font")
    (broken / "DejaVuSans-Bold.ttf").write_bytes(b"not a font")
    assert find_font((broken,)) is CORE_FONT


def test_dejavu_is_used_when_installed():
    # `make test` installs it (make fonts); without it the PDFs fall back to Helvetica, tested above.
    directory = Path("/usr/share/fonts/truetype/dejavu")
    assert (directory / "DejaVuSans.ttf").is_file(), "DejaVu Sans is missing: run 'make fonts'"
    font = find_font((directory,))
    assert font.family == "DejaVu" and ord("Ж") in font.charset and ord("東") not in font.charset
