"""What a reliability run prints: the fault mix before; the outcome by fault kind, the disruptions and every mismatch
after.

The verdict line (`AuditResult.line`) is printed by `__main__` with a plain `print`, last, so scripts can parse it.
"""

from collections import Counter

from pydantic import BaseModel
from rich.table import Table

from reliability.audit import AuditResult, Evidence
from reliability.catalogue import Disruption
from reliability.plan import PlannedShipment, fault_mix

CLEAN = "(none)"
"""The row of shipments without injected faults."""


class KindRow(BaseModel):
    """Outcome of the shipments carrying one fault kind (a shipment with two kinds counts in both rows)."""

    kind: str
    rules: int = 0
    fired: int = 0
    shipments: int = 0
    as_expected: int = 0
    duplicates: int = 0
    orphans: int = 0
    lost: int = 0


def hostile_kinds(planned: PlannedShipment) -> set[str]:
    """The hostile input a shipment carries besides partner faults: forged events, a poisoned notification, a
    poisoned request."""
    kinds = {HOSTILE[a.kind] for a in planned.actions if a.kind in HOSTILE}
    if planned.refused_at_api:
        kinds.add("poisoned_request")
    return kinds


HOSTILE = {"forge_events": "forged_events", "poison_notice": "poisoned_notice"}
HOSTILE_WHERE = {"forged_events": "POST /v1/carrier-events (wrong secret, stale and live replays)",
                 "poisoned_notice": "the outbox, behind the API (a subject with a line break)",
                 "poisoned_request": "POST /v1/shipments (CR/LF, NUL)"}


def by_kind(evidence: Evidence, result: AuditResult) -> list[KindRow]:
    """The per-fault-kind summary; shipments without faults form the `(none)` row."""
    audits = {a.shipment_id: a for a in result.audits}
    rows: dict[str, KindRow] = {}
    for shipment in evidence.shipments:
        kinds = sorted({str(spec.kind) for spec in shipment.planned.faults} | hostile_kinds(shipment.planned)) or [
            CLEAN]
        verdict = audits[shipment.planned.shipment_id]
        for kind in kinds:
            row = rows.setdefault(kind, KindRow(kind=kind))
            row.shipments += 1
            row.as_expected += verdict.terminal
            row.duplicates += verdict.duplicates
            row.orphans += verdict.orphans
            row.lost += verdict.lost
        for spec, fired in zip(shipment.planned.faults, shipment.fired or [False] * len(shipment.planned.faults),
                               strict=True):
            rows[str(spec.kind)].rules += 1
            rows[str(spec.kind)].fired += fired
    return [rows[k] for k in sorted(rows, key=lambda k: (k == CLEAN, k))]


def mix_table(plan: list[PlannedShipment], disruptions: list[Disruption]) -> Table:
    """The planned fault mix, printed before the run starts: per-shipment rules by kind, then batch disruptions."""
    table = Table("fault", "rules", "shipments", "partner operations / when", title="Fault mix")
    for row in fault_mix(plan):
        table.add_row(row.kind, str(row.rules), str(row.shipments), ", ".join(row.operations))
    hostile = Counter(kind for p in plan for kind in hostile_kinds(p))
    for kind, count in sorted(hostile.items()):
        table.add_row(kind, str(count), str(count), HOSTILE_WHERE[kind])
    for d in disruptions:
        what = f"{d.kind} {d.partner} {d.outage_s:g} s" if d.partner else d.kind
        table.add_row(what, "-", "all in flight", f"at {d.at_share:.0%} acknowledged")
    faulted = sum(1 for p in plan if p.faulted)
    table.caption = f"{len(plan)} shipments, {faulted} with their own faults, {len(plan) - faulted} without"
    return table


def kind_table(evidence: Evidence, result: AuditResult) -> Table:
    table = Table("fault kind", "rules", "fired", "shipments", "as expected", "duplicates", "orphans", "lost",
                  title="Outcome by fault kind")
    for row in by_kind(evidence, result):
        table.add_row(row.kind, str(row.rules), str(row.fired), str(row.shipments), str(row.as_expected),
                      str(row.duplicates), str(row.orphans), str(row.lost))
    return table


def disruption_table(evidence: Evidence) -> Table:
    table = Table("disruption", "at acknowledged", "at s", "took s", "hit", "detail",
                  title="Crashes, restarts and partner outages")
    for d in evidence.disruptions:
        table.add_row(d.kind, str(d.at_acknowledged), f"{d.at_s:.0f}", f"{d.took_s:.1f}", "yes" if d.fired else "no",
                      d.detail)
    return table


def retry_table(evidence: Evidence) -> Table:
    """How the crashes showed from outside: submissions retried, gates approved without a plan."""
    attempts = Counter(min(s.submit_attempts, 5) for s in evidence.shipments)
    via = Counter(s.ack_via or "not acknowledged" for s in evidence.shipments)
    unplanned = sum(len(s.unplanned_approvals) for s in evidence.shipments)
    table = Table("what", "count", title="Submissions and ops")
    for how, count in sorted(via.items()):
        table.add_row(f"acknowledged: {how}", str(count))
    for n, count in sorted(attempts.items()):
        table.add_row(f"submitted in {n}{'+' if n == 5 else ''} attempt(s)", str(count))
    table.add_row("stage_overdue approved without a plan (events slowed by a crash)", str(unplanned))
    answers = Counter(code for s in evidence.shipments for code in s.submit_answers if code >= 500)
    for code, count in sorted(answers.items()):
        table.add_row(f"submission answered {code} (retried)", str(count))
    table.add_row("submission not answered within the client's 10 s (the API hung)",
                  str(sum(s.submit_unanswered for s in evidence.shipments)))
    return table


def ledger_table(result: AuditResult) -> Table:
    """Every dead letter and reconciliation item, the planned fault that caused it, and whether it was expected."""
    table = Table("ledger", "id", "shipment", "scenario", "kind / reason", "partner", "state", "caused by",
                  "expected", title="Dead letters and reconciliation items")
    for e in result.explanations:
        table.add_row(e.item.table, str(e.item.id), e.item.shipment_id or "-", e.scenario, e.item.kind,
                      e.item.partner or "-", e.item.state, e.cause[:90], "yes" if e.expected else "NO")
    if result.missing_ledgers:
        table.caption = f"could not read: {', '.join(result.missing_ledgers)} (not built yet?)"
    elif not result.explanations:
        table.caption = "none"
    return table


def mismatch_table(result: AuditResult) -> Table | None:
    """Every shipment with a finding: id, scenario, expected and actual status, failure reason, findings."""
    bad = [a for a in result.audits if a.findings]
    if not bad and not result.ledger_findings:
        return None
    table = Table("shipment", "scenario", "expected", "actual", "failure", "findings", title="Mismatches")
    for a in bad:
        table.add_row(a.shipment_id, a.scenario, " or ".join(a.expected) or "refused", a.actual,
                      (a.failure or "-")[:80], "; ".join(f"{f.check}: {f.detail}" for f in a.findings)[:300])
    for f in result.ledger_findings:
        table.add_row(f.shipment_id, "-", "-", "-", "-", f"{f.check}: {f.detail}"[:300])
    return table
