"""Pure rules: stage machine, approvals, partner directory, tracking map, keys."""

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from tests.support import EXAMPLES
from tradelane.approvals import DEFAULT_VALUE_THRESHOLDS, GateNotPending, pending_gate, value_approval_reason
from tradelane.enums import Decision, GateKind, Mode, Stage, Status
from tradelane.keys import idempotency_key, shipment_id_of, workflow_id
from tradelane.models import ShipmentRequest
from tradelane.partners import carriers_for, last_mile_for
from tradelane.shipment.config import ApprovalPolicy
from tradelane.shipment.state import ApprovalDecision, Gate
from tradelane.stages import STAGE_ORDER, IllegalTransition, check_move, next_stage


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
    (Stage.LAST_MILE, Status.DELIVERED, Stage.LAST_MILE, Status.DELAYED),  # an exception after delivery
])
def test_illegal_moves_are_refused(move):
    with pytest.raises(IllegalTransition):
        check_move(*move)


def test_legal_moves_pass():
    check_move(Stage.BOOKING, Status.IN_PROGRESS, Stage.BOOKING, Status.ON_HOLD)
    check_move(Stage.BOOKING, Status.ON_HOLD, Stage.BOOKING, Status.IN_PROGRESS)
    check_move(Stage.CUSTOMS_FILING, Status.IN_PROGRESS, Stage.TRANSIT, Status.IN_PROGRESS)
    check_move(Stage.TRANSIT, Status.ON_HOLD, Stage.TRANSIT, Status.CANCELLED)
    check_move(Stage.TRANSIT, Status.IN_PROGRESS, Stage.TRANSIT, Status.DELAYED)  # an exception opens
    check_move(Stage.TRANSIT, Status.DELAYED, Stage.LAST_MILE, Status.DELAYED)
    check_move(Stage.LAST_MILE, Status.DELAYED, Stage.LAST_MILE, Status.DELIVERED)
    check_move(Stage.CUSTOMS_FILING, Status.ON_HOLD, Stage.CUSTOMS_FILING, Status.DELAYED)  # released, still held


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


def test_approving_a_packaging_gate_needs_the_fix_in_the_comment():
    gates = [Gate(kind=GateKind.PACKAGING, stage=Stage.PACKAGING_CHECK, reason="x", opened_at=datetime.now(UTC))]
    bare = ApprovalDecision(gate=GateKind.PACKAGING, decision=Decision.APPROVE, actor="ops")
    with pytest.raises(GateNotPending, match="say what was corrected"):
        pending_gate(gates, GateKind.PACKAGING, bare)
    fixed = bare.model_copy(update={"comment": "pallet replaced by a marked one"})
    assert pending_gate(gates, GateKind.PACKAGING, fixed) is gates[0]
    reject = bare.model_copy(update={"decision": Decision.REJECT})
    assert pending_gate(gates, GateKind.PACKAGING, reject) is gates[0]


# ---- partner directory ----

@pytest.mark.parametrize(("mode", "origin", "destination", "expected"), [
    pytest.param(Mode.RAIL, "CN", "DE", {"silkrail"}, id="rail-china-europe"),
    pytest.param(Mode.RAIL, "CN", "US", set(), id="no-rail-across-the-pacific"),
    pytest.param(Mode.ROAD, "DE", "GB", {"roadlink"}, id="road-within-europe"),
    pytest.param(Mode.ROAD, "CN", "DE", set(), id="no-road-china-europe"),
    pytest.param(Mode.AIR_EXPRESS, "US", "JP", {"ups", "dhl_express", "fedex"}, id="express-anywhere"),
    pytest.param(Mode.OCEAN_FCL, "CN", "AU", {"bluewave"}, id="ocean-anywhere"),
])
def test_carriers_by_mode_and_lane(mode, origin, destination, expected):
    assert {p.name for p in carriers_for(mode, origin, destination)} == expected


def test_last_mile_partner_by_destination():
    assert last_mile_for("DE").name == "parcelnow"
    assert last_mile_for("JP").name == "doorstep"
    assert last_mile_for("US").name == "roadie"  # listed before doorstep, which serves the US too
    assert last_mile_for("CA").name == "doorstep"
    assert last_mile_for("AQ") is None


# ---- tracking map and keys ----

def test_keys_are_deterministic_business_keys():
    assert idempotency_key("SHP-1", "book", "ups") == idempotency_key("SHP-1", "book", "ups")
    assert idempotency_key("SHP-1", "book", "ups") != idempotency_key("SHP-2", "book", "ups")
    assert shipment_id_of(workflow_id("SHP-1")) == "SHP-1"
