"""Landed cost: what the goods cost delivered (freight, insurance, duties, import taxes, fees) and who pays what.

Import regimes are data (`import_regimes.yaml`): each row is one measure (duty, surcharge or tax) of a destination,
split into value bands (de minimis thresholds, flat-rate courier bands) with a computation method per band. Duty
rates per HS heading come from `duty_rates.yaml`, insurance premiums from `insurance_rates.yaml`, clearance fees
from `fees.yaml`. A new country is new rows, not new code.

Everything is computed in the shipment currency; each line is rounded to the currency's minor units at the end.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from typing import Any, TypeVar

from babel.numbers import get_currency_precision

from tradelane.decisions.fx import convert
from tradelane.decisions.models import CostLine, Finding, LandedCost, Money, Severity
from tradelane.enums import Incoterm
from tradelane.models import ShipmentRequest
from tradelane.rules import Rule, RuleBook
from tradelane.rules.schemas.landed_cost import (
    Band,
    DutyRate,
    Fee,
    FeeKind,
    ImportRegime,
    InsuranceRate,
    Measure,
    Method,
    ValueBasis,
)

ZERO = Decimal("0")
HUNDRED = Decimal("100")
COMPONENTS = ("freight", "insurance", "duty", "tax", "fee")
SELLER, BUYER = "seller", "buyer"

RowT = TypeVar("RowT", bound=Rule)


# ---- indexes --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Index:
    regimes: dict[tuple[str, Measure], tuple[ImportRegime, ...]]
    duties: dict[tuple[str, str], tuple[DutyRate, ...]]
    insurance: dict[str, tuple[InsuranceRate, ...]]
    fees: dict[tuple[str, FeeKind], tuple[Fee, ...]]


def _group(rows: Any, keys: Callable[[Any], list[Any]]) -> dict[Any, tuple[Any, ...]]:
    out: dict[Any, list[Any]] = {}
    for row in rows:
        for key in keys(row):
            out.setdefault(key, []).append(row)
    return {k: tuple(v) for k, v in out.items()}


def _index(book: RuleBook) -> _Index:
    return book.cached("landed_cost.index", lambda: _Index(
        regimes=_group(book.table(ImportRegime), lambda r: [(c, r.measure) for c in r.countries]),
        duties=_group(book.table(DutyRate), lambda r: [(r.schedule, r.heading)]),
        insurance=_group(book.table(InsuranceRate), lambda r: [r.destination]),
        fees=_group(book.table(Fee), lambda r: [(r.destination, r.kind)]),
    ))


def _first(rows: tuple[RowT, ...], on: date) -> RowT | None:
    return next((row for row in rows if row.in_force(on)), None)


def regimes_for(request: ShipmentRequest, country: str, measure: Measure, book: RuleBook) -> list[ImportRegime]:
    """Rows of `measure` for imports into `country` that apply to the request on its ship date, most specific first.

    A row with more conditions (ship_from, incoterm) beats a row with fewer: CUSMA's row beats Canada's general one.
    """
    rows = [r for r in _index(book).regimes.get((country, measure), ())
            if r.in_force(request.ship_date) and r.applies(request)]
    return sorted(rows, key=lambda r: -r.specificity)


def customs_territory(country: str, on: date, book: RuleBook) -> str:
    """The tariff area a country belongs to on `on` (`EU` for member states), else the country itself."""
    row = _first(_index(book).regimes.get((country, Measure.DUTY), ()), on)
    return row.tariff if row is not None and row.tariff else country


# ---- computation ----------------------------------------------------------------------------------------------


@cache
def _quantum(currency: str) -> Decimal:
    return Decimal(1).scaleb(-get_currency_precision(currency))


def _pct(value: Decimal) -> str:
    """`19`, `8.1`, `0.30` -> `0.3`: a rate as people write it."""
    return f"{value.normalize():f}"


def _money(amount: Decimal, currency: str) -> str:
    q = _quantum(currency)
    return f"{currency} {amount.quantize(q, ROUND_HALF_UP):,}"


def _limit(amount: Decimal, currency: str) -> str:
    return f"{currency} {amount.normalize():,f}"


@dataclass
class _Sheet:
    """The lines, reasons and conversions of one landed-cost computation."""

    request: ShipmentRequest
    book: RuleBook
    lines: list[CostLine] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    fx: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)

    @property
    def currency(self) -> str:
        return self.request.currency

    def local(self, amount: Decimal, currency: str) -> Decimal:
        """`amount` in the shipment currency; records the conversion used."""
        converted, how = convert(amount, currency, self.currency, self.request.ship_date, self.book)
        self._note_fx(currency, self.currency, how)
        return converted

    def foreign(self, amount: Decimal, currency: str) -> Decimal:
        """A shipment-currency amount in `currency` (to compare with a threshold)."""
        converted, how = convert(amount, self.currency, currency, self.request.ship_date, self.book)
        self._note_fx(self.currency, currency, how)
        return converted

    def _note_fx(self, source: str, target: str, how: str) -> None:
        if source != target and how not in self.fx:
            self.fx.append(how)

    def add(self, component: str, label: str, amount: Decimal, payer: str, source: str | None) -> None:
        self.lines.append(CostLine(component=component, label=label, amount=amount, payer=payer, source=source))


@dataclass(frozen=True)
class _Values:
    goods: Decimal
    freight: Decimal
    insurance: Decimal

    def basis(self, basis: ValueBasis) -> Decimal:
        return self.goods + self.freight + self.insurance if basis is ValueBasis.CIF else self.goods


BASIS_WORDS = {ValueBasis.GOODS: "goods", ValueBasis.FOB: "goods", ValueBasis.CIF: "CIF value"}
"""How a reason names the value a threshold is measured on."""


def _band(sheet: _Sheet, row: ImportRegime, values: _Values) -> Band:
    """The band the value the row measures its thresholds on falls in; says which threshold applied."""
    value = sheet.foreign(values.basis(row.measured_on), row.currency)
    i, band = row.band_for(value)
    shown = f"{BASIS_WORDS[row.measured_on]} {_money(value, row.currency)}"
    if band.up_to is not None:
        where = f"{shown} <= {_limit(band.up_to, row.currency)}"
    elif i > 0:
        where = f"{shown} > {_limit(row.bands[i - 1].up_to or ZERO, row.currency)}"
    else:
        where = shown
    sheet.reasons.append(f"{row.name}: {where}: {band.label}")
    return band


def _tariff_duty(sheet: _Sheet, row: ImportRegime, customs_value: Decimal, payer: str) -> Decimal:
    """Duty at each HS heading's rate, on the item's share of the customs value (and gross weight, where specific)."""
    request = sheet.request
    schedule = row.tariff or request.destination.country
    goods = request.declared_value
    net_kg = sum(item.unit_weight_kg * item.quantity for item in request.items)
    by_heading: dict[str, tuple[DutyRate, Decimal]] = {}
    for item in request.items:
        heading = item.hs_code[:4]
        rate = _mfn(sheet, schedule, heading)
        if rate is None:
            sheet.reasons.append(f"duty: no duty_rates row for HS {heading} nor a default in schedule {schedule} "
                                 f"on {request.ship_date}: duty not computed")
            continue
        value = item.unit_value * item.quantity
        share = value / goods if goods else Decimal(1) / len(request.items)
        duty = rate.rate_pct / HUNDRED * customs_value * share
        if rate.per_100kg is not None and rate.currency is not None:
            # Parcels carry the gross weight: share it out by the items' net weights.
            item_share = Decimal(str(item.unit_weight_kg * item.quantity)) / Decimal(str(net_kg))
            gross_kg = Decimal(str(request.total_weight_kg)) * item_share
            duty += sheet.local(rate.per_100kg * gross_kg / HUNDRED, rate.currency)
        before = by_heading.get(heading)
        by_heading[heading] = (rate, duty + (before[1] if before else ZERO))
    total = ZERO
    for heading, (rate, duty) in by_heading.items():
        what = f"{_pct(rate.rate_pct)}%"
        if rate.per_100kg is not None:
            what = f"{rate.currency} {_pct(rate.per_100kg)} per 100 kg gross" + (
                f" + {what}" if rate.rate_pct else "")
        label = f"duty {what} on HS {heading} ({schedule} MFN)"
        if len(rate.heading) == 2:
            label = f"duty {what} on HS {heading} ({schedule} rate of chapter {rate.heading})"
        elif rate.heading == "*":
            label = f"duty {what} on HS {heading} ({schedule} default rate)"
            sheet.reasons.append(f"duty: HS {heading} has no {schedule} rate in duty_rates: the schedule's default "
                                 f"{what} applies ({rate.cite()})")
        sheet.add("duty", label, duty, payer, rate.cite())
        total += duty
    return total


def _mfn(sheet: _Sheet, schedule: str, heading: str) -> DutyRate | None:
    """A heading's MFN row on the ship date: its own, else its chapter's, else the schedule's default."""
    ix, on = _index(sheet.book), sheet.request.ship_date
    return next((found for key in (heading, heading[:2], "*")
                 if (found := _first(ix.duties.get((schedule, key), ()), on)) is not None), None)


def _all_in_surcharge(sheet: _Sheet, row: ImportRegime, rate: Decimal, customs_value: Decimal) -> Decimal:
    """An all-in rate (`less_mfn`): each covered item pays the rate less its own MFN rate, never below zero."""
    request = sheet.request
    goods, schedule = request.declared_value, row.tariff or request.destination.country
    amount = ZERO
    for item in request.items:
        if not row.covers(item):
            continue
        mfn = _mfn(sheet, schedule, item.hs_code[:4])
        mfn_pct = mfn.rate_pct if mfn is not None else ZERO
        extra = max(rate - mfn_pct, ZERO)
        share = item.unit_value * item.quantity / goods if goods else Decimal(1) / len(request.items)
        sheet.reasons.append(f"{row.name}: {item.sku} (HS {item.hs_code}) pays {_pct(rate)}% all-in: "
                             f"{_pct(extra)}% on top of its MFN {_pct(mfn_pct)}%")
        amount += extra / HUNDRED * customs_value * share
    return amount


def _covered_share(sheet: _Sheet, row: ImportRegime) -> Decimal:
    """The share of the goods value held by the items a row's origin and HS conditions cover; says which they are."""
    items = sheet.request.items
    covered = [item for item in items if row.covers(item)]
    total = sum((item.unit_value * item.quantity for item in items), ZERO)
    value = sum((item.unit_value * item.quantity for item in covered), ZERO)
    share = value / total if total else Decimal(len(covered)) / len(items)
    which = ", ".join(f"{item.sku} (HS {item.hs_code}, origin {item.origin_country})" for item in covered)
    sheet.reasons.append(f"{row.name}: applies to {which}: {_pct((share * HUNDRED).quantize(Decimal('0.01')))}% of "
                         "the goods value")
    return share


def _duty(sheet: _Sheet, row: ImportRegime, values: _Values, payer: str) -> tuple[Decimal, Band]:
    """The duty (or surcharge) of one row and the band it fell in."""
    band = _band(sheet, row, values)
    return _band_duty(sheet, row, band, values.basis(row.value_basis), payer), band


def _band_duty(sheet: _Sheet, row: ImportRegime, band: Band, customs_value: Decimal, payer: str) -> Decimal:
    if band.method is Method.EXEMPT:
        return ZERO
    if band.method is Method.TARIFF:
        return _tariff_duty(sheet, row, customs_value, payer)
    if band.method is Method.PER_SUBHEADING:
        per = band.amount or ZERO  # set on every per_subheading band (checked when the table loads)
        subheadings = sorted({item.hs_code[:6] for item in sheet.request.items})
        amount = sheet.local(per * len(subheadings), row.currency)
        times = f"{_limit(per, row.currency)} x {len(subheadings)}"
        sheet.reasons.append(f"{row.name}: {times} subheadings ({', '.join(subheadings)})")
        sheet.add("duty", f"{row.name}: {times} HS subheadings", amount, payer, row.cite())
        return amount
    # FLAT: a rate of the customs value, less a fixed deduction, never below zero.
    rate = row.rate(band)
    if row.measure is Measure.SURCHARGE and row.less_mfn:
        gross = _all_in_surcharge(sheet, row, rate, customs_value)
        sheet.add("duty", f"{row.name}: {_pct(rate)}% all-in (less each item's MFN rate) of the "
                          f"{row.value_basis.upper()} value", gross, payer, row.cite())
        return gross
    if row.measure is Measure.SURCHARGE and row.per_item:
        customs_value *= _covered_share(sheet, row)
    gross = rate / HUNDRED * customs_value
    deduction = sheet.local(band.deduction, row.currency) if band.deduction else ZERO
    amount = max(gross - deduction, ZERO)
    label = f"{row.name}: {_pct(rate)}% of the {row.value_basis.upper()} value"
    if band.deduction:
        label += f" minus {_limit(band.deduction, row.currency)}"
    sheet.add("duty", label, amount, payer, row.cite())  # surcharges are duty too
    return amount


def _tax(sheet: _Sheet, row: ImportRegime, values: _Values, duty: Decimal, payer: str) -> tuple[Decimal, bool]:
    """The tax and whether it is collected at import (so clearance fees apply)."""
    band = _band(sheet, row, values)
    if band.method not in (Method.IMPORT, Method.AT_SALE):
        return ZERO, False
    rate = row.rate(band) * band.rate_factor
    value = values.basis(row.value_basis)
    uplift = value * row.base_uplift_pct / HUNDRED
    base = value + uplift + duty
    shown_rate = f"{_pct(row.rate(band))}%" + (
        f" x {_pct(band.rate_factor * HUNDRED)}%" if band.rate_factor != 1 else "")
    words = BASIS_WORDS[row.value_basis]
    if row.base_uplift_pct:
        words += f" + {_pct(row.base_uplift_pct)}% of it"
    basis = f"{words} + duty = {_money(base, sheet.currency)}"
    if row.tax_inclusive:
        # "Por dentro": the tax is part of its own base, so base = (value + duty) / (1 - rate).
        base = base / (1 - rate / HUNDRED)
        basis = f"({basis}) / (1 - {_pct(rate)}%) = {_money(base, sheet.currency)}, the tax inside its own base"
    amount = base * rate / HUNDRED
    dest = sheet.request.destination.country
    sheet.reasons.append(f"{row.tax_name} base: {basis}")
    if row.waive_up_to is not None:
        in_row_currency = sheet.foreign(amount, row.currency)
        if in_row_currency <= row.waive_up_to:
            sheet.reasons.append(f"{row.name}: {row.tax_name} {_money(in_row_currency, row.currency)} <= "
                                 f"{_limit(row.waive_up_to, row.currency)}: not collected")
            return ZERO, False
    if band.method is Method.AT_SALE:
        label = (f"{row.tax_name} {shown_rate} ({dest}), collected at sale by the seller"
                 f"{f' ({band.scheme})' if band.scheme else ''}: seller pays whatever the incoterm")
        sheet.add("tax", label, amount, SELLER, row.cite())
        return amount, False
    sheet.add("tax", f"import {row.tax_name} {shown_rate} ({dest})", amount, payer, row.cite())
    return amount, True


def _insurance(sheet: _Sheet, values: _Values, loading: Decimal) -> Decimal:
    request = sheet.request
    if not (request.insurance and request.insurance.requested):
        sheet.reasons.append("insurance not requested")
        return ZERO
    ix, on, dest = _index(sheet.book), request.ship_date, request.destination.country
    row: InsuranceRate | None = _first(ix.insurance.get(dest, ()), on) or _first(ix.insurance.get("*", ()), on)
    if row is None:
        sheet.reasons.append(f"insurance: no insurance_rates row for {dest} nor '*' on {on}: premium not computed")
        return ZERO
    rate = row.rate_pct + loading
    insured = (values.goods + values.freight) * row.insured_pct / HUNDRED
    premium = insured * rate / HUNDRED
    minimum = sheet.local(row.min_premium, row.currency) if row.min_premium else ZERO
    why = (f"insurance: {_pct(rate)}% ({_pct(row.rate_pct)}% + {_pct(loading)} pt risk loading) x "
           f"{_pct(row.insured_pct)}% of CIF {_money(values.goods + values.freight, sheet.currency)}")
    if premium < minimum:
        why += (f" = {_money(premium, sheet.currency)}, below the minimum premium "
                f"{_limit(row.min_premium, row.currency)}")
        premium = minimum
    sheet.reasons.append(why)
    cover = f", {row.cover}" if row.cover else ""
    sheet.add("insurance", f"cargo insurance {_pct(rate)}% of {_pct(row.insured_pct)}% CIF{cover}", premium,
              SELLER, row.cite())
    return premium


def _fee_row(sheet: _Sheet, kind: FeeKind, territory: str) -> Fee | None:
    ix, on, dest = _index(sheet.book), sheet.request.ship_date, sheet.request.destination.country
    for where in dict.fromkeys((dest, territory, "*")):
        row = _first(ix.fees.get((where, kind), ()), on)
        if row is not None:
            return row
    return None


def _fee(sheet: _Sheet, row: Fee, collected: Decimal) -> Decimal:
    fixed = sheet.local(row.fixed, row.currency) if row.fixed else ZERO
    minimum = sheet.local(row.minimum, row.currency) if row.minimum else ZERO
    return max(minimum, fixed + collected * row.pct / HUNDRED)


def _fees(sheet: _Sheet, territory: str, collected: Decimal, payer: str) -> None:
    if not collected:
        sheet.reasons.append("nothing collected at import: no brokerage or disbursement fee")
        return
    brokerage = _fee_row(sheet, FeeKind.BROKERAGE, territory)
    if brokerage is not None:
        sheet.add("fee", f"customs brokerage ({brokerage.destination})", _fee(sheet, brokerage, collected), payer,
                  brokerage.cite())
    if sheet.request.incoterm is Incoterm.DDP:
        disbursement = _fee_row(sheet, FeeKind.DDP_DISBURSEMENT, territory)
        if disbursement is not None:
            label = f"DDP disbursement {_pct(disbursement.pct)}% of duties and taxes advanced"
            if disbursement.minimum:
                label += f", min {_limit(disbursement.minimum, disbursement.currency)}"
            sheet.add("fee", label, _fee(sheet, disbursement, collected), SELLER, disbursement.cite())


def _import_charges(sheet: _Sheet, values: _Values, payer: str) -> tuple[str, Decimal]:
    """Duties, surcharges and taxes; returns the destination's tariff area and what is collected at import."""
    request, book, on = sheet.request, sheet.book, sheet.request.ship_date
    dest, origin = request.destination.country, request.origin.country
    territory = customs_territory(dest, on, book)
    if territory == customs_territory(origin, on, book):
        sheet.reasons.append(f"{origin} -> {dest} stays in customs territory {territory}: no import duty or tax")
        return territory, ZERO
    duty_rows = regimes_for(request, dest, Measure.DUTY, book)
    tax_rows = regimes_for(request, dest, Measure.TAX, book)
    _coverage(sheet, [name for name, rows in (("duty", duty_rows), ("tax", tax_rows)) if not rows])
    duty_band: Band | None = None
    if duty_rows:
        row = duty_rows[0]
        basis = "goods + freight + insurance (CIF)" if row.value_basis is ValueBasis.CIF else "goods value (FOB)"
        sheet.reasons.append(f"customs value for {dest}: {basis} = "
                             f"{_money(values.basis(row.value_basis), sheet.currency)}")
        duty, duty_band = _duty(sheet, row, values, payer)
    else:
        sheet.reasons.append(f"duty: no import_regimes duty row for {dest} on {on}: duty not computed")
        duty = ZERO
    surcharges = regimes_for(request, dest, Measure.SURCHARGE, book)
    if surcharges and duty_band is not None and duty_band.method is Method.EXEMPT:
        # De minimis relief frees the consignment of every customs duty, additional duties included.
        names = ", ".join(row.name for row in surcharges)
        sheet.reasons.append(f"{names}: not due, the consignment is within {duty_rows[0].name}")
        surcharges = []
    for row in surcharges:
        duty += _duty(sheet, row, values, payer)[0]
    if request.claim_preference and duty:
        sheet.reasons.append("preferential origin claimed: preferential rates are not tabulated, MFN rates applied")
    tax, tax_at_import = ZERO, False
    if tax_rows:
        tax, tax_at_import = _tax(sheet, tax_rows[0], values, duty, payer)
    else:
        sheet.reasons.append(f"tax: no import_regimes tax row for {dest} on {on}: import VAT/GST not computed")
    collected = duty + (tax if tax_at_import else ZERO)
    for row in _most_specific_per_tax(regimes_for(request, dest, Measure.REGIONAL_TAX, book)):
        # A province's own sales tax beside GST, never on it: at import on value + duty; at sale on the price.
        at_sale = row.band_for(sheet.foreign(values.basis(row.measured_on), row.currency))[1].method is Method.AT_SALE
        regional, at_import = _tax(sheet, row, values, ZERO if at_sale else duty, payer)
        collected += regional if at_import else ZERO
    return territory, collected


def _most_specific_per_tax(rows: list[ImportRegime]) -> list[ImportRegime]:
    """One row per tax: the most specific (rows come most specific first), as for the national tax."""
    chosen: dict[str | None, ImportRegime] = {}
    for row in rows:
        chosen.setdefault(row.tax_name, row)
    return list(chosen.values())


UNKNOWN = {"duty": "duties", "tax": "import taxes"}


def _coverage(sheet: _Sheet, missing: list[str]) -> None:
    """A destination without duty or tax rows on the ship date is not covered: say so, never a silent zero."""
    if not missing:
        return
    request = sheet.request
    dest, on, what = request.destination.country, request.ship_date, " and ".join(missing)
    unknown = " and ".join(UNKNOWN[measure] for measure in missing)
    sheet.findings.append(Finding(
        check="landed_cost", code="LANDED_COST_NOT_COVERED", severity=Severity.WARNING, field="destination.country",
        message=(f"destination.country: {dest} has no import_regimes {what} rows in force on {on}: its {unknown} "
                 "are not covered by the rule tables (shown as 0, not known to be 0)"),
        details={"destination": dest, "ship_date": on.isoformat(), "missing": ",".join(missing)}))


def _partner_fees(sheet: _Sheet, fees: list[CostLine]) -> None:
    ddp = sheet.request.incoterm is Incoterm.DDP
    for i, line in enumerate(fees):
        if line.component not in COMPONENTS:
            raise ValueError(f"partner_fees[{i}].component: '{line.component}' is not one of {', '.join(COMPONENTS)}")
        if line.amount < 0:
            raise ValueError(f"partner_fees[{i}].amount: {line.amount} is negative")
        if line.payer not in (SELLER, BUYER):
            raise ValueError(f"partner_fees[{i}].payer: '{line.payer}' is not seller or buyer")
        payer = line.payer
        if ddp and payer == BUYER:
            # Under DDP the buyer pays nothing on delivery: the seller carries the partner's charge.
            sheet.reasons.append(f"partner_fees[{i}] ({line.label}): DDP, so the seller pays it")
            payer = SELLER
        sheet.add(line.component, line.label, line.amount, payer, line.source)


def landed_cost(
    request: ShipmentRequest,
    freight: Money,
    book: RuleBook,
    *,
    insurance_loading_pct: Decimal = Decimal("0"),
    partner_fees: list[CostLine] | None = None,
) -> LandedCost:
    """What the goods cost delivered, in the shipment currency, and who pays each part under the incoterm.

    Args:
        request: The shipment; its ship date selects every rule and exchange rate.
        freight: The chosen plan's freight (any currency; converted on the ship date).
        book: The rule book (import_regimes, duty_rates, insurance_rates, fees, fx_rates).
        insurance_loading_pct: Risk loading added to the insurance rate, in percentage points.
        partner_fees: Extra charges quoted by partners (amounts in the shipment currency).

    Returns:
        The breakdown; total = goods + freight + insurance + duties + taxes + fees, and seller_pays + buyer_pays =
        total - goods.

    Raises:
        FxUnavailable: a currency needed has no reference rate on the ship date.
        ValueError: freight or a partner fee is negative or malformed (the message names the field).
    """
    if freight.amount < 0:
        raise ValueError(f"freight.amount: {freight.amount} is negative")
    if insurance_loading_pct < 0:
        raise ValueError(f"insurance_loading_pct: {insurance_loading_pct} is negative")
    sheet = _Sheet(request, book)
    ddp = request.incoterm is Incoterm.DDP
    import_payer = SELLER if ddp else BUYER
    sheet.reasons.append(
        f"{request.incoterm.value}: seller pays freight and insurance; duties, import taxes and clearance fees "
        + ("are paid by the seller (buyer pays nothing on delivery)" if ddp else "are due from the buyer on delivery"))
    goods = request.declared_value
    freight_local = sheet.local(freight.amount, freight.currency.upper())
    sheet.add("freight", "freight", freight_local, SELLER, None)
    values = _Values(goods=goods, freight=freight_local, insurance=ZERO)
    premium = _insurance(sheet, values, insurance_loading_pct)
    values = _Values(goods=goods, freight=freight_local, insurance=premium)
    territory, collected = _import_charges(sheet, values, import_payer)
    _fees(sheet, territory, collected, import_payer)
    _partner_fees(sheet, partner_fees or [])
    return _total(sheet)


def _total(sheet: _Sheet) -> LandedCost:
    """Round every line to the currency's minor units, then add up, so the totals equal the sum of the lines."""
    q = _quantum(sheet.currency)
    lines = [line.model_copy(update={"amount": line.amount.quantize(q, ROUND_HALF_UP)}) for line in sheet.lines]
    zero = ZERO.quantize(q)
    sums = dict.fromkeys(COMPONENTS, zero)
    paid = {SELLER: zero, BUYER: zero}
    for line in lines:
        sums[line.component] += line.amount
        paid[line.payer] += line.amount
    goods = sheet.request.declared_value.quantize(q, ROUND_HALF_UP)
    return LandedCost(
        incoterm=sheet.request.incoterm.value, currency=sheet.currency, goods_value=goods,
        freight=sums["freight"], duties=sums["duty"], taxes=sums["tax"], insurance=sums["insurance"],
        fees=sums["fee"], total=goods + sum(sums.values(), zero), seller_pays=paid[SELLER], buyer_pays=paid[BUYER],
        lines=lines, fx=sheet.fx, reasons=sheet.reasons, findings=sheet.findings)
