"""Tradelane's HTTP API: backends start shipments, ops decide approvals, partners push tracking events.

The workflow is the truth of a running shipment (read by query); lists come from the read model.
"""

import asyncio
import hashlib
import re
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from http import HTTPStatus
from typing import Annotated, Any, AsyncIterator, Literal

import httpx
import structlog
from fastapi import Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, Response
from prometheus_client import CollectorRegistry
from pydantic import BaseModel, Field
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, col, select
from starlette.exceptions import HTTPException as StarletteHTTPException
from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowHandle,
    WorkflowQueryFailedError,
    WorkflowUpdateFailedError,
)
from temporalio.common import (
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from activities.decisions import gather_quotes
from activities.http import PartnerGateway
from infra.persistence.db import ShipmentRow, StageTransitionRow, make_engine, migrate
from infra.platform.settings import Settings
from infra.platform.codec import EncryptionCodec, codec_router
from infra.platform.telemetry import tracer_provider, tracing_interceptors
from infra.platform.temporal import connect, converter_for, key_ring
from tradelane.decisions.assess import assess
from tradelane.decisions.models import (
    Assessment,
    Compliance,
    Emissions,
    Finding,
    LandedCost,
    LastMileChoice,
    Money,
    RejectedPlan,
    RequiredDocument,
    TransportPlan,
)
from tradelane.decisions.pdf import commercial_invoice_pdf, packing_list_pdf
from tradelane.decisions.planner import candidate_legs
from tradelane.decisions.screening import ScreeningList
from tradelane.enums import Stage, Status
from tradelane.keys import workflow_id
from tradelane.models import ShipmentRequest
from tradelane.rules import RuleBook, default_book
from tradelane.shipment.run import ShipmentInput
from tradelane.shipment.state import ApprovalDecision, CancelRequest, Gate, ShipmentState, Transition
from infra.platform.health import Readiness, check_readiness
from infra.persistence.receipts import WebhookReceiptRow, receipt_of, record_receipt
from starter import visibility
from starter.inventory import inventory_router, warehouse_problems
from starter.limits import BodySizeLimit
from starter.metrics import ReadModelCollector, metrics_router
from starter.auth import READ, Caller, KeyDirectory, PartnerSecrets, Role, codec_access, require, verified_webhook
from starter.deps import EngineDep, TemporalDep
from starter.errors import ApiError
from tradelane.enums import ExceptionKind
from tradelane.tracking_codes import PartnerEvent
from workflows import visibility as sa
from workflows.shipment import ShipmentWorkflow

log = structlog.stdlib.get_logger(__name__)


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

    @classmethod
    def of(cls, state: ShipmentState, execution_status: str | None = None) -> "ShipmentView":
        a = state.assessment
        decisions: dict[str, Any] = {} if a is None else {
            "alternatives": a.alternatives, "landed_cost": a.landed_cost,
            "emissions_kg_co2e": a.emissions_kg_co2e, "emissions": a.emissions, "documents": a.documents,
            "marks": a.marking.marks, "labels": a.marking.labels, "compliance_findings": a.compliance.findings,
            "risk_score": a.risk_score,
        }
        return cls(**dict(state), **decisions, pending_approvals=state.pending_gates,
                   execution_status=execution_status)


class QuoteView(BaseModel):
    """`POST /v1/quotes`: every decision for a request, without starting anything."""

    shipment_id: str
    plan: TransportPlan | None
    alternatives: list[TransportPlan]
    rejected_plans: list[RejectedPlan]
    landed_cost: LandedCost | None
    emissions_kg_co2e: float | None
    emissions: Emissions | None
    documents: list[RequiredDocument]
    marks: list[str]
    labels: list[str]
    label_language: str
    packaging_violations: list[Finding]
    compliance: Compliance
    risk_score: float | None
    last_mile: LastMileChoice
    reasons: list[str]

    @classmethod
    def of(cls, a: Assessment) -> "QuoteView":
        return cls(
            shipment_id=a.shipment_id, plan=a.plan, alternatives=a.alternatives, rejected_plans=a.rejected_plans,
            landed_cost=a.landed_cost, emissions_kg_co2e=a.emissions_kg_co2e, emissions=a.emissions,
            documents=a.documents, marks=a.marking.marks, labels=a.marking.labels,
            label_language=a.marking.label_language, packaging_violations=a.marking.violations,
            compliance=a.compliance, risk_score=a.risk_score, last_mile=a.last_mile, reasons=a.reasons)


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


class EventAccepted(BaseModel):
    event_id: str
    status: str
    duplicate: bool = False
    """True when this event id was received before: acknowledged again, not passed on again."""


def field_path(loc: tuple[Any, ...] | list[Any]) -> str:
    """`("body", "items", 1, "hs_code")` -> `items[1].hs_code`."""
    path = ""
    for part in loc:
        if part == "body" and not path:
            continue
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or "body"


NAMED_FIELD = re.compile(r"^(?P<field>[A-Za-z_][\w]*(?:\[\d+\])*(?:\.[A-Za-z_]\w*(?:\[\d+\])*)*): (?P<message>.+)$",
                         re.DOTALL)


def _field_error(error: dict[str, Any]) -> dict[str, str]:
    """One validation error as `{"field", "message"}`; a body that is not JSON at all names the body."""
    if error["type"] == "json_invalid":
        position = error["loc"][-1] if isinstance(error["loc"][-1], int) else "?"
        detail = (error.get("ctx") or {}).get("error", "invalid JSON")
        return {"field": "body", "message": f"not valid JSON: {detail} at character {position}"}
    message = error["msg"].removeprefix("Value error, ")
    path = field_path(error["loc"])
    # A model's own check (a duplicate id, a kind that needs another quantity) is reported on the model, and its
    # message starts with the field it is about: name that field, as a field's own check would.
    named = NAMED_FIELD.match(message) if error["type"] == "value_error" else None
    if named is not None and not path.endswith(named["field"]):
        joined = named["field"] if path == "body" else f"{path}.{named['field']}"
        return {"field": joined, "message": named["message"]}
    return {"field": path, "message": message}


def create_app(settings: Settings, client: Client | None = None, engine: Engine | None = None) -> FastAPI:
    """The API app. `client` and `engine` may be given (tests, the stack); otherwise made from settings."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if engine is None:
            migrate(settings.database_url)
            app.state.engine = make_engine(settings.database_url)
            registry.register(ReadModelCollector(app.state.engine))
        if client is None:
            app.state.client = await connect(
                settings.temporal_address, settings.temporal_namespace, converter=converter_for(settings),
                interceptors=tracing_interceptors(tracer_provider("tradelane-api", settings.otel_endpoint)))
        yield
        await partner_http.aclose()
        if engine is None:
            app.state.engine.dispose()

    book = RuleBook(settings.rules_dir) if settings.rules_dir else default_book()
    screening = ScreeningList.load(settings.screening_list) if settings.screening_list else None
    app = FastAPI(title="Tradelane", version="0.1.0", lifespan=lifespan,
                  description="Cross-border shipments as durable Temporal workflows.")
    # Dependencies given by the caller (the stack, tests) are ready before any lifespan runs.
    app.state.client, app.state.engine = client, engine
    app.state.keys = KeyDirectory(settings.api_keys)
    app.state.partner_secrets = PartnerSecrets(settings.partner_webhook_secrets, settings.partner_webhook_secret,
                                               settings.webhook_tolerance_s)
    # Quotes for `POST /v1/quotes` come from the partners themselves, as the workflow's do.
    partner_http = httpx.AsyncClient(timeout=httpx.Timeout(settings.partner_timeout_s))
    app.state.gateway = PartnerGateway(partner_http, settings.partners_base_url)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        fields = [_field_error(e) for e in exc.errors()]
        summary = "; ".join(f"{f['field']}: {f['message']}" for f in fields)
        return JSONResponse(status_code=422, content={
            "error": {"code": "INVALID_REQUEST", "message": summary, "fields": fields}})

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        cause = exc.__cause__
        # FastAPI could not read the body: not UTF-8, nested too deep, a number too long to convert.
        if exc.status_code == 400 and isinstance(cause, (ValueError, RecursionError)):
            message = f"not readable as JSON: {str(cause)[:200]}"
            return JSONResponse(status_code=422, content={"error": {
                "code": "INVALID_REQUEST", "message": f"body: {message}",
                "fields": [{"field": "body", "message": message}]}})
        # Unknown routes and methods answer in the same envelope as every other error.
        return JSONResponse(status_code=exc.status_code, headers=exc.headers, content={"error": {
            "code": HTTPStatus(exc.status_code).name, "message": str(exc.detail)}})

    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        error: dict[str, Any] = {"code": exc.code, "message": exc.message}
        if exc.fields is not None:
            error["fields"] = exc.fields
        return JSONResponse(status_code=exc.status, content={"error": error}, headers=exc.headers)

    app.include_router(visibility.router)
    app.include_router(inventory_router(settings, book))
    # Business gauges from the read model (shipments by status and stage, open exceptions, outbox), for ops only.
    registry = CollectorRegistry()
    if engine is not None:
        registry.register(ReadModelCollector(engine))
    app.include_router(metrics_router(registry), dependencies=[Depends(require(Role.OPS))], tags=["operations"])
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    # The Web UI's codec server: decoding shows personal data, so only ops may call it. The UI calls it from the
    # browser, hence CORS for the UI's origins (and only for them).
    codec_caller = codec_access(settings.environment, settings.codec_cors_origins)
    app.include_router(codec_router(EncryptionCodec(key_ring(settings)), [Depends(codec_caller)]))
    app.add_middleware(CORSMiddleware, allow_origins=settings.codec_cors_origins, allow_methods=["POST"],
                       allow_headers=["Content-Type", "Authorization", "X-Namespace"], allow_credentials=True)

    Backend = Annotated[Caller, Depends(require(Role.BACKEND))]
    Reader = Annotated[Caller, Depends(require(*READ))]
    Ops = Annotated[Caller, Depends(require(Role.OPS))]
    Partner = Annotated[Caller, Depends(verified_webhook)]

    @app.get("/healthz", tags=["operations"])
    async def healthz() -> dict[str, str]:
        """Liveness: the process answers. Restart it when this fails."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["operations"], response_model=Readiness,
             responses={503: {"model": Readiness, "description": "a dependency is unavailable"}})
    async def readyz(client: TemporalDep, engine: EngineDep) -> JSONResponse:
        """Readiness: Temporal and the database answer. Send traffic elsewhere while this fails."""
        readiness = await check_readiness(client, engine, timeout=settings.query_timeout_s)
        return JSONResponse(status_code=200 if readiness.ready else 503, content=readiness.model_dump())

    @app.post("/v1/shipments", status_code=201, response_model=ShipmentCreated)
    async def create_shipment(body: ShipmentRequest, client: TemporalDep, engine: EngineDep,
                              caller: Backend) -> ShipmentCreated:
        problems = await asyncio.to_thread(warehouse_problems, engine, body)
        if problems:
            raise ApiError(422, "INVALID_REQUEST", "; ".join(f"{p['field']}: {p['message']}" for p in problems),
                           fields=problems)
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
        log.info("shipment started", shipment_id=body.shipment_id, workflow_id=wf_id, caller=caller.name)
        return ShipmentCreated(shipment_id=body.shipment_id, workflow_id=wf_id, run_id=handle.result_run_id,
                               status_url=f"/v1/shipments/{body.shipment_id}")

    async def _update(client: Client, shipment_id: str, update: Any, arg: Any, refused_code: str) -> Any:
        """Run an update; only when it fails for want of a running workflow is it worth asking which case."""
        handle = client.get_workflow_handle(workflow_id(shipment_id), result_type=ShipmentState)
        try:
            return await handle.execute_update(update, arg)
        except WorkflowUpdateFailedError as err:
            raise ApiError(409, _code(err, refused_code), _message(err)) from None
        except RPCError as err:
            if err.status != RPCStatusCode.NOT_FOUND:
                raise
        await _handle(client, shipment_id)  # 404 when there is no such shipment
        raise ApiError(409, "SHIPMENT_CLOSED", f"shipment {shipment_id} is no longer running")

    async def _handle(client: Client, shipment_id: str) -> tuple[WorkflowHandle[Any, Any], WorkflowExecutionStatus]:
        handle = client.get_workflow_handle(workflow_id(shipment_id), result_type=ShipmentState)
        try:
            description = await handle.describe()
        except RPCError as err:
            if err.status == RPCStatusCode.NOT_FOUND:
                raise ApiError(404, "SHIPMENT_NOT_FOUND", f"no shipment {shipment_id}") from None
            raise
        return handle, description.status or WorkflowExecutionStatus.RUNNING

    @app.get("/v1/shipments/{shipment_id}", response_model=ShipmentView)
    async def get_shipment(shipment_id: str, client: TemporalDep, engine: EngineDep, _: Reader) -> ShipmentView:
        try:
            handle, status = await _handle(client, shipment_id)
        except ApiError:
            return _from_read_model(engine, shipment_id)
        if status == WorkflowExecutionStatus.RUNNING:
            try:
                state = await handle.query(ShipmentWorkflow.state,
                                          rpc_timeout=timedelta(seconds=settings.query_timeout_s))
            except (RPCError, WorkflowQueryFailedError) as err:
                # No worker answered in time: show the last projected state rather than hang the caller.
                log.warning("query failed, answering from the read model", shipment_id=shipment_id, error=str(err))
                try:
                    return _from_read_model(engine, shipment_id, execution_status="running")
                except ApiError:
                    raise ApiError(503, "STATE_UNAVAILABLE", f"shipment {shipment_id} is running but no worker "
                                   "answered and it has no projected state yet; try again") from None
        elif status == WorkflowExecutionStatus.COMPLETED:
            # A closed shipment's result is in its history; no worker is needed to read it.
            state = await handle.result()
        else:
            return _from_read_model(engine, shipment_id, execution_status=status.name.lower())
        return ShipmentView.of(state, status.name.lower())

    @app.post("/v1/quotes", response_model=QuoteView)
    async def quote(body: ShipmentRequest, request: Request, _: Reader) -> QuoteView:
        """Plans, landed cost and every other decision for a request; nothing is started or booked."""
        legs = candidate_legs(body, book)
        quotes, declined, notes = await gather_quotes(request.app.state.gateway, body, legs)
        return QuoteView.of(assess(body, book, quotes=quotes, declined=declined, screening=screening, notes=notes))

    @app.post("/v1/documents/{document}", response_class=Response,
              responses={200: {"content": {"application/pdf": {}}}})
    async def document(document: Literal["commercial-invoice", "packing-list"], body: ShipmentRequest,
                       _: Reader) -> Response:
        """The commercial invoice or packing list of a request, as PDF (freight from the chosen plan)."""
        if document == "packing-list":
            pdf = packing_list_pdf(body)
        else:
            a = assess(body, book, screening=screening)
            freight = Money(amount=a.landed_cost.freight, currency=body.currency) if a.landed_cost else None
            insurance = (Money(amount=a.landed_cost.insurance, currency=body.currency)
                         if a.landed_cost and a.landed_cost.insurance else None)
            pdf = commercial_invoice_pdf(body, freight=freight, insurance=insurance)
        filename = f"{document}-{body.shipment_id}.pdf"
        return Response(content=pdf, media_type="application/pdf",
                        headers={"Content-Disposition": f'attachment; filename="{filename}"'})

    @app.get("/v1/shipments", response_model=list[ShipmentSummary])
    async def list_shipments(
        engine: EngineDep,
        _: Reader,
        status: Status | None = None,
        stage: Stage | None = None,
        destination: Annotated[str | None, Query(min_length=2, max_length=2)] = None,
        exception: Annotated[ExceptionKind | None, Query(description="Only shipments with this open exception.")]
        = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
    ) -> list[ShipmentSummary]:
        with Session(engine) as session:
            query = select(ShipmentRow).order_by(col(ShipmentRow.updated_at).desc()).limit(limit)
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

    @app.post("/v1/shipments/{shipment_id}/approvals", response_model=Gate)
    async def decide(shipment_id: str, body: ApprovalDecision, client: TemporalDep, caller: Ops) -> Gate:
        log.info("approval decided", shipment_id=shipment_id, gate=body.gate.value, decision=body.decision.value,
                 caller=caller.name)
        return await _update(client, shipment_id, ShipmentWorkflow.decide, body, "GATE_NOT_PENDING")

    @app.post("/v1/shipments/{shipment_id}/cancel", status_code=202, response_model=CancelAccepted)
    async def cancel(shipment_id: str, body: CancelRequest, client: TemporalDep, caller: Ops) -> CancelAccepted:
        log.info("cancel requested", shipment_id=shipment_id, caller=caller.name)
        state = await _update(client, shipment_id, ShipmentWorkflow.cancel, body, "SHIPMENT_CLOSED")
        return CancelAccepted(shipment_id=shipment_id, status=state.status,
                              message="cancellation accepted; completed steps are being undone")

    @app.post("/v1/carrier-events", status_code=202, response_model=EventAccepted)
    async def carrier_event(body: PartnerEvent, request: Request, client: TemporalDep, engine: EngineDep,
                            _: Partner) -> EventAccepted:
        """A partner's tracking event: signed (`Tradelane-Signature`), idempotent by `event_id`."""
        event = body.normalised(via="webhook")
        digest = hashlib.sha256(await request.body()).hexdigest()
        seen = _receipt(engine, body.shipment_id, body.event_id)
        if seen is not None:
            if seen.body_sha256 != digest:
                raise ApiError(409, "EVENT_ID_REUSED",
                               f"event_id {body.event_id} of shipment {body.shipment_id} was already received "
                               "with a different body")
            return EventAccepted(event_id=body.event_id, status=event.status.value, duplicate=True)
        handle = client.get_workflow_handle(workflow_id(body.shipment_id))
        try:
            await handle.signal(ShipmentWorkflow.carrier_event, event)
        except RPCError as err:
            if err.status == RPCStatusCode.NOT_FOUND:
                raise ApiError(404, "SHIPMENT_NOT_ACTIVE",
                               f"no running shipment {body.shipment_id} for event {body.event_id}") from None
            raise
        _record_receipt(engine, WebhookReceiptRow(event_id=body.event_id, partner=body.partner,
                                                  shipment_id=body.shipment_id, body_sha256=digest,
                                                  received_at=datetime.now(UTC)))
        return EventAccepted(event_id=body.event_id, status=event.status.value)

    return app


def _receipt(engine: Engine, shipment_id: str, event_id: str) -> WebhookReceiptRow | None:
    # The workflow is the truth and drops repeats itself: a read-model outage must not refuse partners' events.
    try:
        return receipt_of(engine, shipment_id, event_id)
    except SQLAlchemyError as err:
        log.warning("webhook receipts unavailable; passing the event on", event_id=event_id, error=str(err))
        return None


def _record_receipt(engine: Engine, receipt: WebhookReceiptRow) -> None:
    try:
        record_receipt(engine, receipt)
    except SQLAlchemyError as err:
        log.warning("webhook receipt not recorded", event_id=receipt.event_id, error=str(err))


def _cause(err: WorkflowUpdateFailedError) -> ApplicationError | None:
    return err.cause if isinstance(err.cause, ApplicationError) else None


def _code(err: WorkflowUpdateFailedError, default: str) -> str:
    cause = _cause(err)
    return {"GateNotPending": "GATE_NOT_PENDING", "ShipmentClosed": "SHIPMENT_CLOSED"}.get(
        cause.type if cause and cause.type else "", default)


def _message(err: WorkflowUpdateFailedError) -> str:
    cause = _cause(err)
    return cause.message if cause else str(err)


def _from_read_model(engine: Engine, shipment_id: str, execution_status: str | None = None) -> ShipmentView:
    with Session(engine) as session:
        row = session.get(ShipmentRow, shipment_id)
        if row is None:
            raise ApiError(404, "SHIPMENT_NOT_FOUND", f"no shipment {shipment_id}")
        transitions = session.exec(select(StageTransitionRow).where(
            StageTransitionRow.shipment_id == shipment_id).order_by(col(StageTransitionRow.seq))).all()
    return ShipmentView(
        shipment_id=row.shipment_id, workflow_id=row.workflow_id, stage=Stage(row.stage), status=Status(row.status),
        origin_country=row.origin_country, destination_country=row.destination_country,
        merchant_id=row.merchant_id, declared_value=Decimal(row.declared_value), currency=row.currency,
        carrier=row.carrier, mode=row.mode, tracking_number=row.tracking_number, failure=row.failure,
        transitions=[Transition(seq=t.seq, stage=Stage(t.stage), status=Status(t.status), at=t.at, note=t.note)
                     for t in transitions],
        execution_status=execution_status,
    )
