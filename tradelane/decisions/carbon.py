"""Carbon per ISO 14083 / GLEC: CO2e = intensity (g CO2e/tkm, well-to-wheel) x distance (km) x mass (t).

The intensities and the distance methods are rows of `data/emission_factors.yaml`, chosen by the ship date. Only
well-to-wheel (WTW) rows are ever used: the loader refuses a row marked `used` whose basis is tank-to-wheel (TTW) or
well-to-tank (WTT), so a footprint never adds figures of different scope. Distances come from `geo.distance_km`.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from tradelane.decisions.models import Emissions, LegEmission, PackagingWaste
from tradelane.enums import Aircraft, Mode
from tradelane.rules import RuleBook
from tradelane.rules.schemas.carbon import EmissionFactor

# OCEAN, OCEAN_FCL and OCEAN_LCL share one factor and one distance method: GLEC's container intensities depend on
# the ship and the trade lane, not on whether the shipper fills the box.
_FACTOR_MODE: dict[Mode, str] = {mode: ("ocean" if mode.is_sea else mode.value) for mode in Mode}

# Aircraft unknown: assume a freighter, the higher factor, so an unknown leg is not under-reported.
_DEFAULT_AIRCRAFT = Aircraft.CARGO


class FactorNotFound(LookupError):
    """No usable (WTW, in force) row for a mode; the message names the mode, the date and the table."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


def factor_mode(mode: Mode) -> str:
    """The table's mode for a planner mode: the three sea modes share `ocean`."""
    return _FACTOR_MODE[mode]


def in_force_row(rows: Iterable[EmissionFactor], on: date) -> EmissionFactor | None:
    """The first row of `rows` in force on `on` (rows are few per key, so a scan is cheapest)."""
    for row in rows:
        if row.valid_from <= on and (row.valid_to is None or on < row.valid_to):
            return row
    return None


class _FactorIndex:
    """Intensity rows by (table mode, aircraft): the used (WTW) ones, and reference ones for error messages."""

    def __init__(self, rows: Iterable[EmissionFactor]) -> None:
        self.used: dict[tuple[str, Aircraft | None], tuple[EmissionFactor, ...]] = {}
        self.reference: dict[tuple[str, Aircraft | None], tuple[EmissionFactor, ...]] = {}
        for row in rows:
            if row.kind != "intensity":
                continue
            target = self.used if row.used else self.reference
            key = (row.mode, row.aircraft)
            target[key] = (*target.get(key, ()), row)


def _index(book: RuleBook) -> _FactorIndex:
    return book.cached("carbon.factors", lambda: _FactorIndex(book.table(EmissionFactor)))


def _lookup_keys(mode: Mode, aircraft: Aircraft | None) -> tuple[tuple[str, Aircraft | None], ...]:
    table_mode = _FACTOR_MODE[mode]
    if mode.is_air:
        craft = aircraft or _DEFAULT_AIRCRAFT
        # Express on a passenger flight has no row of its own: its belly cargo emits like air freight's.
        return ((table_mode, craft), ("air_freight", craft))
    if aircraft is not None:
        raise ValueError(f"aircraft: {aircraft} given for a {mode} leg; only air legs have an aircraft")
    return ((table_mode, None),)


def emission_factor(mode: Mode, aircraft: Aircraft | None, on: date, book: RuleBook) -> EmissionFactor:
    """The WTW intensity row for a leg.

    Args:
        mode: The leg's mode; OCEAN, OCEAN_FCL and OCEAN_LCL share the ocean row.
        aircraft: Air legs: PASSENGER picks belly cargo, CARGO or None a freighter (None is taken as a freighter,
            the higher factor, so an unknown aircraft is not under-reported). Must be None for other modes.
        on: The ship date that selects the row.
        book: The rule book.

    Raises:
        FactorNotFound: No WTW row is in force for the mode (also when only a TTW/WTT reference row exists).
        ValueError: An aircraft was given for a non-air mode.
    """
    index = _index(book)
    keys = _lookup_keys(mode, aircraft)
    for key in keys:
        row = in_force_row(index.used.get(key, ()), on)
        if row is not None:
            return row
    what = f"{mode}" + (f" ({keys[0][1]} aircraft)" if mode.is_air else "")
    refs = [r for key in keys for r in index.reference.get(key, ()) if r.in_force(on) and r.basis != "WTW"]
    hint = (
        f"; only a {refs[0].basis} figure ({refs[0].g_per_tkm:g} g/tkm, reference only) is on file, and ISO 14083 "
        "footprints here are WTW" if refs else ""
    )
    raise FactorNotFound(
        f"{what}: no WTW emission factor in force on {on.isoformat()} in table 'emission_factors'{hint}"
    )


def leg_emission(
    mode: Mode,
    aircraft: Aircraft | None,
    distance_km: float,
    distance_basis: str,
    mass_t: float,
    on: date,
    book: RuleBook,
) -> LegEmission:
    """CO2e of one leg: factor (g/tkm, WTW) x distance (km) x mass (t) / 1000, in kg rounded to 3 decimals.

    Args:
        mode: The leg's mode (kept on the result as given, e.g. `ocean_fcl`).
        aircraft: See `emission_factor`.
        distance_km: From `geo.distance_km` (or a partner's figure); must not be negative.
        distance_basis: How the distance was obtained, carried to the result.
        mass_t: Goods mass in tonnes (actual gross mass, not chargeable weight); must not be negative.
        on: The ship date that selects the factor.
        book: The rule book.

    Raises:
        ValueError: Negative distance or mass, or an aircraft on a non-air leg.
        FactorNotFound: No WTW factor for the mode on that date.
    """
    if not distance_km >= 0:
        raise ValueError(f"distance_km: {distance_km} is not a distance (must be >= 0)")
    if not mass_t >= 0:
        raise ValueError(f"mass_t: {mass_t} is not a mass (must be >= 0)")
    row = emission_factor(mode, aircraft, on, book)
    factor = row.g_per_tkm
    assert factor is not None  # intensity rows always carry one (validated on load)
    return LegEmission(
        mode=mode,
        distance_km=distance_km,
        distance_basis=distance_basis,
        mass_t=mass_t,
        factor_g_per_tkm=factor,
        co2e_kg=round(factor * distance_km * mass_t / 1000, 3),
        factor_source=row.factor_source(),
    )


def shipment_emissions(legs: list[LegEmission], packaging: PackagingWaste | None = None) -> Emissions:
    """A shipment's footprint: the legs' CO2e summed (kg, 3 decimals).

    Packaging is attached as waste (material kg and recyclable share) and adds no CO2e: ISO 14083 covers transport
    chain operations, and packaging material is a product footprint, reported apart.
    """
    return Emissions(
        emissions_kg_co2e=round(sum(leg.co2e_kg for leg in legs), 3),
        legs=list(legs),
        packaging=packaging,
    )


__all__ = [
    "FactorNotFound",
    "emission_factor",
    "factor_mode",
    "in_force_row",
    "leg_emission",
    "shipment_emissions",
]
