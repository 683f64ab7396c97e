"""The replenishment policy: safety stock, stock-out risk, surface or air, reorder point and order quantity."""

import math
from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tradelane.decisions.models import Money
from tradelane.enums import Mode
from tradelane.inventory.forecast import DemandForecast, DemandPattern, ForecastMethod, forecast_demand
from tradelane.inventory.policy import (
    Inbound,
    ModeOption,
    PolicyParams,
    StockPosition,
    plan_replenishment,
    safety_stock,
    stockout_risk,
)
from tradelane.inventory.synthetic import seasonal_sales

TODAY = date(2026, 3, 2)


def flat(rate: float, sigma: float = 0.0, days: int = 120, start: date = TODAY) -> DemandForecast:
    return DemandForecast(method=ForecastMethod.SIMPLE, pattern=DemandPattern.SMOOTH, season_length=7,
                          history_days=365, start=start, mean=[rate] * days, sigma=sigma)


def option(mode: Mode, days: float, sd: float = 0.0, amount: str = "900") -> ModeOption:
    return ModeOption(mode=mode, plan_id=f"{mode}:plan", lead_time_days=days, lead_time_sd_days=sd,
                      cost=Money(amount=Decimal(amount), currency="EUR"), co2e_kg=40.0)


SEA = option(Mode.OCEAN_LCL, 38, 4)
AIR = option(Mode.AIR_FREIGHT, 6, 1, amount="4000")


def stock(on_hand: int, reserved: int = 0, *inbound: Inbound) -> StockPosition:
    return StockPosition(on_hand=on_hand, reserved=reserved, inbound=list(inbound))


# ---- safety stock and risk --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("args", "expected"), [
    # z(0.95) = 1.644854; sqrt(38 * 3^2 + 10^2 * 4^2) = sqrt(1942) = 44.06813
    ((3.0, 10.0, 38.0, 4.0, 0.95), 72.48562),
    # no lead-time spread: z * sd * sqrt(L) = 2.326348 * 5 * 3
    ((5.0, 20.0, 9.0, 0.0, 0.99), 34.89522),
    # no demand noise: z * d * sd_L = 1.281552 * 10 * 2
    ((0.0, 10.0, 30.0, 2.0, 0.90), 25.63103),
    ((3.0, 10.0, 38.0, 4.0, 0.5), 0.0),
], ids=["demand-and-lead-time-spread", "demand-spread-only", "lead-time-spread-only", "service-50-percent-no-stock"])
def test_safety_stock_matches_the_hand_computed_value(args, expected):
    assert safety_stock(*args) == pytest.approx(expected, abs=1e-4)


@pytest.mark.parametrize(("args", "message"), [
    ((-1.0, 10.0, 38.0, 4.0, 0.95), "daily_sd: -1.0 is not a finite number >= 0"),
    ((1.0, 10.0, math.nan, 4.0, 0.95), "lead_time_days: nan is not a finite number >= 0"),
    ((1.0, 10.0, 38.0, 4.0, 1.0), "service_level: 1.0 is not a probability between 0 and 1"),
], ids=["negative-sd", "nan-lead-time", "certain-service-level"])
def test_safety_stock_refuses_bad_input(args, message):
    with pytest.raises(ValueError, match=message):
        safety_stock(*args)


@pytest.mark.parametrize(("usable", "mean", "sd", "expected"), [
    (100.0, 100.0, 20.0, 0.5),
    (100.0 + 1.644854 * 20.0, 100.0, 20.0, 0.05),
    (100.0, 99.0, 0.0, 0.0),
    (100.0, 101.0, 0.0, 1.0),
    (-5.0, 0.0, 0.0, 1.0),
], ids=["usable-equals-mean-half", "usable-at-95th-percentile", "certain-demand-below-stock",
        "certain-demand-above-stock", "backorders-with-no-demand-already-short"])
def test_stockout_risk(usable, mean, sd, expected):
    assert stockout_risk(usable, mean, sd) == pytest.approx(expected, abs=1e-6)


# ---- mode choice ------------------------------------------------------------------------------------------------

MODES = [
    ("high-risk-goes-air", 50, AIR, 0.2, Mode.AIR_FREIGHT, "> 20%: air_freight"),
    ("low-risk-stays-surface", 380, AIR, 0.2, Mode.OCEAN_LCL, "<= 20%: ocean_lcl"),
    ("high-risk-without-air-stays-surface", 50, None, 0.2, Mode.OCEAN_LCL, "but there is no air option"),
    ("risk-equal-to-threshold-stays-surface", 50, AIR, 1.0, Mode.OCEAN_LCL, "<= 100%: ocean_lcl"),
]


@pytest.mark.parametrize(("on_hand", "air", "threshold", "mode", "reason"), [m[1:] for m in MODES],
                         ids=[m[0] for m in MODES])
def test_mode_follows_the_stockout_risk_before_surface_arrives(on_hand, air, threshold, mode, reason):
    # 10 a day, certain: 380 units are needed before sea arrives in 38 days; 50 on hand is a sure stock-out, 380
    # none. Both are at or below the chosen mode's reorder point, so the mode is always visible.
    sea = option(Mode.OCEAN_LCL, 38)
    result = plan_replenishment(flat(10.0), stock(on_hand), today=TODAY, surface=sea, air=air,
                                params=PolicyParams(air_risk_threshold=threshold, cover_days=60))
    assert result.reorder and result.option is not None and result.option.mode == mode
    assert result.stockout_risk == (1.0 if on_hand < 380 else 0.0)
    assert any(reason in r for r in result.reasons)
    if mode is Mode.AIR_FREIGHT:
        assert "stock-out risk 100% before ocean_lcl arrives in 38 days > 20%: air_freight" in result.reasons
        assert result.alternative == sea
        assert result.demand_over_lead_time == pytest.approx(60.0)


def test_an_air_order_bridges_until_surface_can_take_over():
    """Flying once must not mean flying forever: the air order covers until a sea order placed today arrives, so
    the next day's run finds no risk before sea arrival and goes back to sea."""
    params = PolicyParams(cover_days=14)
    first = plan_replenishment(flat(30, sigma=4), stock(10), today=TODAY, surface=SEA, air=AIR, params=params)
    assert first.option is not None and first.option.mode is Mode.AIR_FREIGHT
    assert first.quantity >= 30 * SEA.lead_time_days  # covers the 38 days of sea lead time, not only 14
    assert "until ocean_lcl could take over" in first.reasons[0]
    on_its_way = Inbound(shipment_id="AIR-1", quantity=first.quantity, eta=TODAY + timedelta(days=6))
    # The next day: ten units fewer on the shelf, the air order on its way.
    nxt = plan_replenishment(flat(30, sigma=4), stock(0, 0, on_its_way), today=TODAY + timedelta(days=1),
                             surface=SEA, air=AIR, params=params)
    assert nxt.stockout_risk < params.air_risk_threshold
    assert nxt.option is None or nxt.option.mode is Mode.OCEAN_LCL


def test_no_reorder_above_the_reorder_point_names_both_figures():
    result = plan_replenishment(flat(10.0, sigma=3.0), stock(1000), today=TODAY, surface=SEA, air=AIR)
    assert (result.reorder, result.quantity, result.option, result.alternative) == (False, 0, None, None)
    assert result.inventory_position == 1000 and result.reorder_point == pytest.approx(380 + 72.48562, abs=1e-4)
    assert result.reasons[0] == ("inventory position 1000 (available 1000 + inbound 0) > reorder point 452 by "
                                 "ocean_lcl (demand 380 over 38 days + safety stock 72): no order")


# ---- inbound stock ----------------------------------------------------------------------------------------------


def test_inbound_after_surface_arrival_counts_in_the_position_but_not_against_the_risk():
    forecast, params = flat(10.0, sigma=3.0), PolicyParams()
    late = Inbound(shipment_id="SHP-LATE", quantity=200, eta=TODAY + timedelta(days=45))
    without = plan_replenishment(forecast, stock(200), today=TODAY, surface=SEA, params=params)
    with_late = plan_replenishment(forecast, stock(200, 0, late), today=TODAY, surface=SEA, params=params)
    assert with_late.stockout_risk == without.stockout_risk > 0.5
    assert with_late.inventory_position == without.inventory_position + 200
    assert (without.quantity, with_late.quantity) == (533, 333)  # up to 380 + 72.49 + 280 = 732.49
    assert any("SHP-LATE (200 units) arrives 2026-04-16, after ocean_lcl" in r for r in with_late.reasons)


@pytest.mark.parametrize("eta", [TODAY + timedelta(days=20), None], ids=["eta-before-surface", "no-eta-counts"])
def test_inbound_due_before_surface_arrival_lowers_the_risk(eta):
    forecast = flat(10.0, sigma=3.0)
    early = Inbound(shipment_id="SHP-EARLY", quantity=200, eta=eta)
    without = plan_replenishment(forecast, stock(300), today=TODAY, surface=SEA)
    with_early = plan_replenishment(forecast, stock(300, 0, early), today=TODAY, surface=SEA)
    assert with_early.stockout_risk < 0.01 < 0.5 < without.stockout_risk
    assert any("has no ETA: counted as arriving before ocean_lcl" in r for r in with_early.reasons) == (eta is None)


def test_reserved_stock_is_not_available():
    result = plan_replenishment(flat(10.0), stock(500, 150), today=TODAY, surface=SEA, air=AIR)
    assert result.inventory_position == 350 and result.days_of_cover == 35.0


# ---- quantity ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("carton", "minimum", "quantity", "reason"), [
    (1, 0, 380, None),
    (12, 0, 384, "380.0 units rounded up to 32 cartons of 12"),
    (20, 0, 380, None),
    (12, 500, 504, "raised to the minimum order of 500 units: 504 units"),
], ids=["single-units", "rounded-up-to-whole-cartons", "exact-cartons-not-rounded", "minimum-order-in-cartons"])
def test_order_quantity_is_whole_cartons_of_at_least_the_minimum(carton, minimum, quantity, reason):
    # Certain demand of 10 a day: order up to 100 (10 days' lead time) + 280 (28 days' cover) from nothing.
    road = option(Mode.ROAD, 10)
    result = plan_replenishment(flat(10.0), stock(0), today=TODAY, surface=road,
                                params=PolicyParams(units_per_carton=carton, min_order_units=minimum))
    assert (result.reorder, result.quantity, result.order_up_to) == (True, quantity, pytest.approx(380.0))
    assert result.reasons[0].startswith("inventory position 0 (available 0 + inbound 0) <= reorder point 100 by road")
    if reason:
        assert reason in result.reasons
    else:
        assert not any("rounded up" in r for r in result.reasons)


def test_nothing_to_order_without_forecast_demand():
    result = plan_replenishment(flat(0.0), stock(0), today=TODAY, surface=SEA, air=AIR)
    assert (result.reorder, result.quantity, result.days_of_cover) == (False, 0, 0.0)
    assert "no demand is forecast: nothing to order" in result.reasons[0]


# ---- dates ------------------------------------------------------------------------------------------------------


def test_today_may_be_the_last_history_day_or_within_the_forecast():
    ramp = DemandForecast(method=ForecastMethod.SIMPLE, pattern=DemandPattern.SMOOTH, season_length=7,
                          history_days=60, start=TODAY, mean=[float(i) for i in range(1, 31)], sigma=0.0)
    road = option(Mode.ROAD, 2)
    on_the_eve = plan_replenishment(ramp, stock(100), today=TODAY - timedelta(days=1), surface=road)
    on_the_day = plan_replenishment(ramp, stock(100), today=TODAY, surface=road)
    five_days_in = plan_replenishment(ramp, stock(100), today=TODAY + timedelta(days=5), surface=road)
    assert on_the_eve.demand_over_lead_time == on_the_day.demand_over_lead_time == 1 + 2
    assert five_days_in.demand_over_lead_time == 6 + 7


@pytest.mark.parametrize(("today", "surface", "air", "message"), [
    (TODAY - timedelta(days=2), SEA, None, "today: 2026-02-28 is more than a day before the forecast starts"),
    (TODAY + timedelta(days=120), SEA, None, r"today: 2026-06-30 is after the forecast's last day \(2026-06-29\)"),
    (TODAY, SEA, SEA, "air: ocean_lcl is not an air mode"),
], ids=["today-before-the-forecast", "forecast-expired", "air-that-floats"])
def test_plan_refuses_inconsistent_input(today, surface, air, message):
    with pytest.raises(ValueError, match=message):
        plan_replenishment(flat(10.0), stock(100), today=today, surface=surface, air=air)


def test_a_lane_that_only_flies_plans_with_the_flight_as_its_only_option():
    result = plan_replenishment(flat(10.0), stock(50), today=TODAY, surface=AIR)
    # Up to 60 + 1.645 * 10 (safety stock) + 280 (cover) = 356.45, from 50.
    assert (result.reorder, result.option, result.alternative, result.quantity) == (True, AIR, None, 307)
    assert "stock-out risk 84% before air_freight arrives in 6 days: air_freight is the only option" in result.reasons


def test_days_of_cover_runs_past_the_horizon_at_the_last_season_rate():
    result = plan_replenishment(flat(10.0, days=10), stock(250), today=TODAY, surface=SEA)
    assert result.days_of_cover == 25.0


# ---- end to end and properties ----------------------------------------------------------------------------------


def test_plan_from_a_real_forecast_is_deterministic():
    history = seasonal_sales(200, base=30, weekly=(1, 1, 1, 1.2, 1.4, 1.6, 0.4), noise_sd=3,
                             start=TODAY - timedelta(days=200), seed=11)
    forecast = forecast_demand(history, start=TODAY - timedelta(days=200), horizon=90)
    position = stock(200, 40, Inbound(shipment_id="SHP-1", quantity=50, eta=TODAY + timedelta(days=50)))
    params = PolicyParams(units_per_carton=24, cover_days=35)
    first = plan_replenishment(forecast, position, today=TODAY, surface=SEA, air=AIR, params=params)
    again = plan_replenishment(forecast, position, today=TODAY, surface=SEA, air=AIR, params=params)
    assert first.model_dump() == again.model_dump()
    assert first.reorder and first.quantity % 24 == 0
    assert first.inventory_position == 210 and first.stockout_risk > 0.2 and first.option == AIR


@settings(max_examples=200, deadline=None)
@given(rate=st.floats(0, 500), sigma=st.floats(0, 200), on_hand=st.integers(0, 20_000), reserved=st.integers(0, 500),
       inbound=st.lists(st.tuples(st.integers(0, 5_000), st.none() | st.integers(-5, 90)), max_size=3),
       sea_days=st.floats(1, 60), sea_sd=st.floats(0, 10), with_air=st.booleans(),
       carton=st.integers(1, 48), minimum=st.integers(0, 1_000), cover=st.integers(0, 90),
       threshold=st.floats(0, 1), service=st.floats(0.5, 0.9999))
def test_policy_invariants(rate, sigma, on_hand, reserved, inbound, sea_days, sea_sd, with_air, carton, minimum,
                           cover, threshold, service):
    position = stock(on_hand, reserved, *(
        Inbound(shipment_id=f"SHP-{i}", quantity=q, eta=None if d is None else TODAY + timedelta(days=d))
        for i, (q, d) in enumerate(inbound)))
    params = PolicyParams(service_level=service, cover_days=cover, air_risk_threshold=threshold,
                          units_per_carton=carton, min_order_units=minimum)
    result = plan_replenishment(flat(rate, sigma), position, today=TODAY, surface=option(Mode.OCEAN, sea_days, sea_sd),
                                air=AIR if with_air else None, params=params)
    assert result.quantity >= 0 and result.quantity % carton == 0
    assert 0.0 <= result.stockout_risk <= 1.0 and result.safety_stock >= 0
    assert result.reorder_point <= result.order_up_to
    if result.reorder:
        assert result.inventory_position <= result.reorder_point
        assert result.quantity >= max(minimum, result.order_up_to - result.inventory_position - 1e-6)
        assert result.option is not None
    else:
        assert result.quantity == 0 and result.option is None
