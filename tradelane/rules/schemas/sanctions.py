"""Rows of `sanctions`: one authority's programme (US, EU, UN) against a country or a region of it."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from tradelane.rules.base import Rule

Kind = Literal["comprehensive", "sectoral", "targeted"]


class SanctionsProgramme(Rule):
    """One authority's programme against a country, or a region of it."""

    table_name = "sanctions"

    programme_id: str
    authority: Literal["US", "EU", "UN"]
    country: str = Field(pattern=r"^[A-Z]{2}$")
    """The country the programme is about (ISO alpha-2); for a region, the country it belongs to under ISO 3166."""
    kind: Kind
    programme: str
    """Name and legal basis, quoted in findings, e.g. `Cuban Assets Control Regulations (31 CFR Part 515)`."""
    regions: list[str] = Field(default_factory=list)
    """ISO 3166-2 codes the programme covers; empty when it covers the whole country."""
    region_names: list[str] = Field(default_factory=list)
    """Other names of those regions, any script (the ISO names from pycountry are added automatically)."""
    cities: list[str] = Field(default_factory=list)
    """Cities inside the regions, compared only when a party gives no region."""
    party_countries: list[str] = Field(default_factory=list)
    """Countries a party in the region may name besides `country` (an occupied region's address may say RU)."""

    def key(self) -> tuple[str, str, tuple[str, ...]]:
        return (self.authority, self.country, tuple(self.regions))
