"""Rows of `locations`: each country's gateway (main port or air-cargo city), planning region and road zone."""

from __future__ import annotations

from typing import Any, Literal, get_args

from pydantic import Field

from tradelane.rules.base import Rule

Region = Literal["EAS", "SEA", "SAS", "MEA", "NEU", "MED", "EEU", "NAM", "LAM", "OCE", "AFR"]
"""Planning regions; freight rates are priced by them (another module), so the codes are fixed."""
REGIONS: frozenset[str] = frozenset(get_args(Region))

RoadZone = Literal["europe", "north_america", "east_asia"]


class Location(Rule):
    """A country's gateway, planning region and road zone."""

    table_name = "locations"

    country: str = Field(pattern=r"^[A-Z]{2}$")
    """ISO 3166-1 alpha-2."""
    gateway: str = Field(min_length=2)
    """City of the main port or air-cargo airport, e.g. `Shanghai`."""
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    region: Region
    road_zone: RoadZone | None = None
    """Countries in one zone are reachable by truck from each other; None for islands and others."""

    def key(self) -> tuple[Any, ...]:
        return (self.country,)
