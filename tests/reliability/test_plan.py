"""The fault matrix's plan: deterministic, covering every fault kind and partner operation, with expected statuses
derived from the faults by the workflow's rules, and example facts that match the decision layer."""

import httpx
import pytest
from pydantic import ValidationError

from activities.decisions import DecisionActivities
from activities.http import PartnerGateway
from reliability.catalogue import (
    BASIC,
    CLEAN,
    EXAMPLE_FACTS,
    EXPRESS_FULL,
    FAULTED,
    HIGH_VALUE,
    LITHIUM,
    PALLET,
    POISON_FIELDS,
    Scenario,
    Variant,
    apply_variant,
    approve,
    cancel_at,
    fault,
    load_request,
    refuse,
)
from reliability.config import TIMINGS
from reliability.plan import (
    FAULTED_SHARE,
    PlanError,
    batch_disruptions,
    build_plan,
    expected_statuses,
    fault_mix,
    planned_shipment,
    scenario_partners,
    shipment_glob,
)
from sandbox.app import create_app as create_sandbox_app
from sandbox.config import SandboxConfig
from sandbox.faults import FaultKind
from sandbox.partners import Operation
from tradelane.approvals import DEFAULT_VALUE_THRESHOLDS, value_approval_reason
from tradelane.enums import Status
from tradelane.models import ShipmentRequest
from tradelane.rules import default_book
from tradelane.shipment.calls import AssessRequest
from tradelane.shipment.config import ApprovalPolicy

DELIVERED, COMPENSATED = frozenset({Status.DELIVERED}), frozenset({Status.COMPENSATED})
REJECTED, CANCELLED = frozenset({Status.REJECTED}), frozenset({Status.CANCELLED})


def test_same_seed_same_plan_and_another_seed_another_order():
    first, again, other = build_plan(50, seed=7), build_plan(50, seed=7), build_plan(50, seed=8)
    assert first == again
    assert [p.scenario for p in first] != [p.scenario for p in other]
    assert [p.shipment_id for p in first] == [f"REL-7-{i}" for i in range(50)]


@pytest.mark.parametrize("n", [1, 16, 200], ids=lambda n: f"n={n}")
def test_share_of_faulted_shipments(n):
    plan = build_plan(n, seed=1)
    assert len(plan) == n
    assert sum(p.faulted for p in plan) == round(n * FAULTED_SHARE)
    assert len({p.shipment_id for p in plan}) == n


def test_a_full_batch_covers_every_scenario_fault_kind_and_partner_operation():
    plan = build_plan(300, seed=2026)
    assert {p.scenario for p in plan} >= {s.name for s in CLEAN}
    assert {p.scenario for p in plan} >= {s.name for s in FAULTED}
    specs = [spec for p in plan for spec in p.faults]
    assert {spec.kind for spec in specs} == set(FaultKind)
    assert {spec.operation for spec in specs} == set(Operation)
    assert {status for p in plan for status in p.expected} == {Status.DELIVERED, Status.COMPENSATED,
                                                                Status.REJECTED, Status.CANCELLED}
    mix = {row.kind: row for row in fault_mix(plan)}
    assert sum(row.rules for row in mix.values()) == len(specs)
    assert set(mix) == {str(kind) for kind in FaultKind}


@pytest.mark.parametrize("scenario", CLEAN + FAULTED, ids=lambda s: s.name)
def test_every_catalogue_fault_targets_a_partner_its_shipment_calls(scenario):
    used = scenario_partners(scenario)
    assert all(spec.partner in used for spec in scenario.faults), (used, [s.label for s in scenario.faults])
    # Derivable (raises PlanError otherwise); only a request the API refuses expects no status.
    assert expected_statuses(scenario) or scenario.variant is Variant.POISON_TEXT


def s(name: str, example: str = BASIC, faults=(), actions=(), variant=None) -> Scenario:
    return Scenario(name=name, example=example, faults=tuple(faults), actions=tuple(actions), variant=variant)


@pytest.mark.parametrize("scenario, expected", [
    (s("503 burst", faults=[fault("ups", "book", "error", times=3)]), DELIVERED),
    (s("429 and latency", faults=[fault("ups", "book", "rate_limit", times=2),
                                  fault("parcelnow", "schedule", "latency", latency_s=0.5)]), DELIVERED),
    (s("short outage", faults=[fault("clearpath", "file", "outage", outage_for_s=2.0)]), DELIVERED),
    (s("first carrier refuses, backup exists", faults=[fault("ups", "book", "reject")]), DELIVERED),
    (s("label refused, backup exists", faults=[*EXPRESS_FULL, fault("aerocargo", "label", "reject")]), DELIVERED),
    (s("every carrier refuses", faults=[fault("*", "book", "reject")]), COMPENSATED),
    (s("every express carrier refuses", LITHIUM, faults=[fault("*", "book", "reject")]), COMPENSATED),
    (s("refusal by a carrier not in the plan", PALLET, faults=[fault("ups", "book", "reject")]), DELIVERED),
    (s("customs refuses", faults=[fault("clearpath", "file", "reject")]), COMPENSATED),
    # A Karrio carrier books and hands over in one shipment call: refused there, the next carrier books.
    (s("a karrio carrier refuses the shipment at handover", faults=[fault("ups", "handover", "reject")]),
     DELIVERED),
    (s("every express carrier refuses at handover", LITHIUM, faults=[fault("*", "handover", "reject")]),
     COMPENSATED),
    # A label is no call of its own at a Karrio carrier: nothing there to refuse.
    (s("a karrio carrier's label", faults=[fault("ups", "label", "reject")]), DELIVERED),
    (s("handover refused by a dialect carrier after booking",
       faults=[*EXPRESS_FULL, fault("aerocargo", "handover", "reject")]), COMPENSATED),
    (s("slot refused", faults=[fault("parcelnow", "schedule", "reject")]), COMPENSATED),
    (s("customs hold approved", faults=[fault("clearpath", "file", "hold")], actions=[approve("customs_hold")]),
     DELIVERED),
    (s("customs hold refused", faults=[fault("clearpath", "file", "hold")], actions=[refuse("customs_hold")]),
     REJECTED),
    (s("high value approved", HIGH_VALUE, actions=[approve("high_value")]), DELIVERED),
    (s("high value refused", HIGH_VALUE, actions=[refuse("high_value")]), REJECTED),
    (s("denied party refused", variant=Variant.POSSIBLE_DENIED_PARTY, actions=[refuse("compliance")]), REJECTED),
    (s("unmarked pallet fixed", PALLET, variant=Variant.UNMARKED_PALLET, actions=[approve("packaging")]),
     DELIVERED),
    (s("unmarked pallet refused", PALLET, variant=Variant.UNMARKED_PALLET, actions=[refuse("packaging")]),
     COMPENSATED),
    (s("embargoed", variant=Variant.EMBARGOED), REJECTED),
    (s("stalled in transit, cancelled", faults=[fault("ups", "handover", "scenario", scenario="stalled")],
       actions=[cancel_at("transit")]), CANCELLED),
    (s("stalled in the last mile, cancelled", faults=[fault("parcelnow", "schedule", "scenario", scenario="stalled")],
       actions=[cancel_at("last_mile")]), CANCELLED),
    (s("stalled, overdue refused", faults=[fault("ups", "handover", "scenario", scenario="stalled")],
       actions=[refuse("stage_overdue")]), REJECTED),
    (s("delayed story", faults=[fault("ups", "handover", "scenario", scenario="delayed")]), DELIVERED),
    (s("stalled courier in the last mile, cancelled", LITHIUM,
       faults=[fault("roadie", "schedule", "scenario", scenario="stalled")], actions=[cancel_at("last_mile")]),
     CANCELLED),
], ids=lambda v: v.name if isinstance(v, Scenario) else None)
def test_expected_status_follows_from_the_faults(scenario, expected):
    assert expected_statuses(scenario) == expected


@pytest.mark.parametrize("scenario, message", [
    (s("endless 503s", faults=[fault("ups", "book", "error")]), "times must be set"),
    (s("long burst", faults=[fault("ups", "book", "error", times=TIMINGS.max_transient_times + 1)]),
     "times must be set and at most"),
    (s("outage about as long as the retries", faults=[
        fault("clearpath", "file", "outage", outage_for_s=TIMINGS.max_outage_s + 1)]), "outage_for_s must be set"),
    (s("act then time out, a burst that may outlast the retries", faults=[
        fault("ups", "book", "act_then_timeout", times=TIMINGS.max_transient_times + 1)]), "times must be set"),
    (s("garbled through karrio", faults=[fault("ups", "book", "garbled", times=1)]), "Tradelane-dialect partners"),
    (s("latency past the timeout", faults=[fault("ups", "book", "latency",
                                                 latency_s=TIMINGS.partner_timeout_s)]), "below the partner timeout"),
    (s("high value undecided", HIGH_VALUE), "gate high_value will open"),
    (s("hold undecided", faults=[fault("clearpath", "file", "hold")]), "gate customs_hold will open"),
    (s("cancel racing delivery", actions=[cancel_at("transit")]), "races the delivery"),
    (s("cancel at booking", actions=[cancel_at("booking")]), "only planned where a shipment waits"),
    (s("stalled forever", faults=[fault("ups", "handover", "scenario", scenario="stalled")],
       actions=[approve("stage_overdue")]), "stays silent"),
    (s("quote faults with refusals", faults=[fault("ups", "quote", "timeout", times=1),
                                             fault("ups", "book", "reject")]), "quote faults and refusals"),
], ids=lambda v: v.name if isinstance(v, Scenario) else None)
def test_underivable_scenarios_are_refused(scenario, message):
    with pytest.raises(PlanError, match=message):
        expected_statuses(scenario)


@pytest.mark.parametrize("scenario, expected", [
    # Acted once and the answer lost: the retry under the same key gets the record back.
    (s("acted then timed out once", faults=[fault("ups", "book", "act_then_timeout", times=1)]), DELIVERED),
    # Acted and never answered: the step fails for good; the record is adopted or undone, a backup carries.
    (s("label acted, never answered", faults=[*EXPRESS_FULL, fault("aerocargo", "label", "act_then_timeout")]),
     DELIVERED),
    # An unreadable success from customs: adopted (delivered) or undone (compensated, no other broker).
    (s("filing garbled", faults=[fault("clearpath", "file", "garbled", times=1)]),
     frozenset({Status.DELIVERED, Status.COMPENSATED})),
    # Down for minutes: a step that outlasts its retries fails for good, as a refusal does.
    (s("carrier down for minutes", faults=[fault("ups", "book", "outage", outage_for_s=TIMINGS.long_outage_s)]),
     DELIVERED),
    (s("customs down for minutes", LITHIUM, faults=[fault("clearpath", "file", "outage",
                                                           outage_for_s=TIMINGS.long_outage_s)]), COMPENSATED),
    (s("poisoned request", variant=Variant.POISON_TEXT), frozenset()),
], ids=lambda v: v.name if isinstance(v, Scenario) else None)
def test_uncertain_and_lasting_faults_expect_every_outcome_they_allow(scenario, expected):
    assert expected_statuses(scenario) == expected


def test_the_ledgers_a_scenario_explains():
    by_name = {sc.name: sc for sc in CLEAN + FAULTED}
    undo = planned_shipment(0, "REL-0-0", by_name["undo-outage-minutes"])
    assert (undo.reconciliation_required, undo.reconciliation_explained) == ({"aerocargo"}, {"aerocargo"})
    unknown = planned_shipment(1, "REL-0-1", by_name["label-acted-then-timeout-always"])
    assert (unknown.reconciliation_required, unknown.reconciliation_explained) == (set(), {"aerocargo"})
    # A refusal is not uncertain: the partner made nothing, so nothing is to be reconciled.
    refused = planned_shipment(2, "REL-0-2", by_name["backup-after-book-refusal"])
    assert refused.reconciliation_explained == set()
    poison = planned_shipment(3, "REL-0-3", by_name["poison-notification"])
    assert (poison.dead_letters, poison.faulted) == (1, True)
    request = planned_shipment(4, "REL-0-4", by_name["poison-text-refused"])
    assert (request.refused_at_api, request.expected) == (True, frozenset())


def test_the_poisoned_request_carries_control_characters_the_api_refuses():
    body = apply_variant(load_request(BASIC, "REL-0-0"), Variant.POISON_TEXT)
    assert "\r\n" in body["order_ref"] and "\x00" in body["destination"]["name"]
    with pytest.raises(ValidationError) as refused:
        ShipmentRequest.model_validate(body)
    named = {".".join(map(str, e["loc"])) for e in refused.value.errors()}
    assert named == set(POISON_FIELDS)


def test_fault_spec_becomes_a_rule_for_one_shipment_with_its_window_from_submission():
    outage = fault("clearpath", "file", "outage", outage_for_s=4.0).rule("REL-1-3", submitted_at_s=12.5)
    assert (outage.shipment_id, outage.window_start_s, outage.window_end_s) == ("REL-1-3", 12.5, 16.5)
    burst = fault("ups", "book", "error", status=502, times=2).rule("REL-1-4", submitted_at_s=3.0)
    assert (burst.kind, burst.status, burst.times, burst.window_start_s) == (FaultKind.ERROR, 502, 2, None)
    # An outage of minutes opens at the first call it hits, however late a crash made that call.
    lasting = fault("aerocargo", "void", "outage", outage_for_s=120.0).rule("REL-1-5", submitted_at_s=3.0)
    assert (lasting.lasts_s, lasting.window_start_s, lasting.window_end_s) == (120.0, None, None)


@pytest.mark.parametrize("variant, field, value", [
    (Variant.UNMARKED_PALLET, ("parcels", 1, "ispm15_marked"), False),
    (Variant.POSSIBLE_DENIED_PARTY, ("destination", "company"), "Orion Dual Use Tradng"),
    (Variant.EMBARGOED, ("destination", "country"), "CU"),
], ids=lambda v: str(v) if isinstance(v, Variant) else None)
def test_variants_change_a_copy_and_stay_valid_requests(variant, field, value):
    example = PALLET if variant is Variant.UNMARKED_PALLET else BASIC
    original = load_request(example, "REL-0-0")
    changed = apply_variant(original, variant)
    node = changed
    for key in field:
        node = node[key]
    assert node == value
    assert changed != original and apply_variant(original, None) == original
    ShipmentRequest.model_validate(changed)


@pytest.mark.parametrize("example", sorted(EXAMPLE_FACTS), ids=lambda e: e.removesuffix(".json"))
async def test_example_facts_match_the_decision_layer_with_the_sandbox_quotes(example):
    """The carrier chain, last mile and value approval the expectations rely on, asked of the real decision
    activity (quotes from an in-process sandbox)."""
    facts = EXAMPLE_FACTS[example]
    request = ShipmentRequest.model_validate(load_request(example, "REL-facts-1"))
    sandbox = create_sandbox_app(SandboxConfig())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=sandbox), base_url="http://sandbox") as http:
        decisions = DecisionActivities(PartnerGateway(http, "http://sandbox"), default_book())
        chain, last_mile = [], None
        while True:
            result = await decisions.assess(AssessRequest(request=request, exclude_partners=chain))
            plan = result.assessment.plan
            if plan is None:
                break
            chain.append(plan.legs[0].partner)
            if last_mile is None:
                last_mile = result.assessment.last_mile.chosen.partner
    assert tuple(chain) == facts.carriers
    assert last_mile == facts.last_mile
    policy = ApprovalPolicy(value_thresholds=DEFAULT_VALUE_THRESHOLDS)
    assert (value_approval_reason(request, policy) is not None) == facts.high_value


@pytest.mark.parametrize("crashes, kinds", [
    (True, ["worker_kill", "partner_outage", "database_lock", "server_restart", "partner_outage", "temporal_down",
            "api_restart", "partner_outage", "worker_kill"]),
    (False, ["partner_outage", "database_lock", "partner_outage", "partner_outage"]),
], ids=["with crashes", "without crashes"])
def test_batch_disruptions_in_order_of_share(crashes, kinds):
    disruptions = batch_disruptions(crashes)
    assert [d.kind for d in disruptions] == kinds
    shares = [d.at_share for d in disruptions]
    assert shares == sorted(shares)


def test_a_partner_outage_hits_every_operation_but_quotes_of_this_batch_only():
    outage = next(d for d in batch_disruptions(True) if d.partner == "ups")
    rules = outage.outage_rules(shipment_glob(5), opens_at_s=40.0)
    assert {r.operation for r in rules} == {Operation.BOOK, Operation.LABEL, Operation.CANCEL, Operation.VOID,
                                            Operation.HANDOVER, Operation.TRACK}
    assert {(r.shipment_id, r.kind, r.window_start_s, r.window_end_s) for r in rules} == {
        ("REL-5-*", FaultKind.OUTAGE, 40.0, 40.0 + outage.outage_s)}
    assert outage.outage_s <= TIMINGS.max_outage_s
