"""The audit over hand-made evidence: each check counts a violation once and a clean shipment as zero."""

from datetime import UTC, datetime
from functools import cache

import pytest

from reliability.audit import (
    DisruptionEvent,
    Evidence,
    LedgerItem,
    ProbeResult,
    ReadModelRow,
    RefusalEvidence,
    ShipmentEvidence,
    audit,
    audit_shipment,
    is_live,
)
from reliability.catalogue import BASIC, POISON_FIELDS, fault, load_request
from reliability.plan import PlannedShipment
from reliability.report import by_kind
from sandbox.models import HistoryEntry, InspectRecord
from tradelane.decisions.assess import assess
from tradelane.decisions.models import Assessment
from tradelane.enums import Stage, Status, TrackingStatus
from tradelane.models import ShipmentRequest
from tradelane.rules import default_book
from tradelane.shipment.events import CarrierEvent
from tradelane.shipment.state import ShipmentState, Transition

AT = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
SID = "REL-0-1"


@cache
def assessment() -> Assessment:
    """A real decision for the basic example (rate-table prices): its plan and last-mile partner."""
    return assess(ShipmentRequest.model_validate(load_request(BASIC, SID)), default_book())


def carrier() -> str:
    return assessment().plan.legs[0].partner


def last_mile() -> str:
    return assessment().last_mile.chosen.partner


def final(status: Status, transitions: int = 3) -> ShipmentState:
    a = assessment()
    return ShipmentState(
        shipment_id=SID, workflow_id=f"shipment:{SID}", origin_country="CN", destination_country="DE",
        merchant_id="acme-store", declared_value=a.landed_cost.goods_value, currency="EUR", status=status,
        stage=Stage.LAST_MILE, plan=a.plan, assessment=a,
        transitions=[Transition(seq=i, stage=Stage.BOOKING, status=Status.IN_PROGRESS, at=AT)
                     for i in range(transitions)])


def record(kind: str, partner: str, state: str, rid: str | None = None) -> InspectRecord:
    return InspectRecord(kind=kind, partner=partner, id=rid or f"{kind[:3].upper()}-{partner}-{state}",
                         shipment_id=SID, state=state, idempotency_key=f"tl:{SID}:{kind}:{partner}",
                         created_at=AT, history=[HistoryEntry(state=state, at=AT)])


def delivered_records() -> list[InspectRecord]:
    return [record("booking", carrier(), "arrived"), record("label", carrier(), "active"),
            record("filing", "clearpath", "cleared"), record("slot", last_mile(), "delivered")]


def released_records() -> list[InspectRecord]:
    return [record("booking", carrier(), "cancelled"), record("label", carrier(), "voided"),
            record("filing", "clearpath", "withdrawn"), record("slot", last_mile(), "released")]


def planned(expected: Status = Status.DELIVERED, faults=(), shipment_id: str = SID) -> PlannedShipment:
    return PlannedShipment(index=1, shipment_id=shipment_id, scenario="test", example=BASIC, variant=None,
                           faults=tuple(faults), actions=(), expected=frozenset({expected}))


def evidence(status: Status | None, records: list[InspectRecord], expected: Status = Status.DELIVERED,
             row: ReadModelRow | None = None, **fields) -> ShipmentEvidence:
    state = final(status) if status is not None else None
    if row is None and state is not None:
        row = ReadModelRow(status=state.status, transitions=len(state.transitions))
    values = dict(planned=planned(expected), acknowledged=True, ack_via="created", workflow_found=True,
                  final=state, read_model=row, records=records)
    values.update(fields)
    return ShipmentEvidence(**values)


@pytest.mark.parametrize("kind, state, live", [
    ("booking", "confirmed", True), ("booking", "in_transit", True), ("booking", "arrived", True),
    ("booking", "cancelled", False), ("label", "active", True), ("label", "voided", False),
    ("filing", "cleared", True), ("filing", "hold", True), ("filing", "withdrawn", False),
    ("slot", "scheduled", True), ("slot", "delivered", True), ("slot", "released", False),
], ids=lambda v: str(v))
def test_live_means_not_released(kind, state, live):
    assert is_live(record(kind, "ups", state)) is live


CASES = [
    ("delivered, one of each", Status.DELIVERED, delivered_records, Status.DELIVERED, (True, 0, 0, 0)),
    ("delivered, a second live booking at the carrier", Status.DELIVERED,
     lambda: delivered_records() + [record("booking", carrier(), "confirmed", "BKG-2")],
     Status.DELIVERED, (True, 1, 0, 0)),
    ("delivered, a second live slot", Status.DELIVERED,
     lambda: delivered_records() + [record("slot", last_mile(), "scheduled", "SLT-2")], Status.DELIVERED,
     (True, 1, 0, 0)),
    ("delivered, a replaced plan's booking left live", Status.DELIVERED,
     lambda: delivered_records() + [record("booking", "silkrail", "confirmed")], Status.DELIVERED,
     (True, 0, 1, 0)),
    ("delivered, a replaced plan's booking cancelled", Status.DELIVERED,
     lambda: delivered_records() + [record("booking", "silkrail", "cancelled")], Status.DELIVERED,
     (True, 0, 0, 0)),
    ("compensated, everything released", Status.COMPENSATED, released_records, Status.COMPENSATED,
     (True, 0, 0, 0)),
    ("compensated, label left active", Status.COMPENSATED,
     lambda: released_records()[:1] + [record("label", carrier(), "active")], Status.COMPENSATED, (True, 0, 1, 0)),
    ("cancelled, two live bookings at one carrier", Status.CANCELLED,
     lambda: [record("booking", carrier(), "in_transit", "BKG-1"), record("booking", carrier(), "confirmed", "BKG-2")],
     Status.CANCELLED, (True, 1, 2, 0)),
    ("rejected before booking, nothing at partners", Status.REJECTED, list, Status.REJECTED, (True, 0, 0, 0)),
    ("delivered but compensation expected", Status.DELIVERED, delivered_records, Status.COMPENSATED,
     (False, 0, 0, 0)),
]


@pytest.mark.parametrize("name, status, records, expected, counts", CASES, ids=[c[0] for c in CASES])
def test_records_are_checked_against_the_final_state(name, status, records, expected, counts):
    verdict = audit_shipment(evidence(status, records(), expected))
    assert (verdict.terminal, verdict.duplicates, verdict.orphans, verdict.lost) == counts
    assert len(verdict.findings) == (not counts[0]) + (counts[1] > 0) + (counts[2] > 0)


LOST_CASES = [
    ("acknowledged, no workflow", dict(workflow_found=False, final=None, read_model=None), 1),
    ("no terminal status by the deadline", dict(final=None, last_seen="transit/in_progress"), 1),
    ("no read-model row", dict(read_model=None), 1),
    ("read model on another status", dict(read_model=ReadModelRow(status="in_progress", transitions=3)), 1),
    ("read model missing a transition", dict(read_model=ReadModelRow(status="delivered", transitions=2)), 1),
    ("read model caught up", dict(), 0),
    ("never acknowledged", dict(acknowledged=False, ack_via=None, workflow_found=False, final=None,
                                read_model=None, errors=["submission refused: HTTP 401"]), 0),
]


@pytest.mark.parametrize("name, fields, lost", LOST_CASES, ids=[c[0] for c in LOST_CASES])
def test_lost(name, fields, lost):
    verdict = audit_shipment(evidence(Status.DELIVERED, delivered_records(), **fields))
    assert verdict.lost == lost
    assert [f.check for f in verdict.findings if f.check == "lost"] == ["lost"] * lost


def test_a_shipment_never_acknowledged_is_not_terminal_and_says_why():
    verdict = audit_shipment(evidence(None, [], acknowledged=False, workflow_found=False,
                                      errors=["submission refused: HTTP 401 UNAUTHORIZED"]))
    assert (verdict.terminal, verdict.lost) == (False, 0)
    assert verdict.findings[0].check == "terminal" and "HTTP 401" in verdict.findings[0].detail


def test_run_totals_faults_and_the_last_line():
    clean = evidence(Status.DELIVERED, delivered_records())
    faulted = evidence(Status.DELIVERED, delivered_records(), fired=[True, False]).model_copy(update={
        "planned": planned(faults=(fault("ups", "book", "error", times=2),
                                   fault("parcelnow", "schedule", "latency", latency_s=0.2)), shipment_id="REL-0-2")})
    orphaned = evidence(Status.COMPENSATED, [record("label", carrier(), "active")], Status.COMPENSATED).model_copy(
        update={"planned": planned(Status.COMPENSATED, shipment_id="REL-0-3")})
    crash = DisruptionEvent(kind="worker_kill", at_acknowledged=1, at_s=1.0, took_s=2.0)
    missed = DisruptionEvent(kind="partner_outage", at_acknowledged=2, at_s=3.0, took_s=0.1, rule_ids=[7],
                             fired=False)
    result = audit(Evidence(shipments=[clean, faulted, orphaned], disruptions=[crash, missed]))
    assert result.line() == ("shipments=3 faults=2 terminal=3 duplicates=0 orphans=1 lost=0 dead_letters=0 "
                             "reconciled=0")
    assert not result.ok
    assert audit(Evidence(shipments=[clean, faulted])).ok

    rows = {row.kind: row for row in by_kind(Evidence(shipments=[clean, faulted, orphaned]), result)}
    assert (rows["error"].rules, rows["error"].fired, rows["latency"].fired) == (1, 1, 0)
    assert (rows["(none)"].shipments, rows["(none)"].orphans) == (2, 1)


# ---- issue 18: poisoned requests, forged events, ledgers -------------------------------------------------------

def poisoned(refusal: RefusalEvidence | None, acknowledged: bool = False) -> ShipmentEvidence:
    plan = planned().model_copy(update={"expected": frozenset(), "refused_at_api": True,
                                        "scenario": "poison-text-refused"})
    return ShipmentEvidence(planned=plan, acknowledged=acknowledged, refusal=refusal)


def test_a_poisoned_request_passes_only_refused_by_name_with_nothing_created():
    good = RefusalEvidence(status=422, fields=list(POISON_FIELDS), nothing_created=True)
    assert audit_shipment(poisoned(good)).terminal
    for bad in (good.model_copy(update={"status": 201}), good.model_copy(update={"fields": ["order_ref"]}),
                good.model_copy(update={"nothing_created": False})):
        verdict = audit_shipment(poisoned(bad))
        assert not verdict.terminal and verdict.findings[0].check == "terminal", bad
    # Before issue 18 the API took it: acknowledged, a workflow started.
    assert not audit_shipment(poisoned(None, acknowledged=True)).terminal


def probe(name: str, event_id: str = "parcelnow:SLOT-1:1", ok: bool = True) -> ProbeResult:
    return ProbeResult(probe=name, event_id=event_id, expected="401 INVALID_SIGNATURE", got="401 INVALID_SIGNATURE"
                       if ok else "202", ok=ok)


def with_events(shipment: ShipmentEvidence, *event_ids: str) -> ShipmentEvidence:
    assert shipment.final is not None
    events = [CarrierEvent(event_id=e, partner="parcelnow", shipment_id=SID, code="SORTED",
                           status=TrackingStatus.IN_TRANSIT, occurred_at=AT) for e in event_ids]
    return shipment.model_copy(update={"final": shipment.final.model_copy(update={"events": events})})


def test_forged_events_must_be_refused_and_a_replay_counted_once():
    probes = [probe("forged_signature", "parcelnow:SLOT-1:1:forged"), probe("replay_outside_tolerance"),
              probe("replay_inside_tolerance")]
    clean = with_events(evidence(Status.DELIVERED, delivered_records(), probes=probes), "parcelnow:SLOT-1:1")
    assert audit_shipment(clean).findings == []
    accepted = clean.model_copy(update={"probes": [probe("forged_signature", "parcelnow:SLOT-1:1:forged", ok=False),
                                                 *probes[1:]]})
    assert [f.check for f in audit_shipment(accepted).findings] == ["intrusion"]
    forged_in = with_events(clean, "parcelnow:SLOT-1:1", "parcelnow:SLOT-1:1:forged")
    assert "reached the shipment" in audit_shipment(forged_in).findings[0].detail
    twice = with_events(clean, "parcelnow:SLOT-1:1", "parcelnow:SLOT-1:1")
    assert "counted 2 times" in audit_shipment(twice).findings[0].detail
    result = audit(Evidence(shipments=[twice]))
    assert not result.ok and result.terminal == 1  # the shipment ended well, the intrusion still fails the run


def item(table: str, kind: str, shipment_id: str | None = SID, partner: str | None = None) -> LedgerItem:
    return LedgerItem(table=table, id=1, shipment_id=shipment_id, kind=kind, partner=partner, state="open")


def test_every_ledger_item_is_explained_by_its_planned_fault_or_fails_the_run():
    base = evidence(Status.DELIVERED, delivered_records())
    poison = base.model_copy(update={"planned": base.planned.model_copy(update={"dead_letters": 1}),
                                     "poisoned_notice": f"{SID}:poison:email:customer"})
    letter = item("dead_letters", "notification")
    result = audit(Evidence(shipments=[poison], ledger=[letter]))
    assert result.ok and (result.dead_letters, result.reconciled) == (1, 0)
    assert [e.expected for e in result.explanations] == [True] and "poison_notice" in result.explanations[0].cause
    # The same dead letter on a shipment that poisoned nothing: unexpected.
    assert not audit(Evidence(shipments=[base], ledger=[letter])).ok
    # The poisoned notification that left no dead letter (it would retry forever): missing.
    missing = audit(Evidence(shipments=[poison]))
    assert not missing.ok and "1 dead letter(s) planned" in missing.ledger_findings[0].detail

    undo = base.model_copy(update={"planned": base.planned.model_copy(update={
        "faults": (fault("aerocargo", "void", "outage", outage_for_s=120.0),),
        "reconciliation_required": frozenset({"aerocargo"}), "reconciliation_explained": frozenset({"aerocargo"})})})
    listed = item("reconciliation_items", "undo_failed", partner="aerocargo")
    assert audit(Evidence(shipments=[undo], ledger=[listed])).ok
    assert not audit(Evidence(shipments=[undo])).ok  # the undo that failed for minutes must be on the list
    elsewhere = item("reconciliation_items", "orphan", partner="ups")
    assert not audit(Evidence(shipments=[undo], ledger=[listed, elsewhere])).ok
    assert not audit(Evidence(shipments=[base], ledger=[item("dead_letters", "projection", shipment_id=None)])).ok


def test_a_ledger_that_cannot_be_read_fails_the_run_and_says_so():
    result = audit(Evidence(shipments=[evidence(Status.DELIVERED, delivered_records())],
                            missing_ledgers=["dead_letters"]))
    assert not result.ok
    assert result.line().endswith("dead_letters=missing reconciled=0")


def test_a_scanned_dhl_waybill_is_no_orphan_only_while_ops_hold_it_on_the_reconciliation_list():
    """DHL Express has no cancel: a rejected shipment's scanned waybill stays live at DHL. It counts as an orphan
    unless its undo is on the reconciliation list as one no API can do (`PartnerCannotCancel`), for ops to settle;
    any other item does not excuse it."""
    waybill = [record("booking", "dhl_express", "confirmed", "BKG-9"), record("label", "dhl_express", "created")]
    rejected = evidence(Status.REJECTED, waybill, Status.REJECTED)
    assert audit(Evidence(shipments=[rejected])).orphans == 2

    cannot = item("reconciliation_items", "undo_failed", partner="dhl_express").model_copy(update={
        "detail": "carrier.cancel_booking BKG-9: PartnerCannotCancel: dhl_express: waybill BKG-9 cannot be cancelled"})
    settled = audit(Evidence(shipments=[rejected], ledger=[cannot]))
    assert settled.ok and (settled.orphans, settled.reconciled) == (0, 1)
    assert settled.explanations[0].expected and "no cancel operation" in settled.explanations[0].cause

    unreachable = cannot.model_copy(update={"detail": "carrier.cancel_booking BKG-9: PartnerUnavailable: 503"})
    assert audit(Evidence(shipments=[rejected], ledger=[unreachable])).orphans == 2
    elsewhere = cannot.model_copy(update={"partner": "ups"})
    assert audit(Evidence(shipments=[rejected], ledger=[elsewhere])).orphans == 2
