"""The commercial invoice and packing list as PDF (fpdf2, pure Python).

Not on the decision path: documents are rendered once per shipment, from an activity. Output is deterministic:
the creation date is the ship date (UTC), so the same request gives the same bytes on the same machine and font.

Fonts: fpdf2's core fonts (Helvetica) are Latin-1 only and refuse anything else, while addresses and descriptions
may be in any script. When DejaVu Sans is installed (most Linux images have it) it is embedded, which keeps accents,
Greek and Cyrillic as written. Characters the chosen font has no glyph for (DejaVu has no CJK) are transliterated
with anyascii rather than dropped or drawn as empty boxes, so `東京` prints as `DongJing`: anyascii reads Han
characters in Mandarin, so Japanese kanji come out in Chinese readings. A readable Latin transliteration is what
carriers and customs officers at the other end can type into their systems, so it is the safer fallback.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time
from decimal import Decimal
from pathlib import Path

from anyascii import anyascii
from fontTools.ttLib import TTFont, TTLibError
from fpdf import FPDF
from fpdf.fonts import FontFace

from tradelane.decisions.documents import (
    BookedCharges,
    CommercialInvoice,
    Registration,
    SellerProfile,
    commercial_invoice,
    country_name,
)
from tradelane.decisions.models import Money
from tradelane.models import Party, ShipmentRequest

log = logging.getLogger(__name__)

# Where distributions put DejaVu Sans; the first directory holding both weights wins.
FONT_DIRS = (
    Path("/usr/share/fonts/truetype/dejavu"),
    Path("/usr/share/fonts/dejavu"),
    Path("/usr/share/fonts/TTF"),
    Path("/usr/local/share/fonts"),
    Path("/usr/local/share/fonts/dejavu"),
)
_LATIN1 = frozenset([10, *range(32, 127), *range(160, 256)])
_HEADINGS = FontFace(emphasis="BOLD", fill_color=(225, 225, 225))


@dataclass(frozen=True)
class PdfFont:
    """The font the documents are set in and the characters it can draw."""

    family: str
    regular: Path | None
    bold: Path | None
    charset: frozenset[int]

    def text(self, value: str) -> str:
        """`value` with every character the font cannot draw transliterated to ASCII."""
        if all(ord(ch) in self.charset for ch in value):
            return value
        return "".join(ch if ord(ch) in self.charset else anyascii(ch) for ch in value)


CORE_FONT = PdfFont(family="helvetica", regular=None, bold=None, charset=_LATIN1)


def _cmap(path: Path) -> frozenset[int]:
    with TTFont(path, lazy=True) as font:
        return frozenset(font.getBestCmap())


@functools.cache
def find_font(dirs: tuple[Path, ...] = FONT_DIRS) -> PdfFont:
    """DejaVu Sans (regular and bold) from the first directory that has both, else the Latin-1 core font."""
    for directory in dirs:
        regular, bold = directory / "DejaVuSans.ttf", directory / "DejaVuSans-Bold.ttf"
        if not (regular.is_file() and bold.is_file()):
            continue
        try:
            charset = _cmap(regular) & _cmap(bold)
        except (OSError, TTLibError) as err:
            log.warning("pdf font unusable, trying the next", extra={"font": str(regular), "error": str(err)})
            continue
        # The line feed has no glyph but is how multi-line cells break; keep it.
        return PdfFont(family="DejaVu", regular=regular, bold=bold, charset=charset | {10})
    log.info("DejaVu Sans not found; PDFs use the Latin-1 core font with ASCII transliteration")
    return CORE_FONT


class _Document(FPDF):
    """A4 portrait with the title and page numbers repeated on every page."""

    def __init__(self, font: PdfFont, title: str, reference: str, created: datetime) -> None:
        super().__init__(orientation="P", unit="mm", format="A4")
        self.pdf_font = font
        self.doc_title = title
        self.reference = reference
        if font.regular is not None and font.bold is not None:
            self.add_font(font.family, "", str(font.regular))
            self.add_font(font.family, "B", str(font.bold))
        self.set_creation_date(created)
        self.set_title(title)
        self.set_lang("en")
        self.set_auto_page_break(auto=True, margin=18)
        self.set_margins(14, 14, 14)
        self.add_page()

    def style(self, size: float = 9, bold: bool = False) -> None:
        self.set_font(self.pdf_font.family, "B" if bold else "", size)

    def header(self) -> None:
        self.style(15, bold=True)
        self.cell(0, 8, self.doc_title, new_x="LMARGIN", new_y="NEXT")
        self.style(9)
        self.cell(0, 5, self.pdf_font.text(self.reference), new_x="LMARGIN", new_y="NEXT")
        self.ln(3)

    def footer(self) -> None:
        self.set_y(-12)
        self.style(8)
        self.cell(0, 5, f"Page {self.page_no()}/{{nb}}", align="R")

    def heading(self, text: str) -> None:
        self.ln(2)
        self.style(10, bold=True)
        self.cell(0, 6, self.pdf_font.text(text), new_x="LMARGIN", new_y="NEXT")
        self.style(9)

    def grid(self, rows: Iterable[Sequence[str]], widths: Sequence[float], align: Sequence[str],
             headings: bool = True, size: float = 9) -> None:
        """A table; long cells wrap, and headings repeat on each page. Cells are set from the top, so blocks of
        different lengths side by side (seller and buyer) start on the same line."""
        self.style(size)
        with self.table(col_widths=tuple(widths), text_align=tuple(align), first_row_as_headings=headings,
                        headings_style=_HEADINGS, line_height=size / 2, padding=1.2, v_align="TOP") as table:
            for values in rows:
                row = table.row()
                for value in values:
                    row.cell(self.pdf_font.text(value))
        self.ln(1)

    def signature_lines(self, labels: Sequence[str], gap: float = 8, space: float = 10) -> None:
        """Lines side by side to write on, each with its label underneath."""
        y = self.get_y() + space
        width = (self.epw - gap * (len(labels) - 1)) / len(labels)
        self.style(8)
        for i, label in enumerate(labels):
            x = self.l_margin + i * (width + gap)
            self.line(x, y, x + width, y)
            self.set_xy(x, y + 0.5)
            self.cell(width, 4, label)
        self.set_xy(self.l_margin, y + 5)

    def pairs(self, rows: Iterable[tuple[str, str]]) -> None:
        """Label / value lines, for the invoice's header fields."""
        self.grid(rows, widths=(30, 70), align=("LEFT", "LEFT"), headings=False)


def _created(request: ShipmentRequest) -> datetime:
    return datetime.combine(request.ship_date, time(0, 0), tzinfo=UTC)


def _party(party: Party, trading_name: str | None = None) -> str:
    lines = [trading_name] if trading_name else []
    lines += [party.company, party.name] if party.company else [party.name]
    lines += party.address_lines
    lines.append(" ".join(p for p in (party.postal_code, party.city, party.region) if p))
    lines.append(f"{country_name(party.country)} ({party.country})")
    if party.phone:
        lines.append(f"Tel. {party.phone}")
    return "\n".join(lines)


def money(amount: Decimal) -> str:
    """`1799` -> `1,799.00`: the way amounts are printed on both documents."""
    return f"{amount:,.2f}"


def _weight(kg: float) -> str:
    return f"{kg:,.3f}".rstrip("0").rstrip(".")


def _invoice_pdf(invoice: CommercialInvoice, created: datetime, font: PdfFont) -> bytes:
    pdf = _Document(font, "COMMERCIAL INVOICE",
                    f"Invoice {invoice.invoice_number} of {invoice.invoice_date.isoformat()} - shipment "
                    f"{invoice.shipment_id}, order {invoice.order_ref}", created)
    pdf.set_author(font.text(invoice.seller.company or invoice.seller.name))
    pdf.grid([("Seller (exporter)", "Buyer (consignee)"),
              (_party(invoice.seller, invoice.seller_trading_name), _party(invoice.buyer))],
             widths=(1, 1), align=("LEFT", "LEFT"))
    pdf.pairs([
        ("Invoice number", invoice.invoice_number),
        ("Port of entry", invoice.port_of_entry),
        ("Date of sale", invoice.date_of_sale.isoformat()),
        ("Place of sale", invoice.place_of_sale),
        ("Terms of delivery", invoice.incoterm),
        ("Currency", invoice.currency),
        ("Packages", f"{invoice.number_of_packages}, gross {_weight(invoice.gross_weight_kg)} kg, "
                     f"net {_weight(invoice.net_weight_kg)} kg"),
        *((f"{r.label} (seller)", _registration(r)) for r in invoice.registrations),
    ])

    pdf.heading("Goods")
    rows = [("#", "Marks and numbers", "Description", "HS code", "Origin", "Qty", f"Unit price {invoice.currency}",
             f"Amount {invoice.currency}")]
    for line in invoice.lines:
        description = line.description
        if line.dangerous_goods:
            description += f"\nDangerous goods: {line.dangerous_goods}"
        rows.append((str(line.line_no), line.marks_and_numbers, description, line.hs_code,
                     f"{line.country_of_origin} ({country_name(line.country_of_origin)})",
                     f"{line.quantity} {line.unit}", money(line.unit_price), money(line.line_total)))
    # SKUs wrap at hyphens when squeezed, so the marks column gets room for a typical 16-character SKU.
    pdf.grid(rows, widths=(5, 25, 34, 12, 13, 10, 14, 14),
             align=("RIGHT", "LEFT", "LEFT", "LEFT", "LEFT", "RIGHT", "RIGHT", "RIGHT"), size=8)

    pdf.heading("Charges and totals")
    totals = [("Item", f"Amount {invoice.currency}")]
    totals.append(("Goods", money(invoice.goods_total)))
    for charge in invoice.charges:
        if charge.amount is None:
            totals.append((charge.label, charge.note))
        else:
            totals.append((f"{charge.label} ({charge.note})" if charge.note else charge.label, money(charge.amount)))
    totals.append(("Rebates, drawbacks, bounties", invoice.rebates))
    totals.append(("Assists (goods or services furnished by the buyer)", invoice.assists))
    totals.append((f"Invoice total ({invoice.currency})", money(invoice.invoice_total)))
    pdf.grid(totals, widths=(70, 30), align=("LEFT", "RIGHT"))

    if pdf.will_page_break(30):  # the declaration and the lines to sign it stay together
        pdf.add_page()
    pdf.heading("Exporter's declaration")
    pdf.style(8)
    pdf.multi_cell(0, 4, pdf.pdf_font.text(invoice.declaration), new_x="LMARGIN", new_y="NEXT")
    pdf.signature_lines(("Name", "Date", "Signature"))
    return bytes(pdf.output())


def _registration(registration: Registration) -> str:
    number = registration.number or "missing: add it to the merchant profile"
    return f"{number} ({registration.reason})"


def commercial_invoice_pdf(request: ShipmentRequest, *, freight: Money | None = None,
                           insurance: Money | None = None, invoice_number: str | None = None,
                           charges: BookedCharges | None = None, profile: SellerProfile | None = None,
                           seller_registrations: list[Registration] | None = None) -> bytes:
    """The commercial invoice as a PDF, with every 19 CFR 141.86(a) field (see `commercial_invoice` for the
    arguments), the exporter's declaration and a line for name, date and signature.

    Raises:
        ValueError: A charge in another currency than the shipment's, or negative.
    """
    invoice = commercial_invoice(request, freight=freight, insurance=insurance, invoice_number=invoice_number,
                                 charges=charges, profile=profile, seller_registrations=seller_registrations)
    return _invoice_pdf(invoice, _created(request), find_font())


def packing_list_pdf(request: ShipmentRequest) -> bytes:
    """The packing list as a PDF: parcels with packaging, dimensions and weights, then the items and quantities.

    The request does not say which item is in which parcel, so items are listed for the shipment as a whole.
    """
    font = find_font()
    pdf = _Document(font, "PACKING LIST", f"Shipment {request.shipment_id}, order {request.order_ref} - "
                                          f"{request.ship_date.isoformat()}", _created(request))
    pdf.set_author(font.text(request.origin.company or request.origin.name))
    pdf.grid([("Shipper", "Consignee"), (_party(request.origin), _party(request.destination))],
             widths=(1, 1), align=("LEFT", "LEFT"))

    pdf.heading("Packages")
    packages = [("#", "Packaging", "Dimensions L x W x H (cm)", "Volume (m3)", "Gross weight (kg)")]
    for n, parcel in enumerate(request.parcels, start=1):
        volume = parcel.length_cm * parcel.width_cm * parcel.height_cm / 1_000_000
        packages.append((str(n), parcel.packaging.value.replace("_", " "),
                         f"{parcel.length_cm:g} x {parcel.width_cm:g} x {parcel.height_cm:g}", f"{volume:.3f}",
                         _weight(parcel.weight_kg)))
    packages.append(("", f"{len(request.parcels)} package(s)", "", "", _weight(request.total_weight_kg)))
    pdf.grid(packages, widths=(6, 22, 34, 18, 20), align=("RIGHT", "LEFT", "LEFT", "RIGHT", "RIGHT"))

    pdf.heading("Contents")
    contents = [("#", "SKU", "Description", "Qty", "Unit weight (kg)", "Net weight (kg)")]
    net = 0.0
    for n, item in enumerate(request.items, start=1):
        description = item.description
        if item.dangerous_goods is not None:
            description += f"\nDangerous goods: {item.dangerous_goods.un_number}"
        line_net = item.unit_weight_kg * item.quantity
        net += line_net
        contents.append((str(n), item.sku, description, str(item.quantity), _weight(item.unit_weight_kg),
                         _weight(line_net)))
    quantity = sum(item.quantity for item in request.items)
    contents.append(("", "", "Total", str(quantity), "", _weight(net)))
    pdf.grid(contents, widths=(5, 25, 40, 9, 14, 14), align=("RIGHT", "LEFT", "LEFT", "RIGHT", "RIGHT", "RIGHT"),
             size=8)

    pdf.heading("Totals")
    pdf.pairs([("Packages", str(len(request.parcels))),
               ("Total gross weight", f"{_weight(request.total_weight_kg)} kg"),
               ("Total net weight", f"{_weight(net)} kg"),
               ("Total quantity", f"{quantity} pcs")])
    return bytes(pdf.output())
