"""Replenishment suggestions as shipments: the request a suggestion would start, and the lead time, cost and CO2e
of each way to move it, from the same transport planner that plans customer shipments.

"Surface" is the cheapest plan an economy shipment may take (ocean, or rail or road where the lane has no sea
route); "air" is the fastest plan of a standard shipment when its main leg flies. The planner's transit range is
read as its mean plus or minus two standard deviations, and both warehouses' handling days are added.
"""

import math
import re
from datetime import date
from hashlib import sha256

from tradelane.decisions.assess import assess
from tradelane.decisions.models import TransportPlan
from tradelane.enums import Incoterm, Packaging, Preference, ServiceLevel
from tradelane.inventory.models import SkuSpec, Warehouse
from tradelane.inventory.policy import ModeOption
from tradelane.models import Item, Parcel, ShipmentRequest
from tradelane.rules import RuleBook

MAX_PARCELS = 100
"""A shipment request's limit; more cartons travel on pallets."""
PALLET_CM = (120.0, 80.0, 160.0)
"""A Euro-pallet footprint loaded to 160 cm."""
PALLET_FILL = 0.85
PALLET_MAX_KG = 1_000.0
PALLET_TARE_KG = 20.0
CARTON_TARE_KG = 0.4


def replenishment_id(as_of: date, warehouse_id: str, sku: str) -> str:
    """`RPL-20261201-BER-1-CASE-IP15-BLK`: a valid shipment id, the same for the same day, warehouse and SKU, so a
    repeated run never starts a second shipment for one need."""
    raw = f"RPL-{as_of:%Y%m%d}-{warehouse_id}-{re.sub(r'[^A-Za-z0-9._-]', '-', sku)}"
    return raw if len(raw) <= 64 else f"{raw[:55]}-{sha256(raw.encode()).hexdigest()[:8]}"


def _parcels(spec: SkuSpec, quantity: int) -> list[Parcel]:
    carton = spec.carton
    cartons = math.ceil(quantity / carton.units)
    carton_kg = carton.units * spec.unit_weight_kg + CARTON_TARE_KG
    if cartons <= MAX_PARCELS:
        return [Parcel(weight_kg=round(carton_kg, 3), length_cm=carton.length_cm, width_cm=carton.width_cm,
                       height_cm=carton.height_cm, packaging=Packaging.CARTON)] * cartons
    volume_cm3 = cartons * carton.length_cm * carton.width_cm * carton.height_cm
    length, width, height = PALLET_CM
    weight = cartons * carton_kg
    pallets = max(math.ceil(volume_cm3 / (length * width * height * PALLET_FILL)),
                  math.ceil(weight / (PALLET_MAX_KG - PALLET_TARE_KG)))
    if pallets > MAX_PARCELS:
        raise ValueError(f"quantity: {quantity} units need {pallets} pallets, more than one shipment's "
                         f"{MAX_PARCELS}; split the order")
    # Plastic pallets: no ISPM 15 treatment mark needed at any border.
    return [Parcel(weight_kg=round(weight / pallets + PALLET_TARE_KG, 3), length_cm=length, width_cm=width,
                   height_cm=height, packaging=Packaging.PLASTIC_PALLET)] * pallets


def replenishment_request(shipment_id: str, source: Warehouse, target: Warehouse, spec: SkuSpec, quantity: int,
                          ship_date: date, *, air: bool) -> ShipmentRequest:
    """The shipment that moves `quantity` of `spec` from `source` to `target`: economy at the lowest cost for
    surface, standard at the fastest for air (the planner then picks the plan the suggestion priced)."""
    return ShipmentRequest(
        shipment_id=shipment_id, merchant_id=target.merchant_id, order_ref=shipment_id,
        service_level=ServiceLevel.STANDARD if air else ServiceLevel.ECONOMY,
        preference=Preference.FASTEST if air else Preference.CHEAPEST,
        # The merchant imports into its own warehouse, so it is the importer and pays the duties.
        incoterm=Incoterm.DDP, currency=spec.currency, ship_date=ship_date,
        origin=source.address, destination=target.address, parcels=_parcels(spec, quantity),
        items=[Item(sku=spec.sku, description=spec.description, hs_code=spec.hs_code, quantity=quantity,
                    unit_value=spec.unit_value, origin_country=spec.origin_country,
                    unit_weight_kg=spec.unit_weight_kg)],
        origin_warehouse=source.warehouse_id if source.stock_managed else None,
        destination_warehouse=target.warehouse_id)


def mode_option(plan: TransportPlan, source: Warehouse, target: Warehouse) -> ModeOption:
    handling = source.handling_days + target.handling_days
    return ModeOption(mode=plan.main_leg.mode, plan_id=plan.plan_id,
                      lead_time_days=handling + (plan.transit_days_min + plan.transit_days_max) / 2,
                      lead_time_sd_days=(plan.transit_days_max - plan.transit_days_min) / 4,
                      cost=plan.cost, co2e_kg=plan.co2e_kg)


def lane_options(source: Warehouse, target: Warehouse, spec: SkuSpec, quantity: int, ship_date: date,
                 book: RuleBook) -> tuple[ModeOption | None, ModeOption | None, list[str]]:
    """(surface, air, reasons): the planner's answer for this lane and quantity, priced from the rate tables (a
    suggestion is a plan, not a booking; the shipment gets partner quotes when it starts)."""
    options: list[ModeOption | None] = []
    reasons: list[str] = []
    for air in (False, True):
        request = replenishment_request("RPL-PROBE", source, target, spec, quantity, ship_date, air=air)
        plan = assess(request, book).plan
        if plan is not None and plan.main_leg.mode.is_air == air:
            options.append(mode_option(plan, source, target))
        else:
            options.append(None)
            reasons.append(f"no {'air' if air else 'surface'} plan {source.country}-{target.country}")
    return options[0], options[1], reasons
