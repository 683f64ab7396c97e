"""The audit of a reliability run: pure functions over the evidence the driver collected.

Evidence per shipment: the plan, whether the API acknowledged it, the workflow's final `ShipmentState`, the read
model's row, and the sandbox's records (every booking, label, filing and slot, with its state). The checks:

- terminal: the shipment ended in one of its expected statuses;
- duplicates: partner records alive beyond what the shipment needs (two live bookings at one carrier, two labels,
  two filings, two slots);
- orphans: records still alive on a shipment that ended compensated, rejected or cancelled, and on a delivered one,
  live records at partners its final plan does not use (a replaced plan left behind); a record whose undo no API
  can do (DHL Express has no cancel, and the waybill was scanned) is no orphan when it is on the reconciliation list
  for ops to settle (`settled_by_ops`), and no orphan is hidden any other way;
- lost: an acknowledged request without a workflow, a workflow without a terminal status by the deadline, or a
  read model that does not match the workflow's final status and transitions;
- refused: a poisoned request must get a 422 naming each poisoned field and leave no workflow and no row;
- intrusion: forged and stale events refused, a replay acknowledged and counted once, nothing forged in the history;
- ledgers: every dead letter and reconciliation item is explained by the fault of its shipment that calls for it
  (`explain`); one nobody planned is unexpected and fails the run, and so does a planned one that is missing.
"""

from collections import Counter
from collections.abc import Iterable
from typing import Literal

from pydantic import BaseModel, Field

from activities.errors import PARTNER_CANNOT_CANCEL
from reliability.catalogue import POISON_FIELDS, DisruptionKind
from reliability.plan import PlannedShipment
from sandbox.models import InspectRecord
from sandbox.records import BookingState, FilingState, LabelState, RecordKind, SlotState
from tradelane.enums import Status
from tradelane.partners import CUSTOMS_BROKER
from tradelane.shipment.state import ShipmentState

RELEASED_STATE: dict[str, str] = {
    RecordKind.BOOKING: BookingState.CANCELLED,
    RecordKind.LABEL: LabelState.VOIDED,
    RecordKind.FILING: FilingState.WITHDRAWN,
    RecordKind.SLOT: SlotState.RELEASED,
}
"""The state in which each kind of record no longer holds anything at the partner."""


class DisruptionEvent(BaseModel):
    """A crash, restart or partner outage that happened during the batch (or a process that died on its own and
    was restarted)."""

    kind: DisruptionKind | Literal["unplanned_restart"]
    at_acknowledged: int
    """How many shipments the API had acknowledged when it happened."""
    at_s: float
    """Seconds since the batch started."""
    took_s: float
    """How long the driver spent on it (until the restarted component answered again, where that is observable)."""
    detail: str = ""
    rule_ids: list[int] = Field(default_factory=list)
    """An outage's sandbox rules (one per operation)."""
    fired: bool = True
    """Whether it hit anything: always for crashes; for an outage, whether any call fell into its window."""


class ProbeResult(BaseModel):
    """One forged or replayed partner event and how the API answered it."""

    probe: Literal["forged_signature", "replay_outside_tolerance", "replay_inside_tolerance", "replay_again"]
    event_id: str
    expected: str
    """`401 INVALID_SIGNATURE`, `202` (accepted, maybe as a duplicate) or `202 duplicate`."""
    got: str
    ok: bool


class RefusalEvidence(BaseModel):
    """How the API answered a poisoned request, and whether it left anything behind."""

    status: int
    fields: list[str]
    """The poisoned fields (`catalogue.POISON_FIELDS`) its 422 named."""
    nothing_created: bool
    detail: str = ""


LedgerTable = Literal["dead_letters", "reconciliation_items"]


class LedgerItem(BaseModel):
    """One row of the dead letters or of the reconciliation list, as the run found it at the end."""

    table: LedgerTable
    id: int
    shipment_id: str | None
    kind: str
    """A dead letter's kind (notification, projection, partner_event) or an item's reason (undo_failed, ...)."""
    partner: str | None = None
    state: str
    """`open` or `resolved`."""
    detail: str = ""


class Explanation(BaseModel):
    """A ledger item and the planned fault that caused it; `expected` False when no fault of its shipment calls
    for it (that fails the run)."""

    item: LedgerItem
    scenario: str
    cause: str
    expected: bool


class ReadModelRow(BaseModel):
    """What the read model holds for one shipment."""

    status: str
    transitions: int


class ShipmentEvidence(BaseModel):
    """Everything collected about one planned shipment."""

    planned: PlannedShipment
    acknowledged: bool
    ack_via: str | None = None
    """`created` (201), `exists_after_retry` (409 after an attempt whose answer was lost) or `exists` (409 first)."""
    submit_attempts: int = 0
    submit_unanswered: int = 0
    """Submission attempts the API did not answer within the client's timeout (it hung: Temporal or its database
    away without a deadline); a restart's refused connection does not count."""
    submit_answers: list[int] = Field(default_factory=list)
    """The HTTP status of each answered attempt, in order (503s while Temporal was down, then 201 or 409)."""
    workflow_found: bool = False
    final: ShipmentState | None = None
    """The workflow's result; None when it did not reach a terminal status before the deadline."""
    last_seen: str | None = None
    """Stage and status last seen while it ran (for the report when it never ended)."""
    read_model: ReadModelRow | None = None
    records: list[InspectRecord] = Field(default_factory=list)
    fired: list[bool] = Field(default_factory=list)
    """Per planned fault (in plan order), whether its sandbox rule fired at least once; empty when the rules were
    never installed."""
    refusal: RefusalEvidence | None = None
    """For a poisoned request: the API's answer and whether anything was created."""
    probes: list[ProbeResult] = Field(default_factory=list)
    """Forged and replayed events sent while it ran."""
    poisoned_notice: str | None = None
    """The outbox id of the notification poisoned behind the API's back."""
    reconciliation_retries: list[str] = Field(default_factory=list)
    """What ops did with its reconciliation items (retried, resolved), item by item."""
    unplanned_approvals: list[str] = Field(default_factory=list)
    """Gates ops approved without the plan asking (a `stage_overdue` opened while a crash slowed events)."""
    errors: list[str] = Field(default_factory=list)
    """What went wrong while driving it (a refused submission, an action the API refused, a deadline)."""


class Evidence(BaseModel):
    """The whole run."""

    shipments: list[ShipmentEvidence]
    disruptions: list[DisruptionEvent] = Field(default_factory=list)
    ledger: list[LedgerItem] = Field(default_factory=list)
    """Every dead letter and reconciliation item at the end of the run."""
    missing_ledgers: list[str] = Field(default_factory=list)
    """Ledger tables the run could not read (not built yet): reported as an error, the run fails."""


class Finding(BaseModel):
    """One violation, tied to its shipment."""

    shipment_id: str
    check: Literal["terminal", "duplicate", "orphan", "lost", "intrusion", "ledger"]
    detail: str


class ShipmentAudit(BaseModel):
    """The verdict on one shipment."""

    shipment_id: str
    scenario: str
    expected: list[Status]
    actual: str
    failure: str | None
    terminal: bool
    duplicates: int
    orphans: int
    lost: int
    findings: list[Finding]


class AuditResult(BaseModel):
    """The verdict on the run; `line()` is the last line `make reliability` prints."""

    shipments: int
    faults: int
    terminal: int
    duplicates: int
    orphans: int
    lost: int
    dead_letters: int | None
    """Dead letters at the end of the run; None when the table could not be read."""
    reconciled: int | None
    """Reconciliation items at the end of the run (open or resolved); None when the table could not be read."""
    audits: list[ShipmentAudit]
    explanations: list[Explanation] = Field(default_factory=list)
    ledger_findings: list[Finding] = Field(default_factory=list)
    """Unexpected ledger items, and planned ones that are missing."""
    missing_ledgers: list[str] = Field(default_factory=list)

    @property
    def ok(self) -> bool:
        return (self.terminal == self.shipments and self.duplicates == self.orphans == self.lost == 0
                and not self.ledger_findings and not self.missing_ledgers
                and not any(f.check == "intrusion" for f in self.findings))

    @property
    def findings(self) -> list[Finding]:
        return [finding for audit in self.audits for finding in audit.findings] + self.ledger_findings

    def line(self) -> str:
        def count(value: int | None) -> str:
            return "missing" if value is None else str(value)

        return (f"shipments={self.shipments} faults={self.faults} terminal={self.terminal} "
                f"duplicates={self.duplicates} orphans={self.orphans} lost={self.lost} "
                f"dead_letters={count(self.dead_letters)} reconciled={count(self.reconciled)}")


def is_live(record: InspectRecord) -> bool:
    """Whether a record still holds something at the partner (a booking not cancelled, a label not voided, ...)."""
    return record.state != RELEASED_STATE.get(record.kind)


def needed_records(final: ShipmentState) -> Counter[tuple[str, str]]:
    """What a delivered shipment keeps at partners: a booking per leg, a label at the first carrier, one customs
    filing, and one last-mile slot; counted by (kind, partner)."""
    needed: Counter[tuple[str, str]] = Counter()
    if final.plan is not None:
        for leg in final.plan.legs:
            needed[(RecordKind.BOOKING, leg.partner)] += 1
        needed[(RecordKind.LABEL, final.plan.legs[0].partner)] += 1
    needed[(RecordKind.FILING, CUSTOMS_BROKER)] += 1
    chosen = final.assessment.last_mile.chosen if final.assessment is not None else None
    if chosen is not None:
        needed[(RecordKind.SLOT, chosen.partner)] += 1
    return needed


def _describe(records: Iterable[InspectRecord]) -> str:
    return ", ".join(f"{r.kind} {r.id} at {r.partner} ({r.state})" for r in records)


def settled_by_ops(item: LedgerItem) -> bool:
    """A reconciliation item for an undo no API can do (`PartnerCannotCancel`: DHL Express has no cancel, and the
    waybill was scanned): the record stays live at the partner, known to ops, who settle it with the carrier."""
    return (item.table == "reconciliation_items" and item.kind == "undo_failed"
            and PARTNER_CANNOT_CANCEL in item.detail)


def check_records(shipment_id: str, final: ShipmentState, records: list[InspectRecord],
                  listed: frozenset[str] = frozenset()) -> tuple[int, int, list[Finding]]:
    """Duplicates and orphans among one finished shipment's partner records.

    Args:
        listed: Partners where an undo of this shipment is on the reconciliation list for ops to settle
            (`settled_by_ops`): their live records are known, not orphans.

    Returns:
        (duplicates, orphans, findings).
    """
    live = [r for r in records if is_live(r) and (final.status is Status.DELIVERED or r.partner not in listed)]
    by_key: dict[tuple[str, str], list[InspectRecord]] = {}
    for record in live:
        by_key.setdefault((record.kind, record.partner), []).append(record)
    findings: list[Finding] = []
    duplicates = orphans = 0
    if final.status is Status.DELIVERED:
        needed = needed_records(final)
        for key, group in by_key.items():
            if key in needed:
                extra = max(0, len(group) - needed[key])
                if extra:
                    duplicates += extra
                    findings.append(Finding(shipment_id=shipment_id, check="duplicate",
                                            detail=f"{extra} live {key[0]} too many at {key[1]}: {_describe(group)}"))
            else:
                orphans += len(group)
                findings.append(Finding(shipment_id=shipment_id, check="orphan",
                                        detail=f"left live by a replaced plan: {_describe(group)}"))
        return duplicates, orphans, findings
    for key, group in by_key.items():
        if len(group) > 1:
            duplicates += len(group) - 1
            findings.append(Finding(shipment_id=shipment_id, check="duplicate",
                                    detail=f"{len(group)} live {key[0]}s at {key[1]}: {_describe(group)}"))
    if live:
        orphans = len(live)
        findings.append(Finding(shipment_id=shipment_id, check="orphan",
                                detail=f"{final.status} but still live: {_describe(live)}"))
    return duplicates, orphans, findings


def check_lost(evidence: ShipmentEvidence) -> list[Finding]:
    """Why an acknowledged shipment counts as lost: no workflow, no terminal status, or a read model behind it."""
    sid = evidence.planned.shipment_id
    if not evidence.acknowledged:
        return []
    if not evidence.workflow_found:
        return [Finding(shipment_id=sid, check="lost", detail=f"acknowledged ({evidence.ack_via}) but no workflow")]
    final = evidence.final
    if final is None or not final.status.terminal:
        seen = evidence.last_seen or "unknown"
        return [Finding(shipment_id=sid, check="lost", detail=f"no terminal status before the deadline (last {seen})")]
    row = evidence.read_model
    if row is None:
        return [Finding(shipment_id=sid, check="lost", detail="no read-model row for a finished shipment")]
    problems = []
    if row.status != final.status:
        problems.append(f"status {row.status} in the read model, {final.status} in the workflow")
    if row.transitions != len(final.transitions):
        problems.append(f"{row.transitions} transitions in the read model, {len(final.transitions)} in the workflow")
    return [Finding(shipment_id=sid, check="lost", detail="; ".join(problems))] if problems else []


def audit_shipment(evidence: ShipmentEvidence, ledger: list[LedgerItem] | None = None) -> ShipmentAudit:
    """Every check on one shipment (`ledger`: the run's dead letters and reconciliation items)."""
    planned, final = evidence.planned, evidence.final
    sid = planned.shipment_id
    if planned.refused_at_api:
        return _audit_refused(evidence)
    findings: list[Finding] = check_intrusions(evidence)
    terminal = final is not None and final.status in planned.expected
    if not evidence.acknowledged:
        findings.append(Finding(shipment_id=sid, check="terminal",
                                detail="never acknowledged by the API: " + "; ".join(evidence.errors[-1:])))
    elif final is not None and not terminal:
        findings.append(Finding(shipment_id=sid, check="terminal",
                                detail=f"ended {final.status}, expected {' or '.join(sorted(planned.expected))}"
                                       + (f" ({final.failure})" if final.failure else "")))
    duplicates = orphans = 0
    if final is not None and final.status.terminal:
        listed = frozenset(i.partner for i in ledger or [] if i.shipment_id == sid and i.partner and settled_by_ops(i))
        duplicates, orphans, record_findings = check_records(sid, final, evidence.records, listed)
        findings += record_findings
    lost = check_lost(evidence)
    findings += lost
    actual = str(final.status) if final is not None else f"not finished ({evidence.last_seen or 'unknown'})"
    return ShipmentAudit(shipment_id=sid, scenario=planned.scenario, expected=sorted(planned.expected),
                         actual=actual, failure=final.failure if final is not None else None, terminal=terminal,
                         duplicates=duplicates, orphans=orphans, lost=len(lost), findings=findings)


def _audit_refused(evidence: ShipmentEvidence) -> ShipmentAudit:
    """A poisoned request: refused with a 422 naming each poisoned field, nothing created, never acknowledged."""
    planned, refusal = evidence.planned, evidence.refusal
    sid = planned.shipment_id
    problems = []
    if evidence.acknowledged:
        problems.append(f"the API accepted it ({evidence.ack_via})")
    if refusal is None:
        problems.append("never sent")
    else:
        missing = [f for f in POISON_FIELDS if f not in refusal.fields]
        if refusal.status != 422 or missing:
            problems.append(f"HTTP {refusal.status}, fields not named: {', '.join(missing) or '-'}: {refusal.detail}")
        if not refusal.nothing_created:
            problems.append("something was created: a workflow or a read-model row")
    findings = [Finding(shipment_id=sid, check="terminal", detail="poisoned request: " + "; ".join(problems))
                ] if problems else []
    actual = f"refused {refusal.status}" if refusal is not None else "not sent"
    return ShipmentAudit(shipment_id=sid, scenario=planned.scenario, expected=[], actual=actual, failure=None,
                         terminal=not problems, duplicates=0, orphans=0, lost=0, findings=findings)


def check_intrusions(evidence: ShipmentEvidence) -> list[Finding]:
    """Forged and replayed events: each answered as expected, none forged in the final history, the replayed one
    in it at most once (exactly once when the shipment was delivered)."""
    sid = evidence.planned.shipment_id
    findings = [Finding(shipment_id=sid, check="intrusion", detail=f"{p.probe} of {p.event_id}: expected "
                        f"{p.expected}, got {p.got}") for p in evidence.probes if not p.ok]
    if any(a.kind == "forge_events" for a in evidence.planned.actions) and not evidence.probes \
            and evidence.final is not None and evidence.final.status is Status.DELIVERED:
        findings.append(Finding(shipment_id=sid, check="intrusion", detail="the planned forged events were never sent"))
    if evidence.final is not None and evidence.probes:
        ids = Counter(e.event_id for e in evidence.final.events)
        for probe in evidence.probes:
            if probe.probe == "forged_signature" and ids[probe.event_id]:
                findings.append(Finding(shipment_id=sid, check="intrusion",
                                        detail=f"forged event {probe.event_id} reached the shipment"))
        replayed = {p.event_id for p in evidence.probes if p.probe.startswith("replay")}
        for event_id in replayed:
            if ids[event_id] > 1:
                findings.append(Finding(shipment_id=sid, check="intrusion",
                                        detail=f"replayed event {event_id} counted {ids[event_id]} times"))
    return findings


def explain(evidence: Evidence) -> tuple[list[Explanation], list[Finding]]:
    """Tie every ledger item to the planned fault that calls for it, and find the planned ones that are missing.

    A dead letter is explained by its shipment's poisoned notification (`poison_notice`); a reconciliation item by a
    fault of its shipment at its partner that fails a step for good or leaves its outcome unknown
    (`PlannedShipment.reconciliation_explained`). Anything else, or an item without a shipment, is unexpected.
    """
    by_id = {s.planned.shipment_id: s for s in evidence.shipments}
    explanations: list[Explanation] = []
    findings: list[Finding] = []
    for item in evidence.ledger:
        shipment = by_id.get(item.shipment_id or "")
        if shipment is None:
            explanations.append(Explanation(item=item, scenario="-", cause="no shipment of this batch",
                                            expected=False))
            continue
        planned = shipment.planned
        if item.table == "dead_letters":
            expected = planned.dead_letters > 0 and item.kind == "notification"
            cause = (f"poison_notice: the notification {shipment.poisoned_notice} written with a line break in its "
                     "subject" if expected else "no poisoned notification planned")
        elif settled_by_ops(item) and shipment.final is not None and shipment.final.status is not Status.DELIVERED:
            expected = True
            cause = (f"{planned.scenario}: undone after {item.partner} scanned the waybill, and it has no cancel "
                     "operation: listed for ops to settle with the carrier")
        else:
            expected = item.partner in planned.reconciliation_explained
            labels = [f.label for f in planned.faults if f.partner == item.partner]
            cause = "; ".join(labels) if labels else f"no fault planned at {item.partner}"
        explanations.append(Explanation(item=item, scenario=planned.scenario, cause=cause, expected=expected))
    for exp in explanations:
        if not exp.expected:
            findings.append(Finding(shipment_id=exp.item.shipment_id or "-", check="ledger",
                                    detail=f"unexpected {exp.item.table} item {exp.item.id} ({exp.item.kind}"
                                           f"{' at ' + exp.item.partner if exp.item.partner else ''}): "
                                           f"{exp.item.detail[:200]}"))
    for shipment in evidence.shipments:
        planned = shipment.planned
        if not shipment.acknowledged:
            continue
        sid = planned.shipment_id
        letters = [i for i in evidence.ledger if i.table == "dead_letters" and i.shipment_id == sid
                   and i.kind == "notification"]
        if len(letters) < planned.dead_letters:
            findings.append(Finding(shipment_id=sid, check="ledger", detail=f"{planned.dead_letters} dead "
                                    f"letter(s) planned (a poisoned notification), {len(letters)} found"))
        for partner in sorted(planned.reconciliation_required):
            if not any(i.table == "reconciliation_items" and i.shipment_id == sid and i.partner == partner
                       for i in evidence.ledger):
                findings.append(Finding(shipment_id=sid, check="ledger", detail=f"an undo at {partner} could not "
                                        "reach it for minutes, yet no reconciliation item was recorded"))
    return explanations, findings


def audit(evidence: Evidence) -> AuditResult:
    """The verdict on a run.

    `faults` counts the shipments' fault rules that fired at least once, plus the crashes and restarts, plus the
    partner outages that hit at least one call, plus the forged and replayed events and poisoned notifications sent.
    """
    audits = [audit_shipment(s, evidence.ledger) for s in evidence.shipments]
    fired = sum(sum(s.fired) for s in evidence.shipments)
    hostile = sum(len(s.probes) + (s.poisoned_notice is not None) + (s.refusal is not None)
                  for s in evidence.shipments)
    explanations, ledger_findings = explain(evidence)
    missing = set(evidence.missing_ledgers)
    return AuditResult(
        shipments=len(audits), faults=fired + hostile + sum(d.fired for d in evidence.disruptions),
        terminal=sum(a.terminal for a in audits), duplicates=sum(a.duplicates for a in audits),
        orphans=sum(a.orphans for a in audits), lost=sum(a.lost for a in audits),
        dead_letters=None if "dead_letters" in missing else sum(i.table == "dead_letters" for i in evidence.ledger),
        reconciled=None if "reconciliation_items" in missing else sum(
            i.table == "reconciliation_items" for i in evidence.ledger),
        audits=audits, explanations=explanations, ledger_findings=ledger_findings,
        missing_ledgers=sorted(missing))
