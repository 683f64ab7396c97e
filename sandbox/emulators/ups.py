"""UPS emulator at ``/ups``: the paths Karrio's UPS proxy calls, in the formats of UPS's published OpenAPI files
(OAuthClientCredentials, Rating, Shipping, Tracking).

Point a client's server URL at ``<sandbox>/ups``: the token endpoint is ``/security/v1/oauth/token`` and the APIs sit
under ``/api`` as on UPS's own hosts.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse, Response

from sandbox.context import SandboxDep
from sandbox.emulators import _parcel as parcel
from sandbox.errors import SandboxError
from sandbox.partners import Operation
from sandbox.records import BookingRecord

CARRIER = "ups"
LABEL_PNG_BASE64 = (
    "iVBORw0KGgoAAAANSUhEUgAAADwAAAAoAQAAAACKwKRSAAAAGUlEQVR4nGP8z8DAwMDA8JGJAQpGGbRgAADqvwJAAH+D5wAAAABJRU5ErkJggg=="
)
"""A small white PNG: UPS returns label images (GIF, PNG or ZPL), which Karrio turns into a PDF."""

SERVICES: Mapping[str, tuple[str, Decimal, int]] = {
    "07": ("UPS Worldwide Express", Decimal("1.00"), 2),
    "65": ("UPS Worldwide Saver", Decimal("0.92"), 3),
    "08": ("UPS Worldwide Expedited", Decimal("0.78"), 4),
}
"""Service code -> (name, price factor on the partner table's formula, business days in transit)."""


def _error(status: int, code: str, message: str) -> Response:
    return JSONResponse(status_code=status, content={"response": {"errors": [{"code": code, "message": message}]}})


router = APIRouter(prefix="/ups", tags=["emulator: ups"], route_class=parcel.carrier_route(_error))

_SUCCESS = {"ResponseStatus": {"Code": "1", "Description": "Success"}}


def _money(amount: Decimal, currency: str) -> dict[str, str]:
    return {"CurrencyCode": currency, "MonetaryValue": f"{amount:.2f}"}


def _listed(value: Any) -> list[Any]:
    # UPS accepts an object or an array wherever more than one is allowed.
    return value if isinstance(value, list) else [value] if value else []


def _measure(package: Mapping[str, Any]) -> parcel.Parcel:
    weight = package.get("PackageWeight") or {}
    kg = float(weight.get("Weight") or 0)
    if (weight.get("UnitOfMeasurement") or {}).get("Code", "LBS") == "LBS":
        kg /= parcel.LB_PER_KG
    dims = package.get("Dimensions") or {}
    factor = parcel.CM_PER_IN if (dims.get("UnitOfMeasurement") or {}).get("Code", "IN") == "IN" else 1.0
    return parcel.parcel(kg, *(float(dims.get(k) or 0) * factor for k in ("Length", "Width", "Height")))


def _shipment(body: Any, root: str) -> parcel.ParcelShipment:
    try:
        request = body[root]
        shipment = request["Shipment"]
        origin = (shipment.get("ShipFrom") or shipment["Shipper"])["Address"]["CountryCode"]
        destination = shipment["ShipTo"]["Address"]["CountryCode"]
        packages = [_measure(p) for p in _listed(shipment.get("Package"))]
    except (KeyError, TypeError, ValueError) as exc:
        raise SandboxError(400, "120100", f"{root}: missing or invalid {exc}") from exc
    if not packages:
        raise SandboxError(400, "120100", f"{root}.Shipment.Package: at least one package is required")
    reference = _listed(shipment.get("ReferenceNumber"))
    shipment_id = (reference[0].get("Value") if reference else None) or (
        (request.get("Request") or {}).get("TransactionReference") or {}).get("CustomerContext") or ""
    return parcel.ParcelShipment(shipment_id=shipment_id, origin_country=origin, destination_country=destination,
                                 parcels=packages)


@router.post("/security/v1/oauth/token")
async def token(request: Request, authorization: Annotated[str | None, Header()] = None) -> Response:
    """OAuth client credentials: Basic client id and secret in, a bearer token out (UPS's field names)."""
    client_id = parcel.basic_credentials(CARRIER, authorization)
    grant_type = parcel.form_field(await request.body(), "grant_type")
    if grant_type != "client_credentials":
        return _error(400, "10400", f"grant_type {grant_type!r} is not supported; send client_credentials")
    return JSONResponse({
        "token_type": "Bearer", "issued_at": str(int(time.time() * 1000)), "client_id": client_id,
        "access_token": parcel.issue_token(CARRIER, client_id), "expires_in": "14399", "refresh_count": "0",
        "status": "approved",
    })


@router.post("/api/rating/{version}/{requestoption}")
async def rate(
    version: str, requestoption: str, request: Request, sb: SandboxDep,
    authorization: Annotated[str | None, Header()] = None,
) -> Response:
    """Rate (``Rate``) or shop (``Shop``, ``Shoptimeintransit``) every UPS service for a shipment."""
    parcel.bearer_client(CARRIER, authorization)
    body = parcel.json_body(await request.body(), "RateRequest")
    shipment = _shipment(body, "RateRequest")
    await parcel.admit(sb, request, CARRIER, Operation.QUOTE, shipment.shipment_id)
    price = parcel.quote(CARRIER, shipment)
    requested = ((body["RateRequest"]["Shipment"].get("Service") or {}).get("Code"))
    codes = [requested] if requestoption.lower() == "rate" and requested in SERVICES else list(SERVICES)
    weight = f"{sum(p.weight_kg for p in shipment.parcels):.1f}"
    today = sb.clock.now()
    rated = []
    for code in codes:
        name, factor, days = SERVICES[code]
        amount = Decimal(price.amount) * factor
        charges = {"TransportationCharges": _money(amount, price.currency),
                   "BaseServiceCharge": _money(amount, price.currency),
                   "ServiceOptionsCharges": _money(Decimal(0), price.currency),
                   "TotalCharges": _money(amount, price.currency)}
        arrival = parcel.business_days_after(today, days)
        rated.append({
            "Service": {"Code": code, "Description": name},
            "BillingWeight": {"UnitOfMeasurement": {"Code": "KGS", "Description": "Kilograms"}, "Weight": weight},
            **charges,
            # Charges are per shipment here: the package lines carry the weights, the first one the charges.
            "RatedPackage": [{**(charges if i == 0 else {}), "Weight": f"{p.weight_kg:.1f}"}
                             for i, p in enumerate(shipment.parcels)],
            "TimeInTransit": {
                "PickupDate": today.strftime("%Y%m%d"),
                "ServiceSummary": {
                    "Service": {"Description": name},
                    "EstimatedArrival": {
                        "Arrival": {"Date": arrival.strftime("%Y%m%d"), "Time": "230000"},
                        "BusinessDaysInTransit": str(days),
                        "Pickup": {"Date": today.strftime("%Y%m%d"), "Time": "170000"},
                        "DayOfWeek": arrival.strftime("%a").upper(),
                    },
                },
            },
        })
    return JSONResponse({"RateResponse": {"Response": _SUCCESS, "RatedShipment": rated}})


@router.post("/api/shipments/{version}/ship")
async def ship(
    version: str, request: Request, sb: SandboxDep, authorization: Annotated[str | None, Header()] = None,
) -> Response:
    """Creates a shipment with its label; a repeated ``Idempotency-Key`` or ``transId`` returns the same one."""
    parcel.bearer_client(CARRIER, authorization)
    raw = await request.body()
    shipment = _shipment(parcel.json_body(raw, "ShipmentRequest"), "ShipmentRequest")
    await parcel.admit(sb, request, CARRIER, Operation.BOOK, shipment.shipment_id)
    variant = await parcel.admit(sb, request, CARRIER, Operation.HANDOVER, shipment.shipment_id, use_header=False)
    key = parcel.idempotency_key(request, "transId")
    created = await parcel.create_shipment(sb, CARRIER, key, parcel.REPLAY_HASH, shipment,
                                           variant)
    number, price = created.label.tracking_number, created.booking.price
    charge = _money(Decimal(price.amount), price.currency)
    return JSONResponse({"ShipmentResponse": {"Response": _SUCCESS, "ShipmentResults": {
        "ShipmentCharges": {"TransportationCharges": charge, "TotalCharges": charge,
                            "ServiceOptionsCharges": _money(Decimal(0), price.currency)},
        # UPS's Shipping file fixes this weight at 8 characters.
        "BillingWeight": {"UnitOfMeasurement": {"Code": "KGS", "Description": "Kilograms"},
                          "Weight": f"{sum(p.weight_kg for p in shipment.parcels):08.1f}"},
        "ShipmentIdentificationNumber": number,
        "PackageResults": [{
            "TrackingNumber": number,
            "ShippingLabel": {"ImageFormat": {"Code": "PNG", "Description": "PNG"}, "GraphicImage": LABEL_PNG_BASE64},
        }],
    }}})


@router.delete("/api/shipments/{version}/void/cancel/{shipmentidentificationnumber}")
async def void(
    version: str, shipmentidentificationnumber: str, request: Request, sb: SandboxDep,
    authorization: Annotated[str | None, Header()] = None,
) -> Response:
    """Voids a shipment (its label and booking); voiding again succeeds again."""
    parcel.bearer_client(CARRIER, authorization)
    found = await parcel.find_label(sb, CARRIER, shipmentidentificationnumber)
    await parcel.admit(sb, request, CARRIER, Operation.VOID, found[0].shipment_id if found else "")
    if found is None:
        return _error(400, "190117", f"No shipment found for identification number {shipmentidentificationnumber}")
    await parcel.cancel_shipment(sb, *found)
    return JSONResponse({"VoidShipmentResponse": {
        "Response": _SUCCESS, "SummaryResult": {"Status": {"Code": "1", "Description": "Voided"}},
    }})


def _activity(reached: parcel.Reached) -> dict[str, Any]:
    step = reached.step
    return {
        "location": {"address": {"countryCode": reached.location, "country": reached.location}},
        "status": {"type": step.status_type, "code": step.code, "description": step.description,
                   "statusCode": "003" if step.status_type == "I" else "001"},
        "date": reached.occurred_at.strftime("%Y%m%d"),
        "time": reached.occurred_at.strftime("%H%M%S"),
    }


def _package(booking: BookingRecord, number: str, events: list[parcel.Reached]) -> dict[str, Any]:
    return {
        "trackingNumber": number,
        "deliveryDate": [],
        "activity": [_activity(e) for e in reversed(events)],
        "packageAddress": [
            {"type": "ORIGIN", "address": {"countryCode": booking.origin_country, "country": booking.origin_country}},
            {"type": "DESTINATION",
             "address": {"countryCode": booking.destination_country, "country": booking.destination_country}},
        ],
    }


@router.get("/api/track/v1/details/{inquiryNumber}")
async def track(
    inquiryNumber: str, request: Request, sb: SandboxDep,  # noqa: N803 - UPS's own parameter name
    authorization: Annotated[str | None, Header()] = None,
) -> Response:
    """The package's activity so far by the compressed clock, newest first, as UPS lists it."""
    parcel.bearer_client(CARRIER, authorization)
    found = await parcel.find_label(sb, CARRIER, inquiryNumber)
    await parcel.admit(sb, request, CARRIER, Operation.TRACK, found[0].shipment_id if found else "")
    if found is None:
        return _error(404, "TW0001", f"Tracking Information Not Found for {inquiryNumber}")
    booking, label = found
    events = parcel.reached_events(sb, booking, {"origin": booking.origin_country,
                                                 "destination": booking.destination_country})
    return JSONResponse({"trackResponse": {"shipment": [{
        "inquiryNumber": inquiryNumber, "package": [_package(booking, label.tracking_number, events)],
    }]}})
