"""The reconciliation list's store (`infra/persistence/reconciliation.py`): one item per key and reason however often
it is reported, reopened when it comes back, and resolved only where a reconciliation could look."""

import pytest

from infra.persistence import reconciliation as items
from infra.persistence.db import make_engine, migrate
from tradelane.shipment.calls import PartnerCall, StockRelease
from tradelane.shipment.undo import ReconciliationItem, ReconciliationReason, ReconciliationState


@pytest.fixture
def engine(tmp_path):
    url = f"sqlite:///{tmp_path / 'rm.db'}"
    migrate(url)
    engine = make_engine(url)
    yield engine
    engine.dispose()


def item(key: str = "tl:S-1:book:roadlink:undo", reason: ReconciliationReason = ReconciliationReason.UNDO_FAILED,
         partner: str = "roadlink", error: str = "503") -> ReconciliationItem:
    return ReconciliationItem(shipment_id="S-1", partner=partner, operation="carrier.cancel_booking",
                              idempotency_key=key, partner_ref="BKG-1", reason=reason, error=error,
                              call=PartnerCall(shipment_id="S-1", partner=partner, idempotency_key=key, ref="BKG-1"))


def test_an_item_reported_twice_is_one_item_with_two_attempts(engine):
    first = items.record_item(engine, item(error="503 first"))
    again = items.record_item(engine, item(error="503 again"))
    assert first.id == again.id and again.attempts == 2 and again.last_error == "503 again"
    assert (again.call["idempotency_key"], again.call["ref"]) == ("tl:S-1:book:roadlink:undo", "BKG-1")
    other = items.record_item(engine, item(reason=ReconciliationReason.OUTCOME_UNKNOWN))
    assert other.id != first.id, "another reason is another item"


def test_a_resolved_item_reported_again_is_reopened(engine):
    row = items.record_item(engine, item())
    resolved = items.resolve_item(engine, row.id, "retry:ops")
    assert resolved.state == ReconciliationState.RESOLVED and resolved.resolved_by == "retry:ops"
    assert items.resolve_item(engine, row.id, "ops:someone-else").resolved_by == "retry:ops", "first resolution kept"
    reopened = items.record_item(engine, item())
    assert reopened.state == ReconciliationState.OPEN and reopened.resolved_at is None


def test_a_stock_release_is_kept_as_its_own_input(engine):
    row = items.record_item(engine, ReconciliationItem(
        shipment_id="S-2", partner="tradelane-ledger", operation="inventory.release", idempotency_key="k",
        reason=ReconciliationReason.UNDO_FAILED, call=StockRelease(shipment_id="S-2", idempotency_key="k")))
    assert row.call == {"shipment_id": "S-2", "idempotency_key": "k"}


def test_the_reconciliation_resolves_only_what_it_could_look_at(engine):
    orphan = ReconciliationReason.ORPHAN
    gone = items.record_item(engine, item("reconcile:roadlink:BKG-1:undo", orphan))
    still = items.record_item(engine, item("reconcile:roadlink:BKG-2:undo", orphan))
    elsewhere = items.record_item(engine, item("reconcile:silkrail:BKG-3:undo", orphan, partner="silkrail"))
    assert items.resolve_vanished(engine, orphan, {"roadlink"}, {still.idempotency_key}, "reconciliation") == 1
    states = {r.id: r.state for r in items.list_items(engine)}
    assert states == {gone.id: "resolved", still.id: "open", elsewhere.id: "open"}
    assert [r.id for r in items.list_items(engine, ReconciliationState.OPEN, orphan)] == [elsewhere.id, still.id]
