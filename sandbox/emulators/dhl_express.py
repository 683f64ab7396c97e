"""DHL Express emulator at ``/dhl_express``: the one XML endpoint Karrio's ``dhl_express`` extension posts to
(``/XMLShippingServlet``, DHL's XML-PI services), answering quotes (``DCTRequest``), shipments with a label
(``ShipmentRequest``) and tracking (``KnownTrackingRequest``) in the XML Karrio's DHL schemas read.

Credentials travel in the body (``ServiceHeader/SiteID`` and ``Password``), as XML-PI has them; there is no
shipment cancel in XML-PI (nor in Karrio's DHL extension). Point a client's server URL at ``<sandbox>/dhl_express``.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping
from datetime import timedelta
from decimal import Decimal

from fastapi import APIRouter, Request
from fastapi.responses import Response

from sandbox.context import Sandbox, SandboxDep
from sandbox.emulators import _parcel as parcel
from sandbox.errors import SandboxError
from sandbox.partners import Operation

CARRIER = "dhl_express"
NAMESPACE = "http://www.dhl.com"
KARRIO_DEFAULT_REFERENCE = "1234567890123456789012345678901"
"""The MessageReference Karrio's DHL extension sends on every call unless told otherwise: no key to dedupe by."""

PRODUCTS: Mapping[str, tuple[str, str, Decimal, int]] = {
    "P": ("P", "EXPRESS WORLDWIDE", Decimal("1.00"), 2),
    "Y": ("Y", "EXPRESS 12:00", Decimal("1.25"), 2),
}
"""GlobalProductCode -> (LocalProductCode, LocalProductName, price factor, days to delivery)."""


def _xml(root: ET.Element, status: int = 200) -> Response:
    return Response(ET.tostring(root, encoding="unicode"), status_code=status, media_type="application/xml")


def _sub(parent: ET.Element, tag: str, text: object = None, **children: object) -> ET.Element:
    node = ET.SubElement(parent, tag)
    if text is not None:
        node.text = str(text)
    for name, value in children.items():
        _sub(node, name, value)
    return node


def _error(status: int, code: str, message: str) -> Response:
    root = ET.Element(f"{{{NAMESPACE}}}ErrorResponse")
    status_node = _sub(_sub(root, "Response"), "Status", ActionStatus="Error")
    _sub(status_node, "Condition", ConditionCode=code, ConditionData=message)
    return _xml(root, status)


router = APIRouter(prefix="/dhl_express", tags=["emulator: dhl_express"], route_class=parcel.carrier_route(_error))


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _find(node: ET.Element, path: str) -> ET.Element | None:
    # XML-PI requests mix namespaced roots with unqualified children: match on local names.
    for name in path.split("/"):
        found = next((child for child in node if _local(child.tag) == name), None)
        if found is None:
            return None
        node = found
    return node


def _text(node: ET.Element, path: str, default: str = "") -> str:
    found = _find(node, path)
    return (found.text or default).strip() if found is not None and found.text else default


def _response_header(root: ET.Element, reference: str) -> None:
    _sub(_sub(root, "Response"), "ServiceHeader", MessageTime="2025-01-01T00:00:00", MessageReference=reference,
         SiteID="sandbox")


def _pieces(pieces: ET.Element | None, weight_unit: str, dimension_unit: str) -> list[parcel.Parcel]:
    kg = 1 / parcel.LB_PER_KG if weight_unit.upper().startswith("L") else 1.0
    cm = parcel.CM_PER_IN if dimension_unit.upper().startswith("I") else 1.0
    found = []
    for piece in list(pieces) if pieces is not None else []:
        length = _text(piece, "Depth") or _text(piece, "Length") or "0"
        found.append(parcel.parcel(float(_text(piece, "Weight", "0")) * kg, float(length) * cm,
                                   float(_text(piece, "Width", "0")) * cm, float(_text(piece, "Height", "0")) * cm))
    return found


def _quote(sb: Sandbox, body: ET.Element, reference: str) -> Response:
    request = _find(body, "GetQuote")
    if request is None:
        raise SandboxError(400, "111", "DCTRequest: only GetQuote is served")
    details = _find(request, "BkgDetails")
    shipment = parcel.ParcelShipment(
        shipment_id="", origin_country=_text(request, "From/CountryCode"),
        destination_country=_text(request, "To/CountryCode"),
        parcels=_pieces(_find(details, "Pieces") if details is not None else None,
                        _text(request, "BkgDetails/WeightUnit", "KG"),
                        _text(request, "BkgDetails/DimensionUnit", "CM")),
    )
    price = parcel.quote(CARRIER, shipment)
    root = ET.Element(f"{{{NAMESPACE}}}DCTResponse")
    answer = _sub(root, "GetQuoteResponse")
    _response_header(answer, reference)
    booking = _sub(answer, "BkgDetails")
    today = sb.clock.now()
    for global_code, (local_code, name, factor, days) in PRODUCTS.items():
        amount = f"{Decimal(price.amount) * factor:.2f}"
        quoted = _sub(booking, "QtdShp", GlobalProductCode=global_code, LocalProductCode=local_code,
                      ProductShortName=name, LocalProductName=name, NetworkTypeCode="TD",
                      PricingDate=today.strftime("%Y-%m-%d"))
        _sub(quoted, "DeliveryDate", DeliveryType="QDDC",
             DlvyDateTime=(today + timedelta(days=days)).strftime("%Y-%m-%d 23:59:00"),
             DeliveryDateTimeOffset="+00:00")
        for tag, value in (("WeightCharge", amount), ("CurrencyCode", price.currency), ("ShippingCharge", amount)):
            _sub(quoted, tag, value)
    return _xml(root)


def _key(request: Request, reference: str) -> str:
    if reference and reference != KARRIO_DEFAULT_REFERENCE and not request.headers.get("Idempotency-Key"):
        return reference
    return parcel.idempotency_key(request, "Message-Reference")


async def _ship(sb: Sandbox, request: Request, body: ET.Element, reference: str) -> Response:
    shipment = parcel.ParcelShipment(
        shipment_id=_text(body, "Reference/ReferenceID"),
        origin_country=_text(body, "Shipper/CountryCode"),
        destination_country=_text(body, "Consignee/CountryCode"),
        parcels=_pieces(_find(body, "ShipmentDetails/Pieces"), _text(body, "ShipmentDetails/WeightUnit", "K"),
                        _text(body, "ShipmentDetails/DimensionUnit", "C")),
    )
    if not shipment.parcels:
        raise SandboxError(400, "111", "ShipmentRequest/ShipmentDetails/Pieces: at least one piece is required")
    await parcel.admit(sb, request, CARRIER, Operation.BOOK, shipment.shipment_id)
    variant = await parcel.admit(sb, request, CARRIER, Operation.HANDOVER, shipment.shipment_id, use_header=False)
    created = await parcel.create_shipment(sb, CARRIER, _key(request, reference), parcel.REPLAY_HASH, shipment,
                                           variant)
    root = ET.Element(f"{{{NAMESPACE}}}ShipmentResponse")
    _response_header(root, reference)
    _sub(_sub(root, "Note"), "ActionNote", "Success")
    _sub(root, "AirwayBillNumber", created.label.tracking_number)
    _sub(root, "CurrencyCode", created.booking.price.currency)
    _sub(root, "ShippingCharge", created.booking.price.amount)
    _sub(root, "LabelImage", OutputFormat="PDF", OutputImage=parcel.LABEL_PDF_BASE64)
    return _xml(root)


async def _track(sb: Sandbox, request: Request, body: ET.Element, reference: str) -> Response:
    root = ET.Element(f"{{{NAMESPACE}}}TrackingResponse")
    _response_header(root, reference)
    for number in [(n.text or "").strip() for n in body if _local(n.tag) == "AWBNumber"]:
        found = await parcel.find_label(sb, CARRIER, number)
        await parcel.admit(sb, request, CARRIER, Operation.TRACK, found[0].shipment_id if found else "")
        info = _sub(root, "AWBInfo", AWBNumber=number)
        events = [] if found is None else parcel.reached_events(sb, found[0], {
            "origin": found[0].origin_country, "destination": found[0].destination_country})
        if found is None or not events:
            # A waybill DHL has not scanned yet is not found by tracking, like an unknown one.
            status = _sub(info, "Status", ActionStatus="No Shipments Found")
            _sub(status, "Condition", ConditionCode="101", ConditionData=f"No Shipments Found for AWBNumber {number}")
            continue
        booking, _ = found
        _sub(info, "Status", ActionStatus="success")
        shipment = _sub(info, "ShipmentInfo")
        for tag, country in (("OriginServiceArea", booking.origin_country),
                             ("DestinationServiceArea", booking.destination_country)):
            _sub(shipment, tag, ServiceAreaCode=country, Description=country)
        _sub(shipment, "ShipmentDate", booking.created_at.strftime("%Y-%m-%dT%H:%M:%S"))
        _sub(shipment, "GlobalProductCode", "P")
        for reached in events:
            event = _sub(shipment, "ShipmentEvent", Date=reached.occurred_at.strftime("%Y-%m-%d"),
                         Time=reached.occurred_at.strftime("%H:%M:%S"))
            _sub(event, "ServiceEvent", EventCode=reached.step.code, Description=reached.step.description)
            _sub(event, "ServiceArea", ServiceAreaCode=reached.location, Description=reached.location)
    return _xml(root)


@router.post("/XMLShippingServlet")
async def xml_shipping_servlet(request: Request, sb: SandboxDep) -> Response:
    """Every XML-PI service through one endpoint, chosen by the document's root element."""
    raw = await request.body()
    try:
        body = ET.fromstring(raw)
    except ET.ParseError as exc:
        raise SandboxError(400, "111", f"the request is not well-formed XML ({exc})") from exc
    header = _find(body, "Request/ServiceHeader") or _find(body, "GetQuote/Request/ServiceHeader")
    if header is None:
        raise parcel.AuthError("Request/ServiceHeader with SiteID and Password is required")
    parcel.check_secret(CARRIER, _text(header, "SiteID"), _text(header, "Password"))
    reference = _text(header, "MessageReference")
    kind = _local(body.tag)
    if kind == "DCTRequest":
        await parcel.admit(sb, request, CARRIER, Operation.QUOTE, "")
        return _quote(sb, body, reference)
    if kind == "ShipmentRequest":
        return await _ship(sb, request, body, reference)
    if kind == "KnownTrackingRequest":
        return await _track(sb, request, body, reference)
    raise SandboxError(400, "111", f"{kind} is not served here: send DCTRequest, ShipmentRequest or "
                                   "KnownTrackingRequest")
