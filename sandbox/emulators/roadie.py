"""Roadie emulator at ``/roadie``: the paths Karrio's Roadie proxy calls (estimates, shipments, label, cancel,
tracking by shipment ids), in the JSON Karrio's Roadie schemas read. Roadie delivers same-day within the US.

Point a client's server URL at ``<sandbox>/roadie``; authenticate with ``Authorization: Bearer <api key>``.
"""

from __future__ import annotations

import base64
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse, Response
from pydantic import Field

from sandbox.context import SandboxDep
from sandbox.emulators import _parcel as parcel
from sandbox.errors import SandboxError
from sandbox.models import HistoryEntry
from sandbox.partners import Operation
from sandbox.records import RecordKind, SlotRecord, SlotState

CARRIER = "roadie"
BASE_PRICE = Decimal("9.50")
PRICE_PER_LB = Decimal("0.75")
"""SANDBOX FIGURES: an estimate is base + per pound of all items."""
_TIME = "%Y-%m-%dT%H:%M:%S.%fZ"


def _error(status: int, code: str, message: str) -> Response:
    return JSONResponse(status_code=status,
                        content={"errors": [{"code": code, "message": message, "parameter": None}]})


router = APIRouter(prefix="/roadie", tags=["emulator: roadie"], route_class=parcel.carrier_route(_error))


def _pounds(body: Any) -> Decimal:
    try:
        return sum((Decimal(str(i.get("weight") or 0)) * int(i.get("quantity") or 1) for i in body["items"]),
                   Decimal(0))
    except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
        raise SandboxError(400, "invalid_parameter", f"items: missing or invalid {exc}") from exc


def _price(items: Any) -> float:
    return float((BASE_PRICE + PRICE_PER_LB * _pounds({"items": items})).quantize(Decimal("0.01")))


def _zip(body: Any) -> str:
    return str((((body.get("delivery_location") or {}).get("address")) or {}).get("zip") or "")


class RoadieDelivery(SlotRecord):
    """A Roadie shipment: a last-mile slot that keeps what Roadie echoes back on every read."""

    description: str | None = None
    items: list[Any] = Field(default_factory=list)
    pickup_location: dict[str, Any] | None = None
    delivery_location: dict[str, Any] | None = None
    pickup_after: str | None = None


async def _schedule(sb: SandboxDep, key: str, req_hash: str, body: Any, variant: str | None) -> RoadieDelivery:
    window = parcel.carrier(CARRIER).last_mile_terms().slot_window_days

    def make(slot_id: str, now: datetime) -> RoadieDelivery:
        return RoadieDelivery(
            kind=RecordKind.SLOT, partner=CARRIER, id=slot_id, shipment_id=str(body.get("reference_id") or ""),
            state=SlotState.SCHEDULED, idempotency_key=key, request_hash=req_hash, created_at=now,
            history=[HistoryEntry(state=SlotState.SCHEDULED, at=now, comment=parcel.scenario_note(variant))],
            tracking_number=f"RD{parcel.slot_number(slot_id):08d}", destination_country="US",
            postal_code=_zip(body), window_start=now + timedelta(days=window[0]),
            window_end=now + timedelta(days=window[1]), description=body.get("description"),
            items=body.get("items") or [], pickup_location=body.get("pickup_location"),
            delivery_location=body.get("delivery_location"), pickup_after=body.get("pickup_after"),
        )

    slot, _ = await sb.store.create(RecordKind.SLOT, CARRIER, key, req_hash, make)
    return slot


@router.post("/v1/estimates")
async def estimate(request: Request, sb: SandboxDep, authorization: Annotated[str | None, Header()] = None
                   ) -> Response:
    """Prices a delivery: base plus per pound."""
    parcel.api_key(CARRIER, authorization)
    body = parcel.json_body(await request.body(), "estimate") or {}
    await parcel.admit(sb, request, CARRIER, Operation.QUOTE, str(body.get("reference_id") or ""))
    return JSONResponse({"price": _price(body.get("items")), "size": "medium", "estimated_distance": 4.2})


def _shipment(slot: RoadieDelivery, sb: SandboxDep) -> dict[str, Any]:
    events = parcel.reached_events(sb, slot, {"destination": slot.destination_country,
                                              "postal_code": slot.postal_code})
    state = events[-1].step.code if events else "scheduled"
    return {
        "id": parcel.slot_number(slot.id), "tracking_number": slot.tracking_number,
        "reference_id": slot.shipment_id, "description": slot.description, "state": state,
        "items": slot.items, "pickup_location": slot.pickup_location,
        "delivery_location": slot.delivery_location, "pickup_after": slot.pickup_after,
        "deliver_between": {"start": slot.window_start.strftime(_TIME), "end": slot.window_end.strftime(_TIME)},
        "price": _price(slot.items),
        "events": [{"name": e.step.code, "occurred_at": e.occurred_at.strftime(_TIME)} for e in reversed(events)],
        "created_at": slot.created_at.strftime(_TIME), "updated_at": slot.history[-1].at.strftime(_TIME),
    }


@router.post("/v1/shipments")
async def create(request: Request, sb: SandboxDep, authorization: Annotated[str | None, Header()] = None) -> Response:
    """Schedules a delivery; a repeated ``Idempotency-Key`` returns the same shipment."""
    parcel.api_key(CARRIER, authorization)
    raw = await request.body()
    body = parcel.json_body(raw, "shipment") or {}
    reference = str(body.get("reference_id") or "")
    _pounds(body)
    await parcel.admit(sb, request, CARRIER, Operation.BOOK, reference)
    variant = await parcel.admit(sb, request, CARRIER, Operation.SCHEDULE, reference, use_header=False)
    slot = await _schedule(sb, parcel.idempotency_key(request, "Idempotency-Key"), parcel.REPLAY_HASH, body,
                           variant)
    return JSONResponse(_shipment(slot, sb))


async def _slot(sb: SandboxDep, number: str) -> RoadieDelivery | None:
    if not number.isdigit():
        return None
    record = await sb.store.get(RecordKind.SLOT, CARRIER, parcel.slot_id(int(number)))
    return record if isinstance(record, RoadieDelivery) else None


@router.get("/v1/shipments/{shipment_id}/label")
async def label(shipment_id: str, sb: SandboxDep, authorization: Annotated[str | None, Header()] = None
                ) -> Response:
    """The shipment's label as a PDF."""
    parcel.api_key(CARRIER, authorization)
    if await _slot(sb, shipment_id) is None:
        return _error(404, "not_found", f"shipment {shipment_id} not found")
    return Response(base64.b64decode(parcel.LABEL_PDF_BASE64), media_type="application/pdf")


@router.delete("/v1/shipments/{shipment_id}")
async def cancel(shipment_id: str, request: Request, sb: SandboxDep,
                 authorization: Annotated[str | None, Header()] = None) -> Response:
    """Cancels a delivery; cancelling again succeeds again."""
    parcel.api_key(CARRIER, authorization)
    slot = await _slot(sb, shipment_id)
    await parcel.admit(sb, request, CARRIER, Operation.CANCEL, slot.shipment_id if slot else "")
    if slot is None:
        return _error(404, "not_found", f"shipment {shipment_id} not found")
    released = await sb.store.transition(Operation.RELEASE_SLOT, CARRIER, slot.id)
    assert isinstance(released, RoadieDelivery)
    return JSONResponse({**_shipment(released, sb), "state": "canceled"})


@router.get("/v1/shipments")
async def track(ids: str, request: Request, sb: SandboxDep, authorization: Annotated[str | None, Header()] = None
                ) -> Response:
    """The shipments asked for by id, each with its events so far by the compressed clock (newest first)."""
    parcel.api_key(CARRIER, authorization)
    found = []
    for number in (n.strip() for n in ids.split(",") if n.strip()):
        slot = await _slot(sb, number)
        await parcel.admit(sb, request, CARRIER, Operation.TRACK, slot.shipment_id if slot else "")
        if slot is None:
            return _error(404, "not_found", f"shipment {number} not found")
        found.append(_shipment(slot, sb))
    return JSONResponse(found)
