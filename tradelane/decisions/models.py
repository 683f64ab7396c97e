"""What the decision layer returns. Every result carries its reasons, so the API, CLI and Web UI can explain it."""

from datetime import date
from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, Field

from tradelane.enums import Aircraft, DeliveryMethod, Mode


class Severity(StrEnum):
    """How a finding affects the shipment, least to most severe."""

    INFO = "info"
    WARNING = "warning"
    """Worth knowing; the shipment goes on."""
    HOLD = "hold"
    """A person must clear it (approval gate) before anything is booked."""
    BLOCK = "block"
    """The shipment must not go: it is rejected with the reasons."""


SEVERITY_ORDER = {Severity.INFO: 0, Severity.WARNING: 1, Severity.HOLD: 2, Severity.BLOCK: 3}


class Finding(BaseModel):
    """One result of a check, e.g. `items[0].hs_code: chapter 77 is reserved`."""

    check: str
    """Which check: `hs_code`, `documents`, `restricted_goods`, `dangerous_goods`, `sanctions`, `denied_party`,
    `packaging`, `marking`."""
    code: str
    """Stable machine code, e.g. `HS_CHAPTER_RESERVED`, `EMBARGOED_DESTINATION`, `DENIED_PARTY_MATCH`."""
    severity: Severity
    message: str
    """Human explanation naming the field and the rule, e.g. `destination.country: CU is under a US embargo`."""
    field: str | None = None
    """Path of the request field concerned, e.g. `items[1].hs_code`, `destination.name`."""
    source: str | None = None
    """Citation of the rule row that produced the finding (`Rule.cite()`)."""
    details: dict[str, str] = Field(default_factory=dict)
    """Extra facts, e.g. the matched list entry for a denied-party hit."""


def worst(findings: list[Finding]) -> Severity:
    """The most severe finding's severity; INFO when there are none."""
    return max((f.severity for f in findings), key=SEVERITY_ORDER.__getitem__, default=Severity.INFO)


class Money(BaseModel):
    amount: Decimal
    currency: str


class Quote(BaseModel):
    """A partner's price for one lane (a leg of a plan, or the whole way)."""

    quote_id: str
    partner: str
    mode: Mode
    amount: Decimal
    currency: str
    transit_days_min: int
    transit_days_max: int
    chargeable_weight_kg: float
    co2e_kg: float
    """The partner's own estimate; plans use Tradelane's GLEC figure instead, so all plans share one method."""
    origin: str | None = None
    destination: str | None = None
    """The lane quoted; None means the shipment's own origin and destination."""


# ---- carbon ---------------------------------------------------------------------------------------------------


class LegEmission(BaseModel):
    """CO2e of one leg per ISO 14083 / GLEC: factor (g/tkm, well-to-wheel) x distance (km) x mass (t)."""

    mode: Mode
    distance_km: float
    distance_basis: str
    """How the distance was obtained, e.g. `great-circle + 95 km (GLEC air)`, `great-circle x 1.15 (approximation)`."""
    mass_t: float
    factor_g_per_tkm: float
    co2e_kg: float
    factor_source: str
    """Citation of the factor row, with its GLEC edition and status."""


class PackagingWaste(BaseModel):
    material_kg: float
    recyclable_share: float
    """0..1, by weight."""
    by_material: dict[str, float] = Field(default_factory=dict)
    source: str = ""


class Emissions(BaseModel):
    """A shipment's footprint: per-leg CO2e (well-to-wheel, never mixed with tank-to-wheel) plus packaging."""

    emissions_kg_co2e: float
    legs: list[LegEmission]
    method: str = "ISO 14083 / GLEC Framework, well-to-wheel"
    packaging: PackagingWaste | None = None


# ---- transport plans ------------------------------------------------------------------------------------------


class Leg(BaseModel):
    """One movement of the goods by one mode with one partner."""

    seq: int
    mode: Mode
    partner: str
    origin: str
    """Country (ISO alpha-2) where the leg starts."""
    destination: str
    via: list[str] = Field(default_factory=list)
    """Countries the leg passes through (e.g. rail through KZ, RU, BY); checked against sanctions and exclusions."""
    aircraft: Aircraft | None = None
    chargeable_weight_kg: float
    cost: Money
    """In the leg's pricing currency."""
    cost_source: str
    """`quote <id>` when the partner quoted, else the rate-table row it came from."""
    transit_days_min: int
    transit_days_max: int
    emission: LegEmission


class RiskHit(BaseModel):
    """One risk-register entry that applies to a plan."""

    risk_id: str
    category: str
    """`weather`, `chokepoint`, `strike`, `political`, `sanctions`, `congestion`."""
    description: str
    score: float
    """0..1 contribution to the plan's risk score."""
    extra_transit_days: int = 0
    insurance_loading_pct: Decimal = Decimal("0")
    """Added to the insurance premium rate (percentage points of the insured value)."""
    source: str


class RiskAssessment(BaseModel):
    score: float
    """0 (no known risk) .. 1 (very high), combined over the hits."""
    hits: list[RiskHit] = Field(default_factory=list)
    reasons: list[str] = Field(default_factory=list)


class TransportPlan(BaseModel):
    """One way to move the goods door to door: its legs and what it costs, takes and emits."""

    plan_id: str
    """E.g. `rail+road:silkrail>roadlink@DE`: modes, partners and hubs, stable for the same inputs."""
    legs: list[Leg]
    cost: Money
    """Total freight in the shipment currency."""
    transit_days_min: int
    transit_days_max: int
    co2e_kg: float
    risk: RiskAssessment
    reasons: list[str] = Field(default_factory=list)

    @property
    def modes(self) -> list[Mode]:
        return [leg.mode for leg in self.legs]

    @property
    def partners(self) -> list[str]:
        return [leg.partner for leg in self.legs]

    @property
    def main_leg(self) -> Leg:
        """The longest leg: its carrier is the one shown as the shipment's carrier."""
        return max(self.legs, key=lambda leg: (leg.emission.distance_km, -leg.seq))


class RejectedPlan(BaseModel):
    plan_id: str
    reasons: list[str]


class PlanSet(BaseModel):
    """The planner's answer: the chosen plan, the Pareto alternatives, and every feasible plan ranked."""

    chosen: TransportPlan | None
    alternatives: list[TransportPlan] = Field(default_factory=list)
    """Pareto-optimal plans (cost, time, CO2e, risk) other than the chosen one."""
    ranked: list[TransportPlan] = Field(default_factory=list)
    """Every feasible plan, best first for the preference: the backup order when a partner fails for good."""
    rejected: list[RejectedPlan] = Field(default_factory=list)
    """Candidates that broke a hard constraint, and which."""
    reasons: list[str] = Field(default_factory=list)


# ---- landed cost ----------------------------------------------------------------------------------------------


class CostLine(BaseModel):
    """One component of the landed cost and who pays it under the incoterm."""

    component: str
    """`freight`, `insurance`, `duty`, `tax`, `fee`."""
    label: str
    """E.g. `import VAT 19% (DE)`, `duty 2.7% on HS 8544`, `customs brokerage (clearpath)`."""
    amount: Decimal
    payer: str
    """`seller` or `buyer`."""
    source: str | None = None


class LandedCost(BaseModel):
    """What the goods really cost delivered, in the shipment currency."""

    incoterm: str
    currency: str
    goods_value: Decimal
    freight: Decimal
    duties: Decimal
    taxes: Decimal
    insurance: Decimal
    fees: Decimal
    total: Decimal
    """goods + freight + insurance + duties + taxes + fees."""
    seller_pays: Decimal
    buyer_pays: Decimal
    """Due from the buyer on delivery (duties, taxes, clearance under DAP); 0 under DDP."""
    lines: list[CostLine] = Field(default_factory=list)
    fx: list[str] = Field(default_factory=list)
    """Conversions used, e.g. `1 USD = 0.9234 EUR (sample ECB reference, 2026-11-02)`."""
    reasons: list[str] = Field(default_factory=list)
    findings: list[Finding] = Field(default_factory=list)
    """What the computation could not answer, e.g. `LANDED_COST_NOT_COVERED`: a destination with no import rows on
    the ship date, whose duties or taxes are unknown (shown as 0, never to be read as 0)."""


# ---- documents, marks, packaging ------------------------------------------------------------------------------


class RequiredDocument(BaseModel):
    code: str
    """`commercial_invoice`, `packing_list`, `certificate_of_origin`, `air_waybill`, `bill_of_lading`, `cmr`,
    `rail_consignment_note`, `dangerous_goods_declaration`, ..."""
    name: str
    reason: str
    source: str | None = None
    generated: bool = False
    """Tradelane produces it (PDF) rather than the merchant or the carrier."""


class Marking(BaseModel):
    """What must be on the parcels and with them, and what is wrong with them."""

    marks: list[str] = Field(default_factory=list)
    """Marks on the package, e.g. `IPPC/ISPM 15 mark on two opposite sides (parcels[0])`, `Made in China`."""
    labels: list[str] = Field(default_factory=list)
    """Labels to apply, e.g. `Class 9 lithium battery hazard label`, `Cargo Aircraft Only`."""
    label_language: str
    """Language the product and label text must be in at the destination (e.g. `fr` for Quebec)."""
    violations: list[Finding] = Field(default_factory=list)
    reasons: list[str] = Field(default_factory=list)


# ---- last mile ------------------------------------------------------------------------------------------------


class LastMileOption(BaseModel):
    partner: str
    method: DeliveryMethod
    cost: Money
    sla_days: int
    source: str


class LastMileChoice(BaseModel):
    chosen: LastMileOption | None
    alternatives: list[LastMileOption] = Field(default_factory=list)
    reasons: list[str] = Field(default_factory=list)


# ---- the whole assessment -------------------------------------------------------------------------------------


class Compliance(BaseModel):
    """The compliance gate's verdict: `block` rejects, `hold` waits for ops, `warning`/`info` pass."""

    verdict: Severity
    findings: list[Finding] = Field(default_factory=list)


class Assessment(BaseModel):
    """Every decision for one shipment, with reasons: what the API, CLI, demo and Web UI show."""

    shipment_id: str
    ship_date: date
    plan: TransportPlan | None
    alternatives: list[TransportPlan] = Field(default_factory=list)
    """The Pareto alternatives to the chosen plan."""
    backups: list[str] = Field(default_factory=list)
    """Ids of the other feasible plans, best first: the order a backup would be tried in."""
    rejected_plans: list[RejectedPlan] = Field(default_factory=list)
    landed_cost: LandedCost | None = None
    emissions: Emissions | None = None
    compliance: Compliance
    documents: list[RequiredDocument] = Field(default_factory=list)
    marking: Marking
    risk_score: float | None = None
    last_mile: LastMileChoice
    excluded_partners: list[str] = Field(default_factory=list)
    reasons: list[str] = Field(default_factory=list)

    @property
    def emissions_kg_co2e(self) -> float | None:
        return self.emissions.emissions_kg_co2e if self.emissions else None
