"""Tracking activities: poll partners that have no webhooks, and hand their events to the shipment workflow.

Temporal's pattern for frequent polling: one long-running activity that polls in a loop and heartbeats its
cursor, rather than one short activity (and several history events) per poll. A retried attempt resumes from the
last heartbeat, and whatever it sends twice is dropped by the workflow's dedup by event id.
"""

import asyncio
from datetime import timedelta

import structlog
from pydantic import BaseModel
from temporalio import activity

from activities.http import PartnerGateway
from tradelane.connections import event_delivery
from tradelane.enums import TrackingStatus

log = structlog.stdlib.get_logger(__name__)

SIGNAL = "carrier_event"
KNOWS = "knows_event"


class PollRequest(BaseModel):
    """Poll one booking at one partner until `until` shows up (or the workflow cancels the poll)."""

    shipment_id: str
    workflow_id: str
    partner: str
    booking_ref: str
    tracking_number: str | None = None
    until: TrackingStatus
    interval: timedelta


class PollResult(BaseModel):
    events_seen: int
    polls: int


class TrackingActivities:
    def __init__(self, gateway: PartnerGateway) -> None:
        self._partners = gateway

    @activity.defn(name="tracking.poll")
    async def poll(self, req: PollRequest) -> PollResult:
        """Poll until the awaited status arrives; each new event goes to the workflow as a `carrier_event` signal."""
        details = activity.info().heartbeat_details
        seen = int(details[0]) if details else 0
        handle = activity.client().get_workflow_handle(req.workflow_id)
        polls = 0
        pushes = event_delivery(req.partner).pushes
        while True:
            gw = self._partners
            events = await gw.carrier(req.partner).track(gw.http, gw.endpoint(req.partner), req.shipment_id,
                                                         req.booking_ref, req.tracking_number)
            polls += 1
            # A partner that also pushes may have delivered some already: ask first, so the history holds each once;
            # all questions before any signal, so the new ones still reach the workflow together in one task.
            known = [pushes and await handle.query(KNOWS, event, result_type=bool) for event in events[seen:]]
            for event, already in zip(events[seen:], known, strict=True):
                if not already:
                    await handle.signal(SIGNAL, event)
                seen += 1
                activity.heartbeat(seen)
            if any(event.status is req.until for event in events):
                log.info("polling done", shipment_id=req.shipment_id, partner=req.partner, events=seen, polls=polls)
                return PollResult(events_seen=seen, polls=polls)
            activity.heartbeat(seen)
            await asyncio.sleep(req.interval.total_seconds())
