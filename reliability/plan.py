"""The batch of a reliability run: pure and deterministic for a seed.

`build_plan(n, seed)` picks scenarios from the catalogue (every faulted scenario at least once when `n` allows,
about 60 % faulted), gives each shipment its own id, and derives its expected terminal statuses from its faults and
ops actions (`expected_statuses`), walking the workflow's stages in order.
"""

import random
from collections import Counter
from fnmatch import fnmatchcase
from typing import Literal

from pydantic import BaseModel, ConfigDict

from reliability.catalogue import (
    CLEAN,
    CUSTOMS_BROKER,
    DISRUPTIONS,
    EXAMPLE_FACTS,
    FAULTED,
    Disruption,
    FaultSpec,
    OpsAction,
    Scenario,
    Variant,
)
from reliability.config import TIMINGS, RunTimings
from sandbox.faults import FaultKind
from sandbox.partners import Operation
from tradelane.connections import PartnerProtocol, connection
from tradelane.enums import Decision, GateKind, Stage, Status

FAULTED_SHARE = 0.6
"""Share of the batch with at least one injected fault."""

GATE_REJECTED_STATUS: dict[GateKind, Status] = {
    GateKind.HIGH_VALUE: Status.REJECTED,
    GateKind.COMPLIANCE: Status.REJECTED,
    GateKind.PACKAGING: Status.COMPENSATED,
    GateKind.CUSTOMS_HOLD: Status.REJECTED,
    GateKind.STAGE_OVERDUE: Status.REJECTED,
}
"""What a shipment ends as when ops reject each gate (as `workflows/shipment.py` decides)."""

_FAILING_KINDS = frozenset({FaultKind.ERROR, FaultKind.RATE_LIMIT, FaultKind.TIMEOUT, FaultKind.OUTAGE,
                            FaultKind.ACT_THEN_TIMEOUT})
"""Kinds that fail the calls they hit: transient (a burst or a window shorter than the retries), or for good only
where that is planned on purpose (an outage of minutes, a partner that acts and never answers)."""

UNDO_OPERATIONS = frozenset({Operation.CANCEL, Operation.VOID, Operation.WITHDRAW, Operation.RELEASE_SLOT})
"""The partner calls compensation makes; one that fails for good leaves a reconciliation item."""

MUTATING_OPERATIONS = frozenset({Operation.BOOK, Operation.LABEL, Operation.FILE, Operation.SCHEDULE,
                                 Operation.HANDOVER})
"""The partner calls that make something a partner keeps (Karrio's one shipment call is admitted as `handover` too)."""

FaultOutcome = Literal["transient", "for_good", "uncertain"]
"""What a fault does to its step: nothing the retries do not absorb; fails it for good with the partner not having
acted (a refusal, an outage of minutes); or fails it for good *after* the partner acted (the record exists, the
answer was lost or unreadable): the step's outcome is unknown to Tradelane."""


class PlanError(ValueError):
    """A scenario whose outcome cannot be derived (a permanent fault, a gate nobody decides, a racy cancel)."""


class PlannedShipment(BaseModel):
    """One shipment of the batch and what it must end as."""

    model_config = ConfigDict(frozen=True)

    index: int
    shipment_id: str
    scenario: str
    example: str
    variant: Variant | None
    faults: tuple[FaultSpec, ...]
    actions: tuple[OpsAction, ...]
    expected: frozenset[Status]
    """Empty for a request the API must refuse (`refused_at_api`)."""
    refused_at_api: bool = False
    """The request carries poison (control characters): a 422 naming the fields, and nothing created."""
    dead_letters: int = 0
    """Dead letters this shipment must end with (a poisoned notification gives up as one)."""
    reconciliation_required: frozenset[str] = frozenset()
    """Partners where an undo of this shipment must have landed on the reconciliation list (an undo call that
    cannot reach its partner for minutes)."""
    reconciliation_explained: frozenset[str] = frozenset()
    """Partners whose reconciliation items this shipment's faults explain (the required ones, and steps that failed
    for good or with an unknown outcome); an item anywhere else is unexpected and fails the run."""

    @property
    def faulted(self) -> bool:
        return bool(self.faults) or any(a.kind in ("forge_events", "poison_notice") for a in self.actions)


def fault_outcome(spec: FaultSpec, timings: RunTimings = TIMINGS) -> FaultOutcome:
    """What `spec` does to its step (see `FaultOutcome`); kinds that do not fail a call are `transient`.

    Raises:
        PlanError: When a fault is neither clearly transient nor clearly for good (an outage about as long as the
            retries, a burst that may or may not outlast them), or a garbled answer goes to a partner whose
            adapter does not read Tradelane's dialect (only there is an unreadable success non-retryable).
    """
    if spec.kind is FaultKind.GARBLED:
        if connection(spec.partner).protocol is not PartnerProtocol.TRADELANE:
            raise PlanError(f"{spec.label}: garbled answers are planned for Tradelane-dialect partners only")
        return "uncertain"
    if spec.kind not in _FAILING_KINDS:
        if spec.kind is FaultKind.LATENCY and spec.latency_s >= timings.partner_timeout_s:
            raise PlanError(f"{spec.label}: latency_s must stay below the partner timeout "
                            f"({timings.partner_timeout_s:g} s) or the call times out without `times`")
        return "transient"
    if spec.kind is FaultKind.OUTAGE:
        if spec.outage_for_s is not None and spec.outage_for_s <= timings.max_outage_s:
            return "transient"
        if spec.outage_for_s is not None and spec.outage_for_s >= timings.long_outage_s:
            return "for_good"
        raise PlanError(f"{spec.label}: outage_for_s must be set, and at most {timings.max_outage_s:g} s (half the "
                        f"retry backoff) to be transient or at least {timings.long_outage_s:g} s to outlast it")
    if spec.kind is FaultKind.ACT_THEN_TIMEOUT and spec.times is None:
        return "uncertain"
    if spec.times is None or spec.times > timings.max_transient_times:
        raise PlanError(f"{spec.label}: times must be set and at most {timings.max_transient_times} "
                        f"(a third of {timings.retry_maximum_attempts} attempts) to be transient")
    return "transient"


def check_transient(spec: FaultSpec, timings: RunTimings = TIMINGS) -> None:
    """Raises PlanError unless a fault is one the retry policy outlasts."""
    if fault_outcome(spec, timings) != "transient":
        raise PlanError(f"{spec.label}: fails its step for good; it is not transient")


def _hits(spec: FaultSpec, partner: str, operation: Operation) -> bool:
    return spec.operation == operation and fnmatchcase(partner, spec.partner)


def _refused(faults: tuple[FaultSpec, ...], partner: str, *operations: Operation) -> bool:
    return any(f.kind is FaultKind.REJECT and any(_hits(f, partner, op) for op in operations) for f in faults)


def booking_operations(carrier: str) -> tuple[Operation, ...]:
    """The calls whose refusal makes the workflow book the next carrier instead: the booking and its label in
    Tradelane's dialect; for a carrier spoken to through Karrio its one shipment call, which books, labels and hands
    over at once (the sandbox admits it as `book`, then as `handover`, and it makes no label call)."""
    if connection(carrier).protocol is PartnerProtocol.KARRIO:
        return (Operation.BOOK, Operation.HANDOVER)
    return (Operation.BOOK, Operation.LABEL)


def _story(faults: tuple[FaultSpec, ...], partner: str, operation: Operation) -> str | None:
    return next((f.scenario for f in faults if f.kind is FaultKind.SCENARIO and _hits(f, partner, operation)), None)


def _decision(actions: tuple[OpsAction, ...], gate: GateKind, name: str) -> Decision:
    for action in actions:
        if action.kind == "decide" and action.gate is gate and action.decision is not None:
            return action.decision
    raise PlanError(f"{name}: gate {gate} will open but no ops decision is planned for it")


def _cancel_stage(actions: tuple[OpsAction, ...]) -> Stage | None:
    return next((a.at_stage for a in actions if a.kind == "cancel"), None)


def _as_refusal(spec: FaultSpec) -> FaultSpec:
    return spec.model_copy(update={"kind": FaultKind.REJECT, "times": None, "outage_for_s": None})


def expected_statuses(scenario: Scenario, timings: RunTimings = TIMINGS) -> frozenset[Status]:
    """The terminal statuses a scenario may end in, derived by walking the workflow's stages.

    Transient faults change nothing; a fault that fails a step for good (`fault_outcome`) counts as the partner's
    refusal; one whose outcome is uncertain may end either way (Tradelane looks the record up by its key and
    adopts it, or undoes it and goes on as after a refusal), so both are expected. A refusal by a carrier switches
    to the next carrier of the example's chain (compensated when none is left); a refusal after booking
    compensates; an ops rejection ends the shipment as `GATE_REJECTED_STATUS` says; a stalled partner waits for the
    planned cancel or the `stage_overdue` decision. A request the API must refuse expects no status at all.

    Raises:
        PlanError: When a fault is neither transient nor for good, a gate that opens has no planned decision, a
            cancel is planned where the shipment does not wait, or quote faults are mixed with carrier refusals
            (the plan's carrier could then depend on which quotes failed).
    """
    if scenario.variant is Variant.POISON_TEXT:
        return frozenset()
    outcomes = [fault_outcome(spec, timings) for spec in scenario.faults]
    settled = tuple(_as_refusal(s) if o == "for_good" else s for s, o in zip(scenario.faults, outcomes, strict=True))
    uncertain = [i for i, o in enumerate(outcomes) if o == "uncertain"]
    branches = [settled]
    for i in uncertain:
        branches = [b for branch in branches for b in (
            branch[:i] + (_as_refusal(branch[i]),) + branch[i + 1:],
            branch[:i] + (branch[i].model_copy(update={"kind": FaultKind.LATENCY, "times": None}),) + branch[i + 1:])]
    return frozenset().union(*(_walk(scenario.model_copy(update={"faults": b})) for b in branches))


def _walk(scenario: Scenario) -> frozenset[Status]:
    name, faults, actions = scenario.name, scenario.faults, scenario.actions
    facts = EXAMPLE_FACTS[scenario.example]
    cancel_stage = _cancel_stage(actions)
    if cancel_stage not in (None, Stage.TRANSIT, Stage.LAST_MILE):
        raise PlanError(f"{name}: a cancel is only planned where a shipment waits (transit or last_mile)")

    if scenario.variant is Variant.EMBARGOED:
        return frozenset({Status.REJECTED})
    gates_before_booking = [GateKind.HIGH_VALUE] if facts.high_value else []
    if scenario.variant is Variant.POSSIBLE_DENIED_PARTY:
        gates_before_booking.append(GateKind.COMPLIANCE)
    for gate in gates_before_booking:
        if _decision(actions, gate, name) is Decision.REJECT:
            return frozenset({GATE_REJECTED_STATUS[gate]})

    if any(f.operation is Operation.QUOTE for f in faults) and any(f.kind is FaultKind.REJECT for f in faults):
        raise PlanError(f"{name}: quote faults and refusals together make the chosen carrier depend on which "
                        "quotes failed")
    carrier = next((c for c in facts.carriers if not _refused(faults, c, *booking_operations(c))), None)
    if carrier is None:
        return frozenset({Status.COMPENSATED})

    if scenario.variant is Variant.UNMARKED_PALLET and _decision(actions, GateKind.PACKAGING, name) is Decision.REJECT:
        return frozenset({GATE_REJECTED_STATUS[GateKind.PACKAGING]})
    if _refused(faults, CUSTOMS_BROKER, Operation.FILE):
        return frozenset({Status.COMPENSATED})
    if any(f.kind is FaultKind.HOLD and _hits(f, CUSTOMS_BROKER, Operation.FILE) for f in faults):
        if _decision(actions, GateKind.CUSTOMS_HOLD, name) is Decision.REJECT:
            return frozenset({GATE_REJECTED_STATUS[GateKind.CUSTOMS_HOLD]})

    for stage, partner, operation in ((Stage.TRANSIT, carrier, Operation.HANDOVER),
                                      (Stage.LAST_MILE, facts.last_mile, Operation.SCHEDULE)):
        if _refused(faults, partner, operation):
            return frozenset({Status.COMPENSATED})
        if _story(faults, partner, operation) == "stalled":
            if cancel_stage is stage:
                return frozenset({Status.CANCELLED})
            if _decision(actions, GateKind.STAGE_OVERDUE, name) is Decision.REJECT:
                return frozenset({GATE_REJECTED_STATUS[GateKind.STAGE_OVERDUE]})
            raise PlanError(f"{name}: {partner} stays silent; only a cancel or a rejected stage_overdue ends it")
        if cancel_stage is stage:
            raise PlanError(f"{name}: a cancel in {stage} races the delivery unless the partner stalls there")
    return frozenset({Status.DELIVERED})


def reconciliation_partners(scenario: Scenario, timings: RunTimings = TIMINGS) -> tuple[frozenset[str],
                                                                                       frozenset[str]]:
    """(required, explained): partners where the scenario's faults must leave a reconciliation item (an undo that
    fails for good), and partners where they may (also a step that failed for good or with an unknown outcome)."""
    required: set[str] = set()
    explained: set[str] = set()
    for spec in scenario.faults:
        outcome = fault_outcome(spec, timings)
        if outcome == "transient":
            continue
        if outcome == "for_good" and spec.kind is not FaultKind.REJECT and spec.operation in UNDO_OPERATIONS:
            required.add(spec.partner)
        if spec.operation in UNDO_OPERATIONS | MUTATING_OPERATIONS and spec.kind is not FaultKind.REJECT:
            explained.add(spec.partner)
    return frozenset(required), frozenset(explained | required)


def scenario_partners(scenario: Scenario) -> set[str]:
    """Every partner the scenario's shipment calls: its carriers up to the one that carries, broker, last mile."""
    facts = EXAMPLE_FACTS[scenario.example]
    used = {CUSTOMS_BROKER, facts.last_mile}
    for carrier in facts.carriers:
        used.add(carrier)
        if not _refused(scenario.faults, carrier, *booking_operations(carrier)):
            break
    return used


def _pick(scenarios: tuple[Scenario, ...], count: int, rng: random.Random) -> list[Scenario]:
    """Each scenario once while `count` allows (in a seeded order), then weighted draws for the rest."""
    order = list(scenarios)
    rng.shuffle(order)
    picked = order[:count]
    rest = count - len(picked)
    if rest > 0:
        picked += rng.choices(scenarios, weights=[s.weight for s in scenarios], k=rest)
    return picked


def shipment_id(seed: int, index: int) -> str:
    """The id of shipment `index` of the batch of `seed`."""
    return f"REL-{seed}-{index}"


def shipment_glob(seed: int) -> str:
    """The fault-rule glob matching every shipment of the batch of `seed` (and nothing else)."""
    return shipment_id(seed, 0).removesuffix("0") + "*"


def batch_disruptions(crashes: bool, timings: RunTimings = TIMINGS,
                      catalogue: tuple[Disruption, ...] = DISRUPTIONS) -> list[Disruption]:
    """The batch-wide disruptions in order: partner outages always, crashes and restarts when `crashes`
    (`catalogue`: the dev server's, or `CLUSTER_DISRUPTIONS` on a cluster).

    Raises:
        PlanError: When an outage is too long to be transient.
    """
    for d in catalogue:
        if d.kind == "partner_outage" and (d.outage_s is None or d.outage_s > timings.max_outage_s):
            raise PlanError(f"{d.partner} outage of {d.outage_s} s: at most {timings.max_outage_s:g} s is transient")
    return sorted((d for d in catalogue if crashes or not d.crash), key=lambda d: d.at_share)


def build_plan(n: int, seed: int, timings: RunTimings = TIMINGS,
               only: frozenset[str] | None = None) -> list[PlannedShipment]:
    """The batch: `n` shipments, about `FAULTED_SHARE` of them with faults, in a seeded order.

    Args:
        n: Number of shipments (at least 1).
        seed: Same seed, same plan: ids, scenarios and order.
        timings: The run's timings, which decide what counts as a transient fault.
        only: Scenario names to draw from instead of the whole catalogue (`--only`, to chase one fault).

    Raises:
        PlanError: When a catalogue scenario's outcome cannot be derived, or `only` names an unknown scenario.
        ValueError: When `n` is below 1.
    """
    if n < 1:
        raise ValueError(f"n: a batch needs at least one shipment, got {n}")
    rng = random.Random(seed)
    faulted_pool, clean_pool = FAULTED, CLEAN
    if only is not None:
        unknown = only - {s.name for s in FAULTED + CLEAN}
        if unknown:
            raise PlanError(f"only: no scenario {', '.join(sorted(unknown))} in the catalogue")
        faulted_pool = tuple(s for s in FAULTED if s.name in only)
        clean_pool = tuple(s for s in CLEAN if s.name in only)
    faulted = round(n * FAULTED_SHARE) if faulted_pool and clean_pool else (n if faulted_pool else 0)
    chosen = _pick(faulted_pool, faulted, rng) + _pick(clean_pool, n - faulted, rng)
    rng.shuffle(chosen)
    return [planned_shipment(i, shipment_id(seed, i), s, timings) for i, s in enumerate(chosen)]


def planned_shipment(index: int, shipment_id: str, scenario: Scenario,
                     timings: RunTimings = TIMINGS) -> PlannedShipment:
    """One shipment of the batch with everything its scenario implies."""
    required, explained = reconciliation_partners(scenario, timings)
    return PlannedShipment(index=index, shipment_id=shipment_id, scenario=scenario.name, example=scenario.example,
                           variant=scenario.variant, faults=scenario.faults, actions=scenario.actions,
                           expected=expected_statuses(scenario, timings),
                           refused_at_api=scenario.variant is Variant.POISON_TEXT,
                           dead_letters=sum(a.kind == "poison_notice" for a in scenario.actions),
                           reconciliation_required=required, reconciliation_explained=explained)


class MixRow(BaseModel):
    """One line of the fault-mix table."""

    kind: str
    rules: int
    shipments: int
    operations: list[str]


def fault_mix(plan: list[PlannedShipment]) -> list[MixRow]:
    """Planned fault rules by kind: how many, on how many shipments, on which partner operations."""
    rules: Counter[str] = Counter()
    shipments: dict[str, set[str]] = {}
    operations: dict[str, set[str]] = {}
    for planned in plan:
        for spec in planned.faults:
            kind = str(spec.kind)
            rules[kind] += 1
            shipments.setdefault(kind, set()).add(planned.shipment_id)
            operations.setdefault(kind, set()).add(str(spec.operation))
    return [MixRow(kind=kind, rules=rules[kind], shipments=len(shipments[kind]),
                   operations=sorted(operations[kind]))
            for kind in sorted(rules)]
