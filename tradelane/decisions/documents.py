"""Documents: which ones a shipment needs per mode and destination, and the commercial invoice's content.

`required_documents` reads the `documents` table: the commercial invoice and packing list always (Tradelane
generates both, see `tradelane.decisions.pdf`), a certificate of origin when a preferential rate is claimed, the
transport document of each mode in the plan, and the dangerous-goods declaration of each mode when lithium
batteries are fully regulated. `commercial_invoice` gathers every field 19 CFR 141.86(a) asks for into one model,
which the PDF renders; the table lists those fields, and a test holds the model to the list.

The invoice's freight and insurance are those of the plan the shipment is booked on (`booked_charges`): the plan's
cost plus the last mile, the very figure the landed cost uses, so the quote, the landed cost and the invoice agree.
The tax and customs numbers the landed cost relies on (the seller's IOSS number when VAT is collected at sale
through IOSS, its VAT registration when it pays a destination tax, its EORI number when it imports under DDP into
the EU or the UK) are printed from the merchant's profile (`registrations`), and named as missing when the profile
has none.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Literal

import pycountry
from pydantic import BaseModel, Field

from tradelane.decisions.dangerous_goods import DgAssessment, assess_dangerous_goods
from tradelane.decisions.landed_cost import SELLER, customs_territory
from tradelane.decisions.models import Assessment, LandedCost, Money, RequiredDocument, TransportPlan
from tradelane.enums import Incoterm, Mode
from tradelane.models import Party, ShipmentRequest
from tradelane.rules import RuleBook
from tradelane.rules.schemas.documents import DocCondition, DocumentRule

CENT = Decimal("0.01")
NONE = "None"
"""How the invoice shows a value that is absent (no rebate, no assist, no commission): one rendering everywhere."""
NOT_SEPARATE = "not charged separately"
EORI_TERRITORIES = frozenset({"EU", "GB"})
"""Customs territories whose importers of record need an EORI number (Regulation (EU) No 952/2013 Art. 9; the UK
kept the scheme as GB EORI)."""


_DG_CONDITIONS = (DocCondition.DG_FULLY_REGULATED, DocCondition.DG_SHIPPER_DECLARATION)


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
        if row.when in (DocCondition.MODE, *_DG_CONDITIONS):
            if row.when is DocCondition.DG_FULLY_REGULATED and not dg.fully_regulated:
                continue
            if row.when is DocCondition.DG_SHIPPER_DECLARATION and not dg.shipper_declaration:
                continue
            matched = [mode.value for mode in legs if mode in row.modes]
            if not matched:
                continue
            reason = f"{reason} ({', '.join(matched)})"
            dg_declared |= row.when in _DG_CONDITIONS
        found.append(RequiredDocument(code=row.code, name=row.name, reason=reason, source=row.cite(),
                                      generated=row.generated))
    if not legs and (dg.fully_regulated or dg.shipper_declaration) and not dg_declared:
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
    """What the amount is made of (`plan ... + last mile ...`), or why there is none."""


class SellerProfile(BaseModel):
    """What the merchant's profile adds to the invoice: the name the shop trades under and its tax numbers."""

    display_name: str | None = None
    ioss_number: str | None = None
    eori_number: str | None = None
    vat_number: str | None = None


RegistrationKind = Literal["ioss", "eori", "vat"]
_REGISTRATION_LABELS: dict[RegistrationKind, str] = {
    "ioss": "IOSS number", "eori": "EORI number", "vat": "VAT/GST registration"}


class Registration(BaseModel):
    """A tax or customs number of the seller that the landed cost relies on."""

    kind: RegistrationKind
    label: str
    number: str | None
    """From the merchant profile; None when the profile has none (the invoice then says it is missing)."""
    reason: str
    """Which part of the landed cost relies on it."""


class CommercialInvoice(BaseModel):
    """Everything the commercial invoice shows, one field per 19 CFR 141.86(a) requirement plus HS codes."""

    invoice_number: str
    invoice_date: date
    shipment_id: str
    order_ref: str
    port_of_entry: str
    """The destination as stated; the exact port is the carrier's to determine."""
    seller: Party
    seller_trading_name: str | None = None
    """The merchant's display name (its profile), when it differs from the seller's company name."""
    buyer: Party
    date_of_sale: date
    place_of_sale: str
    incoterm: str
    """The rule with its named place, as Incoterms 2020 asks: `DDP Berlin, Germany (Incoterms 2020)`."""
    named_place: str
    """The named place of destination of the D rule (the buyer's city and country)."""
    currency: str
    lines: list[InvoiceLine]
    charges: list[InvoiceCharge]
    rebates: str = NONE
    """Rebates, drawbacks and bounties."""
    assists: str = NONE
    """Goods or services the buyer furnished for the production of the merchandise."""
    registrations: list[Registration] = Field(default_factory=list)
    """The seller's numbers the landed cost relies on (IOSS, EORI, VAT), from the merchant's profile."""
    goods_total: Decimal
    charges_total: Decimal
    invoice_total: Decimal
    number_of_packages: int
    gross_weight_kg: float
    net_weight_kg: float
    declaration: str = ("The exporter declares that the information on this invoice is true and correct, and that "
                        "the goods are of the origin shown for each line.")
    """The exporter's declaration, signed with name, date and signature below it."""


def country_name(code: str) -> str:
    """`CN` -> `China`; the code itself when pycountry does not know it."""
    country = pycountry.countries.get(alpha_2=code)
    if country is None:
        return code
    common_name: str | None = getattr(country, "common_name", None)
    return common_name or country.name


def _charge(kind: str, label: str, money: Money | None, currency: str, note: str = "") -> InvoiceCharge:
    if money is None:
        return InvoiceCharge(kind=kind, label=label, note=NOT_SEPARATE)
    if money.currency.upper() != currency:
        raise ValueError(f"{kind}.currency: {money.currency} differs from the invoice currency {currency}; "
                         f"convert it first")
    if money.amount < 0:
        raise ValueError(f"{kind}.amount: {money.amount} is negative")
    return InvoiceCharge(kind=kind, label=label, amount=money.amount.quantize(CENT), note=note)


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


class BookedCharges(BaseModel):
    """Freight and insurance of the booked plan, as the invoice charges them."""

    freight: Money
    freight_note: str
    """`plan air_express:ups 70.60 + last mile roadie 9.87`."""
    insurance: Money | None = None


def booked_charges(assessment: Assessment, plan: TransportPlan | None = None) -> BookedCharges | None:
    """The invoice's freight and insurance from the plan the shipment is booked on; None without a plan.

    The freight is the landed cost's: the plan's cost plus the last mile to the door (both in the shipment
    currency). After a switch to a backup plan (`plan`), the backup's cost replaces the first plan's and the last
    mile stays.

    Args:
        assessment: The shipment's decisions (a quote's, or the workflow's at booking).
        plan: The plan actually booked, when it is not `assessment.plan` (after a backup switch).
    """
    landed, chosen = assessment.landed_cost, assessment.plan
    booked = plan or chosen
    if landed is None or chosen is None or booked is None:
        return None
    last_mile = landed.freight - chosen.cost.amount
    note = f"plan {booked.plan_id} {booked.cost.amount:,.2f}"
    if last_mile and assessment.last_mile.chosen is not None:
        note += f" + last mile {assessment.last_mile.chosen.partner} {last_mile:,.2f}"
    freight = Money(amount=booked.cost.amount + last_mile, currency=landed.currency)
    insurance = Money(amount=landed.insurance, currency=landed.currency) if landed.insurance else None
    return BookedCharges(freight=freight, freight_note=note, insurance=insurance)


def registrations(request: ShipmentRequest, landed: LandedCost, profile: SellerProfile | None,
                  book: RuleBook) -> list[Registration]:
    """The seller's tax and customs numbers the landed cost relies on, each with its number from `profile`.

    - IOSS number: the destination's VAT is collected at sale through the EU's Import One-Stop Shop.
    - VAT/GST registration: the seller pays a destination tax (collected at sale, or import VAT under DDP).
    - EORI number: under DDP the seller is the importer of record, and EU and UK importers need one.

    The buyer's numbers are not asked for: under DAP a consumer imports, and the request holds no buyer number.
    """
    needed: dict[RegistrationKind, str] = {}
    for line in landed.lines:
        if line.component != "tax" or line.payer != SELLER:
            continue
        if "(IOSS)" in line.label:
            needed.setdefault("ioss", f"landed cost: {line.label.split(',')[0]}, through IOSS")
        else:
            needed.setdefault("vat", f"landed cost: {line.label.split(',')[0]}, paid by the seller")
    territory = customs_territory(request.destination.country, request.ship_date, book)
    if request.incoterm is Incoterm.DDP and territory in EORI_TERRITORIES:
        needed["eori"] = f"DDP: the seller is the importer of record in {territory}"
    numbers = profile or SellerProfile()
    found: dict[RegistrationKind, str | None] = {
        "ioss": numbers.ioss_number, "eori": numbers.eori_number, "vat": numbers.vat_number}
    return [Registration(kind=kind, label=_REGISTRATION_LABELS[kind], number=found[kind], reason=needed[kind])
            for kind in ("ioss", "eori", "vat") if kind in needed]


def commercial_invoice(request: ShipmentRequest, *, freight: Money | None = None, insurance: Money | None = None,
                       invoice_number: str | None = None, charges: BookedCharges | None = None,
                       profile: SellerProfile | None = None,
                       seller_registrations: list[Registration] | None = None) -> CommercialInvoice:
    """The commercial invoice's content for a shipment.

    Args:
        request: The shipment: seller = origin, buyer = destination, one line per item.
        freight: Freight charged on the invoice, in the shipment currency; "not charged separately" when None.
        insurance: Insurance charged on the invoice, likewise.
        invoice_number: Defaults to `CI-<shipment_id>`.
        charges: Freight and insurance of the booked plan (`booked_charges`); wins over `freight` and `insurance`.
        profile: The merchant's profile: its display name heads the seller block.
        seller_registrations: The numbers the landed cost relies on (`registrations`).

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
    freight_note = ""
    if charges is not None:
        freight, insurance, freight_note = charges.freight, charges.insurance, charges.freight_note
    charge_lines = [
        _charge("freight", "Freight", freight, currency, freight_note),
        _charge("insurance", "Insurance", insurance, currency),
        InvoiceCharge(kind="packing", label="Packing (cases, containers, coverings)", note=NOT_SEPARATE),
        InvoiceCharge(kind="commission", label="Commission", note=NONE),
    ]
    goods_total = sum((line.line_total for line in lines), Decimal("0.00"))
    charges_total = sum((c.amount for c in charge_lines if c.amount is not None), Decimal("0.00"))
    destination, origin = request.destination, request.origin
    named_place = _place(destination)
    trading_name = profile.display_name if profile is not None else None
    if trading_name in (origin.company, origin.name):
        trading_name = None
    return CommercialInvoice(
        invoice_number=invoice_number or f"CI-{request.shipment_id}",
        invoice_date=request.ship_date,
        shipment_id=request.shipment_id,
        order_ref=request.order_ref,
        port_of_entry=f"{named_place} (destination as stated; port to be determined by carrier)",
        seller=origin,
        seller_trading_name=trading_name,
        buyer=destination,
        date_of_sale=request.ship_date,
        place_of_sale=_place(origin),
        incoterm=f"{request.incoterm.value} {named_place} (Incoterms 2020)",
        named_place=named_place,
        currency=currency,
        lines=lines,
        charges=charge_lines,
        registrations=seller_registrations or [],
        goods_total=goods_total,
        charges_total=charges_total,
        invoice_total=goods_total + charges_total,
        number_of_packages=len(request.parcels),
        gross_weight_kg=request.total_weight_kg,
        net_weight_kg=round(sum(line.net_weight_kg for line in lines), 3),
    )


def _place(party: Party) -> str:
    # The request names the destination, not the port the goods clear at: that is the carrier's routing.
    return ", ".join(p for p in (party.city.strip(), country_name(party.country)) if p)
