"""How far a shipment got, read from its tracking events in one pass (sorted once, then linear)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from tradelane.enums import TrackingStatus
from tradelane.eta.basis import EtaBasis
from tradelane.shipment.events import CarrierEvent

# Tuples, not sets: a tuple's `in` compares identity first, while hashing an enum member runs Python code, and
# this runs for every event on every revision.
_UNKNOWN, _EXCEPTION = TrackingStatus.UNKNOWN, TrackingStatus.EXCEPTION
_ARRIVED, _DELIVERED = TrackingStatus.ARRIVED_AT_DESTINATION, TrackingStatus.DELIVERED
_LEG_STATUSES = (TrackingStatus.IN_TRANSIT, TrackingStatus.PICKED_UP, _ARRIVED)
_CUSTOMS_STATUSES = (TrackingStatus.CUSTOMS_CLEARED, TrackingStatus.CUSTOMS_HOLD)
_LAST_MILE_STATUSES = (TrackingStatus.AT_LOCAL_DEPOT, TrackingStatus.OUT_FOR_DELIVERY,
                       TrackingStatus.DELIVERY_FAILED, _DELIVERED)

HANDED_TO_LAST_MILE = TrackingStatus.PICKED_UP
"""How `Progress.last_mile` records a leg status (picked up, in transit, arrived) of the last-mile partner."""


@dataclass(slots=True)
class LegSeen:
    """What the events say about one leg (UTC dates)."""

    first: date | None = None
    """Date of the leg partner's first event: the leg started."""
    last: date | None = None
    """Date of its latest event."""
    arrived: date | None = None


@dataclass(slots=True)
class Progress:
    """The furthest progress per phase; later phases win when the ETA is computed."""

    legs: list[LegSeen]
    furthest_leg: int | None = None
    """Index of the furthest leg with an event."""
    customs: tuple[TrackingStatus, date] | None = None
    """The latest customs event: cleared or held, and when."""
    last_mile: tuple[TrackingStatus, date] | None = None
    """The latest last-mile event; `HANDED_TO_LAST_MILE` for the last-mile partner's leg statuses."""
    delivered: date | None = None
    anchor: CarrierEvent | None = None
    """The event the estimate rests on: the latest one of the furthest phase."""
    exception: CarrierEvent | None = None
    """A partner exception no other usable event followed."""
    latest_day: date | None = None
    """Date of the latest usable event."""
    usable: bool = False
    _rank: int = field(default=-1, repr=False)

    @classmethod
    def empty(cls, legs: int) -> Progress:
        return cls(legs=[LegSeen() for _ in range(legs)])


def _order(event: CarrierEvent) -> tuple[datetime, int, int, str]:
    # The partner's sequence orders events of the same instant; then arrival order, then the id, so any list
    # order of the same events gives the same result. Naive datetimes are read as UTC, so they sort among aware
    # ones instead of raising.
    at = event.occurred_at
    sequence = event.sequence
    return (at if at.tzinfo is not None else at.replace(tzinfo=UTC), -1 if sequence is None else sequence,
            event.received_seq, event.event_id)


def scan(basis: EtaBasis, events: Iterable[CarrierEvent]) -> Progress:
    """Read `events` in (occurred_at, sequence, received_seq, event_id) order.

    See `revise_eta` for what each status means.
    """
    scanner = _Scanner(basis)
    for event in sorted(events, key=_order):
        if scanner.read(event):
            break  # delivered is final: later events do not reopen the shipment
    return scanner.progress


class _Scanner:
    """One pass over a shipment's events: which leg each partner is on, the events already read, the progress."""

    __slots__ = ("progress", "_legs_of", "_next_leg", "_seen_ids", "_customs_rank", "_last_mile_rank",
                 "_last_mile_partner")

    def __init__(self, basis: EtaBasis) -> None:
        last_leg = len(basis.legs) - 1
        self._customs_rank, self._last_mile_rank = last_leg + 1, last_leg + 2
        self._last_mile_partner = basis.last_mile_partner
        self._legs_of: dict[str, list[int]] = {}
        for index, leg in enumerate(basis.legs):
            self._legs_of.setdefault(leg.partner, []).append(index)
        # Per partner, the position in _legs_of of its first leg not yet arrived.
        self._next_leg = dict.fromkeys(self._legs_of, 0)
        self._seen_ids: set[str] = set()
        self.progress = Progress.empty(len(basis.legs))

    def read(self, event: CarrierEvent) -> bool:
        """Take the next event in order; True when it says the shipment is delivered."""
        status = event.status
        if status is _UNKNOWN or event.event_id in self._seen_ids:
            return False
        self._seen_ids.add(event.event_id)
        at = event.occurred_at
        day = (at.astimezone(UTC) if at.tzinfo is not None else at).date()
        partner = event.partner
        leg_index = self._on_leg(partner, status, day)
        if status in _LEG_STATUSES and leg_index is None and partner != self._last_mile_partner:
            return False  # a leg status from a partner with no leg left, and not the last mile's
        rank = self._phase_rank(status, leg_index, day)
        progress = self.progress
        progress.usable = True
        progress.latest_day = day
        if status is _EXCEPTION:
            progress.exception = event
            return False
        progress.exception = None
        if rank is not None and rank >= progress._rank:
            progress._rank, progress.anchor = rank, event
        if status is _DELIVERED:
            progress.delivered = day
            return True
        return False

    def _on_leg(self, partner: str, status: TrackingStatus, day: date) -> int | None:
        """The leg the partner's event belongs to (its first leg not yet arrived), recorded; None when none."""
        partner_legs = self._legs_of.get(partner)
        if partner_legs is None or self._next_leg[partner] >= len(partner_legs):
            return None
        leg_index = partner_legs[self._next_leg[partner]]
        seen = self.progress.legs[leg_index]
        if seen.first is None:
            seen.first = day
        seen.last = day
        if status is _ARRIVED:
            seen.arrived = day
            self._next_leg[partner] += 1
        if self.progress.furthest_leg is None or leg_index > self.progress.furthest_leg:
            self.progress.furthest_leg = leg_index
        return leg_index

    def _phase_rank(self, status: TrackingStatus, leg_index: int | None, day: date) -> int | None:
        """How far along the event's phase is (legs, then customs, then the last mile), recording the phase's status;
        None for a status of no phase (an exception)."""
        progress = self.progress
        if status in _LEG_STATUSES:
            if leg_index is not None:
                return leg_index
            # The last mile has the goods; a more specific last-mile status already seen stays.
            if progress.last_mile is None or progress.last_mile[0] is HANDED_TO_LAST_MILE:
                progress.last_mile = (HANDED_TO_LAST_MILE, day)
            return self._last_mile_rank
        if status in _CUSTOMS_STATUSES:
            progress.customs = (status, day)
            return self._customs_rank
        if status in _LAST_MILE_STATUSES:
            progress.last_mile = (status, day)
            return self._last_mile_rank
        return None
