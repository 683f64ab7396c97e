"""Carbon per ISO 14083 / GLEC: CO2e = intensity (g CO2e/tkm, well-to-wheel) x distance (km) x mass (t).

The intensities and the distance methods are rows of `data/emission_factors.yaml`, chosen by the ship date. Only
well-to-wheel (WTW) rows are ever used: the loader refuses a row marked `used` whose basis is tank-to-wheel (TTW) or
well-to-tank (WTT), so a footprint never adds figures of different scope. Distances come from `geo.distance_km`.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any, Literal

from pydantic import Field, model_validator

from tradelane.decisions.models import Emissions, LegEmission, PackagingWaste
from tradelane.enums import Aircraft, Mode
from tradelane.rules import Rule, RuleBook, rule_table

FactorMode = Literal["air_express", "air_freight", "ocean", "rail", "road", "inland_waterway", "ro_pax_ferry"]
"""Modes a factor row can be for: the planner's modes (the three sea modes share `ocean`), plus transport the
planner does not offer yet (no `Mode` member), kept so the table can be complete."""

Basis = Literal["WTW", "TTW", "WTT"]

AIR_MODES = frozenset({"air_express", "air_freight"})

# OCEAN, OCEAN_FCL and OCEAN_LCL share one factor and one distance method: GLEC's container intensities depend on
# the ship and the trade lane, not on whether the shipper fills the box.
_FACTOR_MODE: dict[Mode, str] = {mode: ("ocean" if mode.is_sea else mode.value) for mode in Mode}

# Aircraft unknown: assume a freighter, the higher factor, so an unknown leg is not under-reported.
_DEFAULT_AIRCRAFT = Aircraft.CARGO


class FactorNotFound(LookupError):
    """No usable (WTW, in force) row for a mode; the message names the mode, the date and the table."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


@rule_table("emission_factors")
class EmissionFactor(Rule):
    """One GLEC method parameter: an emission intensity (`kind: intensity`) or a distance method (`kind: distance`)."""

    kind: Literal["intensity", "distance"] = "intensity"
    mode: FactorMode
    aircraft: Aircraft | None = None
    """Air rows only: belly cargo of passenger flights or freighters."""
    vehicle: str = ""
    """What the figure is for, e.g. `articulated truck 34-40 t, diesel`."""
    g_per_tkm: float | None = Field(default=None, gt=0)
    """Intensity rows: g CO2e per tonne-km."""
    basis: Basis | None = None
    """Intensity rows: WTW (used), or TTW / WTT (reference only)."""
    edition: str = ""
    """GLEC edition or planning-default label, e.g. `GLEC v3.1 planning default`."""
    used: bool = True
    """Whether the calculation selects this row; False keeps a documented point (a TTW figure) out of it."""
    multiplier: float = Field(default=1.0, gt=0)
    """Distance rows: great-circle x multiplier ..."""
    add_km: float = Field(default=0.0, ge=0)
    """Distance rows: ... + add_km (GLEC air: 95)."""
    from_regions: list[str] = Field(default_factory=list)
    """Distance rows: region pair the row is for (both directions); empty = the mode's default."""
    to_regions: list[str] = Field(default_factory=list)
    label: str = ""
    """Distance rows: short name of the method, shown in the distance basis (e.g. `GLEC air`)."""

    @model_validator(mode="after")
    def _consistent(self) -> EmissionFactor:
        if self.aircraft is not None and self.mode not in AIR_MODES:
            raise ValueError(f"aircraft: {self.aircraft} given for a {self.mode} row; only air rows have one")
        if self.kind == "intensity":
            if self.g_per_tkm is None or self.basis is None:
                raise ValueError("g_per_tkm, basis: an intensity row needs both")
            if self.used and self.basis != "WTW":
                raise ValueError(
                    f"basis: a {self.basis} factor cannot be used ({self.mode} {self.g_per_tkm} g/tkm): footprints "
                    "here are well-to-wheel and never mix bases; set `used: false` to keep it as a reference point"
                )
            if self.from_regions or self.to_regions or self.multiplier != 1.0 or self.add_km:
                raise ValueError("multiplier, add_km, from_regions, to_regions: only distance rows have them")
        else:
            if self.g_per_tkm is not None or self.basis is not None or self.aircraft is not None:
                raise ValueError("g_per_tkm, basis, aircraft: a distance row has none of them")
            if not self.label:
                raise ValueError("label: a distance row needs a short method name")
            if bool(self.from_regions) != bool(self.to_regions):
                raise ValueError("from_regions, to_regions: give both (a region pair) or neither (the default)")
        return self

    def key(self) -> tuple[Any, ...] | None:
        if self.kind == "distance":
            return ("distance", self.mode, tuple(sorted(self.from_regions)), tuple(sorted(self.to_regions)))
        return ("intensity", self.mode, self.aircraft) if self.used else None

    def factor_source(self) -> str:
        """`edition: source [status]`, the citation carried on each leg."""
        return f"{self.edition}: {self.cite()}" if self.edition else self.cite()


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
    "EmissionFactor",
    "FactorNotFound",
    "emission_factor",
    "factor_mode",
    "in_force_row",
    "leg_emission",
    "shipment_emissions",
]
