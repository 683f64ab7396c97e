"""The scenarios of the fault matrix: data, not code.

Each scenario names an example request (optionally altered by a `Variant`), the faults the sandbox injects for that
shipment only, and what ops do (decide gates, cancel). The expected terminal status is *derived* from these by
`reliability.plan.expected_statuses`, never written by hand, so a scenario cannot claim an outcome its faults do
not imply.

`EXAMPLE_FACTS` records what Tradelane decides for each example with the sandbox's quotes (the carrier it books and
the backup after each refusal, the last-mile partner, whether the value needs approval);
`tests/reliability/test_plan.py` checks it against the decision layer and the sandbox.
"""

import copy
import json
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from reliability.config import TIMINGS
from sandbox.faults import FaultKind, FaultRule
from sandbox.partners import OPERATIONS_BY_KIND, PARTNERS, Operation
from tradelane.enums import Decision, GateKind, Mode, Stage
from tradelane.partners import PARTNERS as DIRECTORY

EXAMPLES_DIR = Path(__file__).resolve().parent.parent / "examples"

BASIC = "basic-cn-de.json"
HIGH_VALUE = "high-value-us-jp.json"
LITHIUM = "lithium-powerbank-cn-us.json"
PALLET = "pallet-cn-au.json"
CUSTOMS_BROKER = "clearpath"


class ExampleFacts(BaseModel):
    """What Tradelane decides for one example request."""

    model_config = ConfigDict(frozen=True)

    carriers: tuple[str, ...]
    """The carrier of the chosen plan, then the backup chosen each time the previous one fails for good."""
    last_mile: str
    high_value: bool
    """Whether the declared value needs ops approval (gate `high_value`) before booking."""


EXAMPLE_FACTS: dict[str, ExampleFacts] = {
    BASIC: ExampleFacts(carriers=("ups", "dhl_express", "fedex", "aerocargo", "silkrail"), last_mile="parcelnow",
                        high_value=False),
    HIGH_VALUE: ExampleFacts(carriers=("dhl_express", "ups", "fedex"), last_mile="doorstep", high_value=True),
    LITHIUM: ExampleFacts(carriers=("dhl_express", "ups", "fedex"), last_mile="roadie", high_value=False),
    PALLET: ExampleFacts(carriers=("bluewave",), last_mile="doorstep", high_value=False),
}


class Variant(StrEnum):
    """A change to an example request that makes the decision layer stop for a person or refuse."""

    UNMARKED_PALLET = "unmarked_pallet"
    """Pallet 2 without its ISPM 15 mark: gate `packaging` after booking."""
    POSSIBLE_DENIED_PARTY = "possible_denied_party"
    """The consignee's company one letter off a listed entity: gate `compliance` before booking."""
    EMBARGOED = "embargoed"
    """Destination Cuba: rejected before anything is booked."""
    POISON_TEXT = "poison_text"
    """CR/LF in `order_ref` and a NUL in the recipient's name: the API must refuse it (422 naming each field) and
    create nothing; before issue 18 the line break failed building the e-mail on every retry."""


POISON_FIELDS = ("order_ref", "destination.name")
"""The fields `Variant.POISON_TEXT` poisons, as the API's 422 names them."""


def apply_variant(body: dict[str, Any], variant: Variant | None) -> dict[str, Any]:
    """Returns a copy of a request dict with `variant` applied (the original is left alone)."""
    body = copy.deepcopy(body)
    if variant is Variant.UNMARKED_PALLET:
        body["parcels"][1]["ispm15_marked"] = False
    elif variant is Variant.POSSIBLE_DENIED_PARTY:
        body["destination"]["company"] = "Orion Dual Use Tradng"
    elif variant is Variant.EMBARGOED:
        body["destination"].update(country="CU", city="Havana", postal_code="10400", locale="es-CU")
    elif variant is Variant.POISON_TEXT:
        body["order_ref"] = body["order_ref"] + "\r\nBcc: everyone@example.com"
        body["destination"]["name"] = body["destination"]["name"] + "\x00"
    return body


def load_request(example: str, shipment_id: str, variant: Variant | None = None) -> dict[str, Any]:
    """The request body of one planned shipment: the example file under its own id, with its variant."""
    body = json.loads((EXAMPLES_DIR / example).read_text(encoding="utf-8"))
    body["shipment_id"] = shipment_id
    return apply_variant(body, variant)


TrackingScenario = Literal["stalled", "delayed", "customs_hold", "failed_attempt"]


class FaultSpec(BaseModel):
    """One fault of a scenario; it becomes a sandbox `FaultRule` matching that shipment's id only."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    partner: str
    operation: Operation
    kind: FaultKind
    status: int = 503
    retry_after_s: float = 1.0
    latency_s: float = 0.0
    times: int | None = None
    """Fire on the first N calls; None for every call (only for kinds that do not fail the call)."""
    code: str = "REJECTED"
    scenario: TrackingScenario | None = None
    outage_for_s: float | None = None
    """`kind=outage`: how long the window stays open, from the moment the shipment is submitted; longer than the
    retry budget (`RunTimings.long_outage_s` or more), from the first call it hits, and it fails that step for good:
    a partner down for minutes."""

    def rule(self, shipment_id: str, submitted_at_s: float) -> FaultRule:
        """The sandbox rule for `shipment_id`. A short outage's window opens at `submitted_at_s` (sandbox seconds);
        one of minutes opens at the first call it hits (`lasts_s`), so a shipment delayed by a crash or a server
        down still meets the whole outage when it gets to that call."""
        window: dict[str, float] = {}
        if self.kind is FaultKind.OUTAGE and self.outage_for_s is not None:
            if self.outage_for_s > TIMINGS.max_outage_s:
                window = {"lasts_s": self.outage_for_s}
            else:
                window = {"window_start_s": submitted_at_s, "window_end_s": submitted_at_s + self.outage_for_s}
        return FaultRule(partner=self.partner, operation=self.operation, shipment_id=shipment_id, kind=self.kind,
                         status=self.status, retry_after_s=self.retry_after_s, latency_s=self.latency_s,
                         times=self.times, code=self.code, scenario=self.scenario, **window)

    @property
    def label(self) -> str:
        """Short description for tables, e.g. `ups.book error 503 x3`."""
        detail = {FaultKind.ERROR: f"{self.status}", FaultKind.RATE_LIMIT: f"retry-after {self.retry_after_s:g}s",
                  FaultKind.LATENCY: f"{self.latency_s:g}s", FaultKind.REJECT: self.code, FaultKind.HOLD: self.code,
                  FaultKind.SCENARIO: self.scenario or "", FaultKind.GARBLED: "200 unparseable",
                  FaultKind.OUTAGE: f"{self.outage_for_s:g}s" if self.outage_for_s else "always"}.get(self.kind, "")
        times = f" x{self.times}" if self.times is not None else ""
        return f"{self.partner}.{self.operation} {self.kind} {detail}{times}".replace("  ", " ").strip()


class OpsAction(BaseModel):
    """What someone does to a shipment while it runs: ops decide a gate or cancel once it waits in a stage; an
    attacker forges and replays its partner's events (`forge_events`); a bad value that slipped past the API
    reaches one of its notifications (`poison_notice`, written straight into the outbox)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["decide", "cancel", "forge_events", "poison_notice"]
    gate: GateKind | None = None
    decision: Decision | None = None
    comment: str = ""
    at_stage: Stage | None = None
    """For a cancel: the stage the shipment must be waiting in (transit, or last mile with its slot booked); for
    forged events or a poisoned notice: the stage from which on they are sent."""


class Scenario(BaseModel):
    """One row of the catalogue."""

    model_config = ConfigDict(frozen=True)

    name: str
    example: str
    variant: Variant | None = None
    faults: tuple[FaultSpec, ...] = ()
    actions: tuple[OpsAction, ...] = ()
    weight: int = Field(default=1, ge=1)
    """Relative frequency when the batch is filled beyond one of each."""


# --- table helpers ----------------------------------------------------------------------------------------------

def fault(partner: str, operation: str, kind: str, **fields: Any) -> FaultSpec:
    """A fault spec from short names, e.g. `fault("ups", "book", "error", status=503, times=3)`."""
    return FaultSpec(partner=partner, operation=Operation(operation), kind=FaultKind(kind), **fields)


def approve(gate: str, comment: str = "checked by the reliability run") -> OpsAction:
    return OpsAction(kind="decide", gate=GateKind(gate), decision=Decision.APPROVE, comment=comment)


def refuse(gate: str, comment: str = "refused by the reliability run") -> OpsAction:
    return OpsAction(kind="decide", gate=GateKind(gate), decision=Decision.REJECT, comment=comment)


def cancel_at(stage: str) -> OpsAction:
    return OpsAction(kind="cancel", at_stage=Stage(stage))


def forge_events_at(stage: str) -> OpsAction:
    return OpsAction(kind="forge_events", at_stage=Stage(stage))


def poison_notice_at(stage: str) -> OpsAction:
    return OpsAction(kind="poison_notice", at_stage=Stage(stage))


APPROVE_VALUE = approve("high_value", "value checked against the commercial invoice")
EXPRESS_CARRIERS = tuple(name for name, row in DIRECTORY.items() if Mode.AIR_EXPRESS in row.modes)
"""The directory's express carriers (UPS, DHL Express, FedEx)."""
EXPRESS_FULL = tuple(fault(carrier, "book", "reject", code="CAPACITY_EXHAUSTED") for carrier in EXPRESS_CARRIERS)
"""Every express carrier refuses: basic-cn-de flies air freight with AeroCargo, which books, labels and hands over
in calls of their own (a Karrio carrier's one shipment call does all three)."""
FIXED_PALLET = approve("packaging", "pallet 2 replaced by an ISPM 15 marked pallet")


# --- the catalogue ----------------------------------------------------------------------------------------------

LONG_OUTAGE_S = 120.0
"""A partner down for two minutes: more than ten times the retry budget of a step (about 10 s)."""

CLEAN: tuple[Scenario, ...] = (
    Scenario(name="clean-basic", example=BASIC, weight=3),
    Scenario(name="clean-high-value", example=HIGH_VALUE, actions=(APPROVE_VALUE,), weight=3),
    Scenario(name="clean-lithium", example=LITHIUM, weight=3),
    Scenario(name="clean-pallet", example=PALLET, weight=3),
    Scenario(name="embargoed", example=BASIC, variant=Variant.EMBARGOED),
    Scenario(name="high-value-refused", example=HIGH_VALUE, actions=(refuse("high_value"),)),
    Scenario(name="denied-party-refused", example=BASIC, variant=Variant.POSSIBLE_DENIED_PARTY,
             actions=(refuse("compliance", "confirmed listed party"),)),
    Scenario(name="poison-text-refused", example=BASIC, variant=Variant.POISON_TEXT),
)
"""Shipments without injected faults: the examples, and business outcomes decided by rules or ops."""

FAULTED: tuple[Scenario, ...] = (
    # Transient partner trouble: retried, one record each, delivered.
    Scenario(name="book-503-burst", example=BASIC, faults=(fault("ups", "book", "error", status=503, times=3),)),
    Scenario(name="book-500-burst-ocean", example=PALLET,
             faults=(fault("bluewave", "book", "error", status=500, times=2),)),
    Scenario(name="book-429", example=LITHIUM, faults=(fault("dhl_express", "book", "rate_limit", times=2),)),
    Scenario(name="label-429", example=BASIC,
             faults=(*EXPRESS_FULL, fault("aerocargo", "label", "rate_limit", retry_after_s=1.0, times=1))),
    Scenario(name="label-timeout", example=BASIC,
             faults=(*EXPRESS_FULL, fault("aerocargo", "label", "timeout", times=1))),
    Scenario(name="quote-timeout", example=BASIC, faults=(fault("ups", "quote", "timeout", times=1),)),
    # (The ocean line quotes from its contract rate card, without a call: an express carrier's quotes are out.)
    Scenario(name="quote-outage", example=BASIC, faults=(fault("ups", "quote", "outage", outage_for_s=4.0),)),
    Scenario(name="book-outage-window", example=BASIC,
             faults=(fault("ups", "book", "outage", outage_for_s=4.0),)),
    Scenario(name="file-timeout-twice", example=BASIC, faults=(fault(CUSTOMS_BROKER, "file", "timeout", times=2),)),
    Scenario(name="file-503-burst", example=LITHIUM,
             faults=(fault(CUSTOMS_BROKER, "file", "error", status=503, times=3),)),
    Scenario(name="book-outage-ocean", example=PALLET, faults=(fault("bluewave", "book", "outage", outage_for_s=4.5),)),
    # A Karrio carrier hands over in its shipment call: these hit that call.
    Scenario(name="handover-latency", example=BASIC,
             faults=(fault("ups", "handover", "latency", latency_s=0.5),)),
    Scenario(name="handover-502", example=HIGH_VALUE, actions=(APPROVE_VALUE,),
             faults=(fault("dhl_express", "handover", "error", status=502, times=2),)),
    Scenario(name="slot-503-burst", example=BASIC, faults=(fault("parcelnow", "schedule", "error", times=2),)),
    Scenario(name="slot-latency", example=LITHIUM, faults=(fault("roadie", "schedule", "latency", latency_s=0.6),)),
    Scenario(name="slot-timeout", example=PALLET, faults=(fault("doorstep", "schedule", "timeout", times=1),)),
    Scenario(name="hv-file-timeout", example=HIGH_VALUE, actions=(APPROVE_VALUE,),
             faults=(fault(CUSTOMS_BROKER, "file", "timeout", times=1),)),
    # A carrier refuses for good: the workflow switches to the next plan without it (polled carriers tracked).
    Scenario(name="backup-after-book-refusal", example=BASIC,
             faults=(fault("ups", "book", "reject", code="CAPACITY_EXHAUSTED"),
                     fault("dhl_express", "track", "error", status=503, times=2))),
    Scenario(name="backup-after-shipment-refused-at-handover", example=BASIC,
             faults=(fault("ups", "handover", "reject", code="PICKUP_UNAVAILABLE"),
                     fault("dhl_express", "book", "rate_limit", times=1))),
    Scenario(name="backup-after-label-refusal", example=BASIC,
             faults=(*EXPRESS_FULL, fault("aerocargo", "label", "reject", code="LABEL_REFUSED"),
                     fault("silkrail", "book", "rate_limit", times=1))),
    Scenario(name="second-backup-rail", example=BASIC,
             faults=(*EXPRESS_FULL, fault("aerocargo", "book", "reject", code="NO_SPACE"),
                     fault("silkrail", "track", "rate_limit", times=2))),
    Scenario(name="every-carrier-refuses", example=BASIC,
             faults=(*EXPRESS_FULL, fault("aerocargo", "book", "reject", code="NO_SPACE"),
                     fault("silkrail", "label", "reject", code="LABEL_REFUSED"),
                     fault("silkrail", "cancel", "error", status=503, times=1))),
    Scenario(name="no-backup-express", example=LITHIUM, faults=EXPRESS_FULL),
    # A partner refuses after bookings were made: the completed steps are undone (some undos retried).
    Scenario(name="customs-refuses", example=BASIC,
             faults=(fault(CUSTOMS_BROKER, "file", "reject", code="RESTRICTED_GOODS"),
                     fault("ups", "void", "rate_limit", times=1))),
    Scenario(name="customs-refuses-ocean", example=PALLET,
             faults=(fault(CUSTOMS_BROKER, "file", "reject", code="RESTRICTED_GOODS"),
                     fault("bluewave", "cancel", "error", status=503, times=2))),
    # (An ocean line speaking DCSA is polled, so a pallet's handover makes no call to refuse.)
    Scenario(name="handover-refused", example=BASIC,
             faults=(*EXPRESS_FULL, fault("aerocargo", "handover", "reject", code="NOT_READY"))),
    Scenario(name="slot-refused", example=BASIC,
             faults=(fault("parcelnow", "schedule", "reject", code="ADDRESS_UNSERVICEABLE"),)),
    # Holds decided by ops.
    Scenario(name="customs-hold-released", example=LITHIUM, actions=(approve("customs_hold"),),
             faults=(fault(CUSTOMS_BROKER, "file", "hold", code="DOCS_REVIEW"),
                     fault(CUSTOMS_BROKER, "release_filing", "error", status=503, times=2))),
    Scenario(name="customs-hold-refused", example=BASIC, actions=(refuse("customs_hold"),),
             faults=(fault(CUSTOMS_BROKER, "file", "hold", code="DOCS_REVIEW"),
                     fault(CUSTOMS_BROKER, "withdraw", "error", status=503, times=2))),
    Scenario(name="packaging-fixed", example=PALLET, variant=Variant.UNMARKED_PALLET, actions=(FIXED_PALLET,),
             faults=(fault("bluewave", "book", "latency", latency_s=0.3),)),
    Scenario(name="packaging-refused", example=PALLET, variant=Variant.UNMARKED_PALLET,
             actions=(refuse("packaging", "no treated pallets available"),),
             faults=(fault("bluewave", "cancel", "error", status=503, times=1),)),
    Scenario(name="denied-party-cleared", example=BASIC, variant=Variant.POSSIBLE_DENIED_PARTY,
             actions=(approve("compliance", "different entity: registry number checked"),),
             faults=(fault("ups", "book", "rate_limit", times=1),)),
    # Tracking stories, and ops cancelling a moving shipment.
    Scenario(name="late-delivery", example=HIGH_VALUE, actions=(APPROVE_VALUE,),
             faults=(fault("dhl_express", "handover", "scenario", scenario="delayed"),)),
    Scenario(name="held-in-transit", example=PALLET,
             faults=(fault("bluewave", "handover", "scenario", scenario="customs_hold"),)),
    Scenario(name="missed-delivery", example=BASIC,
             faults=(fault("parcelnow", "schedule", "scenario", scenario="failed_attempt"),)),
    Scenario(name="cancel-in-transit", example=BASIC, actions=(cancel_at("transit"),),
             faults=(fault("ups", "handover", "scenario", scenario="stalled"),
                     fault("ups", "void", "error", status=503, times=1))),
    # (Not a pallet: a DCSA line declines to cancel a booking whose cargo is loaded, so its booking would stay live.)
    Scenario(name="cancel-in-last-mile", example=BASIC, actions=(cancel_at("last_mile"),),
             faults=(fault("parcelnow", "schedule", "scenario", scenario="stalled"),
                     fault("parcelnow", "release_slot", "error", status=503, times=2))),
    Scenario(name="overdue-refused", example=LITHIUM, actions=(refuse("stage_overdue", "lost, claim filed"),),
             faults=(fault("dhl_express", "handover", "scenario", scenario="stalled"),)),
    # The partner acted, then its answer was lost or unreadable (issue 18): the outcome is uncertain. Once, the
    # retry under the same idempotency key gets the record back; for good, the record must be looked up by its key
    # (adopted or undone), never left behind.
    Scenario(name="book-acted-then-timeout-once", example=BASIC,
             faults=(fault("ups", "book", "act_then_timeout", times=1),)),
    Scenario(name="file-acted-then-timeout-once", example=LITHIUM,
             faults=(fault(CUSTOMS_BROKER, "file", "act_then_timeout", times=1),)),
    Scenario(name="label-acted-then-timeout-always", example=BASIC,
             faults=(*EXPRESS_FULL, fault("aerocargo", "label", "act_then_timeout"))),
    Scenario(name="book-garbled", example=BASIC,
             faults=(*EXPRESS_FULL, fault("aerocargo", "book", "garbled", times=1))),
    Scenario(name="file-garbled", example=BASIC, faults=(fault(CUSTOMS_BROKER, "file", "garbled", times=1),)),
    # (A parcel: a compensated pallet's ocean booking cannot be cancelled once its cargo is loaded.)
    Scenario(name="slot-garbled", example=BASIC, faults=(fault("parcelnow", "schedule", "garbled", times=1),)),
    # Partners down for minutes, far beyond the retry budget (issue 18): the step fails for good and the shipment
    # takes its backup or is compensated; an undo that cannot reach its partner lands on the reconciliation list,
    # and ops retry it once the partner is back.
    Scenario(name="book-outage-minutes", example=BASIC,
             faults=(fault("ups", "book", "outage", outage_for_s=LONG_OUTAGE_S),)),
    # (A parcel booked with UPS: DHL Express cannot be cancelled through Karrio, its waybill is left to lapse.)
    Scenario(name="file-outage-minutes", example=BASIC,
             faults=(fault(CUSTOMS_BROKER, "file", "outage", outage_for_s=LONG_OUTAGE_S),)),
    Scenario(name="undo-outage-minutes", example=BASIC,
             faults=(*EXPRESS_FULL, fault(CUSTOMS_BROKER, "file", "reject", code="RESTRICTED_GOODS"),
                     fault("aerocargo", "void", "outage", outage_for_s=LONG_OUTAGE_S))),
    # Hostile and poisoned input (issue 18).
    # The last mile goes quiet after its first events, so the shipment is live while its partner's events are
    # forged and replayed; then ops cancel it.
    Scenario(name="forged-and-replayed-events", example=BASIC,
             actions=(forge_events_at("last_mile"), cancel_at("last_mile")),
             faults=(fault("parcelnow", "schedule", "scenario", scenario="stalled"),)),
    # (No partner fault: what strikes it is the poisoned notification, written as soon as the shipment runs; it is
    # drawn with the faulted ones.)
    Scenario(name="poison-notification", example=BASIC, actions=(poison_notice_at("booking"),)),
)
"""Shipments with at least one injected fault."""


DisruptionKind = Literal["worker_kill", "server_restart", "api_restart", "temporal_down", "partner_outage",
                         "database_lock", "history_kill", "frontend_restart", "workers_rolling_restart"]


class Disruption(BaseModel):
    """Something that hits the whole batch at a share of the acknowledged shipments: a crash, a restart, the
    Temporal server down for a minute, a partner outage (every shipment calling that partner in the window waits and
    retries), or the read model's database locked by another writer (every write in the window waits, fails and is
    retried)."""

    model_config = ConfigDict(frozen=True)

    kind: DisruptionKind
    at_share: float = Field(gt=0, le=1)
    partner: str | None = None
    outage_s: float | None = None

    @property
    def crash(self) -> bool:
        """A process killed, restarted or stopped (`--no-crashes` leaves these out)."""
        return self.kind not in ("partner_outage", "database_lock")

    def outage_rules(self, shipment_glob: str, opens_at_s: float) -> list[FaultRule]:
        """One outage rule per operation of the partner except quotes (a missing quote is priced from the rate
        table and could change the carrier a shipment's expectation relies on)."""
        assert self.partner is not None and self.outage_s is not None, "partner_outage needs partner and outage_s"
        operations = sorted(OPERATIONS_BY_KIND[PARTNERS[self.partner].kind] - {Operation.QUOTE})
        return [FaultRule(partner=self.partner, operation=op, shipment_id=shipment_glob, kind=FaultKind.OUTAGE,
                          window_start_s=opens_at_s, window_end_s=opens_at_s + self.outage_s)
                for op in operations]


DISRUPTIONS: tuple[Disruption, ...] = (
    Disruption(kind="worker_kill", at_share=0.25),
    Disruption(kind="partner_outage", at_share=0.35, partner=CUSTOMS_BROKER, outage_s=3.0),
    Disruption(kind="database_lock", at_share=0.40),
    Disruption(kind="server_restart", at_share=0.50),
    Disruption(kind="partner_outage", at_share=0.60, partner="ups", outage_s=3.0),
    Disruption(kind="temporal_down", at_share=0.65),
    Disruption(kind="api_restart", at_share=0.75),
    Disruption(kind="partner_outage", at_share=0.80, partner="doorstep", outage_s=3.0),
    Disruption(kind="worker_kill", at_share=0.85),
)
"""In order of share: two worker SIGKILLs, the read model locked for longer than its busy timeout, a dev-server
restart, the dev server down for a minute (`RunTimings.temporal_down_s`), an API restart, three partner outages."""

CLUSTER_DISRUPTIONS: tuple[Disruption, ...] = (
    Disruption(kind="history_kill", at_share=0.10),
    Disruption(kind="partner_outage", at_share=0.20, partner=CUSTOMS_BROKER, outage_s=3.0),
    Disruption(kind="worker_kill", at_share=0.25),
    Disruption(kind="frontend_restart", at_share=0.35),
    Disruption(kind="partner_outage", at_share=0.40, partner="ups", outage_s=3.0),
    Disruption(kind="workers_rolling_restart", at_share=0.45),
    Disruption(kind="api_restart", at_share=0.55),
    Disruption(kind="history_kill", at_share=0.65),
)
"""On a multi-service cluster (`--cluster`), all within the first two thirds of the batch so each hits shipments in
flight (the cluster finishes shipments faster than the dev server): a history host SIGKILLed mid-batch and started
again once its shards moved to the other host (twice, one host then the other), one of the two Tradelane workers
SIGKILLed, the frontend restarted, a rolling restart of the Tradelane workers (one at a time, SIGTERM, the next once
the first polls again), an API restart, two partner outages. The dev server's own faults (restart, a minute down, a
locked SQLite file) are not cluster faults: the read model is PostgreSQL here."""
