"""Rows of `risk_register`: known risks on lanes, modes and transit countries, for some dates or seasons."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any, Literal

import pycountry
from pydantic import Field, field_validator, model_validator

from tradelane.enums import Mode
from tradelane.rules.base import Rule
from tradelane.rules.schemas.geo import Region

Category = Literal["weather", "chokepoint", "strike", "political", "sanctions", "congestion"]


class RiskEntry(Rule):
    """One known risk on some lanes, modes or transit countries, for some dates.

    Lane: `from_*` and `to_*` each name regions and/or countries; an empty side matches any country. With
    `symmetric` (the default) the lane matches both ways (origin on either side); otherwise only origin on the
    `from` side (e.g. factory closures at the origin). No lane fields at all: every lane.
    """

    table_name = "risk_register"

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    category: Category
    description: str = Field(min_length=3)
    modes: list[Mode] = Field(default_factory=list)
    """Modes it applies to; empty = every mode."""
    from_regions: list[Region] = Field(default_factory=list)
    from_countries: list[str] = Field(default_factory=list)
    to_regions: list[Region] = Field(default_factory=list)
    to_countries: list[str] = Field(default_factory=list)
    symmetric: bool = True
    via: list[str] = Field(default_factory=list)
    """Countries whose transit brings the risk; the leg's origin, destination and via countries are checked."""
    months: list[int] = Field(default_factory=list)
    """Recurring yearly: months (1-12) it applies in; empty = all year (within valid_from/valid_to)."""
    season: tuple[str, str] | None = None
    """Recurring yearly day window `MM-DD`..`MM-DD` (inclusive, may wrap the new year); instead of `months`."""
    score: float = Field(ge=0, le=1)
    extra_transit_days: int = Field(default=0, ge=0)
    insurance_loading_pct: Decimal = Field(default=Decimal("0"), ge=0)
    """Percentage points added to the insurance premium rate."""

    @field_validator("from_countries", "to_countries", "via")
    @classmethod
    def _countries(cls, codes: list[str]) -> list[str]:
        for code in codes:
            if pycountry.countries.get(alpha_2=code) is None:
                raise ValueError(f"'{code}' is not an ISO 3166-1 alpha-2 country code")
        return codes

    @field_validator("months")
    @classmethod
    def _months(cls, months: list[int]) -> list[int]:
        bad = [m for m in months if not 1 <= m <= 12]
        if bad:
            raise ValueError(f"{bad} are not months (1-12)")
        return months

    @field_validator("season")
    @classmethod
    def _season(cls, season: tuple[str, str] | None) -> tuple[str, str] | None:
        for day in season or ():
            try:
                date.fromisoformat(f"2024-{day}")  # a leap year, so 02-29 is allowed
            except ValueError as err:
                raise ValueError(f"'{day}' is not a MM-DD day") from err
        return season

    @model_validator(mode="after")
    def _one_recurrence(self) -> RiskEntry:
        if self.months and self.season:
            raise ValueError("months, season: give one or the other")
        return self

    def key(self) -> tuple[Any, ...]:
        return (self.id,)
