"""The stock half of ShipmentWorkflow: the shipment's steps in the merchant's stock ledger.

A shipment from one of the merchant's warehouses (`origin_warehouse`) reserves its goods when it starts and takes
them off the shelf when it is booked; a replenishment into one (`destination_warehouse`) is inbound stock from its
booking and on the shelf when it is delivered. The one undo, `inventory.release`, gives back whatever the ledger
still holds for the shipment, so compensation and cancellation leave no stock behind.

Added while shipments were running: a shipment without a warehouse runs no command of this module, and a new one
records the `inventory-ledger` patch marker, so histories made before replay unchanged.
"""

import asyncio
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.inventory import InventoryActivities
    from tradelane.keys import idempotency_key
    from tradelane.shipment.calls import PartnerCall, StockRecord, StockRequest
    from tradelane.shipment.run import ShipmentInput
    from tradelane.shipment.state import ShipmentState, UndoStep

PATCH_INVENTORY = "inventory-ledger"
"""`workflow.patched` id (2026-11) of the ledger steps; deprecate once no shipment from before it runs."""

LEDGER = "inventory"
"""The partner name of the ledger steps in idempotency keys: Tradelane's own database, not a partner."""

RELEASE = "inventory.release"

LEDGER_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), backoff_coefficient=2.0,
                           maximum_interval=timedelta(seconds=30), maximum_attempts=0,
                           non_retryable_error_types=["UnknownWarehouse"])
"""Tradelane's own database: an outage delays the shipment, it never fails it (as with the read model)."""


class StockMixin:
    """Mixed into ShipmentWorkflow."""

    _input: ShipmentInput
    _state: ShipmentState
    _undo: list[UndoStep]
    _note: Callable[[str], None]

    def _stock_request(self, step: str) -> StockRequest:
        req = self._input.request
        lines: dict[str, int] = {}
        for item in req.items:
            lines[item.sku] = lines.get(item.sku, 0) + item.quantity
        return StockRequest(shipment_id=req.shipment_id, idempotency_key=idempotency_key(req.shipment_id, step, LEDGER),
                            origin_warehouse=req.origin_warehouse, destination_warehouse=req.destination_warehouse,
                            lines=lines)

    async def _reserve_stock(self) -> StockRecord | None:
        """Reserve at the origin when the shipment starts, and push the release. None: no warehouse involved.

        A cancellation that arrives while the reservation is being written waits for it, so the release that
        follows finds it (the same reason `_step` shields partner calls).
        """
        req = self._input.request
        if req.origin_warehouse is None and req.destination_warehouse is None:
            return None
        if not workflow.patched(PATCH_INVENTORY):
            return None
        handle = workflow.start_activity_method(InventoryActivities.reserve, self._stock_request("reserve"),
                                                start_to_close_timeout=timedelta(seconds=30),
                                                retry_policy=LEDGER_RETRY)
        try:
            record = await asyncio.shield(handle)
        except asyncio.CancelledError:
            try:
                self._stock_reserved(await handle)
            except ActivityError:
                pass  # nothing was reserved, nothing to release
            raise
        self._stock_reserved(record)
        return record

    def _stock_reserved(self, record: StockRecord) -> None:
        self._state.stock = record
        if record.state == "refused":
            return
        call = PartnerCall(shipment_id=self._state.shipment_id, partner=LEDGER,
                           idempotency_key=idempotency_key(self._state.shipment_id, "release", LEDGER))
        where = record.origin_warehouse or record.destination_warehouse
        self._undo.append(UndoStep(action=RELEASE, call=call, description=f"release stock held at {where}"))
        if record.state == "reserved":
            self._note(f"stock reserved at {record.origin_warehouse}: "
                       + ", ".join(f"{units} x {sku}" for sku, units in record.lines.items()))

    async def _stock_shipped(self) -> None:
        """Booked: the goods leave the origin's shelf; a replenishment is inbound at its destination."""
        if self._state.stock is None:
            return
        self._state.stock = await self._ledger(InventoryActivities.ship, self._stock_request("ship"))

    async def _stock_received(self) -> None:
        """Delivered: a replenishment's goods are on the destination's shelf."""
        stock = self._state.stock
        if stock is None or stock.destination_warehouse is None:
            return
        self._state.stock = await self._ledger(InventoryActivities.receive, self._stock_request("receive"))
        self._note(f"stock received at {stock.destination_warehouse}")

    async def _ledger(self, method: Any, req: StockRequest) -> StockRecord:
        return await workflow.execute_activity_method(method, req, start_to_close_timeout=timedelta(seconds=30),
                                                      retry_policy=LEDGER_RETRY)
