"""The shipment workflow's input, and what a continued-as-new run carries over (`Resume`).
"""

from datetime import datetime

from pydantic import BaseModel, Field

from tradelane.models import RecordedShipmentRequest
from tradelane.shipment.calls import PartnerRecord
from tradelane.shipment.config import ApprovalPolicy, ShipmentTimings
from tradelane.shipment.state import ShipmentState, UndoStep


class ShipmentInput(BaseModel):
    """The workflow's single input: the request plus the settings it runs under."""

    request: RecordedShipmentRequest
    timings: ShipmentTimings = Field(default_factory=ShipmentTimings)
    approvals: ApprovalPolicy = Field(default_factory=ApprovalPolicy)
    events_url: str | None = None
    """Where partners push tracking events (Tradelane's webhook); partners without webhooks are polled."""
    resume: "Resume | None" = None
    """Set when a run continues as new: the state carried over."""


class Resume(BaseModel):
    """Where a continued-as-new run picks up: the whole state, the saga stack and the place in the journey."""

    state: ShipmentState
    undo: list[UndoStep]
    bookings: list[PartnerRecord]
    label: PartnerRecord
    leg: int
    """The leg being waited for; `len(plan.legs)` means the last mile."""
    handed_over: bool
    """Whether the leg at `leg` was handed over (or the last-mile slot scheduled) already."""
    projected_version: int
    events_projected: int
    notices_projected: int
    customs_held_since: datetime | None = None


ShipmentInput.model_rebuild()
