"""The replenishment policy: whether to reorder a SKU today, how much, and whether by surface or by air.

A continuous-review (s, S) policy on the inventory position with a normal-approximation safety stock that covers
both demand and lead-time uncertainty. Air is chosen only when waiting for surface is too likely to run the shelf
empty: the stock-out risk before a surface shipment ordered today would arrive is above a threshold.
"""

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field
from scipy.stats import norm

from tradelane.decisions.models import Money
from tradelane.enums import Mode
from tradelane.inventory.forecast import DemandForecast

Days = Annotated[float, Field(ge=0, allow_inf_nan=False)]


class ModeOption(BaseModel):
    """One way to move a replenishment: a transport plan's lead time, cost and emissions."""

    mode: Mode
    """The main leg's mode."""
    plan_id: str
    lead_time_days: Days
    """Mean days from ordering to shelf: door to door, including both warehouses' handling."""
    lead_time_sd_days: Days
    cost: Money
    co2e_kg: Annotated[float, Field(ge=0, allow_inf_nan=False)]

    @property
    def is_air(self) -> bool:
        return self.mode.is_air


class Inbound(BaseModel):
    """Stock on its way to the warehouse."""

    shipment_id: str
    quantity: int = Field(ge=0)
    eta: date | None = None
    """Expected arrival on the shelf; None when unknown (counted as arriving in time, see `plan_replenishment`)."""


class StockPosition(BaseModel):
    """The warehouse's stock of one SKU today."""

    on_hand: int = Field(ge=0)
    reserved: int = Field(ge=0)
    """Promised to orders not yet picked."""
    inbound: list[Inbound] = Field(default_factory=list)

    @property
    def available(self) -> int:
        """On hand minus reserved; negative when more is promised than is on the shelf."""
        return self.on_hand - self.reserved

    @property
    def in_transit(self) -> int:
        return sum(i.quantity for i in self.inbound)


class PolicyParams(BaseModel):
    """How a SKU is replenished (frozen: the default instance is shared)."""

    model_config = ConfigDict(frozen=True)

    service_level: float = Field(0.95, ge=0.5, le=0.9999)
    """Cycle service level: the chance that a replenishment cycle ends without a stock-out."""
    cover_days: int = Field(28, ge=0)
    """Days of demand one order covers beyond its lead time."""
    air_risk_threshold: float = Field(0.2, ge=0, le=1)
    """Stock-out probability before a surface shipment could arrive above which air is chosen."""
    units_per_carton: int = Field(1, ge=1)
    min_order_units: int = Field(0, ge=0)


DEFAULT_PARAMS = PolicyParams()
"""The parameters a SKU without its own is replenished by."""


class Replenishment(BaseModel):
    """The policy's answer for one SKU in one warehouse today, with its figures and reasons."""

    reorder: bool
    quantity: int = Field(ge=0)
    """Units to order: whole cartons, at least the minimum order; 0 when no reorder."""
    option: ModeOption | None
    """The chosen way to move it; None when no reorder."""
    alternative: ModeOption | None
    """The way not chosen (None when no reorder or when there was no other)."""
    safety_stock: float
    reorder_point: float
    order_up_to: float
    inventory_position: float
    """Available plus all inbound."""
    demand_over_lead_time: float
    """Expected demand over the chosen mode's lead time."""
    stockout_risk: float
    """Probability of running out before a surface shipment ordered today would arrive."""
    days_of_cover: float | None
    """Days the available stock lasts at the forecast; None when the forecast never uses it up."""
    reasons: list[str]


def safety_stock(daily_sd: float, daily_mean: float, lead_time_days: float, lead_time_sd_days: float,
                 service_level: float) -> float:
    """`z * sqrt(L * sd_d² + d² * sd_L²)`: stock held against demand and lead-time variation over the lead time.

    `z` is the standard normal quantile of the service level (scipy).
    """
    for name, value in (("daily_sd", daily_sd), ("daily_mean", daily_mean), ("lead_time_days", lead_time_days),
                        ("lead_time_sd_days", lead_time_sd_days)):
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"{name}: {value} is not a finite number >= 0")
    if not 0 < service_level < 1:
        raise ValueError(f"service_level: {service_level} is not a probability between 0 and 1")
    z = float(norm.ppf(service_level))
    return z * math.sqrt(lead_time_days * daily_sd**2 + daily_mean**2 * lead_time_sd_days**2)


def stockout_risk(usable: float, demand_mean: float, demand_sd: float) -> float:
    """P(demand > usable) with normally distributed demand; 0 or 1 when the demand is certain (sd 0)."""
    if demand_sd <= 0:
        return 1.0 if demand_mean > usable else 0.0
    return float(norm.sf(usable, loc=demand_mean, scale=demand_sd))


def plan_replenishment(forecast: DemandForecast, position: StockPosition, *, today: date, surface: ModeOption,
                       air: ModeOption | None = None, params: PolicyParams = DEFAULT_PARAMS) -> Replenishment:
    """Decide today's replenishment of one SKU.

    1. The stock-out risk before surface could arrive: available stock plus the inbound due by then (inbound
       without an ETA counts, since it is already on its way), against the forecast demand over the surface lead
       time with `sd = sqrt(L * sigma² + d² * sd_L²)`.
    2. Air when that risk is above `air_risk_threshold` and an air option exists; surface otherwise.
    3. With the chosen lead time: reorder point = lead-time demand + safety stock; reorder when the inventory
       position (available + all inbound) is at or below it and there is something to order; order up to the
       reorder point plus the demand of the `cover_days` after arrival (an air order: at least up to surface's own
       reorder point, so the next run can go back to surface), in whole cartons.

    `today` may be the day before `forecast.start` (the history ends today: demand starts tomorrow) or a day
    within the forecast (the days already gone are skipped). `surface` is the slow, cheap option; on a lane where
    only a flight exists it may be that flight, with `air` None.

    Raises:
        ValueError: When `today` is outside that window or `air` does not fly.
    """
    demand = _Demand(forecast, _offset(forecast, today, air))
    usable, inbound_notes = _usable_before(position, today, surface)
    choice = _choose_mode(demand, usable, surface, air, params)
    chosen = choice.chosen
    levels = _levels(demand, chosen, surface, air, params)
    position_units = float(position.available + position.in_transit)
    reorder = position_units <= levels.reorder_point and levels.order_up_to > position_units
    rounding: list[str] = []
    quantity = _order_quantity(levels.order_up_to - position_units, params, rounding) if reorder else 0
    figures = (f"inventory position {position_units:.0f} (available {position.available} + inbound "
               f"{position.in_transit})")
    rop = (f"reorder point {levels.reorder_point:.0f} by {chosen.mode} (demand {levels.lead_demand:.0f} over "
           f"{chosen.lead_time_days:g} days + safety stock {levels.safety_stock:.0f})")
    if reorder:
        decision = (f"{figures} <= {rop}: order {quantity} units, up to {levels.order_up_to:.0f} "
                    f"({params.cover_days} days of cover after arrival{levels.bridge})")
    elif position_units <= levels.reorder_point:
        decision = f"{figures} <= {rop}, but no demand is forecast: nothing to order"
    else:
        decision = f"{figures} > {rop}: no order"
    return Replenishment(
        reorder=reorder, quantity=quantity, option=chosen if reorder else None,
        alternative=choice.other if reorder else None, safety_stock=levels.safety_stock,
        reorder_point=levels.reorder_point, order_up_to=levels.order_up_to, inventory_position=position_units,
        demand_over_lead_time=levels.lead_demand, stockout_risk=choice.risk,
        days_of_cover=_days_of_cover(position.available, demand.over, forecast),
        reasons=[decision, choice.reason, *rounding, *inbound_notes])


def _offset(forecast: DemandForecast, today: date, air: ModeOption | None) -> int:
    """Days of the forecast already gone by `today` (0 when the forecast starts tomorrow); checks the arguments."""
    lag = (today - forecast.start).days
    if lag < -1:
        raise ValueError(f"today: {today} is more than a day before the forecast starts ({forecast.start})")
    if lag > len(forecast.mean) - 1:
        last = forecast.start + timedelta(days=len(forecast.mean) - 1)
        raise ValueError(f"today: {today} is after the forecast's last day ({last}); forecast again")
    if air is not None and not air.is_air:
        raise ValueError(f"air: {air.mode} is not an air mode")
    return max(0, lag)


@dataclass(frozen=True)
class _Demand:
    """The forecast demand from today on."""

    forecast: DemandForecast
    offset: int
    """Days of the forecast already gone."""

    def over(self, days: float) -> float:
        """Expected demand over the next `days` days."""
        return self.forecast.demand_over(self.offset + days) - self.forecast.demand_over(self.offset)

    def daily(self, option: ModeOption) -> float:
        """Mean daily demand over the option's lead time."""
        length = option.lead_time_days
        return self.over(length) / length if length > 0 else self.forecast.daily_mean


def _usable_before(position: StockPosition, today: date, surface: ModeOption) -> tuple[int, list[str]]:
    """Available stock plus the inbound due before surface could arrive (inbound without an ETA counts), and notes
    on the inbound left out or assumed."""
    notes: list[str] = []
    usable = position.available
    for item in position.inbound:
        if item.eta is None:
            usable += item.quantity
            notes.append(f"inbound {item.shipment_id} ({item.quantity} units) has no ETA: counted as "
                         f"arriving before {surface.mode}")
        elif (item.eta - today).days <= surface.lead_time_days:
            usable += item.quantity
        else:
            notes.append(f"inbound {item.shipment_id} ({item.quantity} units) arrives {item.eta}, after "
                         f"{surface.mode} would: it counts in the inventory position, not against the risk")
    return usable, notes


@dataclass(frozen=True)
class _ModeChoice:
    chosen: ModeOption
    other: ModeOption | None
    """The option not chosen, offered as the alternative."""
    risk: float
    """Stock-out risk before surface could arrive."""
    reason: str


def _choose_mode(demand: _Demand, usable: int, surface: ModeOption, air: ModeOption | None,
                 params: PolicyParams) -> _ModeChoice:
    """Air when the stock-out risk before surface could arrive is above the threshold and air exists."""
    surface_days = surface.lead_time_days
    sigma = demand.forecast.sigma
    surface_sd = math.sqrt(surface_days * sigma**2 + demand.daily(surface) ** 2 * surface.lead_time_sd_days**2)
    risk = stockout_risk(usable, demand.over(surface_days), surface_sd)
    threshold = params.air_risk_threshold
    head = f"stock-out risk {risk:.0%} before {surface.mode} arrives in {surface_days:g} days"
    if surface.is_air and air is None:
        return _ModeChoice(surface, None, risk, f"{head}: {surface.mode} is the only option")
    if risk > threshold and air is not None:
        return _ModeChoice(air, surface, risk, f"{head} > {threshold:.0%}: {air.mode}")
    if risk > threshold:
        return _ModeChoice(surface, None, risk, f"{head} > {threshold:.0%}, but there is no air option: {surface.mode}")
    return _ModeChoice(surface, air, risk, f"{head} <= {threshold:.0%}: {surface.mode}")


@dataclass(frozen=True)
class _Levels:
    lead_demand: float
    safety_stock: float
    reorder_point: float
    order_up_to: float
    bridge: str
    """`, until <surface> could take over` when an air order was raised to surface's reorder point."""


def _levels(demand: _Demand, chosen: ModeOption, surface: ModeOption, air: ModeOption | None,
            params: PolicyParams) -> _Levels:
    """Reorder point and order-up-to level with the chosen option's lead time."""
    lead = chosen.lead_time_days
    lead_demand = demand.over(lead)
    sigma = demand.forecast.sigma
    stock = safety_stock(sigma, demand.daily(chosen), lead, chosen.lead_time_sd_days, params.service_level)
    reorder_point = lead_demand + stock
    order_up_to = reorder_point + max(0.0, demand.over(lead + params.cover_days) - lead_demand)
    bridge = ""
    if chosen is air:
        # An air order bridges to surface: it fills up to surface's own reorder point, so the next run finds the
        # risk before surface arrival at the service level and goes back to the cheaper mode instead of flying
        # again every day.
        surface_days = surface.lead_time_days
        surface_point = demand.over(surface_days) + safety_stock(sigma, demand.daily(surface), surface_days,
                                                                 surface.lead_time_sd_days, params.service_level)
        if surface_point > order_up_to:
            order_up_to = surface_point
            bridge = f", until {surface.mode} could take over"
    return _Levels(lead_demand=lead_demand, safety_stock=stock, reorder_point=reorder_point,
                   order_up_to=order_up_to, bridge=bridge)


def _order_quantity(shortfall: float, params: PolicyParams, reasons: list[str]) -> int:
    carton = params.units_per_carton
    # Rounded first so that float noise (20.000000001) does not buy a whole extra carton.
    cartons = math.ceil(round(shortfall / carton, 9))
    if cartons * carton > shortfall + 1e-9 and carton > 1:
        reasons.append(f"{shortfall:.1f} units rounded up to {cartons} cartons of {carton}")
    if cartons * carton < params.min_order_units:
        cartons = math.ceil(params.min_order_units / carton)
        reasons.append(f"raised to the minimum order of {params.min_order_units} units: {cartons * carton} units")
    return cartons * carton


def _days_of_cover(available: int, demand: Callable[[float], float], forecast: DemandForecast) -> float | None:
    if available <= 0:
        return 0.0
    horizon = len(forecast.mean)
    used, day = 0.0, 0
    # Day by day through the forecast (it may trend or cycle); beyond it demand_over runs at a constant rate.
    while day < horizon:
        need = demand(day + 1) - used
        if used + need >= available:
            return day + (available - used) / need
        used, day = used + need, day + 1
    rate = demand(day + 1) - used
    return None if rate <= 0 else day + (available - used) / rate
