"""The transport planner: candidates across modes and legs, hard constraints, preference, Pareto set."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support import in_country, load_example
from tradelane.decisions.dangerous_goods import assess_dangerous_goods, leg_allowed
from tradelane.decisions.fx import convert
from tradelane.decisions.models import Quote
from tradelane.decisions.planner import (
    candidate_legs,
    chargeable_weight_kg,
    criteria,
    dominates,
    plan_shipment,
    rank,
)
from tradelane.enums import Aircraft, Mode, Preference
from tradelane.models import ShipmentRequest
from tradelane.partners import PARTNERS
from tradelane.rules import default_book

BOOK = default_book()


def request_of(example: str) -> ShipmentRequest:
    return ShipmentRequest.model_validate(load_example(example))


def variant(example: str, **changes: object) -> ShipmentRequest:
    body = load_example(example)
    body.update(changes)
    return ShipmentRequest.model_validate(body)


def plans_for(request: ShipmentRequest, **kwargs: object):
    return plan_shipment(request, BOOK, assess_dangerous_goods(request, BOOK), **kwargs)


@pytest.mark.parametrize("service_level", ["express", "standard", "economy"])
def test_lithium_power_bank_never_gets_a_passenger_aircraft_leg(service_level: str) -> None:
    request = variant("lithium-powerbank-cn-us.json", service_level=service_level)
    result = plans_for(request)
    assert result.chosen is not None
    for plan in result.ranked:
        assert all(leg.aircraft is not Aircraft.PASSENGER for leg in plan.legs), plan.plan_id
    if service_level != "express":
        # Air freight flies in passenger bellies: the candidate exists and is rejected with the DG reason.
        belly = [r for r in result.rejected if r.plan_id.startswith("air_freight:")]
        assert belly and any("UN3480" in reason for reason in belly[0].reasons)


def test_lithium_power_bank_flies_express_on_freighters() -> None:
    result = plans_for(request_of("lithium-powerbank-cn-us.json"))
    express = [p for p in result.ranked if p.modes[0] is Mode.AIR_EXPRESS]
    assert {p.legs[0].partner for p in express} == {"ups", "dhl_express", "fedex"}
    assert result.chosen in express
    assert all(p.legs[0].aircraft is Aircraft.CARGO for p in express)


def test_pallets_go_by_sea_cheapest_and_air_express_is_over_its_weight_limit() -> None:
    result = plans_for(request_of("pallet-cn-au.json"))
    assert result.chosen.modes[0] in (Mode.OCEAN_LCL, Mode.OCEAN_FCL)
    express = {r.plan_id: r.reasons for r in result.rejected if r.plan_id.startswith("air_express")}
    for carrier, limit in (("ups", 70), ("dhl_express", 70), ("fedex", 68)):
        assert any(f"420.0 kg is above {carrier}'s {limit:.1f} kg limit" in reason
                   for reason in express[f"air_express:{carrier}"])
    assert result.chosen.cost.amount == min(p.cost.amount for p in result.ranked)


def test_multimodal_candidates_exist_for_china_to_europe() -> None:
    result = plans_for(variant("basic-cn-de.json", service_level="economy"))
    ids = {p.plan_id for p in result.ranked} | {r.plan_id for r in result.rejected}
    assert "rail:silkrail" in ids
    assert "ocean_lcl+air_freight:bluewave>aerocargo@AE" in ids
    assert "ocean_lcl+road:bluewave>roadlink@NL" in ids
    assert "rail+road:silkrail>roadlink@PL" in ids


def test_excluded_countries_rule_out_rail_through_russia() -> None:
    result = plans_for(variant("basic-cn-de.json", service_level="economy", exclude_countries=["RU"]))
    assert not any(leg.mode is Mode.RAIL for p in result.ranked for leg in p.legs)
    rail = next(r for r in result.rejected if r.plan_id == "rail:silkrail")
    assert any("RU, which the merchant excludes" in reason for reason in rail.reasons)


def test_deliver_by_is_a_hard_constraint() -> None:
    request = variant("basic-cn-de.json", service_level="economy", deliver_by="2027-01-05")
    result = plans_for(request, last_mile_days=2)
    assert result.chosen is not None
    for plan in result.ranked:
        assert request.ship_date + timedelta(days=plan.transit_days_max + 2) <= request.deliver_by
    assert any("after deliver_by 2027-01-05" in reason for r in result.rejected for reason in r.reasons)


def test_no_plan_when_the_deadline_is_impossible() -> None:
    result = plans_for(variant("basic-cn-de.json", deliver_by="2026-12-01"))
    assert result.chosen is None and result.ranked == []
    assert "no plan meets the hard constraints" in result.reasons[0]


def test_a_partner_quote_prices_its_leg_and_a_decline_rules_it_out() -> None:
    request = request_of("lithium-powerbank-cn-us.json")
    quote = Quote(quote_id="Q-1", partner="ups", mode=Mode.AIR_EXPRESS, amount=Decimal("123.45"),
                  currency="USD", transit_days_min=2, transit_days_max=3, chargeable_weight_kg=4.8, co2e_kg=1.0,
                  origin="CN", destination="US")
    quoted = next(p for p in plans_for(request, quotes=[quote]).ranked if p.plan_id == "air_express:ups")
    assert quoted.legs[0].cost_source == "quote Q-1"
    assert quoted.cost.amount == Decimal("123.45")
    assert (quoted.transit_days_min, quoted.transit_days_max) == (2, 3)
    declined = plans_for(request, declined={"ups:CN-US": "LANE_NOT_SERVED"})
    assert "air_express:ups" not in {p.plan_id for p in declined.ranked}
    [refused] = [r for r in declined.rejected if r.plan_id == "air_express:ups"]
    assert any("declined CN-US: LANE_NOT_SERVED" in reason for reason in refused.reasons)
    # The other express carriers still fly the lithium freighter-only.
    assert declined.chosen is not None and declined.chosen.legs[0].partner in {"dhl_express", "fedex"}


def test_excluded_partner_is_never_planned() -> None:
    request = variant("basic-cn-de.json", service_level="economy")
    first = plans_for(request).chosen
    failed = first.legs[0].partner
    backup = plans_for(request, exclude_partners=[failed])
    assert backup.chosen is not None
    assert all(failed not in plan.partners for plan in backup.ranked)


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        # basic example: 1 parcel 1.8 kg, 35x25x12 = 10,500 cm3
        pytest.param(Mode.AIR_EXPRESS, 2.1, id="express-divisor-5000"),
        pytest.param(Mode.AIR_FREIGHT, 1.8, id="air-divisor-6000-actual-wins"),
        pytest.param(Mode.OCEAN_LCL, 10.5, id="sea-1m3-is-1000kg"),
        pytest.param(Mode.ROAD, 2.625, id="road-divisor-4000"),
        pytest.param(Mode.RAIL, 3.5, id="rail-divisor-3000"),
        pytest.param(Mode.OCEAN_FCL, 1.8, id="fcl-priced-per-container"),
    ],
)
def test_chargeable_weight_uses_each_modes_divisor(mode: Mode, expected: float) -> None:
    assert chargeable_weight_kg(request_of("basic-cn-de.json"), mode, BOOK) == pytest.approx(expected)


@pytest.mark.parametrize("preference", list(Preference))
def test_preference_orders_the_ranking(preference: Preference) -> None:
    result = plans_for(variant("basic-cn-de.json", service_level="economy", preference=preference.value))
    chosen, ranked = result.chosen, result.ranked
    assert chosen is ranked[0]
    column = {Preference.CHEAPEST: 0, Preference.FASTEST: 1, Preference.GREENEST: 2}.get(preference)
    if column is not None:
        assert criteria(chosen)[column] == min(criteria(p)[column] for p in ranked)


def test_plan_ids_and_choice_do_not_depend_on_quote_order() -> None:
    request = request_of("basic-cn-de.json")
    legs = candidate_legs(request, BOOK)
    quotes = [Quote(quote_id=f"Q{i}", partner=s.partner, mode=s.mode, amount=Decimal(100 + i), currency="USD",
                    transit_days_min=3, transit_days_max=5 + i, chargeable_weight_kg=2, co2e_kg=1,
                    origin=s.origin, destination=s.destination) for i, s in enumerate(legs)]
    forward = plans_for(request, quotes=quotes)
    backward = plans_for(request, quotes=list(reversed(quotes)))
    assert [p.plan_id for p in forward.ranked] == [p.plan_id for p in backward.ranked]


# ---- properties -----------------------------------------------------------------------------------------------

LANES = [("CN", "DE"), ("CN", "US"), ("CN", "AU"), ("US", "JP"), ("DE", "FR"), ("CN", "GB"), ("US", "CA"),
         ("CN", "PL"), ("JP", "DE"), ("DE", "GB")]


@st.composite
def requests(draw: st.DrawFn) -> ShipmentRequest:
    body = load_example("basic-cn-de.json")
    origin, destination = draw(st.sampled_from(LANES))
    body["origin"] = in_country(body["origin"], origin)
    body["destination"] = in_country(body["destination"], destination)
    body["service_level"] = draw(st.sampled_from(["economy", "standard", "express"]))
    body["preference"] = draw(st.sampled_from([p.value for p in Preference]))
    body["parcels"] = [
        {"weight_kg": draw(st.floats(0.1, 900)), "length_cm": draw(st.floats(5, 250)),
         "width_cm": draw(st.floats(5, 150)), "height_cm": draw(st.floats(2, 150)), "packaging": "carton"}
        for _ in range(draw(st.integers(1, 3)))
    ]
    if draw(st.booleans()):
        body["items"][0]["dangerous_goods"] = {"un_number": draw(st.sampled_from(["UN3480", "UN3481", "UN3090"])),
                                               "watt_hours": draw(st.floats(1, 160)), "state_of_charge_pct": 30}
    if draw(st.booleans()):
        body["deliver_by"] = str(date(2026, 12, 1) + timedelta(days=draw(st.integers(3, 80))))
    body["exclude_countries"] = draw(st.lists(st.sampled_from(["RU", "AE", "NL", "DE", "PL"]), max_size=2))
    return ShipmentRequest.model_validate(body)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(requests())
def test_planner_properties(request: ShipmentRequest) -> None:
    dg = assess_dangerous_goods(request, BOOK)
    result = plan_shipment(request, BOOK, dg, last_mile_days=2)
    for plan in result.ranked:
        # Hard constraints hold for every feasible plan, so for the chosen one and every backup.
        for leg in plan.legs:
            assert leg_allowed(dg, leg.mode, leg.aircraft) is None
            assert not set(leg.via) & set(request.exclude_countries)
            assert leg.chargeable_weight_kg >= request.total_weight_kg - 1e-9
            limit = PARTNERS[leg.partner].max_parcel_kg
            assert limit is None or all(p.weight_kg <= limit for p in request.parcels)
        assert not {leg.destination for leg in plan.legs[:-1]} & set(request.exclude_countries)
        if request.deliver_by is not None:
            assert request.ship_date + timedelta(days=plan.transit_days_max + 2) <= request.deliver_by
        # Totals add up: legs converted into the shipment currency, CO2e summed over legs.
        total = sum(convert(leg.cost.amount, leg.cost.currency, request.currency, request.ship_date, BOOK)[0]
                    for leg in plan.legs)
        assert plan.cost.amount == Decimal(total).quantize(Decimal("0.01"))
        assert plan.co2e_kg == pytest.approx(sum(leg.emission.co2e_kg for leg in plan.legs), abs=1e-3)
        assert plan.transit_days_min <= plan.transit_days_max
    if result.chosen is not None:
        assert result.chosen is result.ranked[0]
        assert rank(list(reversed(result.ranked)), request.preference)[0].plan_id == result.chosen.plan_id
    # No plan of the Pareto set is dominated by any feasible plan.
    front = [result.chosen, *result.alternatives] if result.chosen else []
    for plan in front:
        assert not any(dominates(other, plan) for other in result.ranked)


def test_partners_are_asked_to_quote_only_routes_the_service_level_offers() -> None:
    standard = {(s.partner, s.mode) for s in candidate_legs(request_of("basic-cn-de.json"), BOOK)}
    assert {("ups", Mode.AIR_EXPRESS), ("dhl_express", Mode.AIR_EXPRESS), ("fedex", Mode.AIR_EXPRESS),
            ("silkrail", Mode.RAIL)} <= standard
    assert not any(mode.is_sea for _, mode in standard)
    economy = {s.mode for s in candidate_legs(variant("basic-cn-de.json", service_level="economy"), BOOK)}
    assert Mode.OCEAN_LCL in economy and Mode.AIR_EXPRESS not in economy
