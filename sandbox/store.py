"""In-memory store of the simulated partners' records (`sandbox.records`), their history and idempotency keys.

One `SandboxStore` per app. Every read and write goes through its asyncio lock, and readers
get deep copies, so a record can never change under a caller's feet.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from typing import TypeVar, cast

from sandbox.clock import Clock
from sandbox.errors import ErrorCode, SandboxError
from sandbox.models import HistoryEntry, Quote, TrackingEvent
from sandbox.partners import Operation, TrackingNumberFormat
from sandbox.records import (
    FINISHED_STATES,
    ID_PREFIXES,
    PLAYING_STATES,
    TRANSITIONS,
    BookingRecord,
    BookingState,
    LabelRecord,
    LabelState,
    Record,
    RecordKind,
)

R = TypeVar("R", bound=Record)


def _not_found(kind: RecordKind, record_id: str, partner: str) -> SandboxError:
    return SandboxError(404, ErrorCode.NOT_FOUND, f"{partner} has no {kind} {record_id!r}")


class SandboxStore:
    """Dict-based store of every record, quote, idempotency key and emitted tracking event.

    Args:
        clock: Source of ``created_at`` and history timestamps.
    """

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._lock = asyncio.Lock()
        self._records: dict[str, Record] = {}
        self._quotes: dict[str, Quote] = {}
        self._idempotency: dict[tuple[str, RecordKind, str], str] = {}
        self._fenced: dict[tuple[str, RecordKind, str], datetime] = {}
        """Keys a client fenced (`fence`) while nothing had been made under them, and when: never usable again."""
        self._counters: dict[str, int] = {}
        self._events: dict[tuple[str, str], list[TrackingEvent]] = {}
        self._record_events: dict[str, list[TrackingEvent]] = {}
        """Events by booking or slot id, for partners polled by record rather than by tracking number."""

    # -- helpers (call with the lock held) -----------------------------------------------------

    def _next(self, counter: str) -> int:
        value = self._counters.get(counter, 0) + 1
        self._counters[counter] = value
        return value

    def _peek_id(self, kind: str) -> str:
        return f"{ID_PREFIXES[kind]}-{self._counters.get(kind, 0) + 1:06d}"

    def _next_id(self, kind: str) -> str:
        record_id = self._peek_id(kind)
        self._next(kind)
        return record_id

    def _set_state(self, record: Record, state: str, actor: str | None = None, comment: str | None = None) -> None:
        record.state = state
        record.history.append(HistoryEntry(state=state, at=self._clock.now(), actor=actor, comment=comment))

    def _find(self, kind: RecordKind, partner: str, record_id: str) -> Record | None:
        record = self._records.get(record_id)
        if record is None or record.kind != kind or record.partner != partner:
            return None
        return record

    def _replay(self, partner: str, kind: RecordKind, key: str, req_hash: str) -> Record | None:
        fenced_at = self._fenced.get((partner, kind, key))
        if fenced_at is not None:
            raise SandboxError(
                409,
                ErrorCode.IDEMPOTENCY_KEY_FENCED,
                f"Idempotency-Key {key!r} was fenced by the client at {fenced_at.isoformat()} (it gave the request "
                f"up); nothing is made under it",
            )
        existing_id = self._idempotency.get((partner, kind, key))
        if existing_id is None:
            return None
        existing = self._records[existing_id]
        if existing.request_hash != req_hash:
            raise SandboxError(
                422,
                ErrorCode.IDEMPOTENCY_KEY_REUSED,
                f"Idempotency-Key {key!r} was already used for {kind} {existing.id} with a different "
                "request body; send a new key for a new request",
            )
        return existing

    def _insert(self, record: Record) -> None:
        self._records[record.id] = record
        self._idempotency[(record.partner, record.kind, record.idempotency_key)] = record.id
        tracking_number = getattr(record, "tracking_number", None)
        if tracking_number is not None:
            # Known from now on: polling it answers an empty list rather than 404.
            self._events.setdefault((record.partner, tracking_number), [])

    # -- quotes --------------------------------------------------------------------------------

    async def save_quote(self, make: Callable[[str], Quote]) -> Quote:
        """Stores a quote built by ``make(quote_id)`` and returns it."""
        async with self._lock:
            quote = make(self._next_id("quote"))
            self._quotes[quote.quote_id] = quote
            return quote.model_copy(deep=True)

    # -- creation ------------------------------------------------------------------------------

    async def create(
        self,
        kind: RecordKind,
        partner: str,
        key: str,
        req_hash: str,
        make: Callable[[str, datetime], R],
    ) -> tuple[R, bool]:
        """Creates a record once per idempotency key.

        Args:
            kind: Kind of record; keys are scoped per (partner, kind).
            partner: Partner name.
            key: The Idempotency-Key header.
            req_hash: `request_hash` of the request.
            make: Builds the record from (new id, now); it may raise `SandboxError`, in which
                case nothing is stored and no id is used up.

        Returns:
            The record (a copy) and whether it was created by this call.

        Raises:
            SandboxError: 422 ``IDEMPOTENCY_KEY_REUSED`` for a known key with another body.
        """
        async with self._lock:
            existing = self._replay(partner, kind, key, req_hash)
            if existing is not None:
                return cast(R, existing.model_copy(deep=True)), False
            record = make(self._peek_id(kind), self._clock.now())
            self._next(kind)
            self._insert(record)
            return record.model_copy(deep=True), True

    async def create_label(
        self,
        partner: str,
        booking_id: str,
        key: str,
        req_hash: str,
        number_format: TrackingNumberFormat,
    ) -> tuple[LabelRecord, bool]:
        """Creates a label for an active booking once per idempotency key.

        Returns:
            The label (a copy) and whether it was created by this call.

        Raises:
            SandboxError: 404 ``NOT_FOUND`` for an unknown booking, 409 ``BOOKING_CANCELLED``,
                422 ``IDEMPOTENCY_KEY_REUSED``.
        """
        async with self._lock:
            existing = self._replay(partner, RecordKind.LABEL, key, req_hash)
            if existing is not None:
                return cast(LabelRecord, existing.model_copy(deep=True)), False
            booking = self._find(RecordKind.BOOKING, partner, booking_id)
            if booking is None:
                raise _not_found(RecordKind.BOOKING, booking_id, partner)
            if booking.state == BookingState.CANCELLED:
                raise SandboxError(
                    409, ErrorCode.BOOKING_CANCELLED, f"booking {booking_id} is cancelled; book again first"
                )
            tracking_number = number_format.render(self._next(f"tracking:{partner}"))
            now = self._clock.now()
            label = LabelRecord(
                kind=RecordKind.LABEL,
                partner=partner,
                id=self._next_id(RecordKind.LABEL),
                shipment_id=booking.shipment_id,
                state=LabelState.ACTIVE,
                idempotency_key=key,
                request_hash=req_hash,
                created_at=now,
                history=[HistoryEntry(state=LabelState.ACTIVE, at=now)],
                booking_id=booking_id,
                tracking_number=tracking_number,
            )
            self._insert(label)
            return label.model_copy(deep=True), True

    async def fence(self, kind: RecordKind, partner: str, key: str) -> Record | None:
        """The record made under ``key``, or None after fencing ``key`` so that nothing is ever made under it.

        Atomic with creation (both hold the lock): a request under ``key`` that arrives late (its client gave it
        up, the saga already asked) either made its record before the fence, and the fence answers it, or is
        refused after it. A lookup alone cannot close that window.
        """
        async with self._lock:
            existing_id = self._idempotency.get((partner, kind, key))
            if existing_id is not None:
                return self._records[existing_id].model_copy(deep=True)
            self._fenced.setdefault((partner, kind, key), self._clock.now())
            return None

    # -- reads ---------------------------------------------------------------------------------

    async def get(self, kind: RecordKind, partner: str, record_id: str) -> Record | None:
        """Returns a copy of the record, or None if the partner has no such record."""
        async with self._lock:
            record = self._find(kind, partner, record_id)
            return None if record is None else record.model_copy(deep=True)

    async def shipment_of_tracking(self, partner: str, tracking_number: str) -> str:
        """Returns the shipment a partner's tracking number belongs to, or "" if unknown."""
        async with self._lock:
            for record in self._records.values():
                if record.partner == partner and getattr(record, "tracking_number", None) == tracking_number:
                    return record.shipment_id
            return ""

    async def records(self, shipment_id: str | None = None) -> list[Record]:
        """Returns copies of every record (of one shipment, if given) in creation order."""
        async with self._lock:
            return [
                r.model_copy(deep=True)
                for r in self._records.values()
                if shipment_id is None or r.shipment_id == shipment_id
            ]

    async def events(self, partner: str, tracking_number: str) -> list[TrackingEvent] | None:
        """Returns the events emitted so far for a tracking number, or None if it is unknown."""
        async with self._lock:
            events = self._events.get((partner, tracking_number))
            return None if events is None else [e.model_copy() for e in events]

    async def record_events(self, partner: str, record_id: str) -> list[TrackingEvent] | None:
        """Returns the events emitted so far for a partner's booking or slot, or None if it has no such record."""
        async with self._lock:
            record = self._records.get(record_id)
            if record is None or record.partner != partner:
                return None
            return [e.model_copy() for e in self._record_events.get(record_id, [])]

    # -- state changes -------------------------------------------------------------------------

    async def transition(
        self,
        operation: Operation,
        partner: str,
        record_id: str,
        actor: str | None = None,
        comment: str | None = None,
    ) -> Record:
        """Applies the `TRANSITIONS` entry of ``operation``; repeating it changes nothing.

        Raises:
            SandboxError: 404 ``NOT_FOUND``, or 409 with the code of a refused source state.
        """
        rule = TRANSITIONS[operation]
        async with self._lock:
            record = self._find(rule.kind, partner, record_id)
            if record is None:
                raise _not_found(rule.kind, record_id, partner)
            refusal = rule.refused_from.get(record.state)
            if refusal is not None:
                raise SandboxError(
                    409, refusal, f"{rule.kind} {record_id} is {record.state}; cannot make it {rule.target}"
                )
            if record.state != rule.target:
                self._set_state(record, rule.target, actor=actor, comment=comment)
            return record.model_copy(deep=True)

    async def begin_handover(self, partner: str, booking_id: str) -> tuple[BookingRecord, bool]:
        """Marks a booking handed over (once) and puts it in transit.

        Returns:
            The booking (a copy) and whether this call started the handover.

        Raises:
            SandboxError: 404 ``NOT_FOUND``, or 409 ``BOOKING_CANCELLED`` for a booking
                cancelled before it was ever handed over.
        """
        async with self._lock:
            booking = self._find(RecordKind.BOOKING, partner, booking_id)
            if booking is None:
                raise _not_found(RecordKind.BOOKING, booking_id, partner)
            assert isinstance(booking, BookingRecord)
            if booking.handed_over:
                return booking.model_copy(deep=True), False
            if booking.state == BookingState.CANCELLED:
                raise SandboxError(
                    409, ErrorCode.BOOKING_CANCELLED, f"booking {booking_id} is cancelled; nothing to hand over"
                )
            booking.handed_over = True
            booking.tracking_number = self._active_tracking_number(booking_id)
            self._set_state(booking, BookingState.IN_TRANSIT)
            return booking.model_copy(deep=True), True

    def _active_tracking_number(self, booking_id: str) -> str | None:
        labels = [
            r
            for r in self._records.values()
            if isinstance(r, LabelRecord) and r.booking_id == booking_id and r.state == LabelState.ACTIVE
        ]
        # The newest active label is the one physically on the parcel.
        return labels[-1].tracking_number if labels else None

    async def append_event(self, record_id: str, event: TrackingEvent) -> bool:
        """Records an emitted event if the record's playback is still live.

        Returns:
            False when the record left its playing state (cancelled, released): stop playback.
        """
        async with self._lock:
            record = self._records[record_id]
            if record.state != PLAYING_STATES[record.kind]:
                return False
            if event.tracking_number is not None:
                self._events.setdefault((record.partner, event.tracking_number), []).append(event)
            self._record_events.setdefault(record_id, []).append(event)
            return True

    async def finish_playback(self, record_id: str) -> None:
        """Moves a record whose scenario completed to its finished state, if still playing."""
        async with self._lock:
            record = self._records[record_id]
            if record.state == PLAYING_STATES[record.kind]:
                self._set_state(record, FINISHED_STATES[record.kind])
