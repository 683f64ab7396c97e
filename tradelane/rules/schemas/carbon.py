"""Rows of `emission_factors`: GLEC emission intensities (well-to-wheel only when used) and distance methods."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from tradelane.enums import Aircraft
from tradelane.rules.base import Rule

FactorMode = Literal["air_express", "air_freight", "ocean", "rail", "road", "inland_waterway", "ro_pax_ferry"]
"""Modes a factor row can be for: the planner's modes (the three sea modes share `ocean`), plus transport the
planner does not offer yet (no `Mode` member), kept so the table can be complete."""

Basis = Literal["WTW", "TTW", "WTT"]

AIR_MODES = frozenset({"air_express", "air_freight"})


class EmissionFactor(Rule):
    """One GLEC method parameter: an emission intensity (`kind: intensity`) or a distance method (`kind: distance`)."""

    table_name = "emission_factors"

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
