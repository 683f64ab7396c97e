"""The batch of a reliability run: pure and deterministic for a seed.

`build_plan(n, seed)` picks scenarios from the catalogue (every faulted scenario at least once when `n` allows,
about 60 % faulted), gives each shipment its own id, and derives its expected terminal statuses from its faults and
ops actions (`expected_statuses`), walking the workflow's stages in order.
"""

import random
from collections import Counter
from fnmatch import fnmatchcase

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

_FAILING_KINDS = frozenset({FaultKind.ERROR, FaultKind.RATE_LIMIT, FaultKind.TIMEOUT, FaultKind.OUTAGE})
"""Kinds that fail the calls they hit; planned as transient only (a burst or a window shorter than the retries)."""


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

    @property
    def faulted(self) -> bool:
        return bool(self.faults)


def check_transient(spec: FaultSpec, timings: RunTimings = TIMINGS) -> None:
    """Raises PlanError unless a failing fault is short enough for the retry policy to outlast it."""
    if spec.kind not in _FAILING_KINDS:
        if spec.kind is FaultKind.LATENCY and spec.latency_s >= timings.partner_timeout_s:
            raise PlanError(f"{spec.label}: latency_s must stay below the partner timeout "
                            f"({timings.partner_timeout_s:g} s) or the call times out without `times`")
        return
    if spec.kind is FaultKind.OUTAGE:
        if spec.outage_for_s is None or spec.outage_for_s > timings.max_outage_s:
            raise PlanError(f"{spec.label}: outage_for_s must be set and at most {timings.max_outage_s:g} s "
                            "(half the retry backoff) to be transient")
        return
    if spec.times is None or spec.times > timings.max_transient_times:
        raise PlanError(f"{spec.label}: times must be set and at most {timings.max_transient_times} "
                        f"(a third of {timings.retry_maximum_attempts} attempts) to be transient")


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


def expected_statuses(scenario: Scenario, timings: RunTimings = TIMINGS) -> frozenset[Status]:
    """The terminal statuses a scenario may end in, derived by walking the workflow's stages.

    Transient faults change nothing; a refusal by a carrier switches to the next carrier of the example's chain
    (compensated when none is left); a refusal after booking compensates; an ops rejection ends the shipment as
    `GATE_REJECTED_STATUS` says; a stalled partner waits for the planned cancel or the `stage_overdue` decision.

    Raises:
        PlanError: When a fault is not transient, a gate that opens has no planned decision, a cancel is planned
            where the shipment does not wait, or quote faults are mixed with carrier refusals (the plan's carrier
            could then depend on which quotes failed).
    """
    name, faults, actions = scenario.name, scenario.faults, scenario.actions
    facts = EXAMPLE_FACTS[scenario.example]
    for spec in faults:
        check_transient(spec, timings)
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


def batch_disruptions(crashes: bool, timings: RunTimings = TIMINGS) -> list[Disruption]:
    """The batch-wide disruptions in order: partner outages always, crashes and restarts when `crashes`.

    Raises:
        PlanError: When an outage is too long to be transient.
    """
    for d in DISRUPTIONS:
        if not d.crash and (d.outage_s is None or d.outage_s > timings.max_outage_s):
            raise PlanError(f"{d.partner} outage of {d.outage_s} s: at most {timings.max_outage_s:g} s is transient")
    return sorted((d for d in DISRUPTIONS if crashes or not d.crash), key=lambda d: d.at_share)


def build_plan(n: int, seed: int, timings: RunTimings = TIMINGS) -> list[PlannedShipment]:
    """The batch: `n` shipments, about `FAULTED_SHARE` of them with faults, in a seeded order.

    Args:
        n: Number of shipments (at least 1).
        seed: Same seed, same plan: ids, scenarios and order.
        timings: The run's timings, which decide what counts as a transient fault.

    Raises:
        PlanError: When a catalogue scenario's outcome cannot be derived.
        ValueError: When `n` is below 1.
    """
    if n < 1:
        raise ValueError(f"n: a batch needs at least one shipment, got {n}")
    rng = random.Random(seed)
    faulted = round(n * FAULTED_SHARE)
    chosen = _pick(FAULTED, faulted, rng) + _pick(CLEAN, n - faulted, rng)
    rng.shuffle(chosen)
    return [
        PlannedShipment(index=i, shipment_id=shipment_id(seed, i), scenario=s.name, example=s.example,
                        variant=s.variant, faults=s.faults, actions=s.actions, expected=expected_statuses(s, timings))
        for i, s in enumerate(chosen)
    ]


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
