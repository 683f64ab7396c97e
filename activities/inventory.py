"""Inventory activities: a shipment's steps in the stock ledger, and the replenishment suggestions.

The ledger steps are idempotent by key (`<idempotency key>:<step>:<warehouse>:<sku>`), so a retried activity, or a
worker killed between posting and reporting, posts nothing twice. Only the database is touched here; the rules
are in `tradelane.inventory` and the transactions in `infra.persistence.inventory`.

A step the database refuses for good (a NUL PostgreSQL cannot store in a SKU of a request sent around the API:
`DataError`) fails non-retryable as `LedgerRefused`, so the shipment ends (compensated, naming the error) instead of
retrying the step forever; a database that is down is still retried.
"""

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

import structlog
from sqlalchemy.engine import Engine
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.poison import deterministic, non_retryable
from infra.persistence import inventory as ledger
from infra.persistence.inventory import NewMovement, Refused
from tradelane.inventory.forecast import DemandForecast, forecast_demand
from tradelane.inventory.ledger import MovementKind, undo_of
from tradelane.inventory.models import (
    SkuSpec,
    Suggestion,
    SuggestRequest,
    SuggestResult,
    Warehouse,
)
from tradelane.inventory.policy import Inbound, PolicyParams, Replenishment, StockPosition, plan_replenishment
from tradelane.inventory.replenish import lane_options, replenishment_id, replenishment_request
from tradelane.rules import RuleBook
from tradelane.shipment.calls import StockRecord, StockRelease, StockRequest

log = structlog.stdlib.get_logger(__name__)

HORIZON_DAYS = 120
"""Forecast days: longer than the slowest sea lead time plus an order's cover."""

LEDGER_REFUSED = "LedgerRefused"
"""The stock ledger refuses a step's data for good; not retried."""

UNKNOWN_ERROR_ATTEMPTS = 20
"""Attempts after which an error neither known transient nor known deterministic is given up."""


async def _step(name: str, step: Callable[[Any], StockRecord], req: Any) -> StockRecord:
    """Run a ledger step in a thread; an error a retry would repeat is raised non-retryable (`LedgerRefused`)."""
    try:
        return await asyncio.to_thread(step, req)
    except ApplicationError:
        raise  # already says whether to retry (UnknownWarehouse)
    except Exception as err:
        attempt = activity.info().attempt if activity.in_activity() else 1
        if deterministic(err, attempt=attempt, max_attempts=UNKNOWN_ERROR_ATTEMPTS):
            raise non_retryable(err, f"stock ledger {name}", type=LEDGER_REFUSED) from err
        raise


class InventoryActivities:
    def __init__(self, engine: Engine, book: RuleBook) -> None:
        self._engine = engine
        self._book = book

    # ---- a shipment's ledger steps ---------------------------------------------------------------------------

    @activity.defn(name="inventory.reserve")
    async def reserve(self, req: StockRequest) -> StockRecord:
        """Reserve every line at the origin warehouse, all or nothing. Refused (not raised) when stock is short:
        that is a business answer the workflow turns into a rejection."""
        return await _step("reserve", self._reserve, req)

    def _reserve(self, req: StockRequest) -> StockRecord:
        [origin] = self._managed(req.origin_warehouse)
        record = StockRecord(origin_warehouse=req.origin_warehouse, destination_warehouse=req.destination_warehouse,
                             lines=req.lines, state="reserved" if origin else "untracked")
        if origin is None:
            record.note = "origin keeps no stock in the ledger (a supplier)" if req.origin_warehouse else ""
            return record
        try:
            ledger.post(self._engine, [
                NewMovement(key=f"{req.idempotency_key}:reserve:{origin.warehouse_id}:{sku}",
                            warehouse_id=origin.warehouse_id, sku=sku, kind=MovementKind.RESERVATION,
                            quantity=units, shipment_id=req.shipment_id, reason="shipment started")
                for sku, units in sorted(req.lines.items())])
        except Refused as refused:
            record.state, record.note = "refused", f"not enough stock at {origin.warehouse_id}: {refused}"
        log.info("stock reserved" if record.state == "reserved" else "stock refused",
                 shipment_id=req.shipment_id, warehouse=origin.warehouse_id, lines=len(req.lines))
        return record

    @activity.defn(name="inventory.ship")
    async def ship(self, req: StockRequest) -> StockRecord:
        """The shipment is booked: its reserved goods leave the origin's shelf, and a replenishment becomes
        inbound stock at its destination (with the shipment's ETA)."""
        return await _step("ship", self._ship, req)

    def _ship(self, req: StockRequest) -> StockRecord:
        origin, target = self._managed(req.origin_warehouse, req.destination_warehouse)
        moves = []
        for sku, units in sorted(req.lines.items()):
            if origin is not None:
                moves.append(NewMovement(key=f"{req.idempotency_key}:ship:{origin.warehouse_id}:{sku}",
                                         warehouse_id=origin.warehouse_id, sku=sku, kind=MovementKind.SHIPMENT,
                                         quantity=units, shipment_id=req.shipment_id, reason="shipment booked"))
            if target is not None:
                moves.append(NewMovement(key=f"{req.idempotency_key}:inbound:{target.warehouse_id}:{sku}",
                                         warehouse_id=target.warehouse_id, sku=sku, kind=MovementKind.INBOUND,
                                         quantity=units, shipment_id=req.shipment_id,
                                         reason=f"replenishment from {req.origin_warehouse or 'supplier'}"))
        ledger.post(self._engine, moves)
        return StockRecord(origin_warehouse=req.origin_warehouse, destination_warehouse=req.destination_warehouse,
                           lines=req.lines, state="shipped" if moves else "untracked")

    @activity.defn(name="inventory.receive")
    async def receive(self, req: StockRequest) -> StockRecord:
        """Delivered: a replenishment's inbound stock is put on the shelf at its destination."""
        return await _step("receive", self._receive, req)

    def _receive(self, req: StockRequest) -> StockRecord:
        [target] = self._managed(req.destination_warehouse)
        moves = [] if target is None else [
            NewMovement(key=f"{req.idempotency_key}:receive:{target.warehouse_id}:{sku}",
                        warehouse_id=target.warehouse_id, sku=sku, kind=MovementKind.RECEIPT, quantity=units,
                        shipment_id=req.shipment_id, reason="replenishment delivered", settles_inbound=True)
            for sku, units in sorted(req.lines.items())]
        ledger.post(self._engine, moves)
        return StockRecord(origin_warehouse=req.origin_warehouse, destination_warehouse=req.destination_warehouse,
                           lines=req.lines, state="received" if moves else "shipped")

    @activity.defn(name="inventory.release")
    async def release(self, call: StockRelease) -> StockRecord:
        """Undo (saga): give back whatever the ledger still holds for the shipment. An open reservation is
        released; goods that left with the booking return to the shelf (the booking was cancelled, so they never
        went); inbound stock that will not come is cancelled. Idempotent: a second run finds nothing open."""
        return await _step("release", self._release, call)

    def _release(self, call: StockRelease) -> StockRecord:
        undo = undo_of(ledger.shipment_movements(self._engine, call.shipment_id))
        ledger.post(self._engine, [
            NewMovement(key=f"{call.idempotency_key}:{u.warehouse_id}:{u.sku}:{u.step}", warehouse_id=u.warehouse_id,
                        sku=u.sku, kind=u.kind, quantity=u.quantity, shipment_id=call.shipment_id, reason=u.reason)
            for u in undo])
        log.info("stock released", shipment_id=call.shipment_id, movements=len(undo))
        return StockRecord(state="released", note=f"{len(undo)} ledger movements undone")

    def _managed(self, *warehouse_ids: str | None) -> list[Warehouse | None]:
        """Each warehouse when it keeps stock in the ledger, else None (absent, or a supplier)."""
        if not any(warehouse_ids):
            return [None] * len(warehouse_ids)
        network = ledger.warehouses(self._engine)
        found: list[Warehouse | None] = []
        for warehouse_id in warehouse_ids:
            warehouse = network.get(warehouse_id) if warehouse_id else None
            if warehouse_id and warehouse is None:
                # The API checks warehouses before a shipment starts; one removed since is a data error for ops,
                # and retrying cannot mend it.
                raise ApplicationError(f"warehouse {warehouse_id!r} is not in the network", type="UnknownWarehouse",
                                       non_retryable=True)
            found.append(warehouse if warehouse is not None and warehouse.stock_managed else None)
        return found

    # ---- replenishment suggestions --------------------------------------------------------------------------

    @activity.defn(name="inventory.suggest")
    async def suggest(self, req: SuggestRequest) -> SuggestResult:
        """Forecast, policy and lanes for every warehouse that has a source, stored as proposed suggestions."""
        result = await asyncio.to_thread(self._suggest, req)
        await asyncio.to_thread(ledger.save_suggestions, self._engine, result.suggestions)
        log.info("replenishment suggested", run_id=req.run_id, suggestions=len(result.suggestions),
                 skipped=len(result.skipped))
        return result

    def _suggest(self, req: SuggestRequest) -> SuggestResult:
        network = ledger.warehouses(self._engine, req.merchant_id)
        catalogue = ledger.skus(self._engine)
        result = SuggestResult()
        for target in sorted(network.values(), key=lambda w: w.warehouse_id):
            source = network.get(target.replenished_from or "")
            if not target.stock_managed or source is None:
                continue
            for spec in sorted(catalogue.values(), key=lambda s: s.sku):
                if spec.merchant_id != target.merchant_id:
                    continue
                suggestion, why = self._suggest_one(req, source, target, spec)
                if suggestion is not None:
                    result.suggestions.append(suggestion)
                else:
                    result.skipped.append(f"{spec.sku} at {target.warehouse_id}: {why}")
        return result

    def _suggest_one(self, req: SuggestRequest, source: Warehouse, target: Warehouse,
                     spec: SkuSpec) -> tuple[Suggestion | None, str]:
        found = analyse(self._engine, self._book, source, target, spec, req.as_of)
        if isinstance(found, str):
            return None, found
        plan, forecast = found.plan, found.forecast
        if not plan.reorder or plan.option is None:
            return None, "; ".join(plan.reasons) or "enough stock"
        chosen = plan.option
        shipment_id = replenishment_id(req.as_of, target.warehouse_id, spec.sku)
        request = replenishment_request(shipment_id, source, target, spec, plan.quantity, req.as_of,
                                        air=chosen.mode.is_air)
        # Priced again for the final quantity: the probe only found the lanes and lead times.
        final_surface, final_air, _ = lane_options(source, target, spec, plan.quantity, req.as_of, self._book)
        priced = (final_air if chosen.mode.is_air else final_surface) or chosen
        other = plan.alternative
        return Suggestion(
            suggestion_id=shipment_id, run_id=req.run_id, as_of=req.as_of, warehouse_id=target.warehouse_id,
            source_id=source.warehouse_id, sku=spec.sku, quantity=plan.quantity, mode=priced.mode,
            plan_id=priced.plan_id, lead_time_days=priced.lead_time_days,
            lead_time_sd_days=priced.lead_time_sd_days, cost=priced.cost, co2e_kg=priced.co2e_kg,
            stockout_risk=plan.stockout_risk, safety_stock=plan.safety_stock, reorder_point=plan.reorder_point,
            inventory_position=plan.inventory_position, forecast_method=forecast.method, mase=forecast.mase,
            naive_mase=forecast.naive_mase, reasons=[*plan.reasons, *found.notes],
            alternative=None if other is None else (
                f"{other.mode}: {other.cost.amount} {other.cost.currency}, {other.co2e_kg:.0f} kg CO2e, "
                f"{other.lead_time_days:.0f} days"),
            request=request), ""

    @activity.defn(name="inventory.record_suggestions")
    async def record_suggestions(self, suggestions: list[Suggestion]) -> None:
        """Store the suggestions' new states (decided, started, expired) for `GET /v1/inventory/suggestions`."""
        await asyncio.to_thread(ledger.save_suggestions, self._engine, suggestions)



@dataclass(frozen=True)
class Analysis:
    """One SKU at one warehouse on one day: its history, forecast, position and the policy's answer."""

    history_start: date
    history: list[int]
    forecast: DemandForecast
    position: StockPosition
    plan: Replenishment
    notes: list[str]


def analyse(engine: Engine, book: RuleBook, source: Warehouse, target: Warehouse, spec: SkuSpec,
            as_of: date) -> Analysis | str:
    """Forecast, stock position, lanes and policy for `spec` at `target`; a string says why there is none."""
    first, history = ledger.sales_history(engine, spec.sku, target.country, until=as_of)
    if first is None:
        return f"no sales history in {target.country}"
    forecast = forecast_demand(history, start=first, horizon=HORIZON_DAYS)
    views = ledger.stock(engine, sku=spec.sku, warehouse_id=target.warehouse_id)
    position = StockPosition(on_hand=0, reserved=0, inbound=[])
    if views:
        view = views[0]
        position = StockPosition(on_hand=view.on_hand, reserved=view.reserved, inbound=[
            Inbound(shipment_id=i.shipment_id, quantity=i.quantity, eta=i.eta_expected) for i in view.inbound])
    probe = max(spec.carton.units, round(forecast.demand_over(spec.cover_days)))
    surface, air, notes = lane_options(source, target, spec, probe, as_of, book)
    if surface is None and air is None:
        return "; ".join(notes)
    params = PolicyParams(service_level=spec.service_level, cover_days=spec.cover_days,
                          units_per_carton=spec.carton.units)
    # The policy weighs air against surface; a lane without surface transport can only fly.
    plan = plan_replenishment(forecast, position, today=as_of, surface=surface or air,
                              air=air if surface else None, params=params)
    return Analysis(history_start=first, history=history, forecast=forecast, position=position, plan=plan,
                    notes=notes)
