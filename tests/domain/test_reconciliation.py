"""The reconciliation's rule (`tradelane.reconciliation.compare`) and the undo's keys (`tradelane.shipment.undo`),
table-driven, without any service."""

from datetime import UTC, datetime, timedelta

import pytest

from tradelane.enums import Status
from tradelane.reconciliation import PartnerBooking, TradelaneBooking, compare
from tradelane.shipment.calls import PartnerCall
from tradelane.shipment.state import PartnerUndo
from tradelane.shipment.undo import (
    LookupUndo,
    ReconciliationReason,
    outcome_unknown,
    reconciliation_reason,
    step_key_of,
    undo_key,
)

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
GRACE = timedelta(minutes=15)


def theirs(ref: str, state: str = "confirmed", age: timedelta = timedelta(hours=1)) -> PartnerBooking:
    return PartnerBooking(partner="roadlink", ref=ref, shipment_id="S", state=state, idempotency_key=f"k-{ref}",
                          created_at=NOW - age)


def ours(ref: str, status: Status = Status.IN_PROGRESS, state: str = "confirmed",
         partner: str = "roadlink") -> TradelaneBooking:
    return TradelaneBooking(partner=partner, ref=ref, shipment_id="S", state=state, shipment_status=status)


@pytest.mark.parametrize(("partner_side", "our_side", "orphans", "missing"), [
    ([theirs("B1")], [ours("B1")], [], []),
    ([theirs("B1")], [], ["B1"], []),
    ([theirs("B1")], [ours("B1", Status.COMPENSATED, "confirmed")], ["B1"], []),
    ([theirs("B1")], [ours("B1", Status.IN_PROGRESS, "cancelled")], ["B1"], []),
    ([theirs("B1", "in_transit")], [ours("B1", Status.DELIVERED)], [], []),
    ([theirs("B1", "cancelled")], [], [], []),
    ([theirs("B1", "arrived")], [], [], []),
    ([theirs("B1", age=timedelta(minutes=5))], [], [], []),
    ([theirs("B1")], [ours("B1", partner="silkrail")], ["B1"], []),
    ([], [ours("B2")], [], ["B2"]),
    ([], [ours("B2", Status.CANCELLED)], [], []),
    ([], [ours("B2", Status.IN_PROGRESS, "cancelled")], [], []),
    ([theirs("B2", "cancelled")], [ours("B2")], [], []),
], ids=[
    "held by a live shipment", "held by no shipment is an orphan",
    "held by a compensated shipment (its undo failed) is an orphan",
    "cancelled by Tradelane but open at the partner is an orphan", "a delivered shipment accounts for it",
    "cancelled at the partner is no orphan", "arrived at the partner is no orphan",
    "younger than the grace period is no orphan yet", "another partner's booking of the same ref accounts for nothing",
    "a live booking the partner does not know is missing", "an ended shipment's booking is not missing",
    "a cancelled booking is not missing", "a booking the partner knows (even cancelled) is not missing",
])
def test_compare(partner_side, our_side, orphans, missing):
    found = compare("roadlink", partner_side, our_side, NOW, GRACE)
    assert [o.ref for o in found.orphans] == orphans
    assert [m.ref for m in found.missing] == missing


def test_an_undo_has_its_own_key_derived_from_the_step_and_back():
    step = "tl:S-1:book:roadlink"
    assert undo_key(step) == "tl:S-1:book:roadlink:undo" != step
    assert undo_key(undo_key(step)) == undo_key(step), "derived once, however often it is asked"
    assert step_key_of(undo_key(step)) == step


@pytest.mark.parametrize(("failure", "unknown"), [
    ("PartnerRejected", False), ("PartnerUnavailable", True), ("PartnerRateLimited", True),
    ("PartnerBadResponse", True), (None, True),
], ids=["a refusal made nothing", "5xx or timeout", "rate limited after earlier attempts", "a 2xx that did not parse",
        "Temporal's own timeout"])
def test_only_a_refusal_makes_an_outcome_certain(failure, unknown):
    assert outcome_unknown(failure) is unknown


def test_a_failed_lookup_leaves_the_outcome_unknown_and_a_failed_undo_is_an_undo_failed():
    call = PartnerCall(shipment_id="S", partner="ups", idempotency_key="k:undo")
    lookup = LookupUndo(action="carrier.cancel_booking_by_key", call=call, description="d")
    undo = PartnerUndo(action="carrier.cancel_booking", call=call, description="d")
    assert reconciliation_reason(lookup) is ReconciliationReason.OUTCOME_UNKNOWN
    assert reconciliation_reason(undo) is ReconciliationReason.UNDO_FAILED
