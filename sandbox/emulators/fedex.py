"""FedEx emulator at ``/fedex``: the paths Karrio's FedEx proxy calls (OAuth token, Rate, Ship, Cancel, Track), in
the JSON formats of FedEx's REST APIs as Karrio's FedEx schemas read them.

Point a client's server URL at ``<sandbox>/fedex``.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse, Response

from sandbox.context import SandboxDep
from sandbox.emulators import _parcel as parcel
from sandbox.errors import SandboxError
from sandbox.partners import Operation

CARRIER = "fedex"

SERVICES: Mapping[str, tuple[str, Decimal, int]] = {
    "FEDEX_INTERNATIONAL_PRIORITY": ("FedEx International Priority", Decimal("1.00"), 3),
    "INTERNATIONAL_ECONOMY": ("FedEx International Economy", Decimal("0.80"), 5),
}
"""serviceType -> (name, price factor on the partner table's formula, business days from the ship date to the commit
date: a day slower than UPS's and DHL's express, a day faster than air freight)."""


def _error(status: int, code: str, message: str) -> Response:
    return JSONResponse(status_code=status,
                        content={"transactionId": str(uuid.uuid4()), "errors": [{"code": code, "message": message}]})


router = APIRouter(prefix="/fedex", tags=["emulator: fedex"], route_class=parcel.carrier_route(_error))


def _reply(request: Request, output: dict[str, Any]) -> Response:
    transaction = request.headers.get("x-customer-transaction-id")
    return JSONResponse({"transactionId": str(uuid.uuid4()), **({"customerTransactionId": transaction}
                                                                  if transaction else {}), "output": output})


def _measure(item: Mapping[str, Any]) -> parcel.Parcel:
    weight = item.get("weight") or {}
    kg = float(weight.get("value") or 0) / (parcel.LB_PER_KG if weight.get("units", "LB") == "LB" else 1)
    dims = item.get("dimensions") or {}
    factor = parcel.CM_PER_IN if dims.get("units", "IN") == "IN" else 1.0
    return parcel.parcel(kg, *(float(dims.get(k) or 0) * factor for k in ("length", "width", "height")))


TRANSIT_TIMES = {3: "THREE_DAYS", 5: "FIVE_DAYS"}
"""FedEx's `transitTime` words for the business days in `SERVICES`."""


def _ship_date(body: Any) -> datetime | None:
    """The rate request's `requestedShipment.shipDateStamp` (YYYY-MM-DD), or None when absent or malformed."""
    stamp = (body.get("requestedShipment") or {}).get("shipDateStamp")
    try:
        return datetime.strptime(stamp, "%Y-%m-%d").replace(tzinfo=UTC) if isinstance(stamp, str) else None
    except ValueError:
        return None


def _shipment(body: Any) -> parcel.ParcelShipment:
    try:
        shipment = body["requestedShipment"]
        recipient = shipment.get("recipient") or shipment["recipients"][0]
        items = shipment["requestedPackageLineItems"]
        packages = [_measure(item) for item in items]
        references = [r.get("value") for item in items for r in item.get("customerReferences") or []]
        return parcel.ParcelShipment(
            shipment_id=next((r for r in references if r), ""),
            origin_country=shipment["shipper"]["address"]["countryCode"],
            destination_country=recipient["address"]["countryCode"],
            parcels=packages,
        )
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        raise SandboxError(400, "INVALID.INPUT.EXCEPTION", f"requestedShipment: missing or invalid {exc}") from exc


@router.post("/oauth/token")
async def token(request: Request) -> Response:
    """OAuth client credentials in the form body; a bearer token out."""
    raw = await request.body()
    client_id = parcel.form_field(raw, "client_id")
    parcel.check_secret(CARRIER, client_id, parcel.form_field(raw, "client_secret"))
    if parcel.form_field(raw, "grant_type") != "client_credentials":
        return _error(400, "BAD.REQUEST.ERROR", "grant_type must be client_credentials")
    return JSONResponse({"access_token": parcel.issue_token(CARRIER, client_id), "token_type": "bearer",
                         "expires_in": 3599, "scope": "CXS"})


@router.post("/rate/v1/rates/quotes")
async def rate(request: Request, sb: SandboxDep, authorization: Annotated[str | None, Header()] = None) -> Response:
    """Quotes every service (or the requested one) with a commit date."""
    parcel.bearer_client(CARRIER, authorization)
    body = parcel.json_body(await request.body(), "rate request")
    shipment = _shipment(body)
    await parcel.admit(sb, request, CARRIER, Operation.QUOTE, shipment.shipment_id)
    price = parcel.quote(CARRIER, shipment)
    requested = body["requestedShipment"].get("serviceType")
    # FedEx commits to a date counted from the requested ship date (Karrio counts the transit days from it too);
    # counted from today instead, a quote for a given ship date would grow a day longer every day.
    ship_date = _ship_date(body) or sb.clock.now()
    details = []
    for code, (name, factor, days) in SERVICES.items():
        if requested and requested != code:
            continue
        amount = float((Decimal(price.amount) * factor).quantize(Decimal("0.01")))
        details.append({
            "serviceType": code, "serviceName": name, "packagingType": "YOUR_PACKAGING",
            "ratedShipmentDetails": [{
                "rateType": "ACCOUNT", "ratedWeightMethod": "ACTUAL", "totalDiscounts": 0.0,
                "totalBaseCharge": amount, "totalNetCharge": amount, "totalNetFedExCharge": amount,
                "currency": price.currency,
                "shipmentRateDetail": {"rateZone": "US001O", "currency": price.currency, "surCharges": [], "taxes": []},
            }],
            "operationalDetail": {
                "commitDate": parcel.business_days_after(ship_date, days).strftime("%Y-%m-%dT10:30:00"),
                "transitTime": TRANSIT_TIMES[days]},
        })
    return _reply(request, {"rateReplyDetails": details})


@router.post("/ship/v1/shipments")
async def ship(request: Request, sb: SandboxDep, authorization: Annotated[str | None, Header()] = None) -> Response:
    """Creates a shipment with its label; a repeated ``Idempotency-Key`` or ``x-customer-transaction-id`` returns
    the same one."""
    parcel.bearer_client(CARRIER, authorization)
    raw = await request.body()
    body = parcel.json_body(raw, "ship request")
    shipment = _shipment(body)
    await parcel.admit(sb, request, CARRIER, Operation.BOOK, shipment.shipment_id)
    variant = await parcel.admit(sb, request, CARRIER, Operation.HANDOVER, shipment.shipment_id, use_header=False)
    key = parcel.idempotency_key(request, "x-customer-transaction-id")
    created = await parcel.create_shipment(sb, CARRIER, key, parcel.REPLAY_HASH, shipment, variant)
    number = created.label.tracking_number
    service = body["requestedShipment"].get("serviceType") or "FEDEX_INTERNATIONAL_PRIORITY"
    return _reply(request, {"transactionShipments": [{
        "serviceType": service, "serviceName": SERVICES.get(service, (service,))[0],
        "shipDatestamp": created.booking.created_at.strftime("%Y-%m-%d"), "masterTrackingNumber": number,
        "pieceResponses": [{
            "masterTrackingNumber": number, "trackingNumber": number, "trackingIdType": "FEDEX",
            "serviceCategory": "EXPRESS", "deliveryDatestamp": "",
            "packageDocuments": [{"contentType": "LABEL", "copiesToPrint": 1, "docType": "PDF",
                                  "encodedLabel": parcel.LABEL_PDF_BASE64}],
        }],
        "completedShipmentDetail": {"shipmentRating": {"shipmentRateDetails": [{
            "rateType": "ACCOUNT", "totalNetCharge": float(created.booking.price.amount),
            "currency": created.booking.price.currency,
        }]}},
    }]})


@router.put("/ship/v1/shipments/cancel")
async def cancel(request: Request, sb: SandboxDep, authorization: Annotated[str | None, Header()] = None) -> Response:
    """Cancels a shipment by tracking number; cancelling again succeeds again."""
    parcel.bearer_client(CARRIER, authorization)
    number = str((parcel.json_body(await request.body(), "cancel request") or {}).get("trackingNumber") or "")
    found = await parcel.find_label(sb, CARRIER, number)
    await parcel.admit(sb, request, CARRIER, Operation.CANCEL, found[0].shipment_id if found else "")
    if found is None:
        return _error(404, "TRACKING.TRACKINGNUMBER.NOTFOUND", f"No shipment found for tracking number {number!r}")
    await parcel.cancel_shipment(sb, *found)
    return _reply(request, {"cancelledShipment": True, "cancelledHistory": True, "successMessage": "Success"})


def _scan(reached: parcel.Reached) -> dict[str, Any]:
    return {"date": reached.occurred_at.strftime("%Y-%m-%dT%H:%M:%S%z"), "eventType": reached.step.code,
            "derivedStatusCode": reached.step.code, "eventDescription": reached.step.description,
            "scanLocation": {"countryCode": reached.location}}


async def _result(sb: SandboxDep, request: Request, number: str) -> dict[str, Any]:
    found = await parcel.find_label(sb, CARRIER, number)
    await parcel.admit(sb, request, CARRIER, Operation.TRACK, found[0].shipment_id if found else "")
    info = {"trackingNumber": number, "carrierCode": "FDXE"}
    if found is None:
        return {"trackingNumber": number, "trackResults": [{"trackingNumberInfo": info, "error": {
            "code": "TRACKING.TRACKINGNUMBER.NOTFOUND", "message": "Tracking number cannot be found."}}]}
    booking, _ = found
    events = parcel.reached_events(sb, booking, {"origin": booking.origin_country,
                                                 "destination": booking.destination_country})
    latest = events[-1].step
    return {"trackingNumber": number, "trackResults": [{
        "trackingNumberInfo": info,
        "latestStatusDetail": {"code": latest.code, "derivedCode": latest.code, "description": latest.description,
                               "statusByLocale": latest.description},
        "scanEvents": [_scan(e) for e in reversed(events)],
    }]}


@router.post("/track/v1/trackingnumbers")
async def track(request: Request, sb: SandboxDep, authorization: Annotated[str | None, Header()] = None) -> Response:
    """Scan events so far by the compressed clock, newest first, for each tracking number asked."""
    parcel.bearer_client(CARRIER, authorization)
    body = parcel.json_body(await request.body(), "tracking request") or {}
    numbers = [str(((t.get("trackingNumberInfo") or {}).get("trackingNumber")) or "")
               for t in body.get("trackingInfo") or []]
    return _reply(request, {"completeTrackResults": [await _result(sb, request, n) for n in numbers]})
