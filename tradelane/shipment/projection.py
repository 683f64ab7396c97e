"""What the workflow sends the read model: a snapshot of its state with the events and notices not yet written.
"""

from pydantic import BaseModel, Field

from tradelane.shipment.events import CarrierEvent
from tradelane.shipment.state import Notice, ShipmentState


class Recipient(BaseModel):
    """What notifications need to know about the recipient, and no more: where to write, in which language."""

    email: str | None = None
    locale: str | None = None
    country: str
    region: str | None = None


class ProjectionUpdate(BaseModel):
    """A snapshot for the read model; `version` orders snapshots that arrive out of order.

    `state` comes without its events: `events` carries only those not yet projected, so a long voyage does not
    send its whole timeline again with every snapshot. `notices` are written to the outbox in the same
    transaction as the snapshot (a transactional outbox).
    """

    version: int
    state: ShipmentState
    events: list[CarrierEvent] = Field(default_factory=list)
    notices: list[Notice] = Field(default_factory=list)
    recipient: Recipient | None = None
    order_ref: str = ""
