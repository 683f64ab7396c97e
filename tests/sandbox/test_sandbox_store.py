"""The in-memory store and player without HTTP: hashing, transitions, playback guard."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING

import pytest

from sandbox.clock import SystemClock
from sandbox.errors import SandboxError
from sandbox.models import HistoryEntry, Money, Parcel, QuoteRequest
from sandbox.partners import Operation, TransportMode
from sandbox.playback import Place, PlaybackJob, TrackingPlayer
from sandbox.records import BookingRecord, BookingState, RecordKind, request_hash
from sandbox.scenarios import TRANSIT_SCENARIOS
from sandbox.store import SandboxStore

if TYPE_CHECKING:
    from collections.abc import Callable


def quote_request(**overrides: object) -> QuoteRequest:
    fields: dict[str, object] = {
        "shipment_id": "S", "origin_country": "CN", "destination_country": "DE", "service_level": "x",
        "parcels": [Parcel(weight_kg=1, length_cm=1, width_cm=1, height_cm=1)],
    }
    return QuoteRequest.model_validate({**fields, **overrides})


def test_request_hash_is_canonical() -> None:
    assert request_hash(quote_request()) == request_hash(quote_request(origin_country="cn"))
    assert request_hash(quote_request()) != request_hash(quote_request(service_level="y"))
    assert request_hash(quote_request(), booking_id="A") != request_hash(quote_request(), booking_id="B")


def booking_maker(shipment_id: str = "S") -> Callable[[str, datetime], BookingRecord]:
    def make(record_id: str, now: datetime) -> BookingRecord:
        return BookingRecord(
            kind=RecordKind.BOOKING, partner="bluewave", id=record_id, shipment_id=shipment_id,
            state=BookingState.CONFIRMED, idempotency_key="k", request_hash="h", created_at=now,
            history=[HistoryEntry(state=BookingState.CONFIRMED, at=now)], mode=TransportMode.OCEAN,
            price=Money.of(Decimal("1.00"), "USD"), quote_id=None, origin_country="CN", destination_country="NL",
        )

    return make


async def test_failed_make_uses_no_id() -> None:
    store = SandboxStore(SystemClock())

    def failing(record_id: str, now: datetime) -> BookingRecord:
        raise SandboxError(422, "NOPE", "no")

    with pytest.raises(SandboxError):
        await store.create(RecordKind.BOOKING, "bluewave", "k", "h", failing)
    record, created = await store.create(RecordKind.BOOKING, "bluewave", "k", "h", booking_maker())
    assert (record.id, created) == ("BKG-000001", True)


async def test_playback_stops_when_record_leaves_playing_state_even_without_stop() -> None:
    store = SandboxStore(SystemClock())
    booking, _ = await store.create(RecordKind.BOOKING, "bluewave", "k", "h", booking_maker())
    await store.begin_handover("bluewave", booking.id)
    player = TrackingPlayer(store, seconds_per_day=0.05, callback_timeout_s=1, retries=0, backoff_s=0)
    player.start(
        PlaybackJob(
            partner="bluewave", record_id=booking.id, shipment_id="S", tracking_number="BWLU0000001",
            events_url=None, steps=TRANSIT_SCENARIOS["bluewave"], started_at=datetime(2025, 1, 1, tzinfo=UTC),
            place=Place(origin="CN", destination="NL"),
        )
    )
    async with asyncio.timeout(5):
        while not await store.events("bluewave", "BWLU0000001"):
            await asyncio.sleep(0.002)
    await store.transition(Operation.CANCEL, "bluewave", booking.id)  # the store alone, no player.stop()
    await player.wait_idle()
    events = await store.events("bluewave", "BWLU0000001")
    assert events is not None and [e.code for e in events] == ["GATE_IN"]
    record = await store.get(RecordKind.BOOKING, "bluewave", booking.id)
    assert record is not None and record.state == BookingState.CANCELLED
    await player.aclose()
