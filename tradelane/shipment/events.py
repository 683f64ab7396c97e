"""A partner's tracking event as the workflow receives it (webhook or poll), its code already mapped.
"""

from datetime import datetime

from pydantic import BaseModel, field_validator

from tradelane.enums import TrackingStatus
from tradelane.models import without_control_characters


class CarrierEvent(BaseModel):
    """A partner's tracking event, with its code already mapped to Tradelane's vocabulary."""

    event_id: str
    partner: str
    shipment_id: str
    code: str
    status: TrackingStatus
    description: str = ""
    location: str = ""
    occurred_at: datetime
    tracking_number: str | None = None
    booking_ref: str | None = None
    sequence: int | None = None
    received_seq: int = 0
    """Order of arrival at the workflow (1, 2, ...); ties in time keep arrival order."""
    via: str = "webhook"
    """`webhook` or `poll`: how the event reached Tradelane."""

    @field_validator("event_id", "code", "description", "location", "tracking_number", "booking_ref")
    @classmethod
    def _clean(cls, text: str | None) -> str | None:
        # Every ingress builds one of these (a DCSA callback or poll, a Karrio poll): a partner's NUL or line
        # break is dropped here, at the boundary, so it can neither fail the read model's write on every retry
        # (PostgreSQL stores no NUL) nor reach an e-mail. Cleaned, not refused: the event itself is kept.
        return None if text is None else without_control_characters(text)
