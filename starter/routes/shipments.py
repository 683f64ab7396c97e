"""Shipments: backends start them, readers read and list them, ops decide their approvals and cancel them.

The workflow is the truth of a running shipment (read by query); a closed one is read from its result or the read
model, and lists come from the read model. When Temporal is away or too slow (`starter.deadlines`), a read answers
from the read model marked `stale`, and a start answers 503 with Retry-After.

A backend key sees only its merchants' shipments: another merchant's is answered 404 exactly as a missing one, so
its id does not leak, and starting one for another merchant is refused (403 naming `merchant_id`).
"""

import asyncio
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowHandle,
    WorkflowQueryFailedError,
    WorkflowUpdateFailedError,
)
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError

from infra.persistence import inventory as ledger
from infra.persistence.db import ShipmentRow, StageTransitionRow
from starter.auth import Backend, Caller, Ops, Reader
from starter.deps import EngineDep, SettingsDep, TemporalDep
from starter.errors import ApiError, is_not_found, is_unavailable, not_found_as, refusal, temporal_unavailable
from tradelane.decisions.models import Emissions, Finding, LandedCost, RequiredDocument, TransportPlan
from tradelane.enums import ExceptionKind, Stage, Status
from tradelane.inventory.warehouses import shipment_warehouse_problems
from tradelane.keys import workflow_id
from tradelane.models import ShipmentRequest
from tradelane.shipment.run import ShipmentInput
from tradelane.shipment.state import ApprovalDecision, CancelRequest, Gate, ShipmentState, Transition
from workflows import visibility as sa
from workflows.shipment import ShipmentWorkflow

log = structlog.stdlib.get_logger(__name__)

router = APIRouter(tags=["shipments"])

REFUSALS = {"GateNotPending": "GATE_NOT_PENDING", "ShipmentClosed": "SHIPMENT_CLOSED"}
"""The API code of each `ApplicationError` type the workflow refuses an update with."""


class ShipmentCreated(BaseModel):
    shipment_id: str
    workflow_id: str
    run_id: str | None
    status_url: str


class ShipmentView(ShipmentState):
    """A shipment as the API shows it: the workflow state, the approvals waiting for ops, and the decisions
    (also in full under `assessment`) lifted to the top for readers."""

    pending_approvals: list[Gate] = Field(default_factory=list)
    execution_status: str | None = None
    alternatives: list[TransportPlan] = Field(default_factory=list)
    landed_cost: LandedCost | None = None
    emissions_kg_co2e: float | None = None
    emissions: Emissions | None = None
    documents: list[RequiredDocument] = Field(default_factory=list)
    marks: list[str] = Field(default_factory=list)
    labels: list[str] = Field(default_factory=list)
    compliance_findings: list[Finding] = Field(default_factory=list)
    risk_score: float | None = None
    stale: bool = False
    """True when this running shipment could not be asked (Temporal unavailable, or no worker answered in time)
    and this is its last projected state from the read model: it may lag the shipment by a few events."""
    planned_carrier: str | None = None
    """The carrier of the plan, booked or not. `carrier` names it only once a booking was made with it, and `eta`
    is None once the shipment ended without delivery (`ShipmentState.booked_carrier`, `.live_eta`)."""

    @classmethod
    def of(cls, state: ShipmentState, execution_status: str | None = None) -> "ShipmentView":
        a = state.assessment
        decisions: dict[str, Any] = {} if a is None else {
            "alternatives": a.alternatives, "landed_cost": a.landed_cost,
            "emissions_kg_co2e": a.emissions_kg_co2e, "emissions": a.emissions, "documents": a.documents,
            "marks": a.marking.marks, "labels": a.marking.labels, "compliance_findings": a.compliance.findings,
            "risk_score": a.risk_score,
        }
        shown = dict(state) | {"carrier": state.booked_carrier, "eta": state.live_eta}
        return cls(**shown, **decisions, pending_approvals=state.pending_gates, execution_status=execution_status,
                   planned_carrier=state.carrier)


class ShipmentSummary(BaseModel):
    shipment_id: str
    merchant_id: str
    origin_country: str
    destination_country: str
    stage: str
    status: str
    carrier: str | None
    mode: str | None
    tracking_number: str | None
    pending_gates: list[str]
    updated_at: datetime
    eta_expected: date | None = None
    promised_date: date | None = None
    open_exceptions: list[str] = Field(default_factory=list)
    latest_status: str | None = None


class CancelAccepted(BaseModel):
    shipment_id: str
    status: Status
    message: str


@router.post("/v1/shipments", summary="Start a shipment", status_code=201, response_model=ShipmentCreated)
async def create_shipment(body: ShipmentRequest, client: TemporalDep, engine: EngineDep, settings: SettingsDep,
                          caller: Backend) -> ShipmentCreated:
    """Start the shipment's workflow. Backends only, for their own merchants (403 naming `merchant_id`).

    A refused request (422) names each field and says what was expected, and starts nothing. A shipment id is
    used once, ever: the same id again is 409 `SHIPMENT_EXISTS`, also after the shipment closed. When Temporal
    is unavailable the answer is 503 with Retry-After; sending the same request again is then safe."""
    caller.may_act_for(body.merchant_id)
    problems = await asyncio.to_thread(warehouse_problems, engine, body)
    if problems:
        raise ApiError.invalid(problems)
    wf_id = workflow_id(body.shipment_id)
    search_attributes, memo = sa.start_attributes(body)
    try:
        handle = await client.start_workflow(
            ShipmentWorkflow.run,
            ShipmentInput(request=body, timings=settings.timings(), approvals=settings.approval_policy(),
                          events_url=settings.events_url),
            id=wf_id, task_queue=settings.task_queue,
            # A shipment id is used once, ever: a second request must never start a second workflow.
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
            search_attributes=search_attributes, memo=memo,
        )
    except WorkflowAlreadyStartedError:
        raise ApiError(409, "SHIPMENT_EXISTS", f"shipment {body.shipment_id} already exists") from None
    except RPCError as err:
        if not is_unavailable(err):
            raise
        # The start may still reach the server after this answer: the same request again is then a 409.
        raise temporal_unavailable(f"shipment {body.shipment_id} was not started; send the same request again "
                                   "(a 409 SHIPMENT_EXISTS then means it did start)") from None
    log.info("shipment started", shipment_id=body.shipment_id, workflow_id=wf_id, caller=caller.name)
    return ShipmentCreated(shipment_id=body.shipment_id, workflow_id=wf_id, run_id=handle.result_run_id,
                           status_url=f"/v1/shipments/{body.shipment_id}")


@router.get("/v1/shipments/{shipment_id}", summary="Read a shipment", response_model=ShipmentView)
async def get_shipment(shipment_id: str, client: TemporalDep, engine: EngineDep, settings: SettingsDep,
                       caller: Reader) -> ShipmentView:
    """The shipment's state, its approvals waiting for ops and its decisions (plans, landed cost, documents).

    Asked of the workflow while it runs, read from its result once completed; from the read model, marked
    `stale`, when Temporal cannot be asked. Another merchant's shipment is 404, as a missing one."""
    try:
        handle, status, merchant_id = await _describe(client, shipment_id)
    except ApiError:
        return _from_read_model(engine, shipment_id, caller)
    except RPCError as err:
        if not is_unavailable(err):
            raise
        log.warning("temporal unavailable, answering from the read model", shipment_id=shipment_id,
                    error=err.message)
        return _stale(engine, shipment_id, caller)
    if merchant_id is not None and not caller.sees(merchant_id):
        raise _not_found(shipment_id)
    try:
        if status == WorkflowExecutionStatus.RUNNING:
            view = await _running(handle, engine, shipment_id, caller, timedelta(seconds=settings.query_timeout_s))
        elif status == WorkflowExecutionStatus.COMPLETED:
            # A closed shipment's result is in its history; no worker is needed to read it.
            view = ShipmentView.of(await handle.result(rpc_timeout=timedelta(seconds=settings.temporal_rpc_timeout_s)),
                                   status.name.lower())
        else:
            view = _from_read_model(engine, shipment_id, caller, execution_status=status.name.lower())
    except RPCError as err:
        if not is_unavailable(err):
            raise
        return _stale(engine, shipment_id, caller)
    if not caller.sees(view.merchant_id):  # a workflow started before the merchant search attribute existed
        raise _not_found(shipment_id)
    return view


@router.get("/v1/shipments", summary="List shipments", response_model=list[ShipmentSummary])
async def list_shipments(
    engine: EngineDep,
    caller: Reader,
    status: Status | None = None,
    stage: Stage | None = None,
    destination: Annotated[str | None, Query(min_length=2, max_length=2)] = None,
    exception: Annotated[ExceptionKind | None, Query(description="Only shipments with this open exception.")]
    = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[ShipmentSummary]:
    """Shipments from the read model, most recently changed first, by status, stage, destination country or
    open exception. A backend sees its own merchants' shipments only."""
    with Session(engine) as session:
        query = select(ShipmentRow).order_by(col(ShipmentRow.updated_at).desc()).limit(limit)
        if caller.merchants is not None:
            query = query.where(col(ShipmentRow.merchant_id).in_(sorted(caller.merchants)))
        if status is not None:
            query = query.where(ShipmentRow.status == status.value)
        if stage is not None:
            query = query.where(ShipmentRow.stage == stage.value)
        if destination is not None:
            query = query.where(ShipmentRow.destination_country == destination.upper())
        if exception is not None:
            query = query.where(col(ShipmentRow.open_exceptions).contains(exception.value))
        rows = session.exec(query).all()
    return [ShipmentSummary(**row.model_dump(exclude={"pending_gates", "open_exceptions"}),
                            pending_gates=[g for g in row.pending_gates.split(",") if g],
                            open_exceptions=[k for k in row.open_exceptions.split(",") if k]) for row in rows]


@router.post("/v1/shipments/{shipment_id}/approvals", summary="Decide an approval", response_model=Gate)
async def decide(shipment_id: str, body: ApprovalDecision, client: TemporalDep, caller: Ops) -> Gate:
    """Approve or reject one of the shipment's pending approval gates (ops only). 409 `GATE_NOT_PENDING`
    when that gate is not waiting for a decision."""
    log.info("approval decided", shipment_id=shipment_id, gate=body.gate.value, decision=body.decision.value,
             caller=caller.name)
    return await _update(client, shipment_id, ShipmentWorkflow.decide, body, "GATE_NOT_PENDING")


@router.post("/v1/shipments/{shipment_id}/cancel", summary="Cancel a shipment", status_code=202,
             response_model=CancelAccepted)
async def cancel(shipment_id: str, body: CancelRequest, client: TemporalDep, caller: Ops) -> CancelAccepted:
    """Cancel the shipment (ops only): the steps already done (booking, filings, reserved stock) are undone,
    newest first. 409 `SHIPMENT_CLOSED` when it has already finished."""
    log.info("cancel requested", shipment_id=shipment_id, caller=caller.name)
    state = await _update(client, shipment_id, ShipmentWorkflow.cancel, body, "SHIPMENT_CLOSED")
    return CancelAccepted(shipment_id=shipment_id, status=state.status,
                          message="cancellation accepted; completed steps are being undone")


def warehouse_problems(engine: Engine, request: ShipmentRequest) -> list[dict[str, str]]:
    """The request's warehouse problems against the network in the ledger (read only when it names one)."""
    if request.origin_warehouse is None and request.destination_warehouse is None:
        return []
    return shipment_warehouse_problems(request, ledger.warehouses(engine))


async def _describe(client: Client, shipment_id: str,
                    ) -> tuple[WorkflowHandle[Any, Any], WorkflowExecutionStatus, str | None]:
    """The shipment's workflow, its execution status and merchant; 404 when there is no such shipment."""
    handle = client.get_workflow_handle(workflow_id(shipment_id), result_type=ShipmentState)
    with not_found_as("SHIPMENT_NOT_FOUND", f"no shipment {shipment_id}"):
        description = await handle.describe()
    merchant_id = description.typed_search_attributes.get(sa.MERCHANT)
    return handle, description.status or WorkflowExecutionStatus.RUNNING, merchant_id


def _not_found(shipment_id: str) -> ApiError:
    """The answer for a shipment that does not exist, and for another merchant's: the same, so ids do not leak."""
    return ApiError(404, "SHIPMENT_NOT_FOUND", f"no shipment {shipment_id}")


def _stale(engine: Engine, shipment_id: str, caller: Caller) -> ShipmentView:
    """The read model's view while Temporal cannot be asked; 503 when it has none (the shipment may be too new to be
    projected, so 404 would be a guess)."""
    try:
        return _from_read_model(engine, shipment_id, caller, stale=True)
    except ApiError:
        raise temporal_unavailable(f"shipment {shipment_id} has no projected state to answer from") from None


async def _running(handle: WorkflowHandle[Any, Any], engine: Engine, shipment_id: str, caller: Caller,
                   timeout: timedelta) -> ShipmentView:
    """A running shipment's state by query, or its last projected state when no worker answers in time."""
    try:
        state = await handle.query(ShipmentWorkflow.state, rpc_timeout=timeout)
    except (RPCError, WorkflowQueryFailedError) as err:
        # No worker answered in time: show the last projected state rather than hang the caller.
        log.warning("query failed, answering from the read model", shipment_id=shipment_id, error=str(err))
        try:
            return _from_read_model(engine, shipment_id, caller, execution_status="running", stale=True)
        except ApiError:
            raise ApiError(503, "STATE_UNAVAILABLE", f"shipment {shipment_id} is running but no worker "
                           "answered and it has no projected state yet; try again") from None
    return ShipmentView.of(state, "running")


async def _update(client: Client, shipment_id: str, update: Any, arg: Any, refused_code: str) -> Any:
    """Run an update; only when it fails for want of a running workflow is it worth asking which case."""
    handle = client.get_workflow_handle(workflow_id(shipment_id), result_type=ShipmentState)
    try:
        return await handle.execute_update(update, arg)
    except WorkflowUpdateFailedError as err:
        raise refusal(err, refused_code, REFUSALS) from None
    except RPCError as err:
        if not is_not_found(err):
            raise
    await _describe(client, shipment_id)  # 404 when there is no such shipment (ops alone decide: no merchant scope)
    raise ApiError(409, "SHIPMENT_CLOSED", f"shipment {shipment_id} is no longer running")


def _from_read_model(engine: Engine, shipment_id: str, caller: Caller, execution_status: str | None = None,
                     stale: bool = False) -> ShipmentView:
    with Session(engine) as session:
        row = session.get(ShipmentRow, shipment_id)
        if row is None or not caller.sees(row.merchant_id):
            raise _not_found(shipment_id)
        transitions = session.exec(select(StageTransitionRow).where(
            StageTransitionRow.shipment_id == shipment_id).order_by(col(StageTransitionRow.seq))).all()
    return ShipmentView(
        shipment_id=row.shipment_id, workflow_id=row.workflow_id, stage=Stage(row.stage), status=Status(row.status),
        origin_country=row.origin_country, destination_country=row.destination_country,
        merchant_id=row.merchant_id, declared_value=Decimal(row.declared_value), currency=row.currency,
        carrier=row.carrier, mode=row.mode, tracking_number=row.tracking_number, failure=row.failure,
        transitions=[Transition(seq=t.seq, stage=Stage(t.stage), status=Status(t.status), at=t.at, note=t.note)
                     for t in transitions],
        execution_status=execution_status, stale=stale,
    )
