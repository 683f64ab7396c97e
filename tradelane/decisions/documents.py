"""Documents: which ones a shipment needs per mode and destination, and the commercial invoice's content.

`required_documents` reads the `documents` table: the commercial invoice and packing list always (Tradelane
generates both, see `tradelane.decisions.pdf`), a certificate of origin when a preferential rate is claimed, the
transport document of each mode in the plan, and the dangerous-goods declaration of each mode when lithium
batteries are fully regulated. `commercial_invoice` gathers every field 19 CFR 141.86(a) asks for into one model,
which the PDF renders; the table lists those fields, and a test holds the model to the list.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pycountry
from pydantic import BaseModel

from tradelane.decisions.dangerous_goods import DgAssessment, assess_dangerous_goods
from tradelane.decisions.models import Money, RequiredDocument
from tradelane.enums import Mode
from tradelane.models import Party, ShipmentRequest
from tradelane.rules import RuleBook
from tradelane.rules.schemas.documents import DocCondition, DocumentRule

CENT = Decimal("0.01")


def _rows(book: RuleBook) -> tuple[DocumentRule, ...]:
    return book.cached("documents.rows", lambda: book.table(DocumentRule).rows)


def required_documents(request: ShipmentRequest, modes: list[Mode], book: RuleBook,
                       dg: DgAssessment | None = None) -> list[RequiredDocument]:
    """The documents a shipment needs, in table order, each with its reason and the row it came from.

    Args:
        request: The shipment; its ship date picks the rows, `claim_preference` brings the certificate of origin.
        modes: The modes of the plan's legs (repeats are fine).
        book: The rule book holding the `documents` (and `dangerous_goods`) tables.
        dg: The dangerous-goods assessment when the caller has it; assessed here otherwise.

    Returns:
        One entry per document; `generated` is True for those Tradelane produces (invoice, packing list).
    """
    if dg is None:
        dg = assess_dangerous_goods(request, book)
    on = request.ship_date
    legs = list(dict.fromkeys(modes))
    found: list[RequiredDocument] = []
    dg_declared = False
    for row in _rows(book):
        if not row.in_force(on):
            continue
        reason = row.reason
        if row.when is DocCondition.CLAIM_PREFERENCE and not request.claim_preference:
            continue
        if row.when in (DocCondition.MODE, DocCondition.DG_FULLY_REGULATED):
            if row.when is DocCondition.DG_FULLY_REGULATED and not dg.fully_regulated:
                continue
            matched = [mode.value for mode in legs if mode in row.modes]
            if not matched:
                continue
            reason = f"{reason} ({', '.join(matched)})"
            dg_declared |= row.when is DocCondition.DG_FULLY_REGULATED
        found.append(RequiredDocument(code=row.code, name=row.name, reason=reason, source=row.cite(),
                                      generated=row.generated))
    if dg.fully_regulated and not dg_declared:
        # No leg matched a mode-specific declaration (e.g. no plan yet): the assessment's own document still holds.
        found.extend(doc.model_copy() for doc in dg.documents)
    return found


# ---- the commercial invoice ------------------------------------------------------------------------------------


class InvoiceLine(BaseModel):
    """One article on the invoice."""

    line_no: int
    marks_and_numbers: str
    """The article's marks and numbers: the merchant's SKU."""
    description: str
    hs_code: str
    quantity: int
    unit: str = "pcs"
    unit_price: Decimal
    """Purchase price per unit, in the invoice currency."""
    line_total: Decimal
    country_of_origin: str
    """ISO 3166-1 alpha-2."""
    net_weight_kg: float
    dangerous_goods: str | None = None
    """E.g. `UN3480 PI 965, 74 Wh, SoC 30%`."""


class InvoiceCharge(BaseModel):
    """A charge on the merchandise, itemised by name; `amount` None when not charged separately."""

    kind: str
    """`freight`, `insurance`, `packing`, `commission`."""
    label: str
    amount: Decimal | None = None
    note: str = ""


class CommercialInvoice(BaseModel):
    """Everything the commercial invoice shows, one field per 19 CFR 141.86(a) requirement plus HS codes."""

    invoice_number: str
    invoice_date: date
    shipment_id: str
    order_ref: str
    port_of_entry: str
    """The destination as stated; the exact port is the carrier's to determine."""
    seller: Party
    buyer: Party
    date_of_sale: date
    place_of_sale: str
    incoterm: str
    currency: str
    lines: list[InvoiceLine]
    charges: list[InvoiceCharge]
    rebates: str = "None"
    """Rebates, drawbacks and bounties."""
    assists: str = "None"
    """Goods or services the buyer furnished for the production of the merchandise."""
    goods_total: Decimal
    charges_total: Decimal
    invoice_total: Decimal
    number_of_packages: int
    gross_weight_kg: float
    net_weight_kg: float


def country_name(code: str) -> str:
    """`CN` -> `China`; the code itself when pycountry does not know it."""
    country = pycountry.countries.get(alpha_2=code)
    if country is None:
        return code
    common_name: str | None = getattr(country, "common_name", None)
    return common_name or country.name


def _charge(kind: str, label: str, money: Money | None, currency: str) -> InvoiceCharge:
    if money is None:
        return InvoiceCharge(kind=kind, label=label, note="not charged separately")
    if money.currency.upper() != currency:
        raise ValueError(f"{kind}.currency: {money.currency} differs from the invoice currency {currency}; "
                         f"convert it first")
    if money.amount < 0:
        raise ValueError(f"{kind}.amount: {money.amount} is negative")
    return InvoiceCharge(kind=kind, label=label, amount=money.amount.quantize(CENT))


def _dg_text(request: ShipmentRequest, i: int) -> str | None:
    dg = request.items[i].dangerous_goods
    if dg is None:
        return None
    parts = [dg.un_number]
    if dg.packing_instruction:
        parts.append(f"PI {dg.packing_instruction}")
    if dg.watt_hours is not None:
        parts.append(f"{dg.watt_hours:g} Wh")
    if dg.state_of_charge_pct is not None:
        parts.append(f"SoC {dg.state_of_charge_pct:g}%")
    return ", ".join(parts)


def commercial_invoice(request: ShipmentRequest, *, freight: Money | None = None, insurance: Money | None = None,
                       invoice_number: str | None = None) -> CommercialInvoice:
    """The commercial invoice's content for a shipment.

    Args:
        request: The shipment: seller = origin, buyer = destination, one line per item.
        freight: Freight charged on the invoice, in the shipment currency; "not charged separately" when None.
        insurance: Insurance charged on the invoice, likewise.
        invoice_number: Defaults to `CI-<shipment_id>`.

    Raises:
        ValueError: A charge in another currency than the shipment's, or negative.
    """
    currency = request.currency
    lines = [
        InvoiceLine(line_no=i + 1, marks_and_numbers=item.sku, description=item.description, hs_code=item.hs_code,
                    quantity=item.quantity, unit_price=item.unit_value.quantize(CENT),
                    line_total=(item.unit_value * item.quantity).quantize(CENT),
                    country_of_origin=item.origin_country,
                    net_weight_kg=round(item.unit_weight_kg * item.quantity, 3), dangerous_goods=_dg_text(request, i))
        for i, item in enumerate(request.items)
    ]
    charges = [
        _charge("freight", "Freight", freight, currency),
        _charge("insurance", "Insurance", insurance, currency),
        InvoiceCharge(kind="packing", label="Packing (cases, containers, coverings)", note="not charged separately"),
        InvoiceCharge(kind="commission", label="Commission", note="none"),
    ]
    goods_total = sum((line.line_total for line in lines), Decimal("0.00"))
    charges_total = sum((c.amount for c in charges if c.amount is not None), Decimal("0.00"))
    destination = request.destination
    return CommercialInvoice(
        invoice_number=invoice_number or f"CI-{request.shipment_id}",
        invoice_date=request.ship_date,
        shipment_id=request.shipment_id,
        order_ref=request.order_ref,
        port_of_entry=_port_of_entry(destination),
        seller=request.origin,
        buyer=destination,
        date_of_sale=request.ship_date,
        place_of_sale=f"{request.origin.city}, {country_name(request.origin.country)}",
        incoterm=f"{request.incoterm.value} (Incoterms 2020)",
        currency=currency,
        lines=lines,
        charges=charges,
        goods_total=goods_total,
        charges_total=charges_total,
        invoice_total=goods_total + charges_total,
        number_of_packages=len(request.parcels),
        gross_weight_kg=request.total_weight_kg,
        net_weight_kg=round(sum(line.net_weight_kg for line in lines), 3),
    )


def _port_of_entry(destination: Party) -> str:
    # The request names the destination, not the port the goods clear at: that is the carrier's routing.
    where = ", ".join(p for p in (destination.city.strip(), country_name(destination.country)) if p)
    return f"{where} (destination as stated; port to be determined by carrier)"
