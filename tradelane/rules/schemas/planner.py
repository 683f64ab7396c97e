"""Rows of the planning tables: route templates, volumetric divisors per mode and freight rates per lane."""

from decimal import Decimal

from pydantic import BaseModel, Field

from tradelane.enums import Mode
from tradelane.rules.base import Rule


class Route(Rule):
    table_name = "routes"

    class LegTemplate(BaseModel):
        mode: Mode
        to: str | None = None
        """Hub country where the leg ends; the last leg ends at the destination."""
        via: list[str] = Field(default_factory=list)

    route_id: str
    legs: list[LegTemplate]
    origin_regions: list[str] = Field(default_factory=list)
    destination_regions: list[str] = Field(default_factory=list)

    def key(self) -> tuple[str]:
        return (self.route_id,)


class VolumetricDivisor(Rule):
    table_name = "volumetric_divisors"

    mode: Mode
    divisor_cm3_per_kg: int

    def key(self) -> tuple[Mode]:
        return (self.mode,)


class FreightRate(Rule):
    table_name = "freight_rates"

    mode: Mode
    from_region: str
    to_region: str
    basis: str
    base: Decimal
    rate: Decimal
    currency: str
    days_min: int
    days_max: int
    km_per_day: int | None = None
