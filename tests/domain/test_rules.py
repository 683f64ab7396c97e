"""Pure rules: stage machine, approvals, planning, packaging, partner directory, tracking map, keys."""

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from tests.support import EXAMPLES
from tradelane.approvals import DEFAULT_VALUE_THRESHOLDS, GateNotPending, pending_gate, value_approval_reason
from tradelane.enums import GateKind, Mode, Preference, ServiceLevel, Stage, Status, TrackingStatus
from tradelane.keys import idempotency_key, shipment_id_of, workflow_id
from tradelane.models import ShipmentRequest
from tradelane.packaging import packaging_violations
from tradelane.partners import PARTNERS, carriers_for, last_mile_for
from tradelane.planning import NoPlan, choose_plan, pareto_set
from tradelane.stages import STAGE_ORDER, IllegalTransition, check_move, next_stage
from tradelane.state import ApprovalPolicy, Gate, Quote
from tradelane.tracking import STATUS_MAP, normalise


def example(name: str, **changes) -> ShipmentRequest:
    body = json.loads((EXAMPLES / name).read_text())
    body.update(changes)
    return ShipmentRequest.model_validate(body)


# ---- stage machine ----

def test_stages_follow_the_lifecycle_order():
    assert [s.value for s in STAGE_ORDER] == ["booking", "packaging_check", "customs_filing", "transit", "last_mile"]
    assert next_stage(Stage.TRANSIT) is Stage.LAST_MILE
    assert next_stage(Stage.LAST_MILE) is None


@pytest.mark.parametrize("move", [
    (Stage.BOOKING, Status.IN_PROGRESS, Stage.CUSTOMS_FILING, Status.IN_PROGRESS),  # skips a stage
    (Stage.TRANSIT, Status.IN_PROGRESS, Stage.BOOKING, Status.IN_PROGRESS),  # goes back
    (Stage.LAST_MILE, Status.DELIVERED, Stage.LAST_MILE, Status.IN_PROGRESS),  # leaves a terminal status
    (Stage.BOOKING, Status.CANCELLED, Stage.BOOKING, Status.COMPENSATED),
])
def test_illegal_moves_are_refused(move):
    with pytest.raises(IllegalTransition):
        check_move(*move)


def test_legal_moves_pass():
    check_move(Stage.BOOKING, Status.IN_PROGRESS, Stage.BOOKING, Status.ON_HOLD)
    check_move(Stage.BOOKING, Status.ON_HOLD, Stage.BOOKING, Status.IN_PROGRESS)
    check_move(Stage.CUSTOMS_FILING, Status.IN_PROGRESS, Stage.TRANSIT, Status.IN_PROGRESS)
    check_move(Stage.TRANSIT, Status.ON_HOLD, Stage.TRANSIT, Status.CANCELLED)


def test_terminal_statuses():
    assert {s for s in Status if s.terminal} == {Status.DELIVERED, Status.COMPENSATED, Status.REJECTED,
                                                  Status.CANCELLED}


# ---- approvals ----

def test_high_value_needs_approval_above_the_threshold():
    policy = ApprovalPolicy(value_thresholds=DEFAULT_VALUE_THRESHOLDS)
    reason = value_approval_reason(example("high-value-us-jp.json"), policy)
    assert reason is not None and "5397.00 USD" in reason and "5000" in reason
    assert value_approval_reason(example("basic-cn-de.json"), policy) is None


def test_value_equal_to_threshold_needs_no_approval():
    policy = ApprovalPolicy(value_thresholds={"USD": Decimal("5397.00")})
    assert value_approval_reason(example("high-value-us-jp.json"), policy) is None


def test_currency_without_threshold_always_needs_approval():
    reason = value_approval_reason(example("basic-cn-de.json"), ApprovalPolicy(value_thresholds={"USD": 1}))
    assert reason is not None and "no approval threshold is set for EUR" in reason


def test_pending_gate_names_what_is_pending():
    now = datetime(2026, 12, 1, tzinfo=UTC)
    gates = [Gate(kind=GateKind.HIGH_VALUE, stage=Stage.BOOKING, reason="r", opened_at=now)]
    assert pending_gate(gates, GateKind.HIGH_VALUE) is gates[0]
    with pytest.raises(GateNotPending, match="gate 'customs_hold' is not pending .*pending gates: high_value"):
        pending_gate(gates, GateKind.CUSTOMS_HOLD)
    gates[0].closed_at = now
    with pytest.raises(GateNotPending, match="pending gates: none"):
        pending_gate(gates, GateKind.HIGH_VALUE)


# ---- partners and planning ----

def quote(partner: str, mode: Mode, amount: str, days: int, co2e: float, currency: str = "USD") -> Quote:
    return Quote(quote_id=f"q-{partner}", partner=partner, mode=mode, amount=Decimal(amount), currency=currency,
                 transit_days_min=days - 1, transit_days_max=days, chargeable_weight_kg=10, co2e_kg=co2e)


AIR = quote("skyexpress", Mode.AIR_EXPRESS, "120.00", 4, 60.0)
RAIL = quote("silkrail", Mode.RAIL, "60.00", 20, 2.5)
SEA = quote("bluewave", Mode.OCEAN, "40.00", 34, 1.5)


@pytest.mark.parametrize(("preference", "expected"), [
    (Preference.CHEAPEST, "bluewave"),
    (Preference.FASTEST, "skyexpress"),
    (Preference.GREENEST, "bluewave"),
])
def test_plan_follows_the_preference(preference, expected):
    plan = choose_plan([AIR, RAIL, SEA], preference)
    assert plan.partner == expected
    assert plan.reasons[0].startswith(f"preference {preference}: {expected}")


def test_balanced_plan_trades_price_time_and_carbon():
    # Rail is mid-priced, mid-speed and low-carbon: the balanced choice between air and sea.
    assert choose_plan([AIR, RAIL, SEA], Preference.BALANCED).partner == "silkrail"


def test_alternatives_are_the_pareto_set_without_the_choice():
    dominated = quote("slowpricey", Mode.OCEAN, "500.00", 40, 99.0)
    assert dominated not in pareto_set([AIR, SEA, dominated])
    plan = choose_plan([AIR, SEA, dominated], Preference.FASTEST)
    assert [q.partner for q in plan.alternatives] == ["bluewave"]


def test_no_quote_is_no_plan_with_every_reason():
    with pytest.raises(NoPlan, match="skyexpress: PARCEL_LIMIT_EXCEEDED"):
        choose_plan([], Preference.CHEAPEST, {"skyexpress": "PARCEL_LIMIT_EXCEEDED"})


def test_mixed_currencies_compare_by_time_only():
    plan = choose_plan([AIR, quote("bluewave", Mode.OCEAN, "1.00", 30, 1.0, currency="EUR")], Preference.CHEAPEST)
    assert plan.partner == "skyexpress"
    assert any("compared by transit time only" in r for r in plan.reasons)


def test_carriers_fit_service_level_and_lane():
    assert {p.name for p in carriers_for(ServiceLevel.STANDARD, "CN", "DE")} == {"skyexpress", "silkrail"}
    assert {p.name for p in carriers_for(ServiceLevel.STANDARD, "US", "JP")} == {"skyexpress"}
    assert {p.name for p in carriers_for(ServiceLevel.ECONOMY, "CN", "AU")} == {"bluewave"}
    assert {p.name for p in carriers_for(ServiceLevel.EXPRESS, "CN", "US")} == {"skyexpress"}


def test_last_mile_partner_by_destination():
    assert last_mile_for("DE").name == "parcelnow"
    assert last_mile_for("JP").name == "doorstep"
    assert last_mile_for("AQ") is None


# ---- packaging ----

def test_pallets_are_fine_by_sea_but_not_by_air_express():
    pallets = example("pallet-cn-au.json")
    assert packaging_violations(pallets, PARTNERS["bluewave"]) == []
    problems = packaging_violations(pallets, PARTNERS["skyexpress"])
    assert any(p.startswith("parcels[0]: 420.0 kg is above skyexpress's limit of 70") for p in problems)


def test_unmarked_solid_wood_fails_ispm15():
    body = json.loads((EXAMPLES / "pallet-cn-au.json").read_text())
    body["parcels"][1]["ispm15_marked"] = False
    problems = packaging_violations(ShipmentRequest.model_validate(body), PARTNERS["bluewave"])
    assert problems == ["parcels[1]: solid wood packaging (wood_pallet) must carry the ISPM 15 mark"]


# ---- tracking map and keys ----

def test_every_partner_maps_an_arrival_or_a_delivery():
    for partner, table in STATUS_MAP.items():
        kind = PARTNERS[partner].kind.value
        final = TrackingStatus.DELIVERED if kind == "last_mile" else TrackingStatus.ARRIVED_AT_DESTINATION
        assert final in table.values(), partner


def test_unknown_codes_are_kept_as_unknown():
    assert normalise("bluewave", "AVAILABLE") is TrackingStatus.ARRIVED_AT_DESTINATION
    assert normalise("bluewave", "SOMETHING_NEW") is TrackingStatus.UNKNOWN
    assert normalise("nobody", "PU") is TrackingStatus.UNKNOWN


def test_keys_are_deterministic_business_keys():
    assert idempotency_key("SHP-1", "book", "skyexpress") == idempotency_key("SHP-1", "book", "skyexpress")
    assert idempotency_key("SHP-1", "book", "skyexpress") != idempotency_key("SHP-2", "book", "skyexpress")
    assert shipment_id_of(workflow_id("SHP-1")) == "SHP-1"
