"""Which partner may report on which shipment: the pure rule behind the API's 403/404/422 for partner events."""

from tests.support import load_example
from tradelane.decisions.assess import assess
from tradelane.enums import Stage
from tradelane.models import ShipmentRequest
from tradelane.rules import default_book
from tradelane.shipment.calls import PartnerRecord
from tradelane.shipment.partner_events import EventRefusal, refusal
from tradelane.shipment.state import ShipmentState

SHIPMENT, PARCEL = "1Z12345E0205271688", "1Z12345E6605272234"
"""A UPS shipment identification number and the tracking number of its one parcel."""
OTHER_PARCEL = "1Z12345E6605279999"


def in_transit() -> ShipmentState:
    """A CN-DE shipment booked with UPS (shipment 1Z12345E0205271688, its parcel 1Z12345E6605272234), its last mile
    chosen but not yet scheduled."""
    request = ShipmentRequest.model_validate(load_example("basic-cn-de.json", "SHP-1"))
    state = ShipmentState(shipment_id="SHP-1", workflow_id="shipment:SHP-1", origin_country="CN",
                          destination_country="DE", merchant_id="m1", declared_value="10", currency="EUR",
                          stage=Stage.TRANSIT,
                          assessment=assess(request, default_book()), tracking_number=PARCEL)
    state.keep(PartnerRecord(kind="booking", partner="ups", ref=SHIPMENT, state="booked"))
    state.keep(PartnerRecord(kind="label", partner="ups", ref=SHIPMENT, state="active", tracking_number=PARCEL))
    return state


def code(state: ShipmentState, partner: str, tracking: str | None = None, booking: str | None = None) -> str | None:
    refused = refusal(state, partner, tracking, booking)
    return None if refused is None else refused[0].value


def test_the_carrier_reports_under_its_own_references_only() -> None:
    state = in_transit()
    assert code(state, "ups", PARCEL) is None
    assert code(state, "ups", booking=SHIPMENT) is None
    assert code(state, "ups", OTHER_PARCEL) == EventRefusal.UNKNOWN_REFERENCE
    assert code(state, "ups") == EventRefusal.REFERENCE_REQUIRED


def test_a_partner_holding_nothing_is_refused_even_with_the_right_number() -> None:
    state = in_transit()
    assert code(state, "roadlink", PARCEL) == EventRefusal.PARTNER_NOT_ON_SHIPMENT
    # The chosen last-mile partner has not been handed the goods while they are in transit.
    chosen = state.assessment.last_mile.chosen
    assert chosen is not None
    assert code(state, chosen.partner, PARCEL) == EventRefusal.PARTNER_NOT_ON_SHIPMENT


def test_the_last_mile_partner_reports_once_handed_the_goods_before_its_slot_is_recorded() -> None:
    state = in_transit()
    chosen = state.assessment.last_mile.chosen
    assert chosen is not None
    state.stage = Stage.LAST_MILE
    assert code(state, chosen.partner, PARCEL) is None
    assert code(state, chosen.partner, OTHER_PARCEL) == EventRefusal.UNKNOWN_REFERENCE
    assert code(state, "roadlink", PARCEL) == EventRefusal.PARTNER_NOT_ON_SHIPMENT
    state.keep(PartnerRecord(kind="slot", partner=chosen.partner, ref="SLT-1", state="scheduled"))
    assert code(state, chosen.partner, booking="SLT-1") is None
