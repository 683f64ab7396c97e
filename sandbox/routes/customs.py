"""Customs broker routes: filings, withdrawal and release after an ops decision."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Response, status

from sandbox.context import HeadersDep, SandboxDep, close_record, mark_replay
from sandbox.models import FilingOut, FilingRequest, HistoryEntry, OptionalShipmentBody, ReleaseFilingRequest
from sandbox.partners import Operation
from sandbox.records import FilingRecord, FilingState, RecordKind, request_hash
from sandbox.rules import check_hs_codes

router = APIRouter(prefix="/partners/{partner}/filings", tags=["customs"])


def filing_out(record: FilingRecord) -> FilingOut:
    """Returns the public view of a filing."""
    return FilingOut(
        filing_id=record.id,
        state=record.state,
        hold_reason=record.hold_reason,
        shipment_id=record.shipment_id,
        idempotency_key=record.idempotency_key,
    )


@router.post("", response_model=FilingOut, status_code=status.HTTP_201_CREATED)
async def create_filing(
    partner: str, body: FilingRequest, response: Response, sb: SandboxDep, headers: HeadersDep
) -> FilingOut:
    """Files a customs declaration once per Idempotency-Key; a ``hold`` fault files it on hold."""
    admitted = await sb.admit(partner, Operation.FILE, body.shipment_id, headers)
    req_hash = request_hash(body, partner=partner)
    state = FilingState.HOLD if admitted.hold_reason is not None else FilingState.CLEARED

    def make(filing_id: str, now: datetime) -> FilingRecord:
        check_hs_codes(body.items)
        return FilingRecord(
            kind=RecordKind.FILING,
            partner=partner,
            id=filing_id,
            shipment_id=body.shipment_id,
            state=state,
            idempotency_key=admitted.idempotency_key,
            request_hash=req_hash,
            created_at=now,
            history=[HistoryEntry(state=state, at=now, comment=admitted.hold_reason)],
            hold_reason=admitted.hold_reason,
        )

    record, created = await sb.store.create(RecordKind.FILING, partner, admitted.idempotency_key, req_hash, make)
    mark_replay(response, created)
    return filing_out(record)


@router.post("/{filing_id}/withdraw", response_model=FilingOut)
async def withdraw_filing(
    partner: str, filing_id: str, sb: SandboxDep, headers: HeadersDep, body: OptionalShipmentBody | None = None
) -> FilingOut:
    """Withdraws a filing; withdrawing again is a no-op."""
    record = await close_record(sb, headers, RecordKind.FILING, Operation.WITHDRAW, partner, filing_id, body)
    assert isinstance(record, FilingRecord)
    return filing_out(record)


@router.post("/{filing_id}/release", response_model=FilingOut)
async def release_filing(
    partner: str, filing_id: str, body: ReleaseFilingRequest, sb: SandboxDep, headers: HeadersDep
) -> FilingOut:
    """Releases a held filing after an ops decision; a cleared one stays cleared (no-op)."""
    await sb.admit(partner, Operation.RELEASE_FILING, body.shipment_id, headers)
    record = await sb.store.transition(
        Operation.RELEASE_FILING, partner, filing_id, actor=body.actor, comment=body.comment or None
    )
    assert isinstance(record, FilingRecord)
    return filing_out(record)
