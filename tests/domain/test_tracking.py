"""Tracking: the per-partner code tables, and how events join a timeline (dedup, out of order)."""

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sandbox.scenarios import TRACKING_CODES
from tradelane.connections import PartnerProtocol
from tradelane.enums import PartnerKind
from tradelane.enums import TrackingStatus as T
from tradelane.partners import PARTNERS
from tradelane.shipment.events import CarrierEvent
from tradelane.tracking_codes import Arrival, EventDelivery, event_delivery, merge_event, normalise, tracking_codes

MAPPING_CASES = [
    ("bluewave", "GATE_IN", T.PICKED_UP), ("bluewave", "VESSEL_DEPARTED", T.IN_TRANSIT),
    ("bluewave", "VESSEL_DELAYED", T.EXCEPTION), ("bluewave", "CUSTOMS_RELEASED", T.CUSTOMS_CLEARED),
    ("bluewave", "AVAILABLE", T.ARRIVED_AT_DESTINATION),
    ("silkrail", "BORDER_CROSSED", T.IN_TRANSIT), ("silkrail", "READY_FOR_HANDOVER", T.ARRIVED_AT_DESTINATION),
    ("aerocargo", "RCS", T.PICKED_UP), ("aerocargo", "DIS", T.EXCEPTION),
    ("aerocargo", "NFD", T.ARRIVED_AT_DESTINATION),
    ("roadlink", "COLLECTED", T.PICKED_UP), ("roadlink", "DELAYED", T.EXCEPTION),
    ("roadlink", "ARRIVED_HUB", T.ARRIVED_AT_DESTINATION),
    ("parcelnow", "SORTED", T.AT_LOCAL_DEPOT), ("parcelnow", "NOT_HOME", T.DELIVERY_FAILED),
    ("parcelnow", "DELIVERED", T.DELIVERED),
    ("doorstep", "ON_VEHICLE", T.OUT_FOR_DELIVERY), ("doorstep", "ATTEMPT_FAILED", T.DELIVERY_FAILED),
    ("doorstep", "POD", T.DELIVERED),
]


@pytest.mark.parametrize(("partner", "code", "status"), MAPPING_CASES,
                         ids=[f"{p}-{c}" for p, c, _ in MAPPING_CASES])
def test_partner_codes_map_through_the_table(partner, code, status):
    assert normalise(partner, code) is status


@pytest.mark.parametrize("partner", sorted(TRACKING_CODES))
def test_every_code_a_partner_emits_is_in_the_table(partner):
    """The sandbox publishes what each partner can send; none of it may end up `unknown`."""
    unmapped = [code for code in TRACKING_CODES[partner] if normalise(partner, code) is T.UNKNOWN]
    assert unmapped == []


@pytest.mark.parametrize("partner", sorted(p for p, row in PARTNERS.items()
                                           if row.kind is not PartnerKind.CUSTOMS_BROKER
                                           and row.protocol is PartnerProtocol.TRADELANE))
def test_every_dialect_partner_maps_its_final_status(partner):
    """Karrio's carriers and DCSA lines map through their own tables (tests/protocols)."""
    final = T.DELIVERED if PARTNERS[partner].kind is PartnerKind.LAST_MILE else T.ARRIVED_AT_DESTINATION
    assert final in tracking_codes().partners[partner].codes.values()


def test_unknown_codes_and_partners_are_kept_as_unknown():
    assert normalise("bluewave", "SOMETHING_NEW") is T.UNKNOWN
    assert normalise("nobody", "PU") is T.UNKNOWN


@pytest.mark.parametrize(("partner", "delivery"), [
    ("roadlink", EventDelivery.WEBHOOK), ("silkrail", EventDelivery.POLL), ("aerocargo", EventDelivery.POLL),
    ("doorstep", EventDelivery.WEBHOOK), ("ups", EventDelivery.POLL), ("roadie", EventDelivery.POLL),
    ("not-a-partner", EventDelivery.POLL),
], ids=["roadlink-pushes", "silkrail-is-polled", "aerocargo-is-polled", "doorstep-pushes", "ups-is-polled",
        "roadie-is-polled", "unknown-is-polled"])
def test_how_each_partner_reports(partner, delivery):
    assert event_delivery(partner) is delivery


def test_a_wrong_status_in_the_table_fails_naming_it(tmp_path):
    bad = tmp_path / "codes.yaml"
    bad.write_text("partners:\n  roadlink:\n    delivery: webhook\n    source: x\n    codes:\n      PU: pickd_up\n")
    with pytest.raises(ValueError, match=r"partners\.roadlink\.codes\.PU"):
        tracking_codes(bad)


# ---- merging events into a timeline ----

T0 = datetime(2026, 12, 1, 8, tzinfo=UTC)


def event(n: int, hours: float, sequence: int | None = None, event_id: str | None = None) -> CarrierEvent:
    return CarrierEvent(event_id=event_id or f"e{n}", partner="roadlink", shipment_id="S", code="LINEHAUL",
                        status=T.IN_TRANSIT, occurred_at=T0 + timedelta(hours=hours), sequence=sequence,
                        received_seq=n)


def test_duplicates_are_dropped_and_late_events_take_their_place():
    events: list[CarrierEvent] = []
    ids: set[tuple[str, str]] = set()
    assert merge_event(events, ids, event(1, 0)) is Arrival.ADDED
    assert merge_event(events, ids, event(2, 5)) is Arrival.ADDED
    assert merge_event(events, ids, event(3, 5, event_id="e2")) is Arrival.DUPLICATE
    assert merge_event(events, ids, event(4, 2)) is Arrival.LATE
    assert [e.event_id for e in events] == ["e1", "e4", "e2"]
    # Another partner's event with the same id is another event.
    other = event(5, 6, event_id="e2").model_copy(update={"partner": "parcelnow"})
    assert merge_event(events, ids, other) is Arrival.ADDED


def test_same_time_events_keep_their_arrival_order():
    """Sequence numbers are per partner: a last-mile 1 at the carrier's arrival time does not go before it."""
    events: list[CarrierEvent] = []
    ids: set[tuple[str, str]] = set()
    merge_event(events, ids, event(1, 1, sequence=5, event_id="carrier-arrived"))
    merge_event(events, ids, event(2, 1, sequence=1, event_id="last-mile-sorted"))
    merge_event(events, ids, event(3, 0.5, sequence=4, event_id="carrier-late-report"))
    assert [e.event_id for e in events] == ["carrier-late-report", "carrier-arrived", "last-mile-sorted"]


@given(st.permutations(list(range(12))), st.integers(min_value=0, max_value=11))
def test_any_arrival_order_with_repeats_gives_the_same_timeline(order, repeat):
    """Whatever order events arrive in, and however often one is delivered, the timeline is the same."""
    originals = {n: event(n, hours=n * 1.5, sequence=n) for n in range(12)}
    events: list[CarrierEvent] = []
    ids: set[tuple[str, str]] = set()
    arrivals = [*order, repeat]
    outcomes = [merge_event(events, ids, originals[n]) for n in arrivals]
    assert [e.event_id for e in events] == [f"e{n}" for n in range(12)]
    assert outcomes.count(Arrival.DUPLICATE) == 1
