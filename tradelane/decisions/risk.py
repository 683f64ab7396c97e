"""The lane risk register: chokepoints, seasons, strikes and sanctions exposure that apply to a leg.

Entries live in `data/risk_register.yaml`, each dated (`valid_from`/`valid_to`) and, for recurring risks, limited
to months or a yearly day window. An entry hits a leg when it is in force and in season on the ship date, one of
the leg's modes is among its modes, the leg's ends match its lane and the leg touches one of its `via` countries.
The leg's score combines the hits as independent chances: 1 - prod(1 - score).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from tradelane.decisions.geo import location
from tradelane.decisions.models import RiskAssessment, RiskHit
from tradelane.enums import Mode
from tradelane.rules import RuleBook
from tradelane.rules.schemas.risk import RiskEntry


@dataclass(frozen=True, slots=True)
class _Compiled:
    """An entry with its sets and its hit prepared once, so matching a leg is set look-ups."""

    entry: RiskEntry
    start: date
    end: date | None
    modes: frozenset[Mode]
    from_side: frozenset[str]
    to_side: frozenset[str]
    via: frozenset[str]
    season: tuple[tuple[int, int], tuple[int, int]] | None
    months: frozenset[int]
    hit: RiskHit
    reason: str

    @classmethod
    def of(cls, entry: RiskEntry) -> _Compiled:
        season = (_month_day(entry.season[0]), _month_day(entry.season[1])) if entry.season else None
        hit = RiskHit(risk_id=entry.id, category=entry.category, description=entry.description, score=entry.score,
                      extra_transit_days=entry.extra_transit_days,
                      insurance_loading_pct=entry.insurance_loading_pct, source=entry.cite())
        return cls(
            entry=entry,
            start=entry.valid_from,
            end=entry.valid_to,
            modes=frozenset(entry.modes),
            from_side=frozenset([*entry.from_regions, *entry.from_countries]),
            to_side=frozenset([*entry.to_regions, *entry.to_countries]),
            via=frozenset(entry.via),
            season=season,
            months=frozenset(entry.months),
            hit=hit,
            reason=_reason(entry),
        )

    def on_lane(self, origin: frozenset[str], destination: frozenset[str]) -> bool:
        """`origin`/`destination`: the country and its region."""
        forward = (not self.from_side or bool(self.from_side & origin)) and (
            not self.to_side or bool(self.to_side & destination))
        if forward or not self.entry.symmetric:
            return forward
        return (not self.from_side or bool(self.from_side & destination)) and (
            not self.to_side or bool(self.to_side & origin))

    def applies(self, on: date, touched: frozenset[str]) -> bool:
        """In force and in season on `on`, and (for `via` entries) the leg touches a listed country.

        Modes and lane are already matched by the index. Cheapest tests first: this runs per candidate, per leg.
        """
        if on < self.start or (self.end is not None and on >= self.end):
            return False
        if self.via and self.via.isdisjoint(touched):
            return False
        if self.months and on.month not in self.months:
            return False
        return self.season is None or _in_window((on.month, on.day), *self.season)


def _month_day(text: str) -> tuple[int, int]:
    month, day = text.split("-")
    return int(month), int(day)


def _in_window(day: tuple[int, int], start: tuple[int, int], end: tuple[int, int]) -> bool:
    if start <= end:
        return start <= day <= end
    return day >= start or day <= end  # wraps the new year, e.g. 12-20..01-05


def _reason(entry: RiskEntry) -> str:
    effects = []
    if entry.extra_transit_days:
        effects.append(f"+{entry.extra_transit_days} transit days")
    if entry.insurance_loading_pct:
        effects.append(f"+{entry.insurance_loading_pct} pp insurance")
    effect = f" ({', '.join(effects)})" if effects else ""
    head = f"risk {entry.id} [{entry.category}, score {entry.score:g}]"
    return f"{head}: {entry.description}{effect}. Source: {entry.cite()}"


class _RiskIndex:
    """Compiled entries, and per lane and modes the entries that can apply there, memoised.

    The memo is bounded by the country pairs of the locations table times the mode lists planners use.
    """

    def __init__(self, entries: Iterable[RiskEntry]) -> None:
        self.entries = tuple(_Compiled.of(entry) for entry in entries)
        self.by_lane: dict[tuple[Any, ...], tuple[_Compiled, ...]] = {}

    def candidates(self, origin: str, origin_region: str, destination: str, destination_region: str,
                   modes: tuple[Mode, ...]) -> tuple[_Compiled, ...]:
        key = (origin, origin_region, destination, destination_region, modes)
        found = self.by_lane.get(key)
        if found is None:
            here, there = frozenset((origin, origin_region)), frozenset((destination, destination_region))
            mode_set = frozenset(modes)
            found = tuple(c for c in self.entries
                          if (not c.modes or not c.modes.isdisjoint(mode_set)) and c.on_lane(here, there))
            self.by_lane[key] = found
        return found


def lane_risks(origin: str, destination: str, modes: list[Mode], via: list[str], on: date, book: RuleBook
               ) -> RiskAssessment:
    """Every register entry that applies to a leg (or a plan's lane) on the ship date.

    Args:
        origin: Country (ISO alpha-2) where the leg starts.
        destination: Country where it ends.
        modes: The leg's mode(s); an entry applies when one of them is among its modes.
        via: Countries passed through; with origin and destination, checked against entries' `via`.
        on: The ship date: entries in force, and in season for recurring ones.
        book: The rule book.

    Returns:
        Hits in register order; score = 1 - prod(1 - hit score), 3 decimals (0 with no hits); one reason per hit
        naming it and its source. The RiskHit objects are built once per book and shared between results: treat
        them as read-only.

    Raises:
        UnknownLocation: Origin or destination has no location row.
    """
    o_region = location(origin, on, book).region
    d_region = location(destination, on, book).region
    index: _RiskIndex = book.cached("risk.index", lambda: _RiskIndex(book.table(RiskEntry)))
    candidates = index.candidates(origin, o_region, destination, d_region, tuple(modes))
    if not candidates:
        return RiskAssessment(score=0.0)
    touched = frozenset((origin, destination, *via))
    hits = [c for c in candidates if c.applies(on, touched)]
    if not hits:
        return RiskAssessment(score=0.0)
    clear = 1.0
    for compiled in hits:
        clear *= 1.0 - compiled.entry.score
    return RiskAssessment(score=round(1.0 - clear, 3), hits=[c.hit for c in hits], reasons=[c.reason for c in hits])


__all__ = ["lane_risks"]
