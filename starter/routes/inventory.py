"""Inventory: stock and its ledger, master data, sales history, forecasts and replenishment runs (`/v1/inventory`).

Reads come from the ledger tables; a run's live state from its workflow (query); ops' decisions go to the run's
`decide` update, so the workflow stays the one place where a suggestion's fate is settled.

A backend key sees only its merchants' stock (that at their warehouses), SKUs, sales and suggestions; another
merchant's warehouse or SKU is answered as one not in the network. Master data, stock corrections and runs are ops'.
"""

import asyncio
import json
from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel
from temporalio.client import Client, WorkflowUpdateFailedError

from activities.inventory import HORIZON_DAYS, Analysis, analyse
from infra.persistence import inventory as ledger
from infra.persistence.inventory import NewMovement, Refused
from starter.auth import Caller, Ops, Reader, Role, require
from starter.deps import BookDep, EngineDep, SettingsDep, TemporalDep
from starter.errors import ApiError, not_found_as, refusal
from tradelane.inventory.forecast import forecast_demand
from tradelane.inventory.models import (
    MovementView,
    Network,
    ReplenishmentState,
    SaleRecord,
    StockAdjustment,
    StockView,
    Suggestion,
    SuggestionDecision,
    SuggestionState,
    Warehouse,
)
from tradelane.inventory.sales import SalesImportError, check_known, parse_csv, parse_json
from workflows.replenishment import ReplenishmentWorkflow
from workflows.replenishment_schedule import RUN_PREFIX, start_run

router = APIRouter(prefix="/v1/inventory", tags=["inventory"])

Importer = Annotated[Caller, Depends(require(Role.BACKEND, Role.OPS))]
"""Sales history comes from merchants' backends, or from ops on their behalf."""
SkuQuery = Annotated[str | None, Query(max_length=64)]
WarehouseQuery = Annotated[str | None, Query(max_length=32)]


class NetworkSaved(BaseModel):
    warehouses: int
    skus: int


class SalesImported(BaseModel):
    rows: int
    inserted: int
    replaced: int
    skus: list[str]
    first_day: date
    last_day: date


class RunStarted(BaseModel):
    run_id: str
    status_url: str


class ForecastView(BaseModel):
    """What `tradelane inventory plot` draws: history, forecast and the policy's levels for one SKU. A source
    warehouse (one nothing replenishes) has no policy: its levels, lane and risk are null and `reorder` is false."""

    sku: str
    warehouse_id: str
    market: str
    as_of: date
    history_start: date
    history: list[int]
    forecast_start: date
    forecast: list[float]
    forecast_sigma: float
    method: str
    pattern: str
    mase: float | None
    naive_mase: float | None
    on_hand: int
    available: int
    in_transit: int
    safety_stock: float | None
    reorder_point: float | None
    order_up_to: float | None
    reorder: bool
    quantity: int
    mode: str | None
    lead_time_days: float | None
    stockout_risk: float | None
    reasons: list[str]


@router.get("", summary="Stock per warehouse", response_model=list[StockView])
async def stock(engine: EngineDep, caller: Reader, sku: SkuQuery = None,
                warehouse: WarehouseQuery = None) -> list[StockView]:
    """On hand, reserved, available and in transit per warehouse and SKU, with each inbound shipment's ETA."""
    return await asyncio.to_thread(ledger.stock, engine, sku=sku, warehouse_id=warehouse, merchants=caller.merchants)


@router.get("/movements", summary="Stock movements", response_model=list[MovementView])
async def movements(engine: EngineDep, caller: Reader, sku: SkuQuery = None, warehouse: WarehouseQuery = None,
                    limit: Annotated[int, Query(ge=1, le=1000)] = 200) -> list[MovementView]:
    """The ledger rows, newest first: every change of stock, with its shipment and reason."""
    return await asyncio.to_thread(ledger.movements, engine, sku=sku, warehouse_id=warehouse, limit=limit,
                                   merchants=caller.merchants)


@router.post("/movements", summary="Record a receipt or count", status_code=201,
              response_model=list[MovementView])
async def post_movement(body: StockAdjustment, engine: EngineDep, caller: Ops) -> list[MovementView]:
    """A receipt or a count correction. Refused (409) when it would leave negative available stock."""
    if body.warehouse_id not in await asyncio.to_thread(ledger.warehouses, engine):
        raise _invalid("UNKNOWN_WAREHOUSE", "warehouse_id", f"'{body.warehouse_id}' is not in the network")
    if body.sku not in await asyncio.to_thread(ledger.skus, engine):
        raise _invalid("UNKNOWN_SKU", "sku", f"'{body.sku}' is not in the SKU catalogue")
    key = (f"manual:{body.warehouse_id}:{body.sku}:{body.reference}" if body.reference
           else f"manual:{datetime.now(UTC).isoformat()}:{caller.name}:{body.warehouse_id}:{body.sku}")
    try:
        rows = await asyncio.to_thread(ledger.post, engine, [NewMovement(
            key=key, warehouse_id=body.warehouse_id, sku=body.sku, kind=body.kind, quantity=body.quantity,
            reason=body.reason, actor=body.actor)])
    except Refused as refused:
        raise ApiError(409, "NEGATIVE_STOCK", str(refused)) from None
    first = rows[0]
    if (first.kind, first.quantity) != (body.kind, body.quantity):
        raise ApiError(409, "REFERENCE_REUSED", f"reference: '{body.reference}' was posted before as "
                                                f"{first.kind} of {first.quantity}; use a new reference")
    return [MovementView.model_validate(r, from_attributes=True) for r in rows]


@router.put("/network", summary="Replace warehouses and SKUs", response_model=NetworkSaved)
async def put_network(body: Network, engine: EngineDep, _: Ops) -> NetworkSaved:
    """Warehouses and SKUs (master data), inserted or replaced by id."""
    sources = {w.warehouse_id for w in body.warehouses} | set(await asyncio.to_thread(ledger.warehouses, engine))
    for index, w in enumerate(body.warehouses):
        if w.replenished_from is not None and w.replenished_from not in sources:
            raise _invalid("UNKNOWN_WAREHOUSE", f"warehouses[{index}].replenished_from",
                           f"'{w.replenished_from}' is not in the network")
    saved = await asyncio.to_thread(ledger.save_network, engine, body)
    return NetworkSaved(warehouses=saved[0], skus=saved[1])


@router.post("/sales", summary="Import sales history", response_model=SalesImported,
             openapi_extra={"requestBody": {"content": {
                 "text/csv": {"schema": {"type": "string"}},
                 "application/json": {"schema": {"type": "object", "properties": {"sales": {
                     "type": "array", "items": {"type": "object"}}}}}}}})
async def import_sales(request: Request, engine: EngineDep, caller: Importer) -> SalesImported:
    """Sales history as CSV (`day,sku,market,quantity`) or JSON (`{"sales": [...]}`); all or nothing, a day
    imported again replaces the earlier figure. A backend imports only its merchants' SKUs (another's is unknown)."""
    try:
        records, prefix = _sales_records(await request.body(), request.headers.get("content-type", ""))
        check_known(records, set(await asyncio.to_thread(ledger.skus, engine, caller.merchants)), prefix)
    except SalesImportError as err:
        raise ApiError(422, "INVALID_REQUEST", str(err), fields=err.fields) from None
    inserted, replaced = await asyncio.to_thread(ledger.save_sales, engine, records)
    days = [r.day for r in records]
    return SalesImported(rows=len(records), inserted=inserted, replaced=replaced,
                         skus=sorted({r.sku for r in records}), first_day=min(days), last_day=max(days))


@router.get("/forecast", summary="Demand forecast", response_model=ForecastView)
async def forecast(engine: EngineDep, book: BookDep, caller: Reader, sku: Annotated[str, Query(max_length=64)],
                   warehouse: Annotated[str, Query(max_length=32)],
                   as_of: Annotated[date | None, Query(ge=date(2000, 1, 1), le=date(2099, 12, 31))] = None,
                   ) -> ForecastView:
    """The forecast, its error against seasonal-naive and the policy's levels for one SKU at a warehouse. For a
    source warehouse (no `replenished_from`): its stock and the forecast of the demand it serves (its own market and
    those of the warehouses it replenishes), without a policy."""
    day = as_of or datetime.now(UTC).date()
    network = await asyncio.to_thread(ledger.warehouses, engine)
    target = network.get(warehouse)
    if target is None or not caller.sees(target.merchant_id):
        raise ApiError(404, "UNKNOWN_WAREHOUSE", f"warehouse: '{warehouse}' is not in the network")
    spec = (await asyncio.to_thread(ledger.skus, engine, caller.merchants)).get(sku)
    if spec is None:
        raise ApiError(404, "UNKNOWN_SKU", f"sku: '{sku}' is not in the SKU catalogue")
    if target.replenished_from is None:
        view = await asyncio.to_thread(_source_forecast, engine, network, target, sku, day)
        if isinstance(view, str):
            raise _invalid("NO_FORECAST", "sku", f"{sku} at {warehouse}: {view}")
        return view
    source = network.get(target.replenished_from)
    if source is None:
        raise _invalid("NO_SOURCE", "warehouse", f"'{warehouse}' is replenished from "
                                                 f"'{target.replenished_from}', which is not in the network")
    found = await asyncio.to_thread(analyse, engine, book, source, target, spec, day)
    if isinstance(found, str):
        raise _invalid("NO_FORECAST", "sku", f"{sku} at {warehouse}: {found}")
    return _forecast_view(found, sku, target.warehouse_id, target.country, day)


@router.get("/suggestions", summary="Replenishment suggestions", response_model=list[Suggestion])
async def suggestions(engine: EngineDep, caller: Reader, state: SuggestionState | None = None,
                      sku: SkuQuery = None, warehouse: WarehouseQuery = None,
                      run: Annotated[str | None, Query(max_length=120)] = None) -> list[Suggestion]:
    """Replenishment suggestions, newest first, with their figures, reasons, state and shipment."""
    return await asyncio.to_thread(ledger.suggestions, engine, state=state, sku=sku, warehouse_id=warehouse,
                                   run_id=run, merchants=caller.merchants)


@router.post("/replenishments", summary="Run replenishment now", status_code=202, response_model=RunStarted)
async def run_now(client: TemporalDep, settings: SettingsDep, _: Ops) -> RunStarted:
    """Start a replenishment run now (the schedule runs one daily)."""
    handle = await start_run(client, settings)
    return RunStarted(run_id=handle.id, status_url=f"/v1/inventory/replenishments/{handle.id}")


@router.get("/replenishments/{run_id}", summary="A replenishment run", response_model=ReplenishmentState)
async def run_state(run_id: str, client: TemporalDep, engine: EngineDep, caller: Reader) -> ReplenishmentState:
    """A run's suggestions and decisions, from its workflow. A run plans every merchant's stock: a backend sees
    only its merchants' suggestions and skipped SKUs, and not ops' decisions (they name other merchants')."""
    handle = _run_handle(client, run_id)
    with not_found_as("RUN_NOT_FOUND", f"no replenishment run {run_id}"):
        state: ReplenishmentState = await handle.query(ReplenishmentWorkflow.state)
    if caller.merchants is None:
        return state
    own = set(await asyncio.to_thread(ledger.skus, engine, caller.merchants))
    return state.model_copy(update={
        "suggestions": [s for s in state.suggestions if caller.sees(s.request.merchant_id)],
        # Each reads "<sku> at <warehouse>: <why>" (activities/inventory.py).
        "skipped": [entry for entry in state.skipped if entry.split(" at ", 1)[0] in own],
        "decisions": []})


@router.post("/replenishments/{run_id}/decisions", summary="Decide a run's suggestions",
              response_model=ReplenishmentState)
async def decide(run_id: str, body: SuggestionDecision, client: TemporalDep, _: Ops) -> ReplenishmentState:
    """Approve or reject the run's suggestions; approved ones start as replenishment shipments."""
    with not_found_as("RUN_NOT_FOUND", f"no running replenishment run {run_id}"):
        try:
            return await _run_handle(client, run_id).execute_update(ReplenishmentWorkflow.decide, body)
        except WorkflowUpdateFailedError as err:
            raise refusal(err, "DECISION_REFUSED") from None


def _invalid(code: str, field: str, message: str) -> ApiError:
    """A 422 that names its field, like a validation error."""
    return ApiError.invalid([{"field": field, "message": message}], code)


def _sales_records(body: bytes, content_type: str) -> tuple[list[SaleRecord], str]:
    """A sales import's records, and what its problems are named under (`rows` of a CSV, `sales` of JSON).

    Raises:
        SalesImportError: Naming every row and field that is wrong.
        ApiError: The body is not UTF-8 (422) or neither CSV nor JSON (415).
    """
    kind = content_type.split(";")[0].strip().lower()
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise _invalid("INVALID_REQUEST", "body", "not UTF-8 text") from None
    if kind in ("text/csv", "text/plain"):
        return parse_csv(text), "rows"
    if kind == "application/json":
        try:
            data = json.loads(text)
        except (json.JSONDecodeError, RecursionError) as err:
            raise SalesImportError([{"field": "body", "message": f"not valid JSON: {err}"}]) from None
        return parse_json(data), "sales"
    raise ApiError(415, "UNSUPPORTED_MEDIA_TYPE", "send text/csv or application/json")


def _run_handle(client: Client, run_id: str) -> Any:
    """A replenishment run's handle; any other workflow id is not one (its query and update are another's)."""
    if not run_id.startswith(RUN_PREFIX) or len(run_id) > 120:
        raise ApiError(404, "RUN_NOT_FOUND", f"no replenishment run {run_id}")
    return client.get_workflow_handle(run_id, result_type=ReplenishmentState)


def _source_forecast(engine: Any, network: dict[str, Warehouse], target: Warehouse, sku: str,
                     day: date) -> ForecastView | str:
    """A source warehouse's stock and the forecast of the demand it serves; a string says why there is none."""
    markets = [target.country, *sorted({w.country for w in network.values()
                                        if w.replenished_from == target.warehouse_id} - {target.country})]
    histories = {m: ledger.sales_history(engine, sku, m, until=day) for m in markets}
    starts = [first for first, _ in histories.values() if first is not None]
    if not starts:
        return f"no sales history in {', '.join(markets)}"
    first = min(starts)
    history = [0] * (day - first).days
    for start, series in histories.values():
        if start is not None:
            offset = (start - first).days
            for i, units in enumerate(series):
                history[offset + i] += units
    f = forecast_demand(history, start=first, horizon=HORIZON_DAYS)
    views = ledger.stock(engine, sku=sku, warehouse_id=target.warehouse_id)
    on_hand, available, in_transit = ((views[0].on_hand, views[0].available, views[0].in_transit) if views
                                      else (0, 0, 0))
    served = [m for m in markets if histories[m][0] is not None]
    return ForecastView(
        sku=sku, warehouse_id=target.warehouse_id, market=target.country, as_of=day, history_start=first,
        history=history, forecast_start=f.start, forecast=f.mean, forecast_sigma=f.sigma, method=f.method,
        pattern=f.pattern, mase=f.mase, naive_mase=f.naive_mase, on_hand=on_hand, available=available,
        in_transit=in_transit, safety_stock=None, reorder_point=None, order_up_to=None, reorder=False, quantity=0,
        mode=None, lead_time_days=None, stockout_risk=None,
        reasons=[f"{target.warehouse_id} is a source warehouse (nothing replenishes it): no reorder point; demand "
                 f"is the sales in {', '.join(served)}", *f.notes])


def _forecast_view(found: Analysis, sku: str, warehouse_id: str, market: str, day: date) -> ForecastView:
    f, p, pos = found.forecast, found.plan, found.position
    return ForecastView(
        sku=sku, warehouse_id=warehouse_id, market=market, as_of=day, history_start=found.history_start,
        history=found.history, forecast_start=f.start, forecast=f.mean, forecast_sigma=f.sigma, method=f.method,
        pattern=f.pattern, mase=f.mase, naive_mase=f.naive_mase, on_hand=pos.on_hand, available=pos.available,
        in_transit=pos.in_transit, safety_stock=p.safety_stock, reorder_point=p.reorder_point,
        order_up_to=p.order_up_to, reorder=p.reorder, quantity=p.quantity,
        mode=p.option.mode.value if p.option else None,
        lead_time_days=p.option.lead_time_days if p.option else None, stockout_risk=p.stockout_risk,
        reasons=[*p.reasons, *found.notes])

