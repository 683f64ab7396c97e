"""Models that cross the workflow boundary: its input, the state its query returns, and what activities exchange.

One pydantic model in and one out for every workflow, activity, update and query, so fields can be added later
without breaking running workflows.
"""

from datetime import date, datetime, timedelta
from decimal import Decimal

from pydantic import BaseModel, Field

from tradelane.decisions.models import Assessment, TransportPlan
from tradelane.enums import Decision, ExceptionKind, GateKind, Mode, NoticeKind, Stage, Status, TrackingStatus
from tradelane.eta import Eta, EtaBasis
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
    stall_after: timedelta = timedelta(hours=48)
    """A moving shipment with no tracking event for this long raises a `stalled` exception."""
    customs_hold_alert_after: timedelta = timedelta(hours=24)
    """A customs hold (filing or tracking event) lasting longer raises a `customs_hold` exception."""
    poll_interval: timedelta = timedelta(minutes=15)
    """How often partners without webhooks are polled for tracking events."""
    history_limit: int | None = None
    """Continue as new past this many history events (besides the server's own suggestion); tests set it low."""


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
    """Where partners push tracking events (Tradelane's webhook); partners without webhooks are polled."""
    resume: "Resume | None" = None
    """Set when a run continues as new: the state carried over."""


class AssessResult(BaseModel):
    """Output of the `decisions.assess` activity: the decisions, and the ETA basis (plan legs, allowances and the
    business calendars of the countries involved) looked up once so that every later ETA revision is pure."""

    assessment: Assessment
    eta_basis: EtaBasis | None = None


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


class UndoStep(BaseModel):
    """How to take back one completed step; pushed right after the step succeeds."""

    action: str
    """Activity name of the undo, e.g. `carrier.cancel_booking`."""
    call: PartnerCall
    description: str


class StockRequest(BaseModel):
    """Input of the shipment's ledger steps (`inventory.reserve`, `.ship`, `.receive`)."""

    shipment_id: str
    idempotency_key: str
    origin_warehouse: str | None = None
    destination_warehouse: str | None = None
    lines: dict[str, int]
    """Units per SKU (the request's items summed by SKU)."""


class StockRecord(BaseModel):
    """What the ledger holds for a shipment: shown in its state, replaced by every ledger step."""

    origin_warehouse: str | None = None
    destination_warehouse: str | None = None
    lines: dict[str, int] = Field(default_factory=dict)
    state: str
    """`reserved`, `refused`, `shipped`, `received`, `released`; `untracked` when no warehouse keeps stock."""
    note: str = ""


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
    received_seq: int = 0
    """Order of arrival at the workflow (1, 2, ...); ties in time keep arrival order."""
    via: str = "webhook"
    """`webhook` or `poll`: how the event reached Tradelane."""


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

    @property
    def pending_gates(self) -> list[Gate]:
        return [gate for gate in self.gates if gate.pending]

    @property
    def open_exceptions(self) -> list[ShipmentException]:
        return [e for e in self.exceptions if e.open]


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
