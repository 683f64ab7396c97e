"""What a shipment's readers are shown of its carrier and ETA (issue 19, point 3): the workflow keeps the planned
carrier and its last estimate; readers get the carrier once it has a booking, and an ETA only while the shipment
can still arrive."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from tradelane.enums import Status
from tradelane.eta import Eta
from tradelane.shipment.calls import PartnerRecord
from tradelane.shipment.state import ShipmentState

ETA = Eta(expected=date(2026, 12, 9), earliest=date(2026, 12, 8), latest=date(2026, 12, 10), basis="plan ups",
          as_of=datetime(2026, 12, 6, tzinfo=UTC))


def shipment(status: Status, carrier: str | None = "ups", records: tuple[PartnerRecord, ...] = ()) -> ShipmentState:
    return ShipmentState(shipment_id="S-1", workflow_id="shipment:S-1", status=status, origin_country="CN",
                         destination_country="DE", merchant_id="m", declared_value=Decimal("100"), currency="EUR",
                         carrier=carrier, records=list(records), eta=ETA)


def booking(partner: str, state: str = "booked") -> PartnerRecord:
    return PartnerRecord(kind="booking", partner=partner, ref=f"{partner}-B1", state=state)


@pytest.mark.parametrize("status", [Status.IN_PROGRESS, Status.ON_HOLD, Status.DELAYED, Status.DELIVERED])
def test_eta_is_shown_while_the_shipment_can_arrive_and_once_delivered(status):
    assert shipment(status).live_eta == ETA


@pytest.mark.parametrize("status", [Status.COMPENSATED, Status.REJECTED, Status.CANCELLED])
def test_no_eta_once_the_shipment_ended_without_delivery(status):
    state = shipment(status)
    assert state.ended_undelivered
    assert state.live_eta is None
    assert state.eta == ETA, "the state itself keeps its last estimate"


def test_a_planned_carrier_without_a_booking_is_not_the_booked_carrier():
    assert shipment(Status.REJECTED, records=()).booked_carrier is None


def test_a_label_or_another_partners_booking_does_not_make_the_plans_carrier_booked():
    records = (booking("dhl_express"), PartnerRecord(kind="label", partner="ups", ref="L1", state="created"))
    assert shipment(Status.COMPENSATED, records=records).booked_carrier is None


@pytest.mark.parametrize("booking_state", ["booked", "cancelled"])
def test_the_carrier_holding_or_having_held_the_booking_is_shown(booking_state):
    """A compensated shipment names the carrier whose booking its undo cancelled, as its records show."""
    state = shipment(Status.COMPENSATED, records=(booking("ups", booking_state),))
    assert state.booked_carrier == "ups"


def test_no_plan_no_carrier():
    assert shipment(Status.REJECTED, carrier=None, records=(booking("ups"),)).booked_carrier is None
