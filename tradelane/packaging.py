"""Packaging check before the goods leave: what must be fixed before the booked carrier takes them."""

from tradelane.enums import Packaging
from tradelane.models import ShipmentRequest
from tradelane.partners import PartnerInfo

# ISPM 15: solid wood packaging crossing a border must be heat-treated or fumigated and marked.
SOLID_WOOD = frozenset({Packaging.WOOD_PALLET, Packaging.WOOD_CRATE})


def packaging_violations(request: ShipmentRequest, carrier: PartnerInfo) -> list[str]:
    """Every problem with the parcels for `carrier`, each naming the parcel; empty when all is well."""
    problems: list[str] = []
    for index, parcel in enumerate(request.parcels):
        where = f"parcels[{index}]"
        if parcel.packaging in SOLID_WOOD and parcel.ispm15_marked is not True:
            problems.append(f"{where}: solid wood packaging ({parcel.packaging}) must carry the ISPM 15 mark")
        if carrier.max_parcel_kg is not None and parcel.weight_kg > carrier.max_parcel_kg:
            problems.append(
                f"{where}: {parcel.weight_kg} kg is above {carrier.name}'s limit of {carrier.max_parcel_kg} kg"
            )
        longest = max(parcel.length_cm, parcel.width_cm, parcel.height_cm)
        if carrier.max_parcel_length_cm is not None and longest > carrier.max_parcel_length_cm:
            problems.append(
                f"{where}: {longest} cm is above {carrier.name}'s length limit of {carrier.max_parcel_length_cm} cm"
            )
    return problems
