"""Compressed-clock playback of tracking scenarios, pushed to callback URLs.

Each handed-over booking or scheduled slot gets one asyncio task that walks its scenario,
sleeping ``(day offset difference) * seconds_per_day`` real seconds between events. Before
each event the store confirms the record is still live, so a cancel or release stops the
stream even if it lands between the sleep and the send.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
import structlog
from pydantic import BaseModel, ConfigDict

from infra.platform.webhooks import signed_headers
from sandbox.clock import Clock
from sandbox.models import TrackingEvent
from sandbox.scenarios import TrackingStep
from sandbox.store import SandboxStore

log = structlog.get_logger(__name__)


class Place(BaseModel):
    """Values filled into a scenario step's location template."""

    origin: str = ""
    destination: str = ""
    postal_code: str = ""


class PlaybackJob(BaseModel):
    """One scenario to play for one record."""

    model_config = ConfigDict(frozen=True)

    partner: str
    record_id: str
    """booking_id or slot_id; also the events' ``booking_ref``."""
    shipment_id: str
    tracking_number: str | None
    events_url: str | None
    """Where to POST each event; None means poll-only via the tracking endpoint."""
    steps: tuple[TrackingStep, ...]
    started_at: datetime
    """Virtual time zero: event ``occurred_at`` = started_at + day_offset days."""
    place: Place


def build_event(job: PlaybackJob, sequence: int, step: TrackingStep) -> TrackingEvent:
    """Returns the event for step number ``sequence`` (1-based) of ``job``; pure."""
    return TrackingEvent(
        event_id=f"{job.partner}:{job.record_id}:{sequence}",
        partner=job.partner,
        shipment_id=job.shipment_id,
        booking_ref=job.record_id,
        tracking_number=job.tracking_number,
        code=step.code,
        description=step.description,
        location=step.location.format(**job.place.model_dump()),
        occurred_at=job.started_at + timedelta(days=step.day_offset),
        sequence=sequence,
    )


def build_events(job: PlaybackJob) -> list[TrackingEvent]:
    """Returns every event of ``job``'s scenario, in order; pure."""
    return [build_event(job, seq, step) for seq, step in enumerate(job.steps, start=1)]


@dataclass(frozen=True)
class WebhookSigning:
    """How partners authenticate their webhooks: each its own API key and an HMAC signature over timestamp and
    body with its own secret (functions of the partner's name)."""

    secret: Callable[[str], str]
    api_key: Callable[[str], str]
    clock: Clock

    def headers(self, partner: str, event_id: str, body: bytes) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key(partner)}", "Content-Type": "application/json",
                **signed_headers(self.secret(partner), event_id, int(self.clock.now().timestamp()), body)}


class TrackingPlayer:
    """Runs playback tasks and delivers their events.

    Args:
        store: Where emitted events are recorded and record states are checked.
        seconds_per_day: Real seconds per virtual day.
        callback_timeout_s: Timeout of each POST to an events_url.
        retries: Retries of a failed POST before giving up on that event.
        backoff_s: First retry delay; doubled on each further retry.
        http: Client for the POSTs (tests inject one); by default one is created on first use
            and closed by `aclose`.
        signing: Key and secret the POSTs are signed with; None sends them unsigned.
    """

    def __init__(
        self,
        store: SandboxStore,
        *,
        seconds_per_day: float,
        callback_timeout_s: float,
        retries: int,
        backoff_s: float,
        http: httpx.AsyncClient | None = None,
        signing: WebhookSigning | None = None,
    ) -> None:
        self._store = store
        self._signing = signing
        self._seconds_per_day = seconds_per_day
        self._timeout = httpx.Timeout(callback_timeout_s)
        self._retries = retries
        self._backoff_s = backoff_s
        self._http = http
        self._owns_http = http is None
        self._tasks: dict[str, asyncio.Task[None]] = {}

    def start(self, job: PlaybackJob) -> None:
        """Starts playing ``job`` in the background; a record already playing is left alone."""
        if job.record_id in self._tasks:
            return
        task = asyncio.create_task(self._play(job), name=f"tracking:{job.record_id}")
        self._tasks[job.record_id] = task
        task.add_done_callback(lambda t: self._finished(job.record_id, t))

    def stop(self, record_id: str) -> None:
        """Stops a record's playback, if any (the store check would also stop it, later)."""
        task = self._tasks.get(record_id)
        if task is not None:
            task.cancel()

    def active(self) -> list[str]:
        """Returns the record ids whose playback is still running."""
        return list(self._tasks)

    async def wait_idle(self) -> None:
        """Waits until every running playback has finished (or stopped)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks.values()), return_exceptions=True)

    async def aclose(self) -> None:
        """Stops every playback and closes the HTTP client if this player created it."""
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._owns_http and self._http is not None:
            await self._http.aclose()
            self._http = None

    def _finished(self, record_id: str, task: asyncio.Task[None]) -> None:
        self._tasks.pop(record_id, None)
        if not task.cancelled() and task.exception() is not None:
            log.error("tracking_playback_crashed", record_id=record_id, exc_info=task.exception())

    async def _play(self, job: PlaybackJob) -> None:
        previous_offset = 0.0
        for event, step in zip(build_events(job), job.steps, strict=True):
            await asyncio.sleep(max(0.0, step.day_offset - previous_offset) * self._seconds_per_day)
            previous_offset = step.day_offset
            if not await self._store.append_event(job.record_id, event):
                log.info("tracking_playback_stopped", record_id=job.record_id, at_sequence=event.sequence)
                return
            if job.events_url is not None:
                await self._deliver(job.events_url, event)
        await self._store.finish_playback(job.record_id)

    def _client(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=self._timeout)
        return self._http

    async def _deliver(self, url: str, event: TrackingEvent) -> bool:
        """POSTs one event, retrying failures; returns whether the receiver accepted it."""
        body = json.dumps(event.model_dump(mode="json")).encode()
        attempts = self._retries + 1
        for attempt in range(1, attempts + 1):
            # Signed afresh on each attempt: a retry hours later must not look like a replay.
            headers = (self._signing.headers(event.partner, event.event_id, body) if self._signing is not None
                       else {"Content-Type": "application/json"})
            try:
                response = await self._client().post(url, content=body, headers=headers, timeout=self._timeout)
            except httpx.HTTPError as exc:
                failure = f"{type(exc).__name__}: {exc}"
            else:
                if response.is_success:
                    return True
                failure = f"HTTP {response.status_code}"
            log.warning(
                "tracking_event_delivery_failed",
                event_id=event.event_id,
                url=url,
                attempt=attempt,
                of=attempts,
                failure=failure,
            )
            if attempt < attempts:
                await asyncio.sleep(self._backoff_s * 2 ** (attempt - 1))
        # The event stays recorded for polling; a receiver that was down can catch up there.
        log.error("tracking_event_given_up", event_id=event.event_id, url=url, attempts=attempts)
        return False

