"""The reconciliation list (`/v1/ops/reconciliation`): partner records Tradelane could not take back or account for.

Ops only. `GET` lists the items (open first by default); `POST /{id}/retry` runs the item's undo again through
Temporal (`ReconciliationRetryWorkflow`, one at a time per item) and the workflow resolves the item when it succeeds;
`POST /{id}/resolve` closes an item ops settled with the partner by hand (an outcome the partner cannot be asked
about, a booking it does not know); `POST /runs` starts a reconciliation now, besides the schedule's.
"""

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, StringConstraints
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from infra.persistence import reconciliation as items
from infra.persistence.reconciliation import ReconciliationRow
from starter.auth import Ops
from starter.deps import EngineDep, SettingsDep, TemporalDep
from starter.errors import ApiError
from tradelane.models import Printable
from tradelane.reconciliation import RetryInput
from tradelane.shipment.undo import ReconciliationReason, ReconciliationState
from workflows.reconciliation import RETRY_PREFIX, ReconciliationRetryWorkflow
from workflows.reconciliation_schedule import start_run

router = APIRouter(prefix="/v1/ops/reconciliation", tags=["reconciliation"])



ItemId = Annotated[int, Path(ge=1, le=2**31 - 1, description="The item's id (a 32-bit integer, as stored)")]


class ItemPublic(BaseModel):
    """One item of the list as ops see it (the undo's input is not shown: it may name a recipient's shipment)."""

    id: int
    shipment_id: str | None
    partner: str
    operation: str
    idempotency_key: str
    partner_ref: str | None
    reason: ReconciliationReason
    state: ReconciliationState
    attempts: int
    last_error: str | None
    retryable: bool
    """Whether `POST /{id}/retry` can run something (an undo Tradelane knows how to send)."""
    created_at: datetime
    updated_at: datetime
    resolved_at: datetime | None
    resolved_by: str | None

    @classmethod
    def of(cls, row: ReconciliationRow) -> "ItemPublic":
        return cls.model_validate({**row.model_dump(), "retryable": row.call is not None})


class ItemList(BaseModel):
    items: list[ItemPublic]


class RetryStarted(BaseModel):
    item: ItemPublic
    workflow_id: str
    """The retry's workflow: the item is resolved when it succeeds (see the item, or the workflow's result)."""


class ResolveBody(BaseModel):
    note: Annotated[str, StringConstraints(min_length=1, max_length=500), Printable]
    """What ops found and did (kept as the item's last word, in `last_error`)."""


class RunStarted(BaseModel):
    run_id: str


def _item(engine: Any, item_id: int) -> ReconciliationRow:
    row = items.get_item(engine, item_id)
    if row is None:
        raise ApiError(404, "ITEM_NOT_FOUND", f"no reconciliation item {item_id}")
    return row


@router.get("", summary="List reconciliation items", response_model=ItemList)
async def list_items(engine: EngineDep, _: Ops,
                     state: Annotated[ReconciliationState | None, Query()] = None,
                     reason: Annotated[ReconciliationReason | None, Query()] = None,
                     limit: Annotated[int, Query(ge=1, le=1000)] = 200) -> ItemList:
    """Items newest first, of one state and reason if given."""
    return ItemList(items=[ItemPublic.of(r) for r in items.list_items(engine, state, reason, limit)])


@router.get("/{item_id}", summary="Read a reconciliation item", response_model=ItemPublic)
async def get_item(item_id: ItemId, engine: EngineDep, _: Ops) -> ItemPublic:
    """One item: what Tradelane and the partner each hold, why they differ, and what was done about it."""
    return ItemPublic.of(_item(engine, item_id))


@router.post("/{item_id}/retry", summary="Retry an item's undo", status_code=202, response_model=RetryStarted)
async def retry(item_id: ItemId, engine: EngineDep, client: TemporalDep, settings: SettingsDep,
                caller: Ops) -> RetryStarted:
    """Run the item's undo again through Temporal; the item is resolved when it succeeds."""
    row = _item(engine, item_id)
    if row.state == ReconciliationState.RESOLVED:
        raise ApiError(409, "ITEM_RESOLVED", f"reconciliation item {item_id} is already resolved by {row.resolved_by}")
    if row.call is None:
        raise ApiError(409, "NOTHING_TO_RETRY", f"reconciliation item {item_id} ({row.reason}) has no undo Tradelane "
                       "can send: check with the partner, then POST .../resolve with a note")
    workflow_id = f"{RETRY_PREFIX}:{item_id}"
    try:
        await client.start_workflow(
            ReconciliationRetryWorkflow.run,
            RetryInput(item_id=item_id, operation=row.operation, call=row.call, requested_by=caller.name),
            id=workflow_id, task_queue=settings.task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL)
    except WorkflowAlreadyStartedError:
        raise ApiError(409, "RETRY_RUNNING", f"a retry of reconciliation item {item_id} is already running") from None
    return RetryStarted(item=ItemPublic.of(row), workflow_id=workflow_id)


@router.post("/{item_id}/resolve", summary="Resolve an item by hand", response_model=ItemPublic)
async def resolve(item_id: ItemId, body: ResolveBody, engine: EngineDep, caller: Ops) -> ItemPublic:
    """Close an item ops settled with the partner by hand."""
    _item(engine, item_id)
    row = items.resolve_item(engine, item_id, f"ops:{caller.name}", note=body.note)
    assert row is not None
    return ItemPublic.of(row)


@router.post("/runs", summary="Reconcile now", status_code=202, response_model=RunStarted)
async def run_now(client: TemporalDep, settings: SettingsDep, _: Ops) -> RunStarted:
    """Compare Tradelane's bookings with the partners' now (the schedule runs it hourly)."""
    handle = await start_run(client, settings)
    return RunStarted(run_id=handle.id)
