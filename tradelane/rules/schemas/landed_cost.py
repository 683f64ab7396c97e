"""Rows of the landed-cost tables: import regimes (one measure of a destination, in value bands), duty rates per HS
heading, insurance rates and clearance fees."""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from functools import cache
from typing import Annotated, Any

import pycountry
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from tradelane.enums import Incoterm
from tradelane.models import Item, ShipmentRequest
from tradelane.rules.base import Rule

Country = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]
HsPrefix = Annotated[str, StringConstraints(pattern=r"^\d{2,10}$")]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
NonNegative = Annotated[Decimal, Field(ge=0)]

ZERO = Decimal("0")


@cache
def _subdivisions(country: str) -> dict[str, str]:
    """A country's subdivision names and ISO 3166-2 codes (casefolded) -> the code without the country prefix."""
    found = pycountry.subdivisions.get(country_code=country) or []
    names = {sub.name.casefold(): sub.code.split("-", 1)[1] for sub in found}
    return names | {sub.code.casefold(): sub.code.split("-", 1)[1] for sub in found}


def region_code(country: str, region: str | None) -> str:
    """`destination.region` as the subdivision code the rows name: `Ontario`, `CA-ON` and `on` all give `ON`."""
    text = (region or "").strip()
    return _subdivisions(country).get(text.casefold(), text.upper())


class Measure(StrEnum):
    DUTY = "duty"
    SURCHARGE = "surcharge"
    """Extra duty on top of the regular one (e.g. the US Section 122 surcharge); every matching row applies."""
    TAX = "tax"
    REGIONAL_TAX = "regional_tax"
    """A subdivision's sales tax levied beside the national one (Canada's PST in British Columbia, Manitoba and
    Saskatchewan, Quebec's QST); every matching row applies, on its own base (the national tax is not in it)."""


class Method(StrEnum):
    """How a band computes its measure."""

    EXEMPT = "exempt"
    """Nothing due (below a de minimis threshold)."""
    TARIFF = "tariff"
    """Duty at the HS heading's rate from `duty_rates`."""
    FLAT = "flat"
    """rate_pct of the customs value minus `deduction` (Brazil, Mexico's courier global rates, surcharges)."""
    PER_SUBHEADING = "per_subheading"
    """`amount` per distinct 6-digit HS subheading in the consignment (EU flat EUR 3 from 2026-07-01)."""
    IMPORT = "import"
    """Tax at rate_pct x rate_factor on the duty-paid value, collected at import (payer per incoterm)."""
    AT_SALE = "at_sale"
    """Like `import`, but collected at sale by the seller (IOSS, UK, AU, SG): the seller pays whatever the incoterm."""
    INCLUDED = "included"
    """Tax covered by a flat global rate charged as duty (Mexico's courier regime)."""
    NONE = "none"
    """The destination has no VAT/GST at import (US)."""


METHODS = {
    Measure.DUTY: {Method.EXEMPT, Method.TARIFF, Method.FLAT, Method.PER_SUBHEADING},
    Measure.SURCHARGE: {Method.EXEMPT, Method.FLAT},
    Measure.TAX: {Method.EXEMPT, Method.IMPORT, Method.AT_SALE, Method.INCLUDED, Method.NONE},
    Measure.REGIONAL_TAX: {Method.EXEMPT, Method.IMPORT, Method.AT_SALE},
}


class ValueBasis(StrEnum):
    """Which value a threshold is measured on, or a duty or tax computed on."""

    GOODS = "goods"
    """The intrinsic value: the price of the goods alone, without transport and insurance (the EU's EUR 150 and the
    UK's GBP 135 thresholds; the US de minimis' fair retail value)."""
    FOB = "fob"
    """Goods value free on board (US, CA, AU customs value); without inland costs Tradelane holds it equal to GOODS."""
    CIF = "cif"
    """Goods + freight + insurance (EU, UK, JP, CN, BR customs value)."""


class Band(BaseModel):
    """One slice of goods value (in the row's currency) and how the measure is computed in it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    up_to: NonNegative | None = None
    """Inclusive upper limit of the goods value; None for the last, open band."""
    method: Method
    label: str = Field(min_length=3)
    """Why, for the reasons: e.g. `within the USD 800 de minimis: no duty`."""
    rate_pct: NonNegative | None = None
    """Overrides the row's rate_pct in this band."""
    rate_factor: Annotated[Decimal, Field(gt=0, le=1)] = Decimal("1")
    """Share of the rate charged (China CBEC: 0.7)."""
    deduction: NonNegative = ZERO
    """Subtracted from a flat duty, in the row's currency (Brazil: USD 20)."""
    amount: NonNegative | None = None
    """Per-subheading amount, in the row's currency."""
    scheme: str = ""
    """Name of the collection scheme for line labels, e.g. `IOSS`."""


class ImportRegime(Rule):
    """One measure of one or more destinations' import regime, for goods meeting the row's conditions."""

    table_name = "import_regimes"

    name: str = Field(min_length=3)
    countries: list[Country] = Field(min_length=1)
    measure: Measure
    currency: Currency
    """Currency of the thresholds, deductions and amounts."""
    value_basis: ValueBasis = ValueBasis.CIF
    """The value the measure is computed on (for a tax: the base the duty is added to)."""
    threshold_basis: ValueBasis | None = None
    """The value the bands' `up_to` limits are measured on, where it differs from `value_basis` (the EU measures
    its EUR 150 on the intrinsic value, `goods`, and computes on CIF); `value_basis` when empty."""
    tax_inclusive: bool = False
    """The tax is part of its own base ("por dentro", Brazil's ICMS): base = (value + duty) / (1 - rate)."""
    base_uplift_pct: NonNegative = ZERO
    """Percent of the value added to a tax's base (South Africa's added tax value: customs value + duty + 10% of the
    customs value)."""
    tariff: str | None = None
    """duty_rates schedule (e.g. `EU`); the destination country when empty. Also its customs territory."""
    tax_name: str | None = None
    rate_pct: NonNegative | None = None
    ship_from: list[Country] | None = None
    """Only for goods shipped from these countries (e.g. CUSMA: US, MX)."""
    regions: list[Annotated[str, StringConstraints(pattern=r"^[A-Z]{2,3}$")]] | None = None
    """Only for deliveries to these subdivisions of the destination (`destination.region`, e.g. Canada's provinces
    `ON`, `NS`: HST instead of GST)."""
    item_origins: list[Country] | None = None
    """Only for consignments holding goods of these origins (an item's `origin_country`), e.g. the US de minimis
    ended for goods of China and Hong Kong before the others. A duty row then applies to the whole consignment; a
    surcharge is charged on the matching items' share of the customs value only."""
    hs_codes: list[HsPrefix] | None = None
    """Only for goods under these HS chapters, headings or subheadings (prefixes of an item's `hs_code`), e.g. the
    US Section 301 lists; like `item_origins`, a surcharge is charged on the matching items only."""
    except_origins: list[Country] | None = None
    """Not for goods of these origins (the US reciprocal duties spared Canada and Mexico, and rate China apart)."""
    except_hs_codes: list[HsPrefix] | None = None
    """Not for goods under these HS prefixes (the exemptions of the US reciprocal duties: Annex II, Section 232
    goods, the electronics clarification)."""
    less_mfn: bool = False
    """The rate is all-in: each covered item pays the rate less its own MFN duty rate, never below zero (the US
    reciprocal duty of 15 % on goods of the EU and Japan from 2025-08-07)."""
    incoterm: Incoterm | None = None
    """Only under this incoterm (Brazil: Remessa Conforme needs the taxes collected at checkout, i.e. DDP)."""
    waive_up_to: NonNegative | None = None
    """A tax amount at or below this (row currency) is not collected (Switzerland: CHF 5)."""
    bands: list[Band] = Field(min_length=1)

    @model_validator(mode="after")
    def _check(self) -> ImportRegime:
        closed = [band.up_to for band in self.bands[:-1] if band.up_to is not None]
        if self.bands[-1].up_to is not None or len(closed) != len(self.bands) - 1:
            raise ValueError(f"{self.name}: bands: only the last band is open (up_to empty)")
        if any(a >= b for a, b in zip(closed, closed[1:])):
            raise ValueError(f"{self.name}: bands: up_to must increase")
        for i, band in enumerate(self.bands):
            where = f"{self.name}: bands[{i}]"
            if band.method not in METHODS[self.measure]:
                raise ValueError(f"{where}.method: {band.method} is not a {self.measure} method")
            rated = band.method in (Method.FLAT, Method.IMPORT, Method.AT_SALE)
            if rated and band.rate_pct is None and self.rate_pct is None:
                raise ValueError(f"{where}.rate_pct: {band.method} needs a rate (on the band or the row)")
            if band.method is Method.PER_SUBHEADING and band.amount is None:
                raise ValueError(f"{where}.amount: per_subheading needs an amount")
            if band.method in (Method.IMPORT, Method.AT_SALE) and not self.tax_name:
                raise ValueError(f"{self.name}: tax_name: needed for {band.method} bands")
            if self.tax_inclusive and rated and self.rate(band) >= 100:
                raise ValueError(f"{where}.rate_pct: a tax inside its own base needs a rate below 100%")
        if self.base_uplift_pct and self.measure not in (Measure.TAX, Measure.REGIONAL_TAX):
            raise ValueError(f"{self.name}: base_uplift_pct: only a tax base is uplifted")
        if self.measure is Measure.REGIONAL_TAX and not self.regions:
            raise ValueError(f"{self.name}: regions: a regional tax names the subdivisions it is levied in")
        if self.less_mfn and self.measure is not Measure.SURCHARGE:
            raise ValueError(f"{self.name}: less_mfn: only a surcharge is charged less the MFN rate")
        if self.tax_inclusive and self.measure is not Measure.TAX:
            raise ValueError(f"{self.name}: tax_inclusive: only a tax is computed inside its own base")
        return self

    def key(self) -> tuple[Any, ...]:
        return (tuple(self.countries), self.measure, tuple(self.ship_from or ()), self.incoterm,
                tuple(self.item_origins or ()), tuple(self.hs_codes or ()), tuple(self.regions or ()),
                tuple(self.except_origins or ()), tuple(self.except_hs_codes or ()),
                # Surcharges stack: two of the same goods are two measures, told apart by name.
                self.name if self.measure is Measure.SURCHARGE else "")

    @property
    def specificity(self) -> int:
        return ((self.ship_from is not None) + (self.incoterm is not None) + (self.item_origins is not None)
                + (self.hs_codes is not None) + (self.regions is not None))

    def covers(self, item: Item) -> bool:
        """Whether an item meets the row's origin and HS conditions (every item does when the row has none)."""
        return ((self.item_origins is None or item.origin_country in self.item_origins)
                and (self.hs_codes is None or item.hs_code.startswith(tuple(self.hs_codes)))
                and (self.except_origins is None or item.origin_country not in self.except_origins)
                and (self.except_hs_codes is None or not item.hs_code.startswith(tuple(self.except_hs_codes))))

    @property
    def per_item(self) -> bool:
        """Whether the row's conditions pick items, so a surcharge is charged on theirs only."""
        return bool(self.item_origins or self.hs_codes or self.except_origins or self.except_hs_codes
                    or self.less_mfn)

    def applies(self, request: ShipmentRequest) -> bool:
        region = region_code(request.destination.country, request.destination.region)
        return ((self.ship_from is None or request.origin.country in self.ship_from)
                and (self.incoterm is None or request.incoterm is self.incoterm)
                and (self.regions is None or region in self.regions)
                and any(self.covers(item) for item in request.items))

    def band_for(self, value: Decimal) -> tuple[int, Band]:
        for i, band in enumerate(self.bands):
            if band.up_to is None or value <= band.up_to:
                return i, band
        raise AssertionError("the last band is open")  # guaranteed by _check

    @property
    def measured_on(self) -> ValueBasis:
        """The value the bands' limits are measured on."""
        return self.threshold_basis or self.value_basis

    def rate(self, band: Band) -> Decimal:
        return band.rate_pct if band.rate_pct is not None else (self.rate_pct or ZERO)


class DutyRate(Rule):
    """A schedule's MFN duty for one 4-digit HS heading, or a 2-digit chapter for the headings of that chapter not
    tabulated (`*`: the default for headings and chapters not tabulated)."""

    table_name = "duty_rates"

    schedule: str = Field(min_length=2)
    heading: Annotated[str, StringConstraints(pattern=r"^(\d{4}|\d{2}|\*)$")]
    rate_pct: NonNegative = ZERO
    per_100kg: NonNegative | None = None
    """Specific duty per 100 kg gross weight, in `currency`."""
    currency: Currency | None = None

    @model_validator(mode="after")
    def _check(self) -> DutyRate:
        if self.per_100kg is not None and self.currency is None:
            raise ValueError(f"{self.schedule} {self.heading}: currency: needed with per_100kg")
        return self

    def key(self) -> tuple[str, str]:
        return (self.schedule, self.heading)


class InsuranceRate(Rule):
    table_name = "insurance_rates"

    destination: str = Field(min_length=1)
    """Country code or `*`."""
    rate_pct: NonNegative
    insured_pct: Annotated[Decimal, Field(gt=0)] = Decimal("110")
    min_premium: NonNegative = ZERO
    currency: Currency
    cover: str = ""

    def key(self) -> tuple[str]:
        return (self.destination,)


class FeeKind(StrEnum):
    BROKERAGE = "brokerage"
    DDP_DISBURSEMENT = "ddp_disbursement"


class Fee(Rule):
    table_name = "fees"

    destination: str = Field(min_length=1)
    """Country code, tariff area (e.g. `EU`) or `*`."""
    kind: FeeKind
    fixed: NonNegative = ZERO
    pct: NonNegative = ZERO
    """Percent of the duties and taxes collected at import."""
    minimum: NonNegative = ZERO
    currency: Currency

    def key(self) -> tuple[str, FeeKind]:
        return (self.destination, self.kind)
