"""The state of one shipment workflow: what its query returns and its result, and the records it keeps
(transitions, gates, exceptions, notices, undo steps), plus the messages its handlers take.
"""

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, Discriminator, Field, Tag

from tradelane.decisions.models import Assessment, TransportPlan
from tradelane.enums import Decision, ExceptionKind, GateKind, Mode, NoticeKind, Stage, Status
from tradelane.eta import Eta, EtaBasis
from tradelane.models import Actor, Comment
from tradelane.shipment.calls import PartnerCall, PartnerRecord, StockRecord, StockRelease
from tradelane.shipment.events import CarrierEvent
from tradelane.shipment.undo import LookupUndo


class Replan(BaseModel):
    """A switch to a backup plan after a partner failed for good: visible in the shipment's history."""

    at: datetime
    failed_partner: str
    reason: str
    from_plan: str
    to_plan: str | None
    """None when no backup met the constraints and the shipment was compensated."""


class PartnerUndo(BaseModel):
    """Take back a record a partner holds (booking, label, filing, slot) with the partner's own undo call."""

    kind: Literal["partner"] = "partner"
    action: str
    """Activity name of the undo, e.g. `carrier.cancel_booking`."""
    call: PartnerCall
    description: str

    result_type: ClassVar[type[BaseModel]] = PartnerRecord

    def apply(self, state: "ShipmentState", result: BaseModel) -> None:
        """The partner's answer replaces what the state knew of that record."""
        if not isinstance(result, PartnerRecord):
            raise TypeError(f"{self.action} answers with a PartnerRecord, not {type(result).__name__}")
        state.keep(result)


class StockUndo(BaseModel):
    """Give back whatever the merchant's stock ledger still holds for the shipment (Tradelane's own database, not a
    partner)."""

    kind: Literal["stock"] = "stock"
    action: Literal["inventory.release"] = "inventory.release"
    call: StockRelease
    description: str

    result_type: ClassVar[type[BaseModel]] = StockRecord

    def apply(self, state: "ShipmentState", result: BaseModel) -> None:
        """The ledger answers with the shipment's stock after the release."""
        if not isinstance(result, StockRecord):
            raise TypeError(f"{self.action} answers with a StockRecord, not {type(result).__name__}")
        state.stock = result


def _undo_kind(value: Any) -> str:
    """Steps saved before undo steps were typed (in a continue-as-new input) have no `kind`: their action tells."""
    if isinstance(value, dict):
        return str(value.get("kind") or ("stock" if value.get("action") == StockUndo.model_fields["action"].default
                                         else "partner"))
    return str(value.kind)


UndoStep = Annotated[Annotated[PartnerUndo, Tag("partner")] | Annotated[StockUndo, Tag("stock")]
                     | Annotated[LookupUndo, Tag("lookup")], Discriminator(_undo_kind)]
"""How to take back one completed step; pushed right after the step succeeds, run in reverse by the saga."""


class CompensationRecord(BaseModel):
    action: str
    description: str
    ok: bool
    at: datetime
    error: str | None = None


class Transition(BaseModel):
    seq: int
    stage: Stage
    status: Status
    at: datetime
    note: str = ""


class Gate(BaseModel):
    """One approval point: opened by the workflow, decided by a person."""

    kind: GateKind
    stage: Stage
    reason: str
    opened_at: datetime
    escalated_at: datetime | None = None
    decision: Decision | None = None
    actor: str | None = None
    comment: str | None = None
    decided_at: datetime | None = None
    via: str | None = None
    """`update` or `signal`: how the decision arrived."""
    closed_at: datetime | None = None
    """Set when the shipment ended while the gate was still open; a closed gate takes no decision."""

    @property
    def pending(self) -> bool:
        return self.decision is None and self.closed_at is None


class ApprovalDecision(BaseModel):
    """An ops decision on a pending gate; the same model for the update and the signal."""

    gate: GateKind
    decision: Decision
    actor: Actor
    comment: Comment = ""


class CancelRequest(BaseModel):
    actor: Actor
    reason: Comment = ""


class IgnoredSignal(BaseModel):
    received_at: datetime
    gate: str
    decision: str
    actor: str
    reason: str


class ShipmentException(BaseModel):
    """A problem detected on a moving shipment: alerts ops, notifies the customer where it concerns them."""

    seq: int
    kind: ExceptionKind
    detail: str
    raised_at: datetime
    resolved_at: datetime | None = None
    resolution: str | None = None
    customer_notified: bool = False

    @property
    def open(self) -> bool:
        return self.resolved_at is None


class Notice(BaseModel):
    """A notification the workflow decided to send; the outbox renders and delivers it (see `activities/`)."""

    seq: int
    kind: NoticeKind
    at: datetime
    customer: bool = True
    """Whether the recipient is told (merchants get every notice by webhook)."""
    ops: bool = False
    """Whether operations are alerted too (exceptions)."""
    exception: ExceptionKind | None = None
    location: str | None = None
    attempt: int | None = None
    eta: Eta | None = None
    promised_date: date | None = None
    reason_code: str | None = None
    """Why a terminal notice's shipment ended (`ShipmentState.failure_code`): for the merchant and ops, never shown
    to the customer."""


TERMINAL_NOTICES: dict[Status, NoticeKind] = {
    Status.COMPENSATED: NoticeKind.COMPENSATED,
    Status.REJECTED: NoticeKind.REJECTED,
    Status.CANCELLED: NoticeKind.CANCELLED,
}
"""The notice of each ending other than delivered: the merchant (webhook) and ops (alert) always get it, the
customer when they were already told something about the shipment."""

WITHDRAWN_AT_END: frozenset[NoticeKind] = frozenset({
    NoticeKind.BOOKED, NoticeKind.SHIPPED, NoticeKind.CUSTOMS_CLEARED, NoticeKind.OUT_FOR_DELIVERY,
    NoticeKind.DELAYED, NoticeKind.EXCEPTION,
})
"""Notices whose customer e-mail, when still unsent at a terminal notice, is withdrawn: each tells the customer
the parcel is on its way (or will be late), which is no longer true. Merchant webhooks and ops alerts of these
notices are not withdrawn: they record what did happen, in order, and never wait for quiet hours."""


class ShipmentState(BaseModel):
    """Everything known about a shipment: the query answer and the workflow result."""

    shipment_id: str
    workflow_id: str
    stage: Stage = Stage.BOOKING
    status: Status = Status.IN_PROGRESS
    origin_country: str
    destination_country: str
    merchant_id: str
    declared_value: Decimal
    currency: str
    plan: TransportPlan | None = None
    """The plan being executed (after any backup switch)."""
    assessment: Assessment | None = None
    """The decisions (plan, alternatives, landed cost, emissions, documents, marks, compliance, risk) and reasons."""
    replans: list[Replan] = Field(default_factory=list)
    carrier: str | None = None
    mode: Mode | None = None
    tracking_number: str | None = None
    records: list[PartnerRecord] = Field(default_factory=list)
    transitions: list[Transition] = Field(default_factory=list)
    gates: list[Gate] = Field(default_factory=list)
    ignored_signals: list[IgnoredSignal] = Field(default_factory=list)
    events: list[CarrierEvent] = Field(default_factory=list)
    compensation: list[CompensationRecord] = Field(default_factory=list)
    failure: str | None = None
    """Why the shipment did not complete (a partner's reason, an ops rejection, a cancellation)."""
    failure_code: str | None = None
    """The typed reason, e.g. a partner's `INVALID_HS_CODE` or `GATE_REJECTED`."""
    cancel_request: CancelRequest | None = None
    eta: Eta | None = None
    """The current ETA with its range; from the plan at booking, revised on every tracking event."""
    eta_basis: EtaBasis | None = None
    eta_revisions: int = 0
    promised_date: date | None = None
    """What the customer was promised: the request's deliver_by, else the latest date of the first ETA."""
    exceptions: list[ShipmentException] = Field(default_factory=list)
    notices: list[Notice] = Field(default_factory=list)
    events_received: int = 0
    duplicate_events: int = 0
    late_events: int = 0
    """Events that arrived after events that happened later (put in their place in time)."""
    last_event_at: datetime | None = None
    """When the workflow last received a tracking event (its own clock, for the stall timer)."""
    delivery_attempts: int = 0
    runs: int = 1
    """Workflow runs so far: a long voyage continues as new to keep its history bounded."""
    stock: StockRecord | None = None
    """Its stock at the merchant's warehouses (reservation, shipment, inbound), when it has a warehouse."""

    def keep(self, record: PartnerRecord) -> None:
        """Remember a partner's record: replaces the one with the same kind, partner and ref, else is added."""
        for index, known in enumerate(self.records):
            if (known.kind, known.partner, known.ref) == (record.kind, record.partner, record.ref):
                self.records[index] = record
                return
        self.records.append(record)

    @property
    def pending_gates(self) -> list[Gate]:
        return [gate for gate in self.gates if gate.pending]

    @property
    def open_exceptions(self) -> list[ShipmentException]:
        return [e for e in self.exceptions if e.open]

    @property
    def ended_undelivered(self) -> bool:
        """Whether the shipment ended without delivery (compensated, rejected or cancelled): it will not arrive."""
        return self.status.terminal and self.status is not Status.DELIVERED

    @property
    def booked_carrier(self) -> str | None:
        """The plan's carrier once a booking was made with it (also after the booking was cancelled by an undo, as
        `records` shows), else None: `carrier` is set when the plan is chosen, before anything is booked, so a
        shipment rejected or compensated before its booking would name a carrier that never had it."""
        if self.carrier is None:
            return None
        booked = any(r.kind == "booking" and r.partner == self.carrier for r in self.records)
        return self.carrier if booked else None

    @property
    def live_eta(self) -> Eta | None:
        """The ETA while the shipment can still arrive: None once it ended without delivery (`eta` keeps the last
        estimate, which no longer says anything about a delivery that will not happen)."""
        return None if self.ended_undelivered else self.eta
