"""Pure mapping between Tradelane's models and the partners' JSON: build requests, parse responses.

The activities only glue these to an HTTP call, so the mapping is tested with JSON fixtures alone.
"""

from datetime import datetime
from decimal import Decimal
from typing import Any

from tradelane.decisions.models import Quote
from tradelane.enums import Mode
from tradelane.models import ShipmentRequest
from tradelane.shipment.calls import PartnerRecord


def _parcels(request: ShipmentRequest) -> list[dict[str, float]]:
    return [
        {"weight_kg": p.weight_kg, "length_cm": p.length_cm, "width_cm": p.width_cm, "height_cm": p.height_cm}
        for p in request.parcels
    ]


def lane_body(request: ShipmentRequest, origin: str | None = None, destination: str | None = None) -> dict[str, Any]:
    """The body of a quote or booking: lane (one leg's, when given), service and parcels, no personal data."""
    return {
        "shipment_id": request.shipment_id,
        "origin_country": origin or request.origin.country,
        "destination_country": destination or request.destination.country,
        "service_level": request.service_level.value,
        "parcels": _parcels(request),
    }


def parse_quote(body: dict[str, Any], origin: str | None = None, destination: str | None = None) -> Quote:
    return Quote(origin=origin, destination=destination,
        quote_id=body["quote_id"], partner=body["partner"], mode=Mode(body["mode"]),
        amount=Decimal(str(body["price"]["amount"])), currency=body["price"]["currency"],
        transit_days_min=body["transit_days"]["min"], transit_days_max=body["transit_days"]["max"],
        chargeable_weight_kg=body["chargeable_weight_kg"], co2e_kg=body["co2e_kg"],
    )


def filing_body(request: ShipmentRequest, booking_ref: str | None) -> dict[str, Any]:
    """A customs declaration: goods, values and origin; the broker needs no phone or e-mail."""
    return {
        "shipment_id": request.shipment_id,
        "booking_ref": booking_ref,
        "destination_country": request.destination.country,
        "incoterm": request.incoterm.value,
        "currency": request.currency,
        "declared_value": str(request.declared_value),
        "items": [
            {"sku": i.sku, "description": i.description, "hs_code": i.hs_code, "quantity": i.quantity,
             "unit_value": str(i.unit_value), "origin_country": i.origin_country}
            for i in request.items
        ],
    }


def slot_body(request: ShipmentRequest, tracking_number: str | None, events_url: str | None,
              ready_at: datetime | None = None) -> dict[str, Any]:
    return {
        "shipment_id": request.shipment_id,
        "tracking_number": tracking_number,
        "destination_country": request.destination.country,
        "postal_code": request.destination.postal_code,
        "events_url": events_url,
        "ready_at": ready_at.isoformat() if ready_at else None,
    }


# Which response field holds the partner's id of each record kind.
_ID_FIELD = {"booking": "booking_id", "label": "label_id", "filing": "filing_id", "slot": "slot_id"}


def parse_record(kind: str, partner: str, body: dict[str, Any]) -> PartnerRecord:
    return PartnerRecord(
        kind=kind, partner=partner, ref=body[_ID_FIELD[kind]], state=body["state"],
        tracking_number=body.get("tracking_number"), hold_reason=body.get("hold_reason"),
    )


def error_of(body: Any) -> tuple[str, str]:
    """(code, message) of a partner error body; tolerant of partners that answer without one."""
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        return str(body["error"].get("code", "UNKNOWN")), str(body["error"].get("message", ""))
    if isinstance(body, dict) and "detail" in body:
        return "INVALID_REQUEST", str(body["detail"])[:500]
    return "UNKNOWN", str(body)[:500]
