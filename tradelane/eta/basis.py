"""What an ETA is computed from: the plan's legs, business-day allowances and the calendars at both ends.

`eta_basis` runs once, in an activity (it reads rule tables and the `holidays` library); the `EtaBasis` it returns
is plain data the workflow keeps, so `plan_eta` and `revise_eta` stay pure and replay the same way forever.
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache

from pydantic import BaseModel, ConfigDict, Field, model_validator

from tradelane.decisions.models import LastMileOption, Leg, TransportPlan
from tradelane.enums import Mode
from tradelane.eta.calendars import BusinessCalendar, business_calendar
from tradelane.models import ShipmentRequest
from tradelane.rules import RuleBook, RuleDataError, RuleTable
from tradelane.rules.schemas.eta import EtaAllowanceRow, EtaStep, check_order

CALENDAR_BEFORE = timedelta(days=7)
CALENDAR_AFTER = timedelta(days=240)
"""Calendars cover ship date - 7 days .. ship date + 240 days: the longest ocean plan with delays fits."""

ANY_MODE = "*"


class BusinessDays(BaseModel):
    """An allowance in business days, with where it comes from."""

    model_config = ConfigDict(frozen=True)

    min: int
    expected: int
    max: int
    source: str = Field(min_length=3)

    @model_validator(mode="after")
    def _order(self) -> BusinessDays:
        check_order(self.min, self.expected, self.max, "business days")
        return self

    def pick(self, scenario: int) -> int:
        """0: min, 1: expected, 2: max."""
        return (self.min, self.expected, self.max)[scenario]


class EtaLeg(BaseModel):
    """One leg of the plan in calendar days."""

    model_config = ConfigDict(frozen=True)

    seq: int
    partner: str
    mode: Mode
    origin: str
    destination: str
    days_min: int
    days_expected: int
    """The rounded-up midpoint of the partner's range, plus the plan's risk days (on the main leg)."""
    days_max: int
    """The partner's maximum plus the plan's risk days (on the main leg)."""

    @model_validator(mode="after")
    def _order(self) -> EtaLeg:
        check_order(self.days_min, self.days_expected, self.days_max, f"leg {self.seq} days")
        return self

    def pick(self, scenario: int) -> int:
        """0: min, 1: expected, 2: max."""
        return (self.days_min, self.days_expected, self.days_max)[scenario]

    def describe(self) -> str:
        return f"{self.mode} {self.partner} {self.origin}-{self.destination}"


class EtaBasis(BaseModel):
    """Everything `plan_eta` and `revise_eta` need, as plain data kept in the workflow state."""

    model_config = ConfigDict(frozen=True)

    origin_country: str
    destination_country: str
    legs: list[EtaLeg] = Field(min_length=1)
    pickup: BusinessDays
    customs: BusinessDays
    customs_hold: BusinessDays
    last_mile: BusinessDays
    last_mile_partner: str | None = None
    calendars: dict[str, BusinessCalendar]
    """By country code: at least the origin's and the destination's."""

    @model_validator(mode="after")
    def _has_calendars(self) -> EtaBasis:
        for role, country in (("origin_country", self.origin_country),
                              ("destination_country", self.destination_country)):
            if country not in self.calendars:
                raise ValueError(f"calendars: no calendar for {role} {country}")
        return self

    @property
    def origin_calendar(self) -> BusinessCalendar:
        return self.calendars[self.origin_country]

    @property
    def destination_calendar(self) -> BusinessCalendar:
        return self.calendars[self.destination_country]


def eta_basis(plan: TransportPlan, last_mile: LastMileOption | None, request: ShipmentRequest,
              book: RuleBook) -> EtaBasis:
    """The basis of a shipment's ETA: call it once, in an activity, and keep the result in the workflow state.

    The plan's risk days (`extra_transit_days` of its risk hits) are added to the expected and maximum days of
    its main leg (the longest), where chokepoints, weather and strikes bite. Pick-up uses the first leg's mode;
    customs and customs holds use the main mode (the first non-road leg: road legs feed hubs).

    Args:
        plan: The plan being executed.
        last_mile: The chosen last-mile option; its `sla_days` give the last mile (min sla-1, expected sla,
            max sla+1 business days). None: the `last_mile` row of the allowance table.
        request: The shipment: countries, regions (the calendars' subdivisions) and the ship date, which picks
            the allowance rows in force and the calendars' range (ship date - 7 days .. + 240 days).
        book: Rule tables (`eta_allowances`).

    Raises:
        ValueError: The plan has no legs or a leg's transit days are not a range (names the leg).
        RuleDataError: No allowance row for a step on the ship date.
    """
    if not plan.legs:
        raise ValueError(f"plan.legs: plan {plan.plan_id} has no legs")
    on = request.ship_date
    table = book.table(EtaAllowanceRow)
    legs = sorted(plan.legs, key=lambda leg: leg.seq)
    main_mode = next((leg.mode for leg in legs if leg.mode is not Mode.ROAD), Mode.ROAD)
    origin, destination = request.origin, request.destination
    return EtaBasis(
        origin_country=origin.country,
        destination_country=destination.country,
        legs=_eta_legs(plan, legs),
        pickup=_allowance(table, EtaStep.PICKUP, legs[0].mode, on),
        customs=_allowance(table, EtaStep.CUSTOMS, main_mode, on),
        customs_hold=_allowance(table, EtaStep.CUSTOMS_HOLD, main_mode, on),
        last_mile=_last_mile_days(last_mile, table, on),
        last_mile_partner=last_mile.partner if last_mile else None,
        calendars=_calendars(request),
    )


def _eta_legs(plan: TransportPlan, legs: list[Leg]) -> list[EtaLeg]:
    """The legs in calendar days, the plan's risk days added to the main leg's expected and maximum days."""
    main = plan.main_leg
    risk_days = sum(hit.extra_transit_days for hit in plan.risk.hits)
    eta_legs = []
    for index, leg in enumerate(legs):
        if not 0 <= leg.transit_days_min <= leg.transit_days_max:
            raise ValueError(f"plan.legs[{index}]: transit days {leg.transit_days_min}-{leg.transit_days_max} "
                             f"are not a range")
        extra = risk_days if leg is main else 0
        eta_legs.append(EtaLeg(
            seq=leg.seq, partner=leg.partner, mode=leg.mode, origin=leg.origin, destination=leg.destination,
            days_min=leg.transit_days_min,
            days_expected=(leg.transit_days_min + leg.transit_days_max + 1) // 2 + extra,
            days_max=leg.transit_days_max + extra,
        ))
    return eta_legs


def _last_mile_days(last_mile: LastMileOption | None, table: RuleTable[EtaAllowanceRow], on: date) -> BusinessDays:
    """The chosen option's SLA (min sla-1, expected sla, max sla+1), else the table's `last_mile` row."""
    if last_mile is None:
        return _allowance(table, EtaStep.LAST_MILE, None, on)
    sla = last_mile.sla_days
    return BusinessDays(
        min=max(sla - 1, 0), expected=sla, max=sla + 1,
        source=f"last-mile SLA {sla} days of {last_mile.partner} {last_mile.method}: {last_mile.source}")


def _calendars(request: ShipmentRequest) -> dict[str, BusinessCalendar]:
    """The origin's and the destination's calendars, ship date - 7 days .. + 240 days."""
    on = request.ship_date
    first, last = on - CALENDAR_BEFORE, on + CALENDAR_AFTER
    origin, destination = request.origin, request.destination
    calendars = {origin.country: _calendar(origin.country, origin.region, first, last)}
    # The destination's calendar wins for a domestic shipment: delivery is what the customer waits for.
    calendars[destination.country] = _calendar(destination.country, destination.region, first, last)
    return calendars


@lru_cache(maxsize=1024)
def _calendar(country: str, region: str | None, first: date, last: date) -> BusinessCalendar:
    """`business_calendar`, built once per country, region and range in a worker: the shipments of a day on a
    lane share it (building one from the `holidays` library cost about 0.5-1 ms, more than the rest of the
    decision layer). Calendars are frozen models that no user changes."""
    return business_calendar(country, region, first, last)


def _allowance(table: RuleTable[EtaAllowanceRow], step: EtaStep, mode: Mode | None, on: date) -> BusinessDays:
    """The row for `mode` in force on `on`, else the `*` row."""
    rows = table.where(on, step=step)
    row = next((r for r in rows if mode is not None and r.mode == mode), None) or next(
        (r for r in rows if r.mode == ANY_MODE), None)
    if row is None:
        modes = f"mode {mode} or '{ANY_MODE}'" if mode is not None else f"mode '{ANY_MODE}'"
        raise RuleDataError(f"{table.name}: no row for step {step}, {modes}, in force on {on}")
    return BusinessDays(min=row.min, expected=row.expected, max=row.max,
                        source=f"eta_allowances {row.step} {row.mode}: {row.cite()}")
