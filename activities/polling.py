"""Tracking activities: poll partners that have no webhooks, and hand their events to the shipment workflow.

Temporal's pattern for frequent polling: one long-running activity that polls in a loop and heartbeats its
cursor, rather than one short activity (and several history events) per poll. A retried attempt resumes from the
last heartbeat, and whatever it sends twice is dropped by the workflow's dedup by event id.

A partner's answer that can never be read (an event that does not validate: every poll would fail the same way) is a
dead letter of kind `partner_event`, keyed by partner and booking, with one ops alert; the poll then ends
non-retryable instead of failing forever, and the shipment's stage limit hands the missing event to ops.
"""

import asyncio
from datetime import UTC, datetime, timedelta

import structlog
from pydantic import BaseModel
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.http import PartnerGateway
from activities.poison import deterministic, non_retryable, type_name
from infra.persistence import dead_letters
from infra.persistence.db import has_event
from infra.persistence.dead_letters import DeadLetterKind
from tradelane.connections import event_delivery
from tradelane.enums import TrackingStatus
from tradelane.shipment.events import CarrierEvent

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


UNKNOWN_ERROR_ATTEMPTS = 20
"""Attempts after which an error neither known transient nor known deterministic is given up."""


class TrackingActivities:
    """Args:
        gateway: The partners.
        engine: Where dead letters are recorded; without it an unreadable answer is only raised non-retryable.
        ops_email: Where a dead letter's alert goes.
    """

    def __init__(self, gateway: PartnerGateway, engine: Engine | None = None, *, ops_email: str | None = None) -> None:
        self._partners = gateway
        self._engine = engine
        self._ops_email = ops_email

    @activity.defn(name="tracking.poll")
    async def poll(self, req: PollRequest) -> PollResult:
        """Poll until the awaited status arrives; each new event goes to the workflow as a `carrier_event` signal."""
        details = activity.info().heartbeat_details
        seen = int(details[0]) if details else 0
        handle = activity.client().get_workflow_handle(req.workflow_id)
        polls = 0
        pushes = event_delivery(req.partner).pushes
        while True:
            events = await self._track(req)
            polls += 1
            # A partner that also pushes may have delivered some already: ask first, so the history holds each once;
            # all questions before any signal, so the new ones still reach the workflow together in one task.
            # The read model answers first: the workflow's query could trip Core's local-activity race (see
            # starter/event_intake.py), so it is asked only about events not projected yet.
            known = [pushes and (await self._projected(req, event)
                                 or await handle.query(KNOWS, event, result_type=bool)) for event in events[seen:]]
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

    async def _projected(self, req: PollRequest, event: CarrierEvent) -> bool:
        """Whether the read model holds the event already (it was pushed and projected); False when unknown."""
        if self._engine is None:
            return False
        try:
            return await asyncio.to_thread(has_event, self._engine, req.shipment_id, event.partner, event.event_id)
        except SQLAlchemyError as err:
            log.warning("read model unavailable; asking the shipment", shipment_id=req.shipment_id, error=str(err))
            return False

    async def _track(self, req: PollRequest) -> list[CarrierEvent]:
        gw = self._partners
        try:
            return await gw.carrier(req.partner).track(gw.http, gw.endpoint(req.partner), req.shipment_id,
                                                       req.booking_ref, req.tracking_number)
        except ApplicationError:
            raise  # the gateway already said whether to retry (a partner's 5xx, a refusal)
        except Exception as err:
            attempt = activity.info().attempt
            if not deterministic(err, attempt=attempt, max_attempts=UNKNOWN_ERROR_ATTEMPTS):
                raise
            if self._engine is not None:
                await asyncio.to_thread(
                    dead_letters.record, self._engine, DeadLetterKind.PARTNER_EVENT,
                    f"{req.partner}:{req.booking_ref}", shipment_id=req.shipment_id, attempts=attempt, error=err,
                    now=datetime.now(UTC), ops_email=self._ops_email)
            log.error("partner_events_unreadable", shipment_id=req.shipment_id, partner=req.partner,
                      error=type_name(err), attempt=attempt)
            raise non_retryable(err, f"{req.shipment_id}: {req.partner}'s events for {req.booking_ref}") from err
