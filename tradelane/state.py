"""Models that cross the workflow boundary: its input, the state its query returns, and what activities exchange.

One pydantic model in and one out for every workflow, activity, update and query, so fields can be added later
without breaking running workflows.
"""

from datetime import datetime, timedelta
from decimal import Decimal

from pydantic import BaseModel, Field

from tradelane.decisions.models import Assessment, TransportPlan
from tradelane.enums import Decision, GateKind, Mode, Stage, Status, TrackingStatus
from tradelane.models import ShipmentRequest


class ShipmentTimings(BaseModel):
    """Every wait of a shipment, so tests and the demo can run in seconds and production in days."""

    stage_timeout: dict[Stage, timedelta] = Field(
        default_factory=lambda: {Stage.TRANSIT: timedelta(days=60), Stage.LAST_MILE: timedelta(days=10)}
    )
    """How long the stages that wait for partner events (transit, last mile) may take before ops must decide."""
    gate_escalate_after: timedelta = timedelta(hours=4)
    """An approval still undecided after this is escalated (status, search attribute and an error log)."""
    activity_timeout: timedelta = timedelta(seconds=30)
    """Start-to-close limit of one partner call (the HTTP client's own timeout is shorter)."""
    retry_initial_interval: timedelta = timedelta(seconds=1)
    retry_maximum_interval: timedelta = timedelta(minutes=1)
    retry_maximum_attempts: int = 20
    """Attempts for a transient partner failure before the step counts as failed (0 = forever)."""


class ApprovalPolicy(BaseModel):
    """Thresholds above which a person must approve a shipment before it is booked."""

    value_thresholds: dict[str, Decimal] = Field(default_factory=dict)
    """Declared-value threshold per currency; a currency not listed always needs approval."""


class ShipmentInput(BaseModel):
    """The workflow's single input: the request plus the settings it runs under."""

    request: ShipmentRequest
    timings: ShipmentTimings = Field(default_factory=ShipmentTimings)
    approvals: ApprovalPolicy = Field(default_factory=ApprovalPolicy)
    events_url: str | None = None
    """Where partners push tracking events (Tradelane's webhook); None when events are polled."""


class AssessRequest(BaseModel):
    """Input of the `decisions.assess` activity: the shipment and the partners that already failed for good."""

    request: ShipmentRequest
    exclude_partners: list[str] = Field(default_factory=list)


class Replan(BaseModel):
    """A switch to a backup plan after a partner failed for good: visible in the shipment's history."""

    at: datetime
    failed_partner: str
    reason: str
    from_plan: str
    to_plan: str | None
    """None when no backup met the constraints and the shipment was compensated."""


class PartnerCall(BaseModel):
    """Input of every partner activity: who, for which shipment, under which idempotency key."""

    shipment_id: str
    partner: str
    idempotency_key: str
    request: ShipmentRequest | None = None
    ref: str | None = None
    """The partner's id of the record the call acts on (booking, label, filing, slot)."""
    origin: str | None = None
    destination: str | None = None
    """The leg's lane for a booking that is one leg of a multimodal plan; None means the shipment's lane."""
    tracking_number: str | None = None
    events_url: str | None = None
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


class UndoStep(BaseModel):
    """How to take back one completed step; pushed right after the step succeeds."""

    action: str
    """Activity name of the undo, e.g. `carrier.cancel_booking`."""
    call: PartnerCall
    description: str


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
    actor: str = Field(min_length=1, max_length=120)
    comment: str = Field(default="", max_length=2000)


class CancelRequest(BaseModel):
    actor: str = Field(min_length=1, max_length=120)
    reason: str = Field(default="", max_length=2000)


class IgnoredSignal(BaseModel):
    received_at: datetime
    gate: str
    decision: str
    actor: str
    reason: str


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

    @property
    def pending_gates(self) -> list[Gate]:
        return [gate for gate in self.gates if gate.pending]


class ProjectionUpdate(BaseModel):
    """A snapshot for the read model; `version` orders snapshots that arrive out of order."""

    version: int
    state: ShipmentState
