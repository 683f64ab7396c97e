"""ETA: revisions from tracking events (legs, customs, last mile, exceptions, delivery) and their properties."""

import random
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.domain.eta_support import (
    AIR,
    ARRIVED_PL,
    AT_HUB,
    BASIS,
    BOOK,
    PARCELNOW_HOME,
    PICKED,
    S,
    allowances,
    at,
    d,
    ev,
    example_plan,
    legs_strategy,
    random_basis,
    starts,
    weekends,
)
from tests.domain.test_marking import build
from tradelane.enums import Mode, TrackingStatus
from tradelane.eta import Eta, EtaBasis, EtaLeg, eta_basis, plan_eta, revise_eta
from tradelane.shipment.events import CarrierEvent

# ---- revisions from tracking events ----------------------------------------------------------------------------

def test_basis_and_eta_survive_a_json_round_trip():
    # Both live in the workflow state, which the data converter stores as JSON.
    basis = eta_basis(example_plan(AIR), PARCELNOW_HOME, build("basic-cn-de.json", {"destination.region": "BY"}),
                      BOOK)
    again = EtaBasis.model_validate_json(basis.model_dump_json())
    assert again == basis and again.destination_calendar.holidays[d("2027-01-06")] == "Epiphany"
    eta = revise_eta(again, AT_HUB, at("2026-11-23"))
    assert Eta.model_validate_json(eta.model_dump_json()) == eta


REVISIONS = [
    # (events, as_of, earliest, expected, latest)
    ([PICKED], "2026-11-04", "2026-11-24", "2026-11-27", "2026-12-07"),
    ([PICKED, ev("silkrail", S.IN_TRANSIT, "2026-11-10")], "2026-11-19", "2026-11-24", "2026-11-27", "2026-12-07"),
    ([PICKED, ev("silkrail", S.IN_TRANSIT, "2026-11-25")], "2026-11-25", "2026-12-01", "2026-12-03", "2026-12-09"),
    ([PICKED, ARRIVED_PL], "2026-11-19", "2026-11-24", "2026-11-26", "2026-12-02"),
    (AT_HUB, "2026-11-23", "2026-11-25", "2026-11-27", "2026-12-02"),
    ([*AT_HUB, ev("clearpath", S.CUSTOMS_CLEARED, "2026-11-24")], "2026-11-24",
     "2026-11-25", "2026-11-26", "2026-11-27"),
    ([*AT_HUB, ev("roadlink", S.CUSTOMS_HOLD, "2026-11-24")], "2026-11-24", "2026-11-30", "2026-12-04", "2026-12-17"),
    ([*AT_HUB, ev("roadlink", S.CUSTOMS_HOLD, "2026-11-24"), ev("clearpath", S.CUSTOMS_CLEARED, "2026-11-27")],
     "2026-11-27", "2026-11-30", "2026-12-01", "2026-12-02"),
    ([*AT_HUB, ev("parcelnow", S.AT_LOCAL_DEPOT, "2026-11-30")], "2026-11-30",
     "2026-11-30", "2026-12-01", "2026-12-02"),
    ([*AT_HUB, ev("parcelnow", S.OUT_FOR_DELIVERY, "2026-12-01T08:00:00+00:00")], "2026-12-01",
     "2026-12-01", "2026-12-01", "2026-12-02"),
    ([*AT_HUB, ev("parcelnow", S.OUT_FOR_DELIVERY, "2026-12-05")], "2026-12-05",
     "2026-12-05", "2026-12-05", "2026-12-07"),
    ([*AT_HUB, ev("parcelnow", S.DELIVERY_FAILED, "2026-12-01T15:00:00+00:00")], "2026-12-01",
     "2026-12-02", "2026-12-02", "2026-12-03"),
    ([*AT_HUB, ev("parcelnow", S.DELIVERY_FAILED, "2026-12-24")], "2026-12-24",
     "2026-12-28", "2026-12-28", "2026-12-29"),
    ([*AT_HUB, ev("parcelnow", S.OUT_FOR_DELIVERY, "2026-12-01T09:00:00+00:00"),
      ev("parcelnow", S.DELIVERY_FAILED, "2026-12-01T16:00:00+00:00"),
      ev("parcelnow", S.OUT_FOR_DELIVERY, "2026-12-02")],
     "2026-12-02", "2026-12-02", "2026-12-02", "2026-12-03"),
    ([PICKED, ev("silkrail", S.EXCEPTION, "2026-11-10", code="BORDER_DELAY")], "2026-11-10",
     "2026-11-24", "2026-11-27", "2026-12-09"),
    ([PICKED, ev("silkrail", S.EXCEPTION, "2026-11-10"), ev("silkrail", S.IN_TRANSIT, "2026-11-12")], "2026-11-12",
     "2026-11-24", "2026-11-27", "2026-12-07"),
    ([*AT_HUB, ev("parcelnow", S.OUT_FOR_DELIVERY, "2026-12-01")], "2026-12-03",
     "2026-12-03", "2026-12-03", "2026-12-03"),
    ([*AT_HUB, ev("parcelnow", S.OUT_FOR_DELIVERY, "2026-12-01")], "2026-12-05",
     "2026-12-07", "2026-12-07", "2026-12-07"),
    ([ev("silkrail", S.PICKED_UP, "2026-11-04T23:30:00-05:00")], "2026-11-05",
     "2026-11-24", "2026-11-30", "2026-12-08"),
    ([ev("parcelnow", S.IN_TRANSIT, "2026-11-30")], "2026-11-30", "2026-12-01", "2026-12-02", "2026-12-03"),
    ([ev("roadlink", S.CUSTOMS_HOLD, "2026-11-24")], "2026-11-24", "2026-11-30", "2026-12-04", "2026-12-17"),
]


@pytest.mark.parametrize(("events", "as_of", "earliest", "expected", "latest"), REVISIONS, ids=[
    # PICKED: started Wed 4 Nov: rail ends 18/20/22, hub day + road 1/2/3: Fri 20/Mon 23/Thu 26, customs
    # Mon 23/Wed 25/Wed 2 Dec, last mile Tue 24/Fri 27 Nov/Mon 7 Dec.
    "leg-picked-up-runs-its-days-from-the-first-event",
    # 15 days elapsed of 14..18: rail ends no earlier than today (19/20/22), hub day + road: Sat 21/Mon 23/Thu 26,
    # customs Mon 23/Wed 25/Wed 2 Dec, last mile Tue 24/Fri 27 Nov/Mon 7 Dec.
    "leg-in-transit-not-before-today",
    # 21 days elapsed > 18: overdue, ends no earlier than the day after the latest event (Thu 26 Nov). Hub day +
    # road: Sat 28/Sun 29/Mon 30, customs Mon 30/Tue 1/Fri 4 Dec, last mile Tue 1/Thu 3/Wed 9 Dec.
    "leg-overdue-ends-after-the-latest-event",
    # Rail arrived Thu 19: hub day Fri 20, road 21/22/23, customs Mon 23/Tue 24/Fri 27, last mile 24/26 Nov/2 Dec.
    "leg-arrived-next-leg-starts",
    # Road arrived Mon 23: customs Tue 24/Wed 25/Fri 27, last mile +1/2/3.
    "last-leg-arrived-customs-next",
    "customs-cleared-by-any-partner",
    # Hold Tue 24: released +2/4/10 (Thu 26, Mon 30, Tue 8 Dec), customs +1/2/4, last mile +1/2/3.
    "customs-hold-restarts-customs",
    "customs-cleared-after-hold",
    "at-local-depot-0-1-2",
    "out-for-delivery-today-latest-tomorrow",
    "out-for-delivery-on-saturday-keeps-the-date",
    "delivery-failed-next-business-day",
    "delivery-failed-on-christmas-eve-moves-past-the-holidays",
    "second-attempt-after-a-failed-one",
    # As leg-picked-up (24/27 Nov/7 Dec), latest + 2 business days for the open exception: Wed 9 Dec.
    "exception-adds-two-business-days-to-latest",
    # The in-transit event closes the exception: as leg-picked-up, 24/27 Nov/7 Dec.
    "exception-closed-by-a-later-event",
    "passed-eta-moves-to-today",
    "passed-eta-on-saturday-moves-to-monday",
    # 23:30 in New York on 4 Nov is 5 Nov UTC: the leg started on 5 Nov. Rail ends Thu 19/Sat 21/Mon 23, hub day +
    # road Sat 21/Tue 24/Fri 27, customs Mon 23/Thu 26/Thu 3 Dec, last mile Tue 24/Mon 30 Nov/Tue 8 Dec.
    "event-dates-are-utc-dates",
    "last-mile-partner-has-the-goods",
    "customs-hold-without-leg-events-means-goods-at-customs",
])
def test_revise_eta(events, as_of, earliest, expected, latest):
    eta = revise_eta(BASIS, events, at(as_of))
    assert (eta.earliest, eta.expected, eta.latest) == (d(earliest), d(expected), d(latest))
    assert not eta.delivered
    assert eta.as_of == at(as_of)


def test_delivered_is_final():
    delivered = ev("parcelnow", S.DELIVERED, "2026-12-01T14:00:00+00:00", code="DELIVERED", location="Berlin")
    later = ev("parcelnow", S.DELIVERY_FAILED, "2026-12-02")
    eta = revise_eta(BASIS, [*AT_HUB, delivered, later], at("2026-12-09"))
    assert (eta.earliest, eta.expected, eta.latest, eta.delivered) == (d("2026-12-01"),) * 3 + (True,)
    assert eta.basis == "event DELIVERED (delivered) at Berlin, 2026-12-01"


def test_basis_names_the_event_and_an_open_exception():
    exception = ev("silkrail", S.EXCEPTION, "2026-11-10", code="BORDER_DELAY", location="Khorgos")
    eta = revise_eta(BASIS, [PICKED, exception], at("2026-11-10"))
    assert eta.basis == ("event RECEIVED (picked_up) at Urumqi, 2026-11-04; open exception BORDER_DELAY "
                         "(exception) at Khorgos, 2026-11-10: latest + 2 business days")


@pytest.mark.parametrize("events", [
    [],
    [ev("silkrail", S.UNKNOWN, "2026-11-04")],
    [ev("bluewave", S.PICKED_UP, "2026-11-04"), ev("bluewave", S.IN_TRANSIT, "2026-11-05")],
], ids=["no-events", "unknown-status-ignored", "leg-status-of-a-partner-without-a-leg"])
def test_no_usable_event_is_the_plan_eta(events):
    assert revise_eta(BASIS, events, at("2026-11-06")) == plan_eta(BASIS, at("2026-11-06"))


def test_partner_with_two_legs_moves_to_its_next_leg():
    # roadlink does both legs (2/3/4 then 1/2/3 days). Picked up Mon 2, arrived Wed 4, picked up again Thu 5:
    # the second leg ends Fri 6/Sat 7/Sun 8, customs Mon 9/Tue 10/Thu 12, last mile Tue 10/Thu 12/Tue 17 Nov.
    legs = [EtaLeg(seq=0, partner="roadlink", mode=Mode.ROAD, origin="CN", destination="KZ",
                   days_min=2, days_expected=3, days_max=4),
            EtaLeg(seq=1, partner="roadlink", mode=Mode.ROAD, origin="KZ", destination="DE",
                   days_min=1, days_expected=2, days_max=3)]
    basis = BASIS.model_copy(update={"legs": legs})
    events = [ev("roadlink", S.PICKED_UP, "2026-11-02"), ev("roadlink", S.ARRIVED_AT_DESTINATION, "2026-11-04"),
              ev("roadlink", S.PICKED_UP, "2026-11-05")]
    eta = revise_eta(basis, events, at("2026-11-05"))
    assert (eta.earliest, eta.expected, eta.latest) == (d("2026-11-10"), d("2026-11-12"), d("2026-11-17"))


def test_out_of_order_and_repeated_events_give_the_same_eta():
    events = [*AT_HUB, ev("roadlink", S.CUSTOMS_HOLD, "2026-11-24"), ev("clearpath", S.CUSTOMS_CLEARED, "2026-11-27"),
              ev("parcelnow", S.AT_LOCAL_DEPOT, "2026-11-30"),
              ev("parcelnow", S.EXCEPTION, "2026-11-30T18:00:00+00:00")]
    in_order = revise_eta(BASIS, events, at("2026-11-30"))
    shuffled = events[:]
    random.Random(7).shuffle(shuffled)
    assert shuffled != events
    assert revise_eta(BASIS, list(reversed(events)), at("2026-11-30")) == in_order
    assert revise_eta(BASIS, shuffled + events[:3], at("2026-11-30")) == in_order
    assert (in_order.earliest, in_order.expected, in_order.latest) == (d("2026-11-30"), d("2026-12-01"),
                                                                        d("2026-12-04"))


def test_same_instant_events_follow_the_partner_sequence():
    # Arrival and pick-up reported with the same timestamp: the sequence says the leg started before it arrived.
    same = "2026-11-19T12:00:00+00:00"
    arrived = ev("silkrail", S.ARRIVED_AT_DESTINATION, same, sequence=2, event_id="z-arrived")
    picked = ev("silkrail", S.PICKED_UP, same, sequence=1, event_id="a-picked")
    forward = revise_eta(BASIS, [arrived, picked], at("2026-11-19"))
    assert forward == revise_eta(BASIS, [picked, arrived], at("2026-11-19"))
    assert forward.basis == "event ARRIVED_AT_DESTINATION (arrived_at_destination), 2026-11-19"


# ---- properties ------------------------------------------------------------------------------------------------

statuses = st.sampled_from([s for s in TrackingStatus])
partners = st.sampled_from(["carrier0", "carrier1", "carrier2", "parcelnow", "clearpath", "stranger"])


@settings(max_examples=200, deadline=None)
@given(legs=legs_strategy, parts=st.lists(allowances, min_size=4, max_size=4), weekend=weekends, start=starts,
       raw=st.lists(st.tuples(partners, statuses, st.integers(0, 60 * 24 * 40)), max_size=25),
       lag=st.integers(0, 60 * 24 * 10), seed=st.integers(0, 1000))
def test_revised_eta_is_ordered_not_in_the_past_and_order_free(legs, parts, weekend, start, raw, lag, seed):
    basis = random_basis(legs, parts, weekend)
    events = [CarrierEvent(event_id=f"e{i}", partner=partner, shipment_id="SHP-ETA-1", code=status.upper(),
                           status=status, occurred_at=start + timedelta(minutes=minutes))
              for i, (partner, status, minutes) in enumerate(raw)]
    as_of = start + timedelta(minutes=max((m for _, _, m in raw), default=0) + lag)
    eta = revise_eta(basis, events, as_of)
    assert eta.earliest <= eta.expected <= eta.latest
    if not eta.delivered:
        assert eta.earliest >= as_of.date()
    shuffled = events[:]
    random.Random(seed).shuffle(shuffled)
    assert revise_eta(basis, shuffled, as_of) == eta
