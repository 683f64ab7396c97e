"""The ETA itself: from the plan before anything moves, then revised on every tracking event.

Both functions are pure (no clock, no I/O, no library look-ups): they run inside the workflow on every event.
Dates are the UTC dates of the datetimes given (a naive datetime is read as UTC). Three scenarios run side by
side: `earliest` takes every minimum, `expected` every expected value and `latest` every maximum, so
earliest <= expected <= latest always holds.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, model_validator

from tradelane.decisions.planner import HUB_HANDLING_DAYS
from tradelane.enums import TrackingStatus
from tradelane.eta.basis import EtaBasis
from tradelane.eta.calendars import ONE_DAY, utc_date
from tradelane.eta.progress import HANDED_TO_LAST_MILE, Progress, scan
from tradelane.shipment.events import CarrierEvent

SCENARIOS = (0, 1, 2)
"""Indexes of min, expected and max in every allowance: earliest, expected and latest."""

EXCEPTION_LATEST_DAYS = 2
"""Destination business days an open partner exception adds to `latest`."""


class Eta(BaseModel):
    """When the shipment should arrive, as destination dates, and what the estimate rests on."""

    model_config = ConfigDict(frozen=True)

    expected: date
    earliest: date
    latest: date
    basis: str
    """`plan <legs>`, or `event <code> (<status>) at <location>, <date>` for the event the estimate rests on."""
    as_of: datetime
    delivered: bool = False

    @model_validator(mode="after")
    def _ordered(self) -> Eta:
        if not self.earliest <= self.expected <= self.latest:
            raise ValueError(f"earliest {self.earliest}, expected {self.expected}, latest {self.latest} are not "
                             f"in order")
        return self


def plan_eta(basis: EtaBasis, start: datetime) -> Eta:
    """The ETA from the plan alone, starting at `start` (the UTC date counts).

    Timeline: pick-up `pickup` origin business days after the start, the legs in calendar days with
    `HUB_HANDLING_DAYS` at the hub before every leg after the first (as the planner counts them), customs in
    destination business days after the last leg arrives, then the last mile in destination business days.
    Delivery always falls on a destination business day.

    Args:
        basis: From `eta_basis`.
        start: When the shipment starts (booking, or the ship date).
    """
    today = utc_date(start)
    dates = [_delivery(basis, Progress.empty(len(basis.legs)), today, k) for k in SCENARIOS]
    legs = ", ".join(leg.describe() for leg in basis.legs)
    last_mile = f", last mile {basis.last_mile_partner}" if basis.last_mile_partner else ""
    return Eta(earliest=dates[0], expected=dates[1], latest=dates[2], basis=f"plan {legs}{last_mile}",
               as_of=start)


def revise_eta(basis: EtaBasis, events: Iterable[CarrierEvent], as_of: datetime) -> Eta:
    """The ETA from the furthest progress the tracking events show, as of `as_of` (UTC dates count).

    Events are taken in (occurred_at, sequence, received_seq, event_id) order, so their list order does not
    matter; UNKNOWN statuses and repeated event ids are ignored. An event of a leg's partner belongs to that
    partner's first leg not yet arrived; status tells customs and last-mile events apart, whoever sends them; leg
    statuses (picked up, in transit, arrived) of `basis.last_mile_partner` mean the last mile has the goods.

    From the furthest progress:

    - leg started (first event of its partner): it ends `days` after that, but not before today; an overdue leg
      (more than `days_max` since its start) ends no earlier than the day after its latest event. Later legs,
      customs and the last mile follow as planned.
    - leg arrived: the next leg starts `HUB_HANDLING_DAYS` later (the goods change hands at the hub); customs,
      after the last leg, starts that day.
    - customs cleared: customs is done that day (the last mile starts when the last leg has also arrived); customs
      hold: customs restarts `customs_hold` business days after the hold. A customs event without any leg event
      means the goods are at customs.
    - at the local depot: delivery 0 / 1 / 2 business days later; out for delivery: that day, latest the next
      business day; delivery failed: the next business day, latest the one after; delivered: that day, final.
    - a partner exception not followed by another event: `latest` moves 2 business days later.

    Until delivered no date is before today (the later of `as_of` and the latest event): a passed date moves to
    today's next business day at the destination. No usable event: `plan_eta(basis, as_of)`.

    Args:
        basis: From `eta_basis`.
        events: The shipment's tracking events, any order.
        as_of: Now (`workflow.now()`).
    """
    progress = scan(basis, events)
    if not progress.usable:
        return plan_eta(basis, as_of)
    if progress.delivered is not None:
        day = progress.delivered
        return Eta(earliest=day, expected=day, latest=day, basis=_describe(progress), as_of=as_of, delivered=True)
    today = max(utc_date(as_of), progress.latest_day or date.min)
    calendar = basis.destination_calendar
    floor = calendar.next_business_day(today)
    earliest, expected, latest = (floor if day < today else day
                                  for day in (_delivery(basis, progress, today, k) for k in SCENARIOS))
    if progress.exception is not None:
        latest = calendar.add_business_days(latest, EXCEPTION_LATEST_DAYS)
    return Eta(earliest=earliest, expected=expected, latest=latest, basis=_describe(progress), as_of=as_of)


def _delivery(basis: EtaBasis, progress: Progress, today: date, k: int) -> date:
    """Delivery date in scenario `k` (0 earliest, 1 expected, 2 latest)."""
    calendar = basis.destination_calendar
    if progress.last_mile is not None:
        status, day = progress.last_mile
        if status is TrackingStatus.AT_LOCAL_DEPOT:
            return calendar.add_business_days(day, k)  # 0 / 1 / 2 business days from the depot
        if status is TrackingStatus.OUT_FOR_DELIVERY:
            return day if k < 2 else calendar.add_business_days(day, 1)
        if status is TrackingStatus.DELIVERY_FAILED:
            return calendar.add_business_days(day, 1 if k < 2 else 2)
        assert status is HANDED_TO_LAST_MILE
        return calendar.add_business_days(day, basis.last_mile.pick(k))
    arrived = _legs_end(basis, progress, today, k)
    if progress.customs is None:
        cleared = calendar.add_business_days(arrived, basis.customs.pick(k))
    else:
        status, day = progress.customs
        if status is TrackingStatus.CUSTOMS_CLEARED:
            cleared = max(arrived, day)
        else:
            released = calendar.add_business_days(day, basis.customs_hold.pick(k))
            cleared = calendar.add_business_days(max(arrived, released), basis.customs.pick(k))
    return calendar.add_business_days(cleared, basis.last_mile.pick(k))


def _legs_end(basis: EtaBasis, progress: Progress, today: date, k: int) -> date:
    """When the last leg arrives in scenario `k`: from the furthest leg with events, or from pick-up.

    Every leg still to come after the first starts `HUB_HANDLING_DAYS` after the leg before it ends, whether that
    end is planned or reported (arrived); a leg with its own events already started, so it gets no hub day.
    """
    furthest = progress.furthest_leg
    if furthest is None:
        if progress.customs is not None:
            return progress.customs[1]  # customs has the goods, though no carrier reported them
        end = basis.origin_calendar.add_business_days(today, basis.pickup.pick(k))
        following = basis.legs
    else:
        leg, seen = basis.legs[furthest], progress.legs[furthest]
        if seen.arrived is not None:
            end = seen.arrived
        else:
            assert seen.first is not None and seen.last is not None
            end = max(seen.first + leg.pick(k) * ONE_DAY, today)
            if (today - seen.first).days > leg.days_max:
                end = max(end, seen.last + ONE_DAY)  # overdue: still moving after its latest event
        following = basis.legs[furthest + 1:]
    for leg in following:
        # Goods change hands at a hub between legs (the planner counts the same day); a leg nobody reported
        # arriving cannot have arrived before today.
        handling = HUB_HANDLING_DAYS if leg.seq > 0 else 0
        end = max(end + (handling + leg.pick(k)) * ONE_DAY, today)
    return end


def _describe(progress: Progress) -> str:
    parts = []
    if progress.anchor is not None:
        parts.append(f"event {_event_text(progress.anchor)}")
    if progress.exception is not None:
        parts.append(f"open exception {_event_text(progress.exception)}: latest + {EXCEPTION_LATEST_DAYS} "
                     f"business days")
    return "; ".join(parts)


def _event_text(event: CarrierEvent) -> str:
    where = f" at {event.location}" if event.location else ""
    return f"{event.code} ({event.status}){where}, {utc_date(event.occurred_at)}"
