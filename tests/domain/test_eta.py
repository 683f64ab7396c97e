"""ETA: business calendars from the holidays library, the allowance table, the plan ETA and its revisions."""

import random
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.domain.test_marking import build
from tradelane.decisions.planner import HUB_HANDLING_DAYS
from tradelane.decisions.models import (
    Leg,
    LegEmission,
    LastMileOption,
    Money,
    RiskAssessment,
    RiskHit,
    TransportPlan,
)
from tradelane.enums import DeliveryMethod, Mode, TrackingStatus
from tradelane.eta import (
    BusinessCalendar,
    BusinessDays,
    Eta,
    EtaBasis,
    EtaLeg,
    business_calendar,
    eta_basis,
    plan_eta,
    revise_eta,
)
from tradelane.rules import DATA_DIR, RuleBook, RuleDataError, RuleStatus
from tradelane.rules.schemas.eta import EtaAllowanceRow, EtaStep
from tradelane.shipment.events import CarrierEvent

BOOK = RuleBook()
S = TrackingStatus


def d(text: str) -> date:
    return date.fromisoformat(text)


def at(text: str) -> datetime:
    """`2026-11-04` (noon UTC) or a full ISO datetime."""
    return datetime.fromisoformat(text if "T" in text else f"{text}T12:00:00+00:00")


# ---- hand-built basis: rail CN-PL 14/16/18 days, road PL-DE 1/2/3 days, Sat-Sun weekends ----------------------

DE_HOLIDAYS = {d("2026-12-25"): "Christmas Day", d("2026-12-26"): "Second Day of Christmas",
               d("2027-01-01"): "New Year's Day"}


def calendar(country: str, holidays: dict[date, str] | None = None, weekend: list[int] | None = None
             ) -> BusinessCalendar:
    return BusinessCalendar(country=country, subdivision=None, weekend=weekend or [5, 6], holidays=holidays or {},
                            first_day=d("2026-10-01"), last_day=d("2027-06-30"), source="hand-built test calendar")


def days(low: int, mid: int, high: int) -> BusinessDays:
    return BusinessDays(min=low, expected=mid, max=high, source="test allowance")


BASIS = EtaBasis(
    origin_country="CN",
    destination_country="DE",
    legs=[
        EtaLeg(seq=0, partner="silkrail", mode=Mode.RAIL, origin="CN", destination="PL",
               days_min=14, days_expected=16, days_max=18),
        EtaLeg(seq=1, partner="roadlink", mode=Mode.ROAD, origin="PL", destination="DE",
               days_min=1, days_expected=2, days_max=3),
    ],
    pickup=days(1, 2, 4),
    customs=days(1, 2, 4),
    customs_hold=days(2, 4, 10),
    last_mile=days(1, 2, 3),
    last_mile_partner="parcelnow",
    calendars={"CN": calendar("CN"), "DE": calendar("DE", DE_HOLIDAYS)},
)


def ev(partner: str, status: TrackingStatus, when: str, code: str | None = None, location: str = "",
       sequence: int | None = None, event_id: str | None = None) -> CarrierEvent:
    moment = at(when)
    return CarrierEvent(event_id=event_id or f"{partner}-{status}-{moment.isoformat()}", partner=partner,
                        shipment_id="SHP-ETA-1", code=code or status.upper(), status=status, location=location,
                        occurred_at=moment, sequence=sequence)


PICKED = ev("silkrail", S.PICKED_UP, "2026-11-04T10:00:00+00:00", code="RECEIVED", location="Urumqi")
ARRIVED_PL = ev("silkrail", S.ARRIVED_AT_DESTINATION, "2026-11-19", code="READY_FOR_HANDOVER")
COLLECTED = ev("roadlink", S.PICKED_UP, "2026-11-20", code="COLLECTED")
ARRIVED_DE = ev("roadlink", S.ARRIVED_AT_DESTINATION, "2026-11-23", code="ARRIVED_HUB", location="Berlin")
AT_HUB = [PICKED, ARRIVED_PL, COLLECTED, ARRIVED_DE]


# ---- the plan ETA ----------------------------------------------------------------------------------------------


def test_plan_eta_by_hand():
    # Start Mon 2 Nov. Pick-up +1/+2/+4 business days: Tue 3, Wed 4, Fri 6 Nov. Rail +14/16/18 days: 17, 20, 24.
    # Hub day +1: 18, 21, 25. Road +1/2/3: Thu 19, Mon 23, Sat 28. Customs +1/2/4 business days: Fri 20,
    # Wed 25, Thu 3 Dec. Last mile +1/2/3: Mon 23 Nov, Fri 27 Nov, Tue 8 Dec (latest as without the hub day:
    # road then ended Fri 27 and customs +4 reached Thu 3 Dec just the same over the weekend).
    eta = plan_eta(BASIS, at("2026-11-02T09:00:00+00:00"))
    assert (eta.earliest, eta.expected, eta.latest) == (d("2026-11-23"), d("2026-11-27"), d("2026-12-08"))
    assert eta.basis == "plan rail silkrail CN-PL, road roadlink PL-DE, last mile parcelnow"
    assert eta.as_of == at("2026-11-02T09:00:00+00:00") and not eta.delivered


def test_plan_eta_counts_the_utc_date():
    # 23:30 in New York on Sun 1 Nov is Mon 2 Nov in UTC: the same ETA as a Monday start.
    local = datetime(2026, 11, 1, 23, 30, tzinfo=timezone(timedelta(hours=-5)))
    eta = plan_eta(BASIS, local)
    assert (eta.earliest, eta.expected, eta.latest) == (d("2026-11-23"), d("2026-11-27"), d("2026-12-08"))


def seven_day_calendar(country: str) -> BusinessCalendar:
    """Every day a business day: customs and the last mile count calendar days, so no weekend hides a day."""
    return BusinessCalendar(country=country, subdivision=None, weekend=[], holidays={}, first_day=d("2026-10-01"),
                            last_day=d("2027-06-30"), source="hand-built seven-day calendar")


def one_leg(low: int, mid: int, high: int) -> list[EtaLeg]:
    return [EtaLeg(seq=0, partner="silkrail", mode=Mode.RAIL, origin="CN", destination="DE",
                   days_min=low, days_expected=mid, days_max=high)]


@pytest.mark.parametrize(("legs", "start", "dates"), [
    # Rail 14/16/18 + road 1/2/3 (BASIS), start Mon 2 Nov, no weekends. Pick-up +1/2/4: 3, 4, 6 Nov. Rail: 17, 20,
    # 24. Hub day +1: 18, 21, 25. Road: 19, 23, 28. Customs +1/2/4: 20, 25 Nov, 2 Dec. Last mile +1/2/3: 21, 27 Nov,
    # 5 Dec. The leg days alone (15/18/21 as one leg) would give 20, 26 Nov, 4 Dec: one day earlier each.
    (BASIS.legs, "2026-11-02", ("2026-11-21", "2026-11-27", "2026-12-05")),
], ids=["hub-handling-day-between-legs"])
def test_plan_eta_counts_the_hub_handling_day(legs, start, dates):
    seven_days = {"CN": seven_day_calendar("CN"), "DE": seven_day_calendar("DE")}
    basis = BASIS.model_copy(update={"legs": legs, "calendars": seven_days})
    eta = plan_eta(basis, at(start))
    assert (eta.earliest, eta.expected, eta.latest) == tuple(d(day) for day in dates)
    summed = [sum(leg.pick(k) for leg in legs) for k in (0, 1, 2)]
    without_hub = plan_eta(basis.model_copy(update={"legs": one_leg(*summed)}), at(start))
    assert [(eta.earliest - without_hub.earliest).days, (eta.expected - without_hub.expected).days,
            (eta.latest - without_hub.latest).days] == [HUB_HANDLING_DAYS] * 3 == [1] * 3
    # The planner's transit days (leg days + one hub day per change of leg) as one leg give the same dates.
    planner_days = [total + (len(legs) - 1) * HUB_HANDLING_DAYS for total in summed]
    as_planned = plan_eta(basis.model_copy(update={"legs": one_leg(*planner_days)}), at(start))
    assert (as_planned.earliest, as_planned.expected, as_planned.latest) == (eta.earliest, eta.expected, eta.latest)


def example_plan(legs: list[tuple[Mode, str, str, str, int, int, float]], risk_days: int = 0) -> TransportPlan:
    built = [
        Leg(seq=seq, mode=mode, partner=partner, origin=origin, destination=destination,
            chargeable_weight_kg=2.1, cost=Money(amount=Decimal("40.00"), currency="EUR"), cost_source="quote q-1",
            transit_days_min=low, transit_days_max=high,
            emission=LegEmission(mode=mode, distance_km=km, distance_basis="great-circle (test)", mass_t=0.002,
                                 factor_g_per_tkm=100.0, co2e_kg=1.0, factor_source="test"))
        for seq, (mode, partner, origin, destination, low, high, km) in enumerate(legs)
    ]
    hits = [RiskHit(risk_id="test-congestion", category="congestion", description="port congestion", score=0.2,
                    extra_transit_days=risk_days, source="test register")] if risk_days else []
    return TransportPlan(plan_id="test-plan", legs=built, cost=Money(amount=Decimal("40.00"), currency="EUR"),
                         transit_days_min=sum(leg.transit_days_min for leg in built) + risk_days,
                         transit_days_max=sum(leg.transit_days_max for leg in built) + risk_days,
                         co2e_kg=1.0, risk=RiskAssessment(score=0.2 if hits else 0.0, hits=hits))


AIR = [(Mode.AIR_EXPRESS, "skyexpress", "CN", "DE", 3, 5, 8800.0)]
PARCELNOW_HOME = LastMileOption(partner="parcelnow", method=DeliveryMethod.HOME,
                                cost=Money(amount=Decimal("6.90"), currency="EUR"), sla_days=2,
                                source="Tradelane sample last-mile rate card (illustrative) [sample]")


def test_plan_eta_on_the_basic_example():
    request = build("basic-cn-de.json")
    basis = eta_basis(example_plan(AIR, risk_days=2), PARCELNOW_HOME, request, BOOK)
    assert basis.legs[0].model_dump(include={"days_min", "days_expected", "days_max"}) == {
        "days_min": 3, "days_expected": 6, "days_max": 7}  # ceil(4) + 2 risk days; 5 + 2
    assert (basis.pickup.min, basis.pickup.expected, basis.pickup.max) == (0, 1, 2)  # air_express row
    assert (basis.last_mile.min, basis.last_mile.expected, basis.last_mile.max) == (1, 2, 3)  # SLA 2 -> 1/2/3
    assert basis.last_mile_partner == "parcelnow"
    # Tue 1 Dec 2026. Pick-up +0/1/2 (CN): 1, 2, 3 Dec. Air +3/6/7 days: Fri 4, Tue 8, Thu 10 Dec.
    # Customs +0/1/2 (DE): Fri 4, Wed 9, Mon 14. Last mile +1/2/3: Mon 7, Fri 11, Thu 17 Dec.
    eta = plan_eta(basis, datetime.combine(request.ship_date, datetime.min.time(), UTC))
    assert (eta.earliest, eta.expected, eta.latest) == (d("2026-12-07"), d("2026-12-11"), d("2026-12-17"))
    assert eta.basis == "plan air_express skyexpress CN-DE, last mile parcelnow"


def test_eta_basis_of_a_multimodal_plan_uses_the_table():
    plan = example_plan([(Mode.RAIL, "silkrail", "CN", "PL", 16, 20, 9500.0),
                         (Mode.ROAD, "roadlink", "PL", "DE", 1, 3, 570.0)], risk_days=3)
    basis = eta_basis(plan, None, build("basic-cn-de.json"), BOOK)
    assert [(leg.partner, leg.days_min, leg.days_expected, leg.days_max) for leg in basis.legs] == [
        ("silkrail", 16, 21, 23), ("roadlink", 1, 2, 3)]  # risk days on the main (longest) leg only
    picked = {name: (part.min, part.expected, part.max) for name, part in
              (("pickup", basis.pickup), ("customs", basis.customs), ("customs_hold", basis.customs_hold),
               ("last_mile", basis.last_mile))}
    assert picked == {"pickup": (1, 2, 4), "customs": (1, 2, 4), "customs_hold": (2, 4, 10), "last_mile": (1, 2, 4)}
    assert basis.customs.source == "eta_allowances customs *: Tradelane planning allowance (default) [general]"
    assert basis.last_mile_partner is None
    assert sorted(basis.calendars) == ["CN", "DE"]
    assert (basis.destination_calendar.first_day, basis.destination_calendar.last_day) == (
        d("2026-11-24"), d("2027-07-29"))  # ship date 1 Dec 2026 - 7 days .. + 240 days


def test_a_plan_without_legs_is_refused():
    plan = example_plan(AIR).model_copy(update={"legs": []})
    with pytest.raises(ValueError, match="plan.legs: plan test-plan has no legs"):
        eta_basis(plan, None, build("basic-cn-de.json"), BOOK)


# ---- holidays and weekends from the library --------------------------------------------------------------------


def test_delivery_due_on_christmas_moves_to_monday():
    # Start Thu 17 Dec: pick-up Fri 18, air +4 days Tue 22, customs +1 Wed 23, last mile +2 business days:
    # Thu 24, then Fri 25 and Sat 26 are holidays, Sun 27 a weekend: Mon 28 Dec.
    basis = eta_basis(example_plan(AIR), PARCELNOW_HOME, build("basic-cn-de.json"), BOOK)
    assert basis.destination_calendar.holidays[d("2026-12-25")] == "Christmas Day"
    start = at("2026-12-17T08:00:00+00:00")
    assert plan_eta(basis, start).expected == d("2026-12-28")
    no_holidays = basis.destination_calendar.model_copy(update={"holidays": {}})
    without = basis.model_copy(update={"calendars": {**basis.calendars, "DE": no_holidays}})
    assert plan_eta(without, start).expected == d("2026-12-25")


@pytest.mark.parametrize(("country", "subdivision", "day", "n", "expected"), [
    ("DE", None, "2026-12-25", 0, "2026-12-28"),
    ("DE", None, "2026-12-24", 1, "2026-12-28"),
    ("US", None, "2026-11-26", 0, "2026-11-27"),
    ("US", None, "2026-11-25", 1, "2026-11-27"),
    ("CA", "QC", "2026-06-24", 0, "2026-06-25"),
    ("CA", None, "2026-06-24", 0, "2026-06-24"),
    ("CA", "CA-QC", "2026-06-23", 1, "2026-06-25"),
    ("DE", "BY", "2026-06-04", 0, "2026-06-05"),
    ("DE", "Bayern", "2026-06-03", 1, "2026-06-05"),
    ("DE", None, "2026-06-04", 0, "2026-06-04"),
    ("DE", "Atlantis", "2026-06-04", 0, "2026-06-04"),
    ("SA", None, "2026-11-06", 0, "2026-11-08"),
    ("SA", None, "2026-11-05", 1, "2026-11-08"),
    ("AE", None, "2026-11-07", 0, "2026-11-09"),
    ("CN", None, "2026-02-14", 0, "2026-02-14"),
    ("CN", None, "2026-02-13", 1, "2026-02-14"),
    ("CN", None, "2026-02-15", 0, "2026-02-24"),
    ("ZZ", None, "2026-12-25", 0, "2026-12-25"),
], ids=["de-christmas-friday-to-monday", "de-christmas-eve-plus-one", "us-thanksgiving", "us-day-before-thanksgiving",
        "ca-qc-saint-jean-baptiste", "ca-national-ignores-qc-holiday", "ca-qc-prefixed-code",
        "de-by-corpus-christi", "de-bayern-by-name", "de-national-ignores-corpus-christi",
        "unknown-subdivision-national-only", "sa-friday-is-weekend", "sa-thursday-plus-one-is-sunday",
        "ae-saturday-is-weekend-since-2022", "cn-make-up-working-saturday", "cn-friday-plus-one-is-make-up-saturday",
        "cn-spring-festival", "unsupported-country-weekends-only"])
def test_business_days_from_the_library(country, subdivision, day, n, expected):
    cal = business_calendar(country, subdivision, d("2026-01-01"), d("2026-12-31"))
    assert cal.add_business_days(d(day), n) == d(expected)


@pytest.mark.parametrize(("country", "first_day", "weekend", "source"), [
    ("SA", "2026-01-01", [4, 5], "(SA, weekend Fri-Sat)"),
    ("AE", "2026-01-01", [5, 6], "(AE, weekend Sat-Sun)"),
    ("AE", "2021-01-01", [4, 5], "(AE, weekend Fri-Sat)"),
    ("DE", "2026-01-01", [5, 6], "(DE, weekend Sat-Sun)"),
    ("ZZ", "2026-01-01", [5, 6], ": ZZ is not supported; weekends only (Sat, Sun), no public holidays"),
], ids=["saudi-friday-saturday", "uae-saturday-sunday-since-2022", "uae-friday-saturday-before-2022",
        "germany-saturday-sunday", "unsupported-country-says-so"])
def test_weekend_comes_from_the_library(country, first_day, weekend, source):
    import holidays

    cal = business_calendar(country, None, d(first_day), d(first_day) + timedelta(days=200))
    assert cal.weekend == weekend
    assert cal.source == f"python-holidays {holidays.__version__}{' ' if source.startswith('(') else ''}{source}"


def test_subdivision_holidays_only_with_the_subdivision():
    us_thanksgiving = business_calendar("US", None, d("2026-11-01"), d("2026-11-30"))
    assert us_thanksgiving.holidays == {d("2026-11-11"): "Veterans Day", d("2026-11-26"): "Thanksgiving Day"}
    qc = business_calendar("CA", "qc", d("2026-06-01"), d("2026-06-30"))
    national = business_calendar("CA", None, d("2026-06-01"), d("2026-06-30"))
    assert (qc.subdivision, qc.holidays) == ("QC", {d("2026-06-24"): "Saint John the Baptist Day"})
    assert national.holidays == {}
    unknown = business_calendar("CA", "Nowhere", d("2026-06-01"), d("2026-06-30"))
    assert unknown.subdivision is None
    assert unknown.source.endswith("subdivision 'Nowhere' not known, national holidays only")


@pytest.mark.parametrize(("region", "corpus_christi_2027"), [("BY", True), (None, False), ("Berlin", False)],
                         ids=["bavaria-keeps-corpus-christi", "no-region-national-only", "berlin-has-none"])
def test_eta_basis_takes_the_destination_region(region, corpus_christi_2027):
    request = build("basic-cn-de.json", {"destination.region": region})
    basis = eta_basis(example_plan(AIR), PARCELNOW_HOME, request, BOOK)
    assert (d("2027-05-27") in basis.destination_calendar.holidays) is corpus_christi_2027
    assert basis.destination_calendar.is_business_day(d("2027-05-27")) is not corpus_christi_2027


def test_basis_and_eta_survive_a_json_round_trip():
    # Both live in the workflow state, which the data converter stores as JSON.
    basis = eta_basis(example_plan(AIR), PARCELNOW_HOME, build("basic-cn-de.json", {"destination.region": "BY"}),
                      BOOK)
    again = EtaBasis.model_validate_json(basis.model_dump_json())
    assert again == basis and again.destination_calendar.holidays[d("2027-01-06")] == "Epiphany"
    eta = revise_eta(again, AT_HUB, at("2026-11-23"))
    assert Eta.model_validate_json(eta.model_dump_json()) == eta


@pytest.mark.parametrize(("fields", "message"), [
    ({"weekend": [0, 1, 2, 3, 4, 5, 6]}, "no business day left"),
    ({"weekend": [7]}, r"\[7\] are not weekday numbers"),
    ({"first_day": d("2027-01-01"), "last_day": d("2026-01-01")}, "last_day 2026-01-01 is before first_day"),
], ids=["whole-week-weekend", "weekday-out-of-range", "range-backwards"])
def test_bad_calendars_are_refused(fields, message):
    values = {"country": "DE", "weekend": [5, 6], "first_day": d("2026-01-01"), "last_day": d("2026-12-31"),
              "source": "test", **fields}
    with pytest.raises(ValueError, match=message):
        BusinessCalendar(**values)


def test_negative_business_days_are_refused():
    with pytest.raises(ValueError, match="n: -1 is negative"):
        calendar("DE").add_business_days(d("2026-11-02"), -1)


# ---- revisions from tracking events ----------------------------------------------------------------------------

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


# ---- the allowance table ---------------------------------------------------------------------------------------


def test_every_allowance_row_has_a_source_and_every_step_a_default():
    table = BOOK.table(EtaAllowanceRow)
    assert len(table) == 7
    assert all(row.source == "Tradelane planning allowance (default)" and row.status is RuleStatus.GENERAL
               and row.valid_from == d("2020-01-01") and row.min <= row.expected <= row.max for row in table)
    assert {row.step for row in table if row.mode == "*"} == set(EtaStep)
    customs = {row.mode: (row.min, row.expected, row.max) for row in table if row.step is EtaStep.CUSTOMS}
    assert customs == {Mode.AIR_EXPRESS: (0, 1, 2), "*": (1, 2, 4)}
    raw = yaml.safe_load((DATA_DIR / "eta_allowances.yaml").read_text())
    assert raw["defaults"]["source"] == "Tradelane planning allowance (default)"


def _book(directory: Path, rows: list[dict[str, Any]]) -> RuleBook:
    defaults = {"source": "test allowance", "status": "general", "valid_from": "2020-01-01"}
    document = {"table": "eta_allowances", "defaults": defaults, "rules": rows}
    (directory / "eta_allowances.yaml").write_text(yaml.safe_dump(document))
    return RuleBook(directory)


@pytest.mark.parametrize(("rows", "message"), [
    ([{"step": "customs", "mode": "*", "min": 3, "expected": 2, "max": 4}],
     "customs \\*: expected 0 <= min <= expected <= max, got 3/2/4"),
    ([{"step": "customs", "mode": "*", "min": 1, "expected": 2, "max": 4},
      {"step": "customs", "mode": "*", "min": 1, "expected": 2, "max": 5, "valid_from": "2025-01-01"}],
     "overlap"),
    ([{"step": "pickup", "mode": "*", "min": 1, "expected": 2, "max": 4}],
     "eta_allowances: no row for step customs, mode air_express or '\\*', in force on 2026-12-01"),
    ([{"step": "customs", "mode": "teleport", "min": 1, "expected": 2, "max": 4}], "rules.0.mode"),
], ids=["min-above-expected", "overlapping-rows", "missing-step", "unknown-mode"])
def test_bad_allowance_tables_are_refused(tmp_path, rows, message):
    with pytest.raises(RuleDataError, match=message):
        eta_basis(example_plan(AIR), PARCELNOW_HOME, build("basic-cn-de.json"), _book(tmp_path, rows))


def test_a_mode_row_wins_over_the_default_until_it_expires(tmp_path):
    rows = [{"step": str(step), "mode": "*", "min": 1, "expected": 2, "max": 4} for step in EtaStep]
    rows.append({"step": "customs", "mode": "air_express", "min": 0, "expected": 0, "max": 1,
                 "valid_to": "2026-12-01"})
    book = _book(tmp_path, rows)
    request = build("basic-cn-de.json")
    before = eta_basis(example_plan(AIR), None, build("basic-cn-de.json", {"ship_date": "2026-11-30"}), book)
    after = eta_basis(example_plan(AIR), None, request, book)
    assert (before.customs.max, after.customs.max) == (1, 4)


# ---- properties ------------------------------------------------------------------------------------------------

allowances = st.tuples(st.integers(0, 6), st.integers(0, 6), st.integers(0, 6)).map(
    lambda t: days(*sorted(t)))
legs_strategy = st.lists(
    st.tuples(st.integers(0, 40), st.integers(0, 20), st.integers(0, 5)), min_size=1, max_size=3,
).map(lambda specs: [EtaLeg(seq=i, partner=f"carrier{i}", mode=Mode.ROAD, origin="CN", destination="DE",
                            days_min=low, days_expected=low + (spread + 1) // 2 + extra,
                            days_max=low + spread + extra)
                     for i, (low, spread, extra) in enumerate(specs)])
weekends = st.sampled_from([[5, 6], [4, 5], [4], [6]])
starts = st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC))


def random_basis(legs: list[EtaLeg], parts: list[BusinessDays], weekend: list[int]) -> EtaBasis:
    return BASIS.model_copy(update={
        "legs": legs, "pickup": parts[0], "customs": parts[1], "customs_hold": parts[2], "last_mile": parts[3],
        "calendars": {"CN": calendar("CN"), "DE": calendar("DE", DE_HOLIDAYS, weekend)}})


@settings(max_examples=200, deadline=None)
@given(legs=legs_strategy, parts=st.lists(allowances, min_size=4, max_size=4), weekend=weekends, start=starts)
def test_plan_eta_is_ordered_and_on_business_days(legs, parts, weekend, start):
    basis = random_basis(legs, parts, weekend)
    eta = plan_eta(basis, start)
    assert eta.earliest <= eta.expected <= eta.latest
    assert eta.earliest >= start.date()
    for day in (eta.earliest, eta.expected, eta.latest):
        assert basis.destination_calendar.is_business_day(day)


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
