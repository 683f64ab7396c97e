"""What the read model can say about a partner's event before the API asks the workflow (`holds_reference`,
`has_event`): a reference the partner holds on the shipment, or an event the shipment already has."""

from datetime import UTC, datetime

import pytest
from sqlmodel import Session

from infra.persistence.db import (
    PartnerBookingRow,
    ShipmentRow,
    TrackingEventRow,
    has_event,
    holds_reference,
    make_engine,
    migrate,
)


@pytest.fixture
def engine(tmp_path):
    url = f"sqlite:///{tmp_path / 'rm.db'}"
    migrate(url)
    engine = make_engine(url)
    now = datetime.now(UTC)
    with Session(engine) as session:
        session.add(ShipmentRow(shipment_id="S-1", workflow_id="shipment-S-1", merchant_id="m", origin_country="CN",
                                destination_country="DE", stage="transit", status="in_progress",
                                tracking_number="PARCEL-1", declared_value="10", currency="EUR", created_at=now,
                                updated_at=now))
        for kind, partner, ref, tracking in [("booking", "roadlink", "BKG-1", "RL-TRK-1"),
                                             ("slot", "parcelnow", "SLOT-1", None),
                                             ("filing", "clearpath", "FIL-1", None)]:
            session.add(PartnerBookingRow(shipment_id="S-1", kind=kind, partner_kind="x", partner=partner, ref=ref,
                                          state="confirmed", tracking_number=tracking))
        session.add(TrackingEventRow(shipment_id="S-1", event_id="E-1", partner="roadlink", code="LINEHAUL",
                                     status="in_transit", occurred_at=now, received_seq=1))
        session.commit()
    yield engine
    engine.dispose()


def test_a_carrier_holds_its_booking_reference_and_its_tracking_number(engine):
    assert holds_reference(engine, "S-1", "roadlink", {"BKG-1"})
    assert holds_reference(engine, "S-1", "roadlink", {"RL-TRK-1", "nonsense"})
    assert not holds_reference(engine, "S-1", "roadlink", {"PARCEL-1"}), "the parcel number is the slot holder's"
    assert not holds_reference(engine, "S-1", "roadlink", set())


def test_a_slot_holder_delivers_under_the_shipments_tracking_number(engine):
    assert holds_reference(engine, "S-1", "parcelnow", {"PARCEL-1"})
    assert holds_reference(engine, "S-1", "parcelnow", {"SLOT-1"})
    assert not holds_reference(engine, "S-1", "parcelnow", {"BKG-1"})


def test_what_others_hold_or_a_customs_filing_confirms_nothing(engine):
    assert not holds_reference(engine, "S-1", "clearpath", {"FIL-1"}), "a filing does not make a carrier"
    assert not holds_reference(engine, "S-1", "skyhop", {"BKG-1"})
    assert not holds_reference(engine, "S-2", "roadlink", {"BKG-1"})


def test_an_event_is_known_by_shipment_partner_and_id(engine):
    assert has_event(engine, "S-1", "roadlink", "E-1")
    assert not has_event(engine, "S-1", "parcelnow", "E-1")
    assert not has_event(engine, "S-1", "roadlink", "E-2")
