"""The closed loop of a reliability run: submit, act as ops, crash and restart, wait, collect the evidence.

At most `in_flight` shipments run at once. Each one: its fault rules go to the sandbox, its request to the API
(retried through restarts: a 201 is an acknowledgement, and so is a 409 `SHIPMENT_EXISTS` after an attempt whose
answer was lost), then it is watched through Temporal (`describe`: status, stage and pending gate from the search
attributes, no worker needed) until it closes; ops decide gates and cancel through the API as the plan says.
Meanwhile `reliability.disruptions` crashes, restarts and takes partners down at fixed shares of the acknowledged
shipments.
"""

import asyncio
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
import structlog
from pydantic import BaseModel
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, col, func, select
from temporalio.api.enums.v1 import PendingActivityState
from temporalio.client import Client, WorkflowExecutionDescription, WorkflowExecutionStatus, WorkflowHandle
from temporalio.common import SearchAttributeKey
from temporalio.runtime import LoggingConfig, Runtime, TelemetryConfig, TelemetryFilter
from temporalio.service import RPCError, RPCStatusCode

from infra.persistence.db import ShipmentRow, StageTransitionRow, make_engine
from infra.platform.temporal import connect
from reliability.audit import Evidence, LedgerItem, ReadModelRow, ShipmentEvidence
from reliability.catalogue import OpsAction, load_request
from reliability.disruptions import AckCounter, Disruptor
from reliability.intrusions import poison_notice, probe_events, pushed_event, submit_poison
from reliability.ledgers import read_ledgers, retry_reconciliation
from reliability.plan import PlannedShipment, shipment_glob
from reliability.processes import ReliabilityStack
from sandbox.models import InspectOut
from tradelane.enums import Decision, GateKind, Stage
from tradelane.keys import workflow_id
from tradelane.shipment.state import ShipmentState
from workflows import visibility as sa

log = structlog.stdlib.get_logger(__name__)

WATCH_INTERVAL_S = 1.0
"""How often a running shipment is described; every call is one cheap RPC, no workflow task."""
INSTALL_ATTEMPTS = 3
"""Tries to install a shipment's fault rules in the sandbox when the connection breaks."""
RETRY_PAUSE_S = 0.3
SUBMIT_PATIENCE_S = 150.0
"""How long a submission is retried (through API and server restarts, and a minute without Temporal) before it
counts as refused."""
RECONCILE_MARGIN_S = 90.0
"""How long ops keep retrying a reconciliation item after its partner's outage should have ended."""
PROBE_PATIENCE_S = 10.0
"""How long forged events wait for the partner's first genuine event to replay."""


class DriverOptions(BaseModel):
    """How a batch is driven."""

    seed: int
    """The plan's seed: partner outages hit the shipments of this batch only."""
    in_flight: int = 40
    crashes: bool = True
    """Worker kills and server and API restarts (partner outages happen either way)."""
    deadline_s: float = 240.0
    """Per shipment, from its acknowledgement: a shipment still running after this is lost."""


class Driver:
    """Runs one batch against a started `ReliabilityStack` and returns the `Evidence`.

    Args:
        stack: The running processes.
        plan: The batch.
        options: Concurrency, crashes, deadline.
        progress: Called with a one-line status now and then (the CLI prints it).
    """

    def __init__(self, stack: ReliabilityStack, plan: list[PlannedShipment], options: DriverOptions,
                 progress: Callable[[str], None] | None = None) -> None:
        self._stack, self._plan, self._options = stack, plan, options
        self._progress = progress or (lambda _: None)
        self._acknowledged = AckCounter()
        self._finished = 0
        self._started = time.monotonic()
        self._disruptor = Disruptor(stack, stack.disruptions(options.crashes), shipment_glob(options.seed), len(plan),
                                    self._acknowledged, self._now, self._progress)
        self._client: Client | None = None
        self._evidence: dict[str, ShipmentEvidence] = {
            p.shipment_id: ShipmentEvidence(planned=p, acknowledged=False) for p in plan}
        self._rule_ids: dict[str, list[int]] = {}
        self._ledger: list[LedgerItem] = []
        self._missing_ledgers: list[str] = []

    def _now(self) -> float:
        return time.monotonic() - self._started

    async def run(self) -> Evidence:
        """Drive the whole batch, then collect the sandbox's records and the read model."""
        urls, settings = self._stack.urls, self._stack.settings
        # The Rust core logs every retried call at WARN on stderr; with the server down for a minute that would bury
        # the report, and the driver retries (and records) what matters itself.
        quiet = Runtime(telemetry=TelemetryConfig(logging=LoggingConfig(
            filter=TelemetryFilter(core_level="ERROR", other_level="ERROR"))))
        self._client = await connect(settings, address=urls.temporal, runtime=quiet)
        limits = httpx.Limits(max_connections=self._options.in_flight * 2)
        as_backend = {"Authorization": f"Bearer {settings.api_key('backend')}"}
        as_ops = {"Authorization": f"Bearer {settings.api_key('ops')}"}
        async with (
            httpx.AsyncClient(base_url=urls.api, timeout=10, limits=limits, headers=as_backend) as backend,
            httpx.AsyncClient(base_url=urls.api, timeout=10, limits=limits, headers=as_ops) as ops,
            httpx.AsyncClient(base_url=urls.sandbox, timeout=30) as sandbox,
        ):
            background = [asyncio.create_task(self._disruptor.supervise(), name="supervise"),
                          asyncio.create_task(self._disruptor.run(sandbox), name="disrupt")]
            slots = asyncio.Semaphore(self._options.in_flight)

            async def one(planned: PlannedShipment) -> None:
                async with slots:
                    await self._ship(planned, backend, ops, sandbox)

            try:
                await asyncio.gather(*(one(p) for p in self._plan))
            finally:
                for task in background:
                    task.cancel()
                await asyncio.gather(*background, return_exceptions=True)
            await self._collect(sandbox)
        return Evidence(shipments=[self._evidence[p.shipment_id] for p in self._plan],
                        disruptions=self._disruptor.events, ledger=self._ledger, missing_ledgers=self._missing_ledgers)

    # ---- one shipment ------------------------------------------------------------------------------------------

    async def _ship(self, planned: PlannedShipment, backend: httpx.AsyncClient, ops: httpx.AsyncClient,
                    sandbox: httpx.AsyncClient) -> None:
        evidence = self._evidence[planned.shipment_id]
        try:
            if planned.refused_at_api:
                assert self._client is not None
                body = load_request(planned.example, planned.shipment_id, planned.variant)
                evidence.submit_attempts = 1
                evidence.refusal = await submit_poison(body, backend, self._client)
                await self._acknowledged.increment()  # answered: it counts towards the disruptions' shares
                return
            await self._install_faults(planned, sandbox)
            if not await self._submit(planned, backend):
                return
            await self._acknowledged.increment()
            await self._follow(planned, ops)
            if planned.reconciliation_required:
                await self._reconcile(planned, ops)
        except Exception as err:  # one shipment's driver bug must not stop the batch; it shows in the audit
            log.exception("driving a shipment failed", shipment_id=planned.shipment_id)
            evidence.errors.append(f"driver error: {type(err).__name__}: {err}")
        finally:
            self._finished += 1
            if self._finished % 10 == 0 or self._finished == len(self._plan):
                self._progress(f"{self._finished}/{len(self._plan)} finished, "
                               f"{self._acknowledged.value} acknowledged, {self._now():.0f} s")

    async def _install_faults(self, planned: PlannedShipment, sandbox: httpx.AsyncClient) -> None:
        if not planned.faults:
            return
        opens_at = self._stack.sandbox_elapsed_s()
        rules = [spec.rule(planned.shipment_id, opens_at).model_dump(mode="json", exclude_none=True)
                 for spec in planned.faults]
        for _ in range(INSTALL_ATTEMPTS):
            try:
                response = await sandbox.post("/_faults", json=rules)
            except httpx.TransportError:
                # A dropped keep-alive connection under load (a 300-shipment run lost one shipment so): the rules
                # may have been installed; installing them twice would fire each fault twice, so look first.
                listed = await sandbox.get("/_faults")
                listed.raise_for_status()
                mine = [r["id"] for r in listed.json()["rules"] if r.get("shipment_id") == planned.shipment_id]
                if mine:
                    self._rule_ids[planned.shipment_id] = mine
                    return
                await asyncio.sleep(RETRY_PAUSE_S)
                continue
            response.raise_for_status()
            self._rule_ids[planned.shipment_id] = [rule["id"] for rule in response.json()["rules"]]
            return
        raise RuntimeError(f"{planned.shipment_id}: its fault rules could not be installed in the sandbox")

    async def _submit(self, planned: PlannedShipment, backend: httpx.AsyncClient) -> bool:
        """POST the request until the API acknowledges it; False when it is refused or never answers."""
        evidence = self._evidence[planned.shipment_id]
        body = load_request(planned.example, planned.shipment_id, planned.variant)
        give_up = time.monotonic() + SUBMIT_PATIENCE_S
        while True:
            evidence.submit_attempts += 1
            problem: str
            try:
                response = await backend.post("/v1/shipments", json=body)
            except httpx.TransportError as err:
                # The request may have reached the API before the connection broke: a retry tells (409).
                problem = f"{type(err).__name__}: {err}"
                if isinstance(err, httpx.TimeoutException):
                    evidence.submit_unanswered += 1
            else:
                evidence.submit_answers.append(response.status_code)
                if response.status_code == 201:
                    evidence.acknowledged, evidence.ack_via = True, "created"
                    return True
                code = _error_code(response)
                if response.status_code == 409 and code == "SHIPMENT_EXISTS":
                    evidence.acknowledged = True
                    evidence.ack_via = "exists_after_retry" if evidence.submit_attempts > 1 else "exists"
                    if evidence.ack_via == "exists":
                        evidence.errors.append("SHIPMENT_EXISTS on the first attempt: the id was used before")
                    return True
                problem = f"HTTP {response.status_code} {code}"
                if response.status_code < 500 and response.status_code != 429:
                    evidence.errors.append(f"submission refused: {problem}: {response.text[:300]}")
                    return False
            if time.monotonic() > give_up:
                evidence.errors.append(f"submission not acknowledged after {evidence.submit_attempts} attempts: "
                                       f"{problem}")
                return False
            await asyncio.sleep(RETRY_PAUSE_S)

    async def _follow(self, planned: PlannedShipment, ops: httpx.AsyncClient) -> None:
        """Watch the workflow until it closes, acting as ops on the way; then fetch its result."""
        assert self._client is not None
        evidence = self._evidence[planned.shipment_id]
        handle: WorkflowHandle[Any, ShipmentState] = self._client.get_workflow_handle(
            workflow_id(planned.shipment_id), result_type=ShipmentState)
        pending = list(planned.actions)
        deadline = time.monotonic() + self._options.deadline_s
        not_found = 0
        while time.monotonic() < deadline:
            try:
                description = await handle.describe(rpc_timeout=timedelta(seconds=5))
            except RPCError as err:
                if err.status == RPCStatusCode.NOT_FOUND:
                    not_found += 1
                    if not_found >= 5:
                        evidence.errors.append("no workflow for an acknowledged shipment")
                        return
                await asyncio.sleep(WATCH_INTERVAL_S)
                continue  # the server restarting: ask again
            evidence.workflow_found = True
            attributes = description.typed_search_attributes
            stage, status = attributes.get(sa.STAGE), attributes.get(sa.STATUS)
            evidence.last_seen = f"{stage}/{status}{_waiting_on(description)}{_problems(description)}"
            if description.status != WorkflowExecutionStatus.RUNNING:
                evidence.final = await self._result(handle, deadline)
                if evidence.final is None:
                    evidence.errors.append(f"workflow closed as {description.status} without a result")
                return
            gate = attributes.get(sa.PENDING_GATE)
            if gate:
                await self._decide(planned, GateKind(gate), pending, ops)
            await self._intrude(planned, stage, pending, ops)
            if not any(a.kind in ("forge_events", "poison_notice") for a in pending):
                await self._maybe_cancel(planned, stage, pending, ops)
            await asyncio.sleep(WATCH_INTERVAL_S)
        evidence.errors.append(f"still running after {self._options.deadline_s:g} s")

    async def _result(self, handle: WorkflowHandle[Any, ShipmentState], deadline: float) -> ShipmentState | None:
        while time.monotonic() < deadline:
            try:
                return await handle.result(rpc_timeout=timedelta(seconds=10))
            except RPCError:
                await asyncio.sleep(RETRY_PAUSE_S)  # the server restarting
            except Exception as err:  # the workflow failed or was terminated: no ShipmentState to audit
                log.warning("workflow ended without a result", workflow_id=handle.id, error=str(err))
                return None
        return None

    async def _decide(self, planned: PlannedShipment, gate: GateKind, pending: list[OpsAction],
                      ops: httpx.AsyncClient) -> None:
        """Decide a pending gate as planned; an unplanned `stage_overdue` is approved (keep waiting)."""
        evidence = self._evidence[planned.shipment_id]
        action = next((a for a in pending if a.kind == "decide" and a.gate is gate), None)
        if action is None and gate is not GateKind.STAGE_OVERDUE:
            note = f"gate {gate} opened but the plan has no decision for it"
            if note not in evidence.errors:
                evidence.errors.append(note)
            return
        decision = action.decision if action is not None else Decision.APPROVE
        comment = action.comment if action is not None else "keep waiting: events were slowed by a crash"
        body = {"gate": gate, "decision": decision, "actor": "reliability@tradelane", "comment": comment}
        try:
            response = await ops.post(f"/v1/shipments/{planned.shipment_id}/approvals", json=body)
        except httpx.TransportError:
            return  # the API restarting: the gate is still pending at the next look, or the decision went through
        if response.status_code == 200:
            if action is not None:
                pending.remove(action)
            else:
                evidence.unplanned_approvals.append(str(gate))
        elif response.status_code != 409 and response.status_code < 500:
            evidence.errors.append(f"decision on {gate} refused: HTTP {response.status_code} {response.text[:200]}")

    async def _maybe_cancel(self, planned: PlannedShipment, stage: str | None, pending: list[OpsAction],
                            ops: httpx.AsyncClient) -> None:
        """Cancel once the shipment waits for partner events in the planned stage: in transit once the carrier
        reported something (the goods were handed over), in the last mile once the slot is booked."""
        action = next((a for a in pending if a.kind == "cancel"), None)
        if action is None or stage != action.at_stage:
            return
        path = f"/v1/shipments/{planned.shipment_id}"
        try:
            view = await ops.get(path)
        except httpx.TransportError:
            return
        if view.status_code != 200 or not _waiting(view.json(), action.at_stage):
            return
        try:
            response = await ops.post(f"{path}/cancel", json={"actor": "reliability@tradelane",
                                                              "reason": "planned cancel of the reliability run"})
        except httpx.TransportError:
            return
        if response.status_code == 202 or (response.status_code == 409 and action.at_stage is not None
                                           and _error_code(response) == "SHIPMENT_CLOSED"):
            pending.remove(action)
        elif response.status_code < 500:
            self._evidence[planned.shipment_id].errors.append(
                f"cancel refused: HTTP {response.status_code} {response.text[:200]}")

    async def _intrude(self, planned: PlannedShipment, stage: str | None, pending: list[OpsAction],
                       api: httpx.AsyncClient) -> None:
        """Forge and replay the shipment's partner events, or poison one of its notifications, once it waits in the
        planned stage (`reliability.intrusions`)."""
        action = next((a for a in pending if a.kind in ("forge_events", "poison_notice")), None)
        if action is None or not _reached(stage, action.at_stage):
            return
        evidence = self._evidence[planned.shipment_id]
        if action.kind == "poison_notice":
            try:
                evidence.poisoned_notice = await asyncio.to_thread(poison_notice, self._stack.db_url,
                                                                   planned.shipment_id)
            except OperationalError:
                return  # the database locked: write it at the next look
            pending.remove(action)
            return
        assert self._stack.sandbox is not None
        give_up = time.monotonic() + PROBE_PATIENCE_S
        while (event := await pushed_event(self._stack.sandbox, planned.shipment_id)) is None:
            if time.monotonic() > give_up:
                evidence.errors.append("no pushed event to forge or replay")
                pending.remove(action)
                return
            await asyncio.sleep(0.2)
        evidence.probes = await probe_events(self._stack.sandbox, api, event)
        pending.remove(action)

    async def _reconcile(self, planned: PlannedShipment, ops: httpx.AsyncClient) -> None:
        """As ops: retry the shipment's reconciliation items (an undo whose partner was down for minutes) until its
        partner is back and they are resolved."""
        outage = max((f.outage_for_s or 0.0) for f in planned.faults if f.partner in planned.reconciliation_required)
        self._evidence[planned.shipment_id].reconciliation_retries = await retry_reconciliation(
            ops, planned.shipment_id, patience_s=outage + RECONCILE_MARGIN_S)

    # ---- evidence ----------------------------------------------------------------------------------------------

    async def _collect(self, sandbox: httpx.AsyncClient) -> None:
        response = await sandbox.get("/_inspect/bookings")
        response.raise_for_status()
        records = InspectOut.model_validate(response.json()).records
        fired = self._stack.faults.fired
        self._disruptor.resolve(fired)
        for shipment_id, evidence in self._evidence.items():
            evidence.records = [r for r in records if r.shipment_id == shipment_id]
            evidence.fired = [fired[i] > 0 for i in self._rule_ids.get(shipment_id, [])]
        rows = await asyncio.to_thread(read_model, self._stack.db_url, list(self._evidence))
        for shipment_id, row in rows.items():
            self._evidence[shipment_id].read_model = row
        self._ledger, self._missing_ledgers = await asyncio.to_thread(read_ledgers, self._stack.db_url)


def read_model(db_url: str, shipment_ids: list[str]) -> dict[str, ReadModelRow]:
    """The read model's status and number of stage transitions of each shipment it knows."""
    engine = make_engine(db_url)
    try:
        with Session(engine) as session:
            statuses = dict(session.exec(select(ShipmentRow.shipment_id, ShipmentRow.status)
                                         .where(col(ShipmentRow.shipment_id).in_(shipment_ids))).all())
            counts = dict(session.exec(select(StageTransitionRow.shipment_id, func.count())
                                       .group_by(StageTransitionRow.shipment_id)).all())
    finally:
        engine.dispose()
    return {sid: ReadModelRow(status=status, transitions=counts.get(sid, 0)) for sid, status in statuses.items()}


def _reached(stage: str | None, planned: Stage | None) -> bool:
    """Whether a shipment seen in `stage` is at the planned stage or past it (a watch that missed the stage while
    the server was down still acts, later)."""
    order = list(Stage)
    return stage in order and planned is not None and order.index(Stage(stage)) >= order.index(planned)


def _waiting(view: dict[str, Any], stage: Stage | None) -> bool:
    """Whether a shipment (as `GET /v1/shipments/{id}` shows it) waits for partner events in `stage`."""
    if stage is Stage.TRANSIT:
        return view.get("events_received", 0) > 0
    return any(record["kind"] == "slot" for record in view.get("records", []))


def _waiting_on(description: WorkflowExecutionDescription) -> str:
    """The activities a running workflow waits for, e.g. ` waiting on notifications.deliver (attempt 1, started)`."""
    pending = description.raw_description.pending_activities
    if not pending:
        return ""
    return " waiting on " + ", ".join(
        f"{p.activity_type.name} (attempt {p.attempt}, "
        f"{PendingActivityState.Name(p.state).removeprefix('PENDING_ACTIVITY_STATE_').lower()})" for p in pending)


REPORTED_PROBLEMS = SearchAttributeKey.for_keyword_list("TemporalReportedProblems")
"""What the server reports about a stuck workflow (e.g. a workflow task failing on a nondeterminism error)."""


def _problems(description: WorkflowExecutionDescription) -> str:
    """The server's reported problems of a running workflow, e.g. ` problems: cause=...NonDeterministicError`."""
    problems = description.typed_search_attributes.get(REPORTED_PROBLEMS)
    return f" problems: {', '.join(problems)}" if problems else ""


def _error_code(response: httpx.Response) -> str:
    try:
        return str(response.json().get("error", {}).get("code", ""))
    except (ValueError, AttributeError):
        return ""


async def run_batch(stack: ReliabilityStack, plan: list[PlannedShipment], options: DriverOptions,
                    progress: Callable[[str], None] | None = None) -> Evidence:
    """Drive `plan` through a started stack and return what was observed."""
    return await Driver(stack, plan, options, progress).run()

