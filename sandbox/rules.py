"""Pure business rules of the simulated partners: pricing, lanes, parcel limits, HS codes.

Each function raises `SandboxError` with a message naming the offending field, or returns a
value; none touches the store or the network.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal

from pydantic import BaseModel

from sandbox.errors import ErrorCode, SandboxError
from sandbox.models import FilingItem, Parcel
from sandbox.partners import (
    EMISSION_FACTORS_G_PER_TKM,
    SANDBOX_DISTANCE_KM,
    Partner,
)

_CENT = Decimal("0.01")
_HS_CODE = re.compile(r"\d{6,10}")


class PriceBreakdown(BaseModel):
    """Result of pricing a set of parcels at one carrier."""

    amount: Decimal
    """Quantized to cents, half-up."""
    currency: str
    chargeable_weight_kg: float
    co2e_kg: float


def _dec(value: float) -> Decimal:
    # Through str() so 0.1 stays 0.1 rather than its binary float expansion.
    return Decimal(str(value))


def chargeable_weight_kg(parcels: Sequence[Parcel], volumetric_divisor: int) -> Decimal:
    """Returns max(actual total kg, sum of L*W*H in cm / divisor).

    Args:
        parcels: The parcels of the shipment.
        volumetric_divisor: The carrier's volumetric divisor (cm^3 per kg).
    """
    actual = sum((_dec(p.weight_kg) for p in parcels), Decimal(0))
    volume = sum((_dec(p.length_cm) * _dec(p.width_cm) * _dec(p.height_cm) for p in parcels), Decimal(0))
    return max(actual, volume / volumetric_divisor)


def price(partner: Partner, parcels: Sequence[Parcel]) -> PriceBreakdown:
    """Prices parcels at a carrier: ``base + per_kg * chargeable_kg`` plus a CO2e estimate.

    The CO2e estimate uses the actual (not volumetric) weight, the mode's sandbox emission
    factor and the fixed sandbox distance.

    Args:
        partner: A carrier.
        parcels: The parcels of the shipment.
    """
    terms = partner.carrier_terms()
    chargeable = chargeable_weight_kg(parcels, terms.pricing.volumetric_divisor)
    amount = (terms.pricing.base + terms.pricing.per_kg * chargeable).quantize(_CENT, ROUND_HALF_UP)
    tonnes = sum((_dec(p.weight_kg) for p in parcels), Decimal(0)) / 1000
    grams = EMISSION_FACTORS_G_PER_TKM[terms.mode] * SANDBOX_DISTANCE_KM * tonnes
    return PriceBreakdown(
        amount=amount,
        currency=terms.pricing.currency,
        chargeable_weight_kg=round(float(chargeable), 3),
        co2e_kg=round(float(grams / 1000), 3),
    )


def check_lane(partner: Partner, origin: str | None, destination: str) -> None:
    """Raises 422 ``LANE_NOT_SERVED`` unless the partner serves ``origin`` -> ``destination``.

    Args:
        partner: Any partner.
        origin: Origin country, or ``None`` when the operation only knows a destination.
        destination: Destination country.
    """
    if partner.serves(origin, destination):
        return
    lane = f"{origin} -> {destination}" if origin else f"destination {destination}"
    raise SandboxError(
        422,
        ErrorCode.LANE_NOT_SERVED,
        f"{partner.name} does not serve {lane}; pick another partner for this lane",
    )


def check_parcels(partner: Partner, parcels: Sequence[Parcel]) -> None:
    """Raises 422 ``PARCEL_LIMIT_EXCEEDED`` naming every parcel over the carrier's limits.

    Args:
        partner: A carrier (other kinds have no parcel limits).
        parcels: The parcels of the shipment.
    """
    if partner.carrier is None:
        return
    limits = partner.carrier.limits
    problems: list[str] = []
    for i, p in enumerate(parcels):
        if p.weight_kg > limits.max_weight_kg:
            problems.append(f"parcels[{i}].weight_kg: {p.weight_kg:g} kg exceeds {limits.max_weight_kg:g} kg")
        longest = max(p.length_cm, p.width_cm, p.height_cm)
        if longest > limits.max_length_cm:
            problems.append(f"parcels[{i}]: longest side {longest:g} cm exceeds {limits.max_length_cm:g} cm")
    if problems:
        raise SandboxError(
            422,
            ErrorCode.PARCEL_LIMIT_EXCEEDED,
            f"{partner.name} parcel limits: " + "; ".join(problems) + "; split the parcel or pick another carrier",
        )


def check_hs_codes(items: Sequence[FilingItem]) -> None:
    """Raises 422 ``INVALID_HS_CODE`` naming every item whose HS code is not 6-10 digits.

    Args:
        items: The declared items.
    """
    bad = [f"items[{i}].hs_code: {item.hs_code!r} is not 6-10 digits" for i, item in enumerate(items)
           if not _HS_CODE.fullmatch(item.hs_code)]
    if bad:
        raise SandboxError(422, ErrorCode.INVALID_HS_CODE, "; ".join(bad))
