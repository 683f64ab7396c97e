"""The reconciliation of Tradelane's bookings with the partners': which bookings are orphans, which are missing.

Pure: the activity (`activities/reconciliation.py`) reads both sides and files what `compare` finds on the
reconciliation list. The rule:
- an **orphan** is a booking the partner holds open (confirmed or in transit) for which Tradelane has no live or
  delivered shipment holding it (none at all, or one that ended compensated, cancelled or rejected, whose undo should
  have cancelled it), and which is older than the grace period (a booking younger than that may belong to a shipment
  whose read model has not caught up yet). Orphans are listed for ops, not cancelled: a booking Tradelane does not
  know may have been made on the same account by someone else, and cancelling it is a decision (ops retry the item,
  which cancels it under the key `reconcile:<partner>:<ref>:undo`).
- a booking is **missing at the partner** when a live Tradelane shipment holds it (not cancelled) and the partner
  does not know it at all.
"""

from datetime import datetime, timedelta

from pydantic import BaseModel, Field

from tradelane.enums import Status

OPEN_AT_PARTNER = frozenset({"confirmed", "in_transit"})
"""The partner's booking states in which it still owes a service (and may charge for it)."""

UNDONE = frozenset({"cancelled"})
"""Tradelane's booking states in which nothing is owed any more."""

ACCOUNTED = frozenset({s for s in Status if not s.terminal} | {Status.DELIVERED})
"""Shipment statuses that account for a booking the partner holds: still moving, or delivered."""


class PartnerBooking(BaseModel):
    """A booking as the partner lists it."""

    partner: str
    ref: str
    shipment_id: str
    state: str
    idempotency_key: str
    created_at: datetime


class TradelaneBooking(BaseModel):
    """A booking as Tradelane's read model holds it, with its shipment's status."""

    partner: str
    ref: str
    shipment_id: str
    state: str
    shipment_status: Status


class Comparison(BaseModel):
    orphans: list[PartnerBooking] = Field(default_factory=list)
    missing: list[TradelaneBooking] = Field(default_factory=list)


def compare(partner: str, theirs: list[PartnerBooking], ours: list[TradelaneBooking], now: datetime,
            grace: timedelta) -> Comparison:
    """Orphans and missing bookings of one partner (`theirs`: every booking it lists; `ours`: Tradelane's bookings
    at that partner)."""
    accounted = {b.ref for b in ours if b.partner == partner and b.shipment_status in ACCOUNTED
                 and b.state not in UNDONE}
    known = {b.ref for b in theirs}
    orphans = [b for b in theirs if b.state in OPEN_AT_PARTNER and b.ref not in accounted
               and now - b.created_at >= grace]
    missing = [b for b in ours if b.partner == partner and not b.shipment_status.terminal
               and b.state not in UNDONE and b.ref not in known]
    return Comparison(orphans=orphans, missing=missing)


def orphan_key(partner: str, ref: str) -> str:
    """The idempotency key of an orphan's cancel: stable, so a repeated reconciliation files the same item."""
    return f"reconcile:{partner}:{ref}:undo"


def missing_key(partner: str, ref: str) -> str:
    return f"reconcile:{partner}:{ref}:missing"


class ScanRequest(BaseModel):
    """Input of the reconciliation (workflow and activity)."""

    grace: timedelta = timedelta(minutes=15)
    """A partner's booking younger than this is never an orphan."""


class ReconciliationReport(BaseModel):
    """What one reconciliation found: its canonical log line and the workflow's result."""

    partners_checked: list[str] = Field(default_factory=list)
    partners_unlisted: list[str] = Field(default_factory=list)
    """Partners whose published API lists no bookings (Karrio carriers, DCSA lines): not compared."""
    partners_failed: dict[str, str] = Field(default_factory=dict)
    """Partners that could not be asked this time, and why; their items stay as they were."""
    orphans: list[str] = Field(default_factory=list)
    """`partner:ref` of every orphan found (each on the reconciliation list)."""
    missing: list[str] = Field(default_factory=list)
    """`partner:ref` of every Tradelane booking the partner does not know (each on the list)."""
    resolved: int = 0
    """Items of earlier runs that this one no longer finds, resolved."""
    retried: int = 0
    """Open `undo_failed` items whose undo this run ran again (the saga's attempts were spent; a partner outage
    longer than them resolves here without ops)."""
    retried_resolved: int = 0


class DueRetries(BaseModel):
    """Input of `reconciliation.due_retries`: how many open `undo_failed` items one run retries at most."""

    limit: int = 50


class RetryInput(BaseModel):
    """Input of the retry of a reconciliation item: which item, the undo to run again and who asked."""

    item_id: int
    operation: str
    call: dict[str, object]
    requested_by: str


class RetryOutcome(BaseModel):
    item_id: int
    resolved: bool
    error: str | None = None


class ItemResolved(BaseModel):
    item_id: int
    by: str


class ItemRetryFailed(BaseModel):
    item_id: int
    error: str
