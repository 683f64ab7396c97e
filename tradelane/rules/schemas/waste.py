"""Rows of `packaging_materials`: what each packaging type is made of and how heavy it is by parcel size."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from tradelane.enums import Packaging
from tradelane.models import Parcel
from tradelane.rules.base import Rule


class PackagingMaterial(Rule):
    """What one packaging type is made of and how heavy it is, by parcel size."""

    table_name = "packaging_materials"

    packaging: Packaging
    material: str = Field(min_length=2)
    kg_fixed: float = Field(default=0.0, ge=0)
    kg_per_m2: float = Field(default=0.0, ge=0)
    """Per m2 of the parcel's outer surface."""
    recyclable_share: float = Field(ge=0, le=1)
    """Share of the material's weight recycled (or reused) by common collection."""

    def key(self) -> tuple[Any, ...]:
        return (self.packaging,)

    def estimate_kg(self, parcel: Parcel) -> float:
        """Estimated packaging weight for `parcel`, capped at its gross weight."""
        length, width, height = parcel.length_cm / 100, parcel.width_cm / 100, parcel.height_cm / 100
        surface_m2 = 2 * (length * width + length * height + width * height)
        return min(self.kg_fixed + self.kg_per_m2 * surface_m2, parcel.weight_kg)
