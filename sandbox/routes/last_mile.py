"""Last-mile routes: delivery slots and their release."""

from __future__ import annotations

from datetime import datetime, timedelta

from fastapi import APIRouter, Response, status

from sandbox.context import HeadersDep, SandboxDep, close_record, mark_replay
from sandbox.models import HistoryEntry, OptionalShipmentBody, SlotOut, SlotRequest
from sandbox.partners import Operation
from sandbox.playback import Place, PlaybackJob
from sandbox.records import RecordKind, SlotRecord, SlotState, request_hash
from sandbox.rules import check_lane
from sandbox.scenarios import LAST_MILE_SCENARIOS, scenario_steps

router = APIRouter(prefix="/partners/{partner}/slots", tags=["last_mile"])


def slot_out(record: SlotRecord) -> SlotOut:
    """Returns the public view of a slot."""
    return SlotOut(
        slot_id=record.id,
        partner=record.partner,
        state=record.state,
        window_start=record.window_start,
        window_end=record.window_end,
        shipment_id=record.shipment_id,
        idempotency_key=record.idempotency_key,
    )


@router.post("", response_model=SlotOut, status_code=status.HTTP_201_CREATED)
async def schedule_slot(
    partner: str, body: SlotRequest, response: Response, sb: SandboxDep, headers: HeadersDep
) -> SlotOut:
    """Schedules a delivery once per Idempotency-Key and starts its delivery scenario."""
    admitted = await sb.admit(partner, Operation.SCHEDULE, body.shipment_id, headers)
    req_hash = request_hash(body, partner=partner)
    first_day, last_day = admitted.partner.last_mile_terms().slot_window_days

    def make(slot_id: str, now: datetime) -> SlotRecord:
        check_lane(admitted.partner, None, body.destination_country)
        return SlotRecord(
            kind=RecordKind.SLOT,
            partner=partner,
            id=slot_id,
            shipment_id=body.shipment_id,
            state=SlotState.SCHEDULED,
            idempotency_key=admitted.idempotency_key,
            request_hash=req_hash,
            created_at=now,
            history=[HistoryEntry(state=SlotState.SCHEDULED, at=now)],
            tracking_number=body.tracking_number,
            destination_country=body.destination_country,
            postal_code=body.postal_code,
            window_start=now + timedelta(days=first_day),
            window_end=now + timedelta(days=last_day),
        )

    record, created = await sb.store.create(RecordKind.SLOT, partner, admitted.idempotency_key, req_hash, make)
    if created:
        sb.player.start(
            PlaybackJob(
                partner=partner,
                record_id=record.id,
                shipment_id=record.shipment_id,
                tracking_number=record.tracking_number,
                events_url=body.events_url,
                steps=scenario_steps(partner, admitted.scenario, LAST_MILE_SCENARIOS),
                # Virtual time zero: when the goods reach the partner (the last leg's arrival), else now.
                started_at=body.ready_at or record.created_at,
                place=Place(destination=record.destination_country, postal_code=record.postal_code),
            )
        )
    mark_replay(response, created)
    return slot_out(record)


@router.post("/{slot_id}/release", response_model=SlotOut)
async def release_slot(
    partner: str, slot_id: str, sb: SandboxDep, headers: HeadersDep, body: OptionalShipmentBody | None = None
) -> SlotOut:
    """Releases a slot and stops its delivery scenario; releasing again is a no-op."""
    record = await close_record(sb, headers, RecordKind.SLOT, Operation.RELEASE_SLOT, partner, slot_id, body)
    assert isinstance(record, SlotRecord)
    return slot_out(record)
