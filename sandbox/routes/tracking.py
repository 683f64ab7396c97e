"""Tracking poll route, shared by carriers and last-mile partners."""

from __future__ import annotations

from fastapi import APIRouter

from sandbox.context import HeadersDep, SandboxDep, shipment_of
from sandbox.errors import ErrorCode, SandboxError
from sandbox.models import TrackingEvents
from sandbox.partners import Operation
from sandbox.records import RecordKind

router = APIRouter(prefix="/partners/{partner}", tags=["tracking"])


@router.get("/tracking/{tracking_number}", response_model=TrackingEvents)
async def tracking(partner: str, tracking_number: str, sb: SandboxDep, headers: HeadersDep) -> TrackingEvents:
    """Returns the events emitted so far for a tracking number (for polling clients)."""
    shipment_id = await sb.store.shipment_of_tracking(partner, tracking_number)
    await sb.admit(partner, Operation.TRACK, shipment_id, headers)
    events = await sb.store.events(partner, tracking_number)
    if events is None:
        raise SandboxError(
            404, ErrorCode.NOT_FOUND, f"{partner} has no tracking number {tracking_number!r}; issue a label first"
        )
    return TrackingEvents(events=events)


@router.get("/bookings/{booking_id}/events", response_model=TrackingEvents)
async def booking_events(partner: str, booking_id: str, sb: SandboxDep, headers: HeadersDep) -> TrackingEvents:
    """Returns the events emitted so far for a booking: how partners without webhooks are polled."""
    shipment_id = await shipment_of(sb, RecordKind.BOOKING, partner, booking_id, None)
    await sb.admit(partner, Operation.TRACK, shipment_id, headers)
    events = await sb.store.record_events(partner, booking_id)
    if events is None:
        raise SandboxError(404, ErrorCode.NOT_FOUND, f"{partner} has no booking {booking_id!r}")
    return TrackingEvents(events=events)
