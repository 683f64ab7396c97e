"""A partner's tracking event as the workflow receives it (webhook or poll), its code already mapped.
"""

from datetime import datetime

from pydantic import BaseModel

from tradelane.enums import TrackingStatus


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
