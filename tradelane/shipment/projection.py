"""What the workflow sends the read model: a snapshot of its state with the events and notices not yet written.
"""

from typing import Any

from pydantic import BaseModel, Field

from tradelane.shipment.events import CarrierEvent
from tradelane.shipment.state import Notice, ShipmentState


class Recipient(BaseModel):
    """What notifications need to know about the recipient, and no more: where to write, in which language."""

    email: str | None = None
    locale: str | None = None
    country: str
    region: str | None = None


class Since(BaseModel):
    """What a snapshot changes since an earlier one of the same run that the read model accepted (`version`).

    A writer that finds the stored shipment still at `version` writes only these; any other stored version (the
    first snapshot, one given up as a dead letter, a workflow task that never completed, a concurrent writer) gets
    the whole snapshot compared with what is stored.
    """

    version: int
    transitions: int
    """The transitions before this index were stored with `version`, as they are now (a completed run only appends)."""
    gates: list[int] = Field(default_factory=list)
    """Indices of the gates opened or changed since (escalated, decided)."""
    records: list[int] = Field(default_factory=list)
    """Indices of the partner records made or changed since (a booking cancelled, a label's tracking number)."""
    shown: list[str] = Field(default_factory=list)
    """The shipment row's columns (`shown`) whose values changed since."""


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
    since: Since | None = None
    """What changed since the last snapshot the read model accepted; None: compare everything with what is stored."""
    overwrite: bool = False
    """The row holds this version or a newer one that no completed task of this shipment wrote (a local-activity
    projection of a task lost with its worker): write this snapshot over it, whole, phantoms deleted."""


def shown(state: ShipmentState) -> dict[str, Any]:
    """The columns of the read model's shipment row that follow the workflow, as lists show them: the carrier once
    booked and the ETA while the shipment can still arrive (the state keeps the planned carrier and the last
    estimate). The newest tracking status is the writer's to keep (snapshots carry only new events)."""
    eta = state.live_eta
    return {
        "stage": state.stage, "status": state.status, "carrier": state.booked_carrier, "mode": state.mode,
        "tracking_number": state.tracking_number,
        "pending_gates": ",".join(gate.kind for gate in state.pending_gates), "failure": state.failure,
        # The workflow records its first transition before anything is projected.
        "updated_at": state.transitions[-1].at if state.transitions else None,
        "eta_expected": eta.expected if eta else None, "eta_earliest": eta.earliest if eta else None,
        "eta_latest": eta.latest if eta else None, "promised_date": state.promised_date,
        "open_exceptions": ",".join(sorted({e.kind for e in state.open_exceptions})),
        "events_count": state.events_received,
    }
