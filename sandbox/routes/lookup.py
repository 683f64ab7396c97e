"""Lookup routes of Tradelane's dialect: a partner's records by idempotency key, and its open records.

``GET /partners/{partner}/{bookings|labels|filings|slots}?idempotency_key=K`` answers the record the partner made
under ``K`` (none, or one: keys are unique per partner and kind). Without a key it lists the partner's records,
``state`` narrowing them (``?state=confirmed&state=in_transit`` for its open bookings). Tradelane asks the first
when a step's outcome is unknown (the partner may have acted before a timeout) and the second when it reconciles
its bookings with the partner's (docs/partners.md, "Lookup by idempotency key").
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel

from sandbox.context import SandboxDep
from sandbox.errors import ErrorCode, SandboxError
from sandbox.partners import PARTNERS
from sandbox.records import RecordKind

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


@router.get("/{collection}", response_model=FoundRecords)
async def find_records(
    partner: str,
    collection: Literal["bookings", "labels", "filings", "slots"],
    sb: SandboxDep,
    idempotency_key: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
    state: Annotated[list[str] | None, Query()] = None,
) -> FoundRecords:
    """The partner's records of one kind made under ``idempotency_key`` (or all), in the ``state``s given."""
    if partner not in PARTNERS:
        raise SandboxError(404, ErrorCode.UNKNOWN_PARTNER, f"no partner {partner!r}; known: {', '.join(PARTNERS)}")
    kind = COLLECTIONS[collection]
    found = [
        FoundRecord(kind=r.kind, id=r.id, shipment_id=r.shipment_id, state=r.state,
                    idempotency_key=r.idempotency_key, created_at=r.created_at,
                    tracking_number=getattr(r, "tracking_number", None))
        for r in await sb.store.records()
        if r.partner == partner and r.kind == kind
        and (idempotency_key is None or r.idempotency_key == idempotency_key)
        and (not state or r.state in state)
    ]
    return FoundRecords(records=found)
