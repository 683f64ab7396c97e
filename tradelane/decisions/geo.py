"""Where each country's freight enters and leaves, which region it is priced in, and how far apart countries are.

Each country has one gateway (its main port or air-cargo city) in `data/locations.yaml`; distances run between
gateways, so they are planning figures. The distance method per mode (GLEC air: great-circle + 95 km; documented
uplifts for sea, road and rail) is a row of `data/emission_factors.yaml`, next to the intensities it goes with.

Great-circle distances use geopy's `great_circle` (a sphere of the mean earth radius), not `geodesic` (the
WGS-84 ellipsoid): GLEC defines the air distance as great-circle distance + 95 km and calculators reproducing it
(ICAO's, Climatiq's) use the sphere, so our figures match theirs; the ellipsoid would differ by under 0.5%.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from geopy.distance import great_circle

from tradelane.decisions.carbon import FactorNotFound, factor_mode, in_force_row
from tradelane.enums import Mode
from tradelane.rules import RuleBook, RuleDataError
from tradelane.rules.schemas.carbon import EmissionFactor
from tradelane.rules.schemas.geo import REGIONS, Location


class UnknownLocation(KeyError):
    """A country with no location row in force on the ship date."""

    def __str__(self) -> str:
        # KeyError's own str() quotes the message; ours is a sentence.
        return str(self.args[0]) if self.args else ""


def _group_by_country(book: RuleBook) -> dict[str, tuple[Location, ...]]:
    index: dict[str, tuple[Location, ...]] = {}
    for row in book.table(Location):
        index[row.country] = (*index.get(row.country, ()), row)
    return index


def location(country: str, on: date, book: RuleBook) -> Location:
    """The location row of `country` in force on `on`.

    Raises:
        UnknownLocation: The country has no row in force that day.
    """
    rows = book.cached("geo.locations", lambda: _group_by_country(book)).get(country, ())
    for row in rows:
        if row.valid_from <= on and (row.valid_to is None or on < row.valid_to):
            return row
    raise UnknownLocation(
        f"{country!r}: no row of table 'locations' is in force on {on.isoformat()}; add the country to locations.yaml"
    )


def region_of(country: str, on: date, book: RuleBook) -> str:
    """The planning region (`EAS`, `NEU`, ...) of `country`; raises UnknownLocation for an unknown country."""
    return location(country, on, book).region


def road_connected(a: str, b: str, on: date, book: RuleBook) -> bool:
    """Whether a truck can drive from `a` to `b`: both in the same (non-null) road zone.

    A country is road-connected to itself (a domestic leg), even an island without a zone.
    """
    zone_a = location(a, on, book).road_zone
    zone_b = location(b, on, book).road_zone
    return a == b or (zone_a is not None and zone_a == zone_b)


class _DistanceRules:
    """Distance rows by (table mode, region, region) for region pairs, and by table mode for the defaults."""

    def __init__(self, rows: list[EmissionFactor]) -> None:
        self.by_pair: dict[tuple[str, str, str], tuple[EmissionFactor, ...]] = {}
        self.default: dict[str, tuple[EmissionFactor, ...]] = {}
        for position, row in enumerate(rows):
            if row.kind != "distance":
                continue
            unknown = sorted(set(row.from_regions + row.to_regions) - REGIONS)
            if unknown:
                raise RuleDataError(f"emission_factors.yaml: rules.{position}.from_regions/to_regions: "
                                    f"unknown region(s) {unknown}; use one of {sorted(REGIONS)}")
            if not row.from_regions:
                self.default[row.mode] = (*self.default.get(row.mode, ()), row)
                continue
            pairs = {(a, b) for a in row.from_regions for b in row.to_regions}
            for a, b in pairs | {(b, a) for a, b in pairs}:
                key = (row.mode, a, b)
                self.by_pair[key] = (*self.by_pair.get(key, ()), row)
        for pair, candidates in self.by_pair.items():
            _refuse_overlaps(pair, candidates)

    def rule(self, mode: str, region_a: str, region_b: str, on: date) -> EmissionFactor | None:
        row = in_force_row(self.by_pair.get((mode, region_a, region_b), ()), on)
        return row if row is not None else in_force_row(self.default.get(mode, ()), on)


def _refuse_overlaps(key: tuple[str, str, str], rows: tuple[EmissionFactor, ...]) -> None:
    # Two rows (e.g. EAS-NEU and EAS-[NEU, MED]) may cover one region pair; only one may be in force at a time.
    ordered = sorted(rows, key=lambda r: r.valid_from)
    for before, after in zip(ordered, ordered[1:]):
        if before.valid_to is None or before.valid_to > after.valid_from:
            raise RuleDataError(f"emission_factors: distance rows for {key} overlap from {after.valid_from}")


def _distance_rules(book: RuleBook) -> _DistanceRules:
    return book.cached("geo.distance_rules", lambda: _DistanceRules(list(book.table(EmissionFactor))))


def distance_km(mode: Mode, origin: str, destination: str, on: date, book: RuleBook) -> tuple[float, str]:
    """Planning distance between two countries' gateways for a mode, in km (1 decimal), and how it was obtained.

    Air: great-circle + 95 km (GLEC). Sea: great-circle x a documented routing uplift (per region pair where the
    table has one, e.g. round Asia via Suez, else a default; a Cape diversion is the risk register's extra transit
    time, not a distance here). Road and rail: great-circle x a circuity factor. The three sea modes share one.

    Results are cached on the book per (mode, origin, destination) and the rows that made them, so a later
    ship date with other rows in force gets its own figure.

    Raises:
        UnknownLocation: Origin or destination has no location row in force.
        FactorNotFound: No distance row for the mode is in force.
    """
    here = location(origin, on, book)
    there = location(destination, on, book)
    table_mode = factor_mode(mode)
    rule = _distance_rules(book).rule(table_mode, here.region, there.region, on)
    if rule is None:
        raise FactorNotFound(
            f"{mode}: no distance row in force on {on.isoformat()} in table 'emission_factors' (kind: distance)"
        )
    cache: dict[tuple[Any, ...], tuple[float, str]] = book.cached("geo.distance_cache", dict)
    # Row identities keep the key date-correct: the book holds its rows for its whole life, so ids stay unique.
    key = (mode, origin, destination, id(here), id(there), id(rule))
    found = cache.get(key)
    if found is None:
        arc = great_circle((here.lat, here.lon), (there.lat, there.lon)).km
        found = (round(arc * rule.multiplier + rule.add_km, 1), _basis(arc, rule, here, there))
        cache[key] = found
    return found


def _basis(arc_km: float, rule: EmissionFactor, here: Location, there: Location) -> str:
    steps = f"great-circle {arc_km:,.0f} km"
    if rule.multiplier != 1.0:
        steps += f" x {rule.multiplier:g}"
    if rule.add_km:
        steps += f" + {rule.add_km:g} km"
    mark = "" if rule.status == "sourced" else f", {rule.status}"
    return f"{steps} ({rule.label}{mark}), {here.gateway}-{there.gateway}"


__all__ = [
    "UnknownLocation",
    "distance_km",
    "location",
    "region_of",
    "road_connected",
]
