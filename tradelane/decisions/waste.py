"""Packaging waste of a shipment: how much material it leaves behind, of what, and how much of it is recyclable.

A parcel's `packaging_weight_kg` is used when the merchant gives it; otherwise the weight is estimated from
`data/packaging_materials.yaml` as kg_fixed + kg_per_m2 x the parcel's outer surface, never more than the parcel's
gross weight (the packaging is part of it).
"""

from __future__ import annotations

from tradelane.decisions.models import PackagingWaste
from tradelane.enums import Packaging
from tradelane.models import ShipmentRequest
from tradelane.rules import RuleBook
from tradelane.rules.schemas.waste import PackagingMaterial


class UnknownPackaging(LookupError):
    """A packaging type with no material row in force on the ship date; the message names the parcel."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


def _by_packaging(book: RuleBook) -> dict[Packaging, tuple[PackagingMaterial, ...]]:
    index: dict[Packaging, tuple[PackagingMaterial, ...]] = {}
    for row in book.table(PackagingMaterial):
        index[row.packaging] = (*index.get(row.packaging, ()), row)
    return index


def packaging_waste(request: ShipmentRequest, book: RuleBook) -> PackagingWaste:
    """Packaging material of all parcels: total kg, kg per material, recyclable share by weight.

    Raises:
        UnknownPackaging: A parcel's packaging type has no row in force on the ship date.
    """
    on = request.ship_date
    index = book.cached("waste.materials", lambda: _by_packaging(book))
    by_material: dict[str, float] = {}
    recyclable_kg = 0.0
    sources: dict[str, None] = {}  # ordered set: each row cited once
    for position, parcel in enumerate(request.parcels):
        row = next((r for r in index.get(parcel.packaging, ()) if r.in_force(on)), None)
        if row is None:
            raise UnknownPackaging(
                f"parcels[{position}].packaging: no row for '{parcel.packaging}' in table 'packaging_materials' "
                f"in force on {on.isoformat()}"
            )
        kg = parcel.packaging_weight_kg if parcel.packaging_weight_kg is not None else row.estimate_kg(parcel)
        by_material[row.material] = by_material.get(row.material, 0.0) + kg
        recyclable_kg += kg * row.recyclable_share
        sources[row.cite()] = None
    total = sum(by_material.values())
    return PackagingWaste(
        material_kg=round(total, 3),
        recyclable_share=round(recyclable_kg / total, 3) if total > 0 else 0.0,
        by_material={material: round(kg, 3) for material, kg in by_material.items()},
        source="; ".join(sources),
    )


__all__ = ["UnknownPackaging", "packaging_waste"]
