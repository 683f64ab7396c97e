"""Tracking poll route, shared by carriers and last-mile partners."""

from __future__ import annotations

from fastapi import APIRouter

from sandbox.context import HeadersDep, SandboxDep
from sandbox.errors import ErrorCode, SandboxError
from sandbox.models import TrackingEvents
from sandbox.partners import Operation

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
