"""Lookup routes of Tradelane's dialect: a partner's records by idempotency key, and its open records.

``GET /partners/{partner}/{bookings|labels|filings|slots}?idempotency_key=K`` answers the record the partner made
under ``K`` (none, or one: keys are unique per partner and kind). Without a key it lists the partner's records,
``state`` narrowing them (``?state=confirmed&state=in_transit`` for its open bookings): Tradelane reconciles its
bookings with the partner's this way.

``POST /partners/{partner}/{collection}/fence`` with ``{"idempotency_key": K}`` answers the same as the lookup by
key and, when nothing was made under ``K``, fences it: a request under ``K`` that reaches the partner later (its
client gave it up) is refused with 409 ``IDEMPOTENCY_KEY_FENCED`` and makes nothing. Tradelane asks this when a
step's outcome is unknown, so what it finds is final (docs/partners.md, "Lookup by idempotency key").
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from sandbox.context import SandboxDep
from sandbox.errors import ErrorCode, SandboxError
from sandbox.partners import PARTNERS
from sandbox.records import Record, RecordKind

router = APIRouter(prefix="/partners/{partner}", tags=["lookup"])

COLLECTIONS: dict[str, RecordKind] = {
    "bookings": RecordKind.BOOKING, "labels": RecordKind.LABEL, "filings": RecordKind.FILING,
    "slots": RecordKind.SLOT,
}
"""The dialect's collection paths and the kind of record each holds."""


class FoundRecord(BaseModel):
    """One record as a lookup answers it: enough to undo it or reconcile it, nothing more."""

    kind: RecordKind
    id: str
    shipment_id: str
    state: str
    idempotency_key: str
    created_at: datetime
    tracking_number: str | None = None


class FoundRecords(BaseModel):
    """Answer of a lookup: the records found, oldest first (empty when the partner holds none)."""

    records: list[FoundRecord]


class FenceRequest(BaseModel):
    idempotency_key: str = Field(min_length=1, max_length=200)


Collection = Literal["bookings", "labels", "filings", "slots"]


def _found(record: Record) -> FoundRecord:
    return FoundRecord(kind=record.kind, id=record.id, shipment_id=record.shipment_id, state=record.state,
                       idempotency_key=record.idempotency_key, created_at=record.created_at,
                       tracking_number=getattr(record, "tracking_number", None))


def _known(partner: str) -> None:
    if partner not in PARTNERS:
        raise SandboxError(404, ErrorCode.UNKNOWN_PARTNER, f"no partner {partner!r}; known: {', '.join(PARTNERS)}")


@router.post("/{collection}/fence", response_model=FoundRecords)
async def fence(partner: str, collection: Collection, body: FenceRequest, sb: SandboxDep) -> FoundRecords:
    """The record made under the key (none or one); when there is none, nothing is ever made under it."""
    _known(partner)
    found = await sb.store.fence(COLLECTIONS[collection], partner, body.idempotency_key)
    return FoundRecords(records=[] if found is None else [_found(found)])


@router.get("/{collection}", response_model=FoundRecords)
async def find_records(
    partner: str,
    collection: Collection,
    sb: SandboxDep,
    idempotency_key: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
    state: Annotated[list[str] | None, Query()] = None,
) -> FoundRecords:
    """The partner's records of one kind made under ``idempotency_key`` (or all), in the ``state``s given."""
    _known(partner)
    kind = COLLECTIONS[collection]
    found = [
        _found(r)
        for r in await sb.store.records()
        if r.partner == partner and r.kind == kind
        and (idempotency_key is None or r.idempotency_key == idempotency_key)
        and (not state or r.state in state)
    ]
    return FoundRecords(records=found)
