"""Typed undo steps: what the saga runs on compensation, and what a continued-as-new run carries over."""

import pytest
from pydantic import TypeAdapter

from tradelane.shipment.calls import PartnerRecord, StockRecord
from tradelane.shipment.state import PartnerUndo, ShipmentState, StockUndo, UndoStep

STEPS = TypeAdapter(list[UndoStep])

# As shipments saved them in a continue-as-new input before undo steps were typed: no `kind`, the stock release
# posing as a call to partner "inventory".
UNTYPED = [
    {"action": "inventory.release", "description": "release stock held at WH-SZ",
     "call": {"shipment_id": "S1", "partner": "inventory", "idempotency_key": "S1:release:inventory"}},
    {"action": "carrier.cancel_booking", "description": "cancel booking B-1 at roadlink",
     "call": {"shipment_id": "S1", "partner": "roadlink", "idempotency_key": "S1:book:roadlink", "ref": "B-1"}},
]


def state() -> ShipmentState:
    return ShipmentState(shipment_id="S1", workflow_id="shipment:S1", origin_country="CN", destination_country="DE",
                         merchant_id="m1", declared_value="10", currency="EUR")


def test_untyped_steps_from_before_the_change_parse_by_their_action() -> None:
    stock, booking = STEPS.validate_python(UNTYPED)
    assert isinstance(stock, StockUndo) and stock.call.idempotency_key == "S1:release:inventory"
    assert isinstance(booking, PartnerUndo) and booking.call.ref == "B-1" and booking.call.partner == "roadlink"


def test_typed_steps_round_trip() -> None:
    steps = STEPS.validate_python(UNTYPED)
    again = STEPS.validate_json(STEPS.dump_json(steps))
    assert again == steps
    assert [s.kind for s in again] == ["stock", "partner"]


def test_each_undo_applies_its_own_answer_to_the_state() -> None:
    stock, booking = STEPS.validate_python(UNTYPED)
    s = state()
    s.records.append(PartnerRecord(kind="booking", partner="roadlink", ref="B-1", state="booked"))
    booking.apply(s, PartnerRecord(kind="booking", partner="roadlink", ref="B-1", state="cancelled"))
    stock.apply(s, StockRecord(state="released", note="2 ledger movements undone"))
    assert [r.state for r in s.records] == ["cancelled"]  # replaced, not added
    assert s.stock is not None and s.stock.state == "released"
    assert (booking.result_type, stock.result_type) == (PartnerRecord, StockRecord)


def test_an_undo_refuses_an_answer_of_another_kind() -> None:
    stock, booking = STEPS.validate_python(UNTYPED)
    with pytest.raises(TypeError, match="answers with a"):
        stock.apply(state(), PartnerRecord(kind="booking", partner="x", ref="r", state="cancelled"))
    with pytest.raises(TypeError, match="answers with a"):
        booking.apply(state(), StockRecord(state="released"))
