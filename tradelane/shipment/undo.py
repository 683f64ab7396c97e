"""Undos of partner steps whose outcome is known, and of those whose outcome is not: keys, lookups and what ops see.

A partner step that fails for good after the partner may have acted (a timeout, a 5xx, a body that does not parse,
retries exhausted) leaves its outcome unknown: the partner may hold a booking, label, filing or slot that Tradelane
never learnt of. The saga then pushes a `LookupUndo`: its activity asks the partner for the record made under the
step's idempotency key and takes it back if there is one. A partner whose published API cannot be asked by key
answers `LOOKUP_UNSUPPORTED`, and the step lands on the reconciliation list for ops as `outcome_unknown`.

Every undo sends its own idempotency key, derived from the step's (`undo_key`), so a partner that deduplicates by key
never mistakes the cancel for a replay of the booking, and a retried undo is one undo.
"""

from enum import StrEnum
from typing import ClassVar, Literal, Protocol

from pydantic import BaseModel

from tradelane.shipment.calls import PartnerCall, PartnerRecord, StockRelease

UNDO_SUFFIX = ":undo"

LOOKUP_UNSUPPORTED = "PartnerLookupUnsupported"
"""Error type of a lookup by idempotency key that the partner's published API does not offer (not retried)."""

LEDGER = "tradelane-ledger"
"""The `partner` of a reconciliation item whose undo is the stock ledger's release (Tradelane's own database)."""

NOT_FOUND = "absent"
"""State of the record a lookup answers with when the partner holds nothing under the key: nothing to undo."""


def undo_key(step_key: str) -> str:
    """The idempotency key of a step's undo: the step's own key plus `:undo` (stable across retries and replays)."""
    return step_key if step_key.endswith(UNDO_SUFFIX) else f"{step_key}{UNDO_SUFFIX}"


def step_key_of(key: str) -> str:
    """The idempotency key of the step an undo takes back (the inverse of `undo_key`)."""
    return key.removesuffix(UNDO_SUFFIX)


class UndoKind(StrEnum):
    """The partner's undo activity of each mutating step, and its by-key twin for an unknown outcome."""

    CANCEL_BOOKING = "carrier.cancel_booking"
    VOID_LABEL = "carrier.void_label"
    WITHDRAW_FILING = "customs.withdraw"
    RELEASE_SLOT = "last_mile.release"
    CANCEL_BOOKING_BY_KEY = "carrier.cancel_booking_by_key"
    VOID_LABEL_BY_KEY = "carrier.void_label_by_key"
    WITHDRAW_FILING_BY_KEY = "customs.withdraw_by_key"
    RELEASE_SLOT_BY_KEY = "last_mile.release_by_key"


BY_KEY: dict[str, UndoKind] = {
    UndoKind.CANCEL_BOOKING: UndoKind.CANCEL_BOOKING_BY_KEY,
    UndoKind.VOID_LABEL: UndoKind.VOID_LABEL_BY_KEY,
    UndoKind.WITHDRAW_FILING: UndoKind.WITHDRAW_FILING_BY_KEY,
    UndoKind.RELEASE_SLOT: UndoKind.RELEASE_SLOT_BY_KEY,
}
"""The by-key undo of each undo: what runs when the step's outcome is unknown."""

RECORD_KIND: dict[str, str] = {
    UndoKind.CANCEL_BOOKING_BY_KEY: "booking",
    UndoKind.VOID_LABEL_BY_KEY: "label",
    UndoKind.WITHDRAW_FILING_BY_KEY: "filing",
    UndoKind.RELEASE_SLOT_BY_KEY: "slot",
}
"""Which kind of record a by-key undo looks for."""

CERTAIN_FAILURES = frozenset({"PartnerRejected"})
"""Failure types after which the partner is known to hold nothing: it refused the request (a 4xx on the key)."""


def outcome_unknown(failure_type: str | None) -> bool:
    """Whether a mutating step that failed with `failure_type` (an `ApplicationError` type; None for a Temporal
    timeout) may still have acted at the partner. Only a partner's refusal is certain."""
    return failure_type not in CERTAIN_FAILURES


class KeepsRecords(Protocol):
    """What a lookup undo changes in the shipment's state (`ShipmentState.keep`); a protocol, so this module need
    not import the state, which imports it."""

    def keep(self, record: PartnerRecord) -> None: ...


class LookupUndo(BaseModel):
    """Take back whatever a partner made under a step's idempotency key, if anything: the undo of a step whose
    outcome is unknown. Its call carries the undo's own key (`undo_key`); the step's key is `step_key_of` it."""

    kind: Literal["lookup"] = "lookup"
    action: str
    """A by-key undo activity (`UndoKind.*_BY_KEY`)."""
    call: PartnerCall
    description: str

    result_type: ClassVar[type[BaseModel]] = PartnerRecord

    def apply(self, state: KeepsRecords, result: BaseModel) -> None:
        """A record found (and taken back) joins the state, so the read model shows it; nothing found changes
        nothing."""
        if not isinstance(result, PartnerRecord):
            raise TypeError(f"{self.action} answers with a PartnerRecord, not {type(result).__name__}")
        if result.state != NOT_FOUND:
            state.keep(result)


class ReconciliationReason(StrEnum):
    """Why an item is on the reconciliation list."""

    UNDO_FAILED = "undo_failed"
    """An undo still failed after its retries: the partner may still hold the record."""
    OUTCOME_UNKNOWN = "outcome_unknown"
    """A step's outcome is unknown and the partner cannot be asked by idempotency key (or the lookup failed)."""
    ORPHAN = "orphan"
    """The partner holds an open booking that no live Tradelane shipment has (found by the reconciliation)."""
    MISSING_AT_PARTNER = "missing_at_partner"
    """A live Tradelane shipment holds a booking the partner does not know (found by the reconciliation)."""


class ReconciliationState(StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"


class ReconciliationItem(BaseModel):
    """What the saga (or the reconciliation) reports for ops: input of `reconciliation.record`."""

    shipment_id: str | None
    partner: str
    operation: str
    """The undo activity a retry runs (e.g. `carrier.cancel_booking`), or for a missing booking what was found."""
    idempotency_key: str
    """The key the retried undo sends (the undo's own key)."""
    partner_ref: str | None = None
    reason: ReconciliationReason
    error: str | None = None
    call: PartnerCall | StockRelease | None = None
    """The undo's input, run again by a retry; None when there is nothing Tradelane can retry."""


def reconciliation_reason(step: "LookupUndo | object") -> ReconciliationReason:
    """A failed by-key undo leaves the outcome unknown; any other failed undo is an undo that failed."""
    return ReconciliationReason.OUTCOME_UNKNOWN if isinstance(step, LookupUndo) else ReconciliationReason.UNDO_FAILED
