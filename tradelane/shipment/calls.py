"""Inputs and outputs of the shipment's activities: decisions, partner calls and ledger steps.

One pydantic model in and one out for every activity, so fields can be added later without breaking running
workflows.
"""

from datetime import datetime

from pydantic import BaseModel, Field

from tradelane.decisions.models import Assessment
from tradelane.eta import EtaBasis
from tradelane.models import RecordedShipmentRequest


class AssessRequest(BaseModel):
    """Input of the `decisions.assess` activity: the shipment and the partners that already failed for good."""

    request: RecordedShipmentRequest
    exclude_partners: list[str] = Field(default_factory=list)


class AssessResult(BaseModel):
    """Output of the `decisions.assess` activity: the decisions, and the ETA basis (plan legs, allowances and the
    business calendars of the countries involved) looked up once so that every later ETA revision is pure."""

    assessment: Assessment
    eta_basis: EtaBasis | None = None


class PartnerCall(BaseModel):
    """Input of every partner activity: who, for which shipment, under which idempotency key."""

    shipment_id: str
    partner: str
    idempotency_key: str
    request: RecordedShipmentRequest | None = None
    ref: str | None = None
    """The partner's id of the record the call acts on (booking, label, filing, slot)."""
    origin: str | None = None
    destination: str | None = None
    """The leg's lane for a booking that is one leg of a multimodal plan; None means the shipment's lane."""
    tracking_number: str | None = None
    events_url: str | None = None
    ready_at: datetime | None = None
    """When the goods are ready for the partner: the previous leg's arrival (None for the first leg)."""
    actor: str | None = None
    comment: str | None = None


class PartnerRecord(BaseModel):
    """A booking, label, filing or slot held at a partner."""

    kind: str
    partner: str
    ref: str
    state: str
    tracking_number: str | None = None
    hold_reason: str | None = None


class StockRequest(BaseModel):
    """Input of the shipment's ledger steps (`inventory.reserve`, `.ship`, `.receive`)."""

    shipment_id: str
    idempotency_key: str
    origin_warehouse: str | None = None
    destination_warehouse: str | None = None
    lines: dict[str, int]
    """Units per SKU (the request's items summed by SKU)."""


class StockRelease(BaseModel):
    """Input of `inventory.release`, the stock ledger's undo: which shipment, under which idempotency key.

    Earlier shipments sent a `PartnerCall` here; its JSON has these two fields too (the rest is ignored)."""

    shipment_id: str
    idempotency_key: str


class StockRecord(BaseModel):
    """What the ledger holds for a shipment: shown in its state, replaced by every ledger step."""

    origin_warehouse: str | None = None
    destination_warehouse: str | None = None
    lines: dict[str, int] = Field(default_factory=dict)
    state: str
    """`reserved`, `refused`, `shipped`, `received`, `released`; `untracked` when no warehouse keeps stock."""
    note: str = ""
