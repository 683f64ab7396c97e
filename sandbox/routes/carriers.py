"""Carrier routes: quotes, bookings, labels and handover."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from fastapi import APIRouter, Response, status

from sandbox.context import HeadersDep, SandboxDep, close_record, mark_replay
from sandbox.models import (
    BookingOut,
    BookingRequest,
    HandoverOut,
    HandoverRequest,
    HistoryEntry,
    LabelOut,
    LabelRequest,
    Money,
    OptionalShipmentBody,
    Quote,
    QuoteRequest,
    TransitRange,
)
from sandbox.partners import Operation, Partner
from sandbox.playback import Place, PlaybackJob
from sandbox.records import BookingRecord, BookingState, LabelRecord, RecordKind, request_hash
from sandbox.rules import check_lane, check_parcels, price
from sandbox.scenarios import TRANSIT_SCENARIOS, scenario_steps

router = APIRouter(prefix="/partners/{partner}", tags=["carriers"])


def booking_out(record: BookingRecord) -> BookingOut:
    """Returns the public view of a booking."""
    return BookingOut(
        booking_id=record.id,
        partner=record.partner,
        mode=record.mode,
        state=record.state,
        shipment_id=record.shipment_id,
        idempotency_key=record.idempotency_key,
        price=record.price,
    )


def label_out(record: LabelRecord) -> LabelOut:
    """Returns the public view of a label."""
    return LabelOut(
        label_id=record.id,
        booking_id=record.booking_id,
        tracking_number=record.tracking_number,
        state=record.state,
        format=record.format,
    )


@router.post("/quotes", response_model=Quote)
async def create_quote(partner: str, body: QuoteRequest, sb: SandboxDep, headers: HeadersDep) -> Quote:
    """Prices a shipment; changes no record."""
    admitted = await sb.admit(partner, Operation.QUOTE, body.shipment_id, headers)
    carrier = admitted.partner
    terms = carrier.carrier_terms()
    check_lane(carrier, body.origin_country, body.destination_country)
    check_parcels(carrier, body.parcels)
    breakdown = price(carrier, body.parcels)
    return await sb.store.save_quote(
        lambda quote_id: Quote(
            quote_id=quote_id,
            partner=carrier.name,
            mode=terms.mode,
            price=Money.of(breakdown.amount, breakdown.currency),
            transit_days=TransitRange(min=terms.transit_days.min, max=terms.transit_days.max),
            chargeable_weight_kg=breakdown.chargeable_weight_kg,
            co2e_kg=breakdown.co2e_kg,
        )
    )


def _new_booking(
    carrier: Partner, body: BookingRequest, key: str, req_hash: str
) -> Callable[[str, datetime], BookingRecord]:
    def make(booking_id: str, now: datetime) -> BookingRecord:
        # Validated only for new bookings: a replay answers with the original, whatever changed.
        check_lane(carrier, body.origin_country, body.destination_country)
        check_parcels(carrier, body.parcels)
        breakdown = price(carrier, body.parcels)
        return BookingRecord(
            kind=RecordKind.BOOKING,
            partner=carrier.name,
            id=booking_id,
            shipment_id=body.shipment_id,
            state=BookingState.CONFIRMED,
            idempotency_key=key,
            request_hash=req_hash,
            created_at=now,
            history=[HistoryEntry(state=BookingState.CONFIRMED, at=now)],
            mode=carrier.carrier_terms().mode,
            price=Money.of(breakdown.amount, breakdown.currency),
            quote_id=body.quote_id,
            origin_country=body.origin_country,
            destination_country=body.destination_country,
        )

    return make


@router.post("/bookings", response_model=BookingOut, status_code=status.HTTP_201_CREATED)
async def create_booking(
    partner: str, body: BookingRequest, response: Response, sb: SandboxDep, headers: HeadersDep
) -> BookingOut:
    """Books a shipment once per Idempotency-Key (201 new, 200 replay)."""
    admitted = await sb.admit(partner, Operation.BOOK, body.shipment_id, headers)
    req_hash = request_hash(body, partner=partner)
    record, created = await sb.store.create(
        RecordKind.BOOKING,
        partner,
        admitted.idempotency_key,
        req_hash,
        _new_booking(admitted.partner, body, admitted.idempotency_key, req_hash),
    )
    mark_replay(response, created)
    return booking_out(record)


@router.post("/bookings/{booking_id}/cancel", response_model=BookingOut)
async def cancel_booking(
    partner: str, booking_id: str, sb: SandboxDep, headers: HeadersDep, body: OptionalShipmentBody | None = None
) -> BookingOut:
    """Cancels a booking and stops its tracking; cancelling again is a no-op."""
    record = await close_record(sb, headers, RecordKind.BOOKING, Operation.CANCEL, partner, booking_id, body)
    assert isinstance(record, BookingRecord)
    return booking_out(record)


@router.post("/bookings/{booking_id}/labels", response_model=LabelOut, status_code=status.HTTP_201_CREATED)
async def create_label(
    partner: str, booking_id: str, body: LabelRequest, response: Response, sb: SandboxDep, headers: HeadersDep
) -> LabelOut:
    """Issues a label for a booking once per Idempotency-Key (201 new, 200 replay)."""
    admitted = await sb.admit(partner, Operation.LABEL, body.shipment_id, headers)
    record, created = await sb.store.create_label(
        partner,
        booking_id,
        admitted.idempotency_key,
        request_hash(body, partner=partner, booking_id=booking_id),
        admitted.partner.carrier_terms().tracking_number,
    )
    mark_replay(response, created)
    return label_out(record)


@router.post("/labels/{label_id}/void", response_model=LabelOut)
async def void_label(
    partner: str, label_id: str, sb: SandboxDep, headers: HeadersDep, body: OptionalShipmentBody | None = None
) -> LabelOut:
    """Voids a label; voiding again is a no-op."""
    record = await close_record(sb, headers, RecordKind.LABEL, Operation.VOID, partner, label_id, body)
    assert isinstance(record, LabelRecord)
    return label_out(record)


@router.post("/bookings/{booking_id}/handover", response_model=HandoverOut, status_code=status.HTTP_202_ACCEPTED)
async def handover(
    partner: str, booking_id: str, body: HandoverRequest, sb: SandboxDep, headers: HeadersDep
) -> HandoverOut:
    """Hands a booking to the carrier and starts its transit scenario (once per booking)."""
    admitted = await sb.admit(partner, Operation.HANDOVER, body.shipment_id, headers)
    booking, started = await sb.store.begin_handover(partner, booking_id)
    if started:
        sb.player.start(
            PlaybackJob(
                partner=partner,
                record_id=booking.id,
                shipment_id=booking.shipment_id,
                tracking_number=booking.tracking_number,
                events_url=body.events_url,
                steps=scenario_steps(admitted.partner.name, admitted.scenario, TRANSIT_SCENARIOS),
                started_at=body.ready_at or sb.clock.now(),
                place=Place(origin=booking.origin_country, destination=booking.destination_country),
            )
        )
    return HandoverOut(booking_id=booking.id, state=booking.state)
