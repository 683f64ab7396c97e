"""Inventory's models: the warehouse network and SKU catalogue (master data), sales history, stock views, and what
the replenishment workflow and its activities exchange."""

from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from tradelane.decisions.models import Money
from tradelane.enums import Mode
from tradelane.inventory.ledger import MovementKind
from tradelane.models import (
    Actor,
    Comment,
    CountryCode,
    CurrencyCode,
    Finite,
    HsCode,
    Party,
    Printable,
    RecordedShipmentRequest,
    ShortText,
    Text,
    WarehouseId,
)
from tradelane.shipment.config import ApprovalPolicy, ShipmentTimings

Sku = ShortText


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Warehouse(_Input):
    """A place that holds (or supplies) the merchant's stock."""

    warehouse_id: WarehouseId
    merchant_id: ShortText
    name: Text
    address: Party
    """Where shipments from and to this warehouse start and end (a business address; the country is the market)."""
    stock_managed: bool = True
    """False for a supplier or factory: replenishments leave it without a reservation (its stock is not ours)."""
    replenished_from: WarehouseId | None = None
    """Where this warehouse's stock comes from; suggestions are made only for warehouses that have one."""
    handling_days: Annotated[int, Field(ge=0, le=30)] = 2
    """Days to pick, pack and hand over (at the source) or to receive and shelve (here); added to lead times."""

    @property
    def country(self) -> str:
        return self.address.country


class Carton(_Input):
    units: Annotated[int, Field(gt=0, le=10_000)]
    length_cm: Annotated[float, Finite, Field(gt=0, le=300)]
    width_cm: Annotated[float, Finite, Field(gt=0, le=300)]
    height_cm: Annotated[float, Finite, Field(gt=0, le=300)]


class SkuSpec(_Input):
    """An article in the catalogue: what a replenishment shipment declares, and its stock policy."""

    sku: Sku
    merchant_id: ShortText
    description: Text
    hs_code: HsCode
    unit_value: Annotated[Decimal, Field(ge=0, le=Decimal("9999999.99"), max_digits=9, decimal_places=2)]
    currency: CurrencyCode
    origin_country: CountryCode
    unit_weight_kg: Annotated[float, Finite, Field(gt=0, le=1_000)]
    carton: Carton
    service_level: Annotated[float, Finite, Field(ge=0.5, le=0.9999)] = 0.95
    """Cycle service level: the chance of no stock-out in a replenishment cycle; sets the safety factor."""
    cover_days: Annotated[int, Field(ge=1, le=365)] = 28
    """Demand one order covers beyond its lead time."""


class Network(_Input):
    """Master data in one document (`PUT /v1/inventory/network`, `tradelane inventory setup`)."""

    warehouses: list[Warehouse] = Field(default_factory=list, max_length=500)
    skus: list[SkuSpec] = Field(default_factory=list, max_length=10_000)

    @model_validator(mode="after")
    def _consistent(self) -> "Network":
        ids = [w.warehouse_id for w in self.warehouses]
        for index, warehouse in enumerate(self.warehouses):
            if ids.index(warehouse.warehouse_id) != index:
                raise ValueError(f"warehouses[{index}].warehouse_id: '{warehouse.warehouse_id}' appears twice")
        skus = [s.sku for s in self.skus]
        for index, spec in enumerate(self.skus):
            if skus.index(spec.sku) != index:
                raise ValueError(f"skus[{index}].sku: '{spec.sku}' appears twice")
        return self


class SaleRecord(_Input):
    """Units sold of one SKU in one market on one day (the sales history forecasts learn from)."""

    day: date = Field(ge=date(2000, 1, 1), le=date(2099, 12, 31))
    sku: Sku
    market: CountryCode
    quantity: Annotated[int, Field(ge=0, le=10_000_000)]


class StockAdjustment(_Input):
    """A manual receipt or count correction (ops)."""

    warehouse_id: WarehouseId
    sku: Sku
    kind: MovementKind = MovementKind.ADJUSTMENT
    quantity: Annotated[int, Field(ge=-10_000_000, le=10_000_000)]
    reason: Text
    actor: Actor
    reference: Annotated[str, StringConstraints(min_length=1, max_length=64), Printable] | None = None
    """Your id for this movement (e.g. a goods-receipt note): posting it twice records it once."""

    @model_validator(mode="after")
    def _kind(self) -> "StockAdjustment":
        if self.kind not in (MovementKind.RECEIPT, MovementKind.ADJUSTMENT):
            raise ValueError(f"kind: '{self.kind}' is posted by shipments; use receipt or adjustment")
        if self.quantity == 0 or (self.kind is MovementKind.RECEIPT and self.quantity < 0):
            raise ValueError(f"quantity: {self.quantity} is not valid for {self.kind.named}")
        return self


class InboundView(BaseModel):
    shipment_id: str
    quantity: int
    status: str | None = None
    eta_expected: date | None = None
    eta_latest: date | None = None
    """From the shipment's tracking: revised with every event (the read model)."""


class StockView(BaseModel):
    """One SKU at one warehouse, as `GET /v1/inventory` shows it."""

    warehouse_id: str
    country: str
    sku: str
    on_hand: int
    reserved: int
    available: int
    in_transit: int
    inbound: list[InboundView] = Field(default_factory=list)
    movements: int
    """How many ledger rows add up to this position."""


class MovementView(BaseModel):
    seq: int
    warehouse_id: str
    sku: str
    kind: MovementKind
    quantity: int
    on_hand_delta: int
    reserved_delta: int
    in_transit_delta: int
    shipment_id: str | None
    reason: str
    actor: str
    at: datetime


class SuggestionState(StrEnum):
    PROPOSED = "proposed"
    APPROVED = "approved"
    REJECTED = "rejected"
    EXPIRED = "expired"
    STARTED = "started"
    """Its replenishment shipment was started (see `shipment_id`)."""
    FAILED = "failed"
    """Approved, but its shipment could not be started (see `note`)."""


class Suggestion(BaseModel):
    """A replenishment the policy suggests, with everything ops need to decide and the shipment to start."""

    suggestion_id: str
    run_id: str
    as_of: date
    warehouse_id: str
    source_id: str
    sku: str
    quantity: int
    mode: Mode
    plan_id: str
    lead_time_days: float
    lead_time_sd_days: float
    cost: Money
    co2e_kg: float
    stockout_risk: float
    safety_stock: float
    reorder_point: float
    inventory_position: float
    forecast_method: str
    mase: float | None = None
    naive_mase: float | None = None
    reasons: list[str] = Field(default_factory=list)
    alternative: str | None = None
    """The other mode, for comparison: `air_freight: 1234.50 EUR, 412 kg CO2e, 9 days`."""
    request: RecordedShipmentRequest
    """The replenishment shipment that approval starts."""
    state: SuggestionState = SuggestionState.PROPOSED
    decided_by: str | None = None
    comment: str | None = None
    shipment_id: str | None = None
    note: str | None = None


class SuggestRequest(BaseModel):
    """Input of `inventory.suggest`."""

    run_id: str
    as_of: date
    merchant_id: str | None = None


class SuggestResult(BaseModel):
    suggestions: list[Suggestion] = Field(default_factory=list)
    skipped: list[str] = Field(default_factory=list)
    """SKUs and warehouses with no suggestion, and why (enough stock, no history, no lane)."""


class ReplenishmentInput(BaseModel):
    """The scheduled workflow's input: set when the schedule is created from the settings."""

    merchant_id: str | None = None
    as_of: date | None = None
    """The planning day; the workflow's own date (the schedule's firing day) when absent."""
    approval_timeout: timedelta = timedelta(hours=20)
    """Suggestions undecided after this expire; the next run suggests afresh from the newer stock."""
    timings: ShipmentTimings = Field(default_factory=ShipmentTimings)
    approvals: ApprovalPolicy = Field(default_factory=ApprovalPolicy)
    events_url: str | None = None
    """What the shipment workflows it starts get (the same as a shipment started through the API)."""


class SuggestionDecision(BaseModel):
    """Ops' decision on a run's suggestions (the `decide` update). Ids not named stay proposed."""

    model_config = ConfigDict(extra="forbid")

    actor: Actor
    approve: list[Annotated[str, Printable]] = Field(default_factory=list, max_length=1000)
    reject: list[Annotated[str, Printable]] = Field(default_factory=list, max_length=1000)
    approve_all: bool = False
    """Approve every suggestion still proposed (besides those in `reject`)."""
    comment: Comment = ""


class ReplenishmentState(BaseModel):
    """The query answer and result of a replenishment run."""

    run_id: str
    as_of: date | None = None
    status: str = "planning"
    """planning, awaiting_approval, starting, done."""
    suggestions: list[Suggestion] = Field(default_factory=list)
    skipped: list[str] = Field(default_factory=list)
    decisions: list[SuggestionDecision] = Field(default_factory=list)
