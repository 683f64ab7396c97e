"""The simulated partners' records: their kinds, states and allowed state changes, and the request hash that
ties a record to the request that created it (for idempotency keys). Data and pure functions; `SandboxStore` keeps
the records.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from pydantic import BaseModel, Field

from sandbox.errors import ErrorCode
from sandbox.models import HistoryEntry, Money
from sandbox.partners import Operation, TransportMode


class RecordKind(StrEnum):
    """Kinds of record the sandbox keeps (quotes are not records: they change nothing)."""

    BOOKING = "booking"
    LABEL = "label"
    FILING = "filing"
    SLOT = "slot"


class BookingState(StrEnum):
    """Carrier booking states."""

    CONFIRMED = "confirmed"
    IN_TRANSIT = "in_transit"
    ARRIVED = "arrived"
    CANCELLED = "cancelled"


class LabelState(StrEnum):
    """Shipping label states."""

    ACTIVE = "active"
    VOIDED = "voided"


class FilingState(StrEnum):
    """Customs filing states."""

    CLEARED = "cleared"
    HOLD = "hold"
    WITHDRAWN = "withdrawn"


class SlotState(StrEnum):
    """Last-mile slot states; ``delivered`` follows the scenario's last event."""

    SCHEDULED = "scheduled"
    DELIVERED = "delivered"
    RELEASED = "released"


ID_PREFIXES: Mapping[str, str] = MappingProxyType(
    {
        RecordKind.BOOKING: "BKG",
        RecordKind.LABEL: "LBL",
        RecordKind.FILING: "FIL",
        RecordKind.SLOT: "SLT",
        "quote": "QTE",
    }
)
"""Record ids are ``{prefix}-{counter:06d}``: deterministic for a given call sequence."""


class Record(BaseModel):
    """Fields every record has."""

    kind: RecordKind
    partner: str
    id: str
    shipment_id: str
    state: str
    idempotency_key: str
    request_hash: str
    """Canonical hash of the creating request, to detect a key reused with another body."""
    created_at: datetime
    history: list[HistoryEntry] = Field(default_factory=list)


class BookingRecord(Record):
    """A carrier booking."""

    mode: TransportMode
    price: Money
    quote_id: str | None
    origin_country: str
    destination_country: str
    handed_over: bool = False
    tracking_number: str | None = None
    """The active label's tracking number at handover; tracking events carry it."""


class LabelRecord(Record):
    """A shipping label of a booking."""

    booking_id: str
    tracking_number: str
    format: str = "PDF"


class FilingRecord(Record):
    """A customs filing."""

    hold_reason: str | None = None


class SlotRecord(Record):
    """A last-mile delivery slot."""

    tracking_number: str
    destination_country: str
    postal_code: str
    window_start: datetime
    window_end: datetime


class Transition(BaseModel):
    """A state change an operation makes; repeating it is a no-op (idempotent)."""

    kind: RecordKind
    target: str
    refused_from: Mapping[str, ErrorCode] = Field(default_factory=dict)
    """States from which the change is refused with 409 and that code."""


TRANSITIONS: Mapping[Operation, Transition] = MappingProxyType(
    {
        Operation.CANCEL: Transition(kind=RecordKind.BOOKING, target=BookingState.CANCELLED),
        Operation.VOID: Transition(kind=RecordKind.LABEL, target=LabelState.VOIDED),
        Operation.WITHDRAW: Transition(kind=RecordKind.FILING, target=FilingState.WITHDRAWN),
        Operation.RELEASE_FILING: Transition(
            kind=RecordKind.FILING,
            target=FilingState.CLEARED,
            refused_from={FilingState.WITHDRAWN: ErrorCode.FILING_WITHDRAWN},
        ),
        Operation.RELEASE_SLOT: Transition(kind=RecordKind.SLOT, target=SlotState.RELEASED),
    }
)
"""State changes by operation."""

PLAYING_STATES: Mapping[RecordKind, str] = MappingProxyType(
    {RecordKind.BOOKING: BookingState.IN_TRANSIT, RecordKind.SLOT: SlotState.SCHEDULED}
)
"""The state a record must be in for its tracking playback to keep emitting."""

FINISHED_STATES: Mapping[RecordKind, str] = MappingProxyType(
    {RecordKind.BOOKING: BookingState.ARRIVED, RecordKind.SLOT: SlotState.DELIVERED}
)
"""The state a record enters after its scenario's last event."""


def _canonical(value: Any) -> Any:
    if isinstance(value, Decimal):
        # "12.50" and "12.5" are the same amount, so they must hash the same.
        return format(value.normalize(), "f")
    if isinstance(value, dict):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_canonical(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def request_hash(body: BaseModel, **path: str) -> str:
    """Returns a canonical SHA-256 of a request body plus the path parameters it was sent to.

    Args:
        body: The validated request body.
        **path: Path parameters that are part of the request's meaning (e.g. booking_id).
    """
    doc = {"path": path, "body": _canonical(body.model_dump(mode="python"))}
    text = json.dumps(doc, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()
