"""The ETA tests' shared cases: a hand-built basis (rail CN-PL, road PL-DE), tracking events, example plans and
hypothesis strategies for random bases."""

from datetime import UTC, date, datetime
from decimal import Decimal

from hypothesis import strategies as st

from tradelane.decisions.models import (
    LastMileOption,
    Leg,
    LegEmission,
    Money,
    RiskAssessment,
    RiskHit,
    TransportPlan,
)
from tradelane.enums import DeliveryMethod, Mode, TrackingStatus
from tradelane.eta import BusinessCalendar, BusinessDays, EtaBasis, EtaLeg
from tradelane.rules import RuleBook
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



# ---- plans built from the planner's models -----------------------------------------------------------------


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


AIR = [(Mode.AIR_EXPRESS, "ups", "CN", "DE", 3, 5, 8800.0)]
PARCELNOW_HOME = LastMileOption(partner="parcelnow", method=DeliveryMethod.HOME,
                                cost=Money(amount=Decimal("6.90"), currency="EUR"), sla_days=2,
                                source="Tradelane sample last-mile rate card (illustrative) [sample]")



# ---- random bases ----------------------------------------------------------------------------------------------

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
