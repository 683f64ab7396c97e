"""The audit of a reliability run: pure functions over the evidence the driver collected.

Evidence per shipment: the plan, whether the API acknowledged it, the workflow's final `ShipmentState`, the read
model's row, and the sandbox's records (every booking, label, filing and slot, with its state). The checks:

- terminal: the shipment ended in one of its expected statuses;
- duplicates: partner records alive beyond what the shipment needs (two live bookings at one carrier, two labels,
  two filings, two slots);
- orphans: records still alive on a shipment that ended compensated, rejected or cancelled, and on a delivered one,
  live records at partners its final plan does not use (a replaced plan left behind);
- lost: an acknowledged request without a workflow, a workflow without a terminal status by the deadline, or a
  read model that does not match the workflow's final status and transitions.
"""

from collections import Counter
from collections.abc import Iterable
from typing import Literal

from pydantic import BaseModel, Field

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

    kind: Literal["worker_kill", "server_restart", "api_restart", "partner_outage", "unplanned_restart"]
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
    unplanned_approvals: list[str] = Field(default_factory=list)
    """Gates ops approved without the plan asking (a `stage_overdue` opened while a crash slowed events)."""
    errors: list[str] = Field(default_factory=list)
    """What went wrong while driving it (a refused submission, an action the API refused, a deadline)."""


class Evidence(BaseModel):
    """The whole run."""

    shipments: list[ShipmentEvidence]
    disruptions: list[DisruptionEvent] = Field(default_factory=list)


class Finding(BaseModel):
    """One violation, tied to its shipment."""

    shipment_id: str
    check: Literal["terminal", "duplicate", "orphan", "lost"]
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
    audits: list[ShipmentAudit]

    @property
    def ok(self) -> bool:
        return self.terminal == self.shipments and self.duplicates == self.orphans == self.lost == 0

    @property
    def findings(self) -> list[Finding]:
        return [finding for audit in self.audits for finding in audit.findings]

    def line(self) -> str:
        return (f"shipments={self.shipments} faults={self.faults} terminal={self.terminal} "
                f"duplicates={self.duplicates} orphans={self.orphans} lost={self.lost}")


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


def check_records(shipment_id: str, final: ShipmentState,
                  records: list[InspectRecord]) -> tuple[int, int, list[Finding]]:
    """Duplicates and orphans among one finished shipment's partner records.

    Returns:
        (duplicates, orphans, findings).
    """
    live = [r for r in records if is_live(r)]
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


def audit_shipment(evidence: ShipmentEvidence) -> ShipmentAudit:
    """Every check on one shipment."""
    planned, final = evidence.planned, evidence.final
    sid = planned.shipment_id
    findings: list[Finding] = []
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
        duplicates, orphans, record_findings = check_records(sid, final, evidence.records)
        findings += record_findings
    lost = check_lost(evidence)
    findings += lost
    actual = str(final.status) if final is not None else f"not finished ({evidence.last_seen or 'unknown'})"
    return ShipmentAudit(shipment_id=sid, scenario=planned.scenario, expected=sorted(planned.expected),
                         actual=actual, failure=final.failure if final is not None else None, terminal=terminal,
                         duplicates=duplicates, orphans=orphans, lost=len(lost), findings=findings)


def audit(evidence: Evidence) -> AuditResult:
    """The verdict on a run.

    `faults` counts the shipments' fault rules that fired at least once, plus the crashes and restarts, plus the
    partner outages that hit at least one call.
    """
    audits = [audit_shipment(s) for s in evidence.shipments]
    fired = sum(sum(s.fired) for s in evidence.shipments)
    return AuditResult(
        shipments=len(audits), faults=fired + sum(d.fired for d in evidence.disruptions),
        terminal=sum(a.terminal for a in audits), duplicates=sum(a.duplicates for a in audits),
        orphans=sum(a.orphans for a in audits), lost=sum(a.lost for a in audits), audits=audits)
