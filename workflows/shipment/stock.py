"""The shipment's steps in the merchant's stock ledger.

A shipment from one of the merchant's warehouses (`origin_warehouse`) reserves its goods when it starts and takes
them off the shelf when it is booked; a replenishment into one (`destination_warehouse`) is inbound stock from its
booking and on the shelf when it is delivered. Its undo, a `StockUndo`, gives back whatever the ledger still holds
for the shipment, so compensation and cancellation leave no stock behind.

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
    from tradelane.shipment.calls import StockRecord, StockRelease, StockRequest
    from tradelane.shipment.run import ShipmentInput
    from tradelane.shipment.state import ShipmentState, StockUndo
    from workflows.shipment.patches import INVENTORY
    from workflows.shipment.saga import Saga

LEDGER = "inventory"
"""The name of the ledger steps in idempotency keys: Tradelane's own database, not a partner."""

LEDGER_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), backoff_coefficient=2.0,
                           maximum_interval=timedelta(seconds=30), maximum_attempts=0,
                           non_retryable_error_types=["UnknownWarehouse"])
"""Tradelane's own database: an outage delays the shipment, it never fails it (as with the read model)."""


class StockSteps:
    def __init__(self, inp: ShipmentInput, state: ShipmentState, *, saga: Saga, note: Callable[[str], None]) -> None:
        self._input, self._state, self._saga, self._note = inp, state, saga, note

    def _request(self, step: str) -> StockRequest:
        req = self._input.request
        lines: dict[str, int] = {}
        for item in req.items:
            lines[item.sku] = lines.get(item.sku, 0) + item.quantity
        return StockRequest(shipment_id=req.shipment_id, idempotency_key=idempotency_key(req.shipment_id, step, LEDGER),
                            origin_warehouse=req.origin_warehouse, destination_warehouse=req.destination_warehouse,
                            lines=lines)

    async def reserve(self) -> StockRecord | None:
        """Reserve at the origin when the shipment starts, and push the release. None: no warehouse involved.

        A cancellation that arrives while the reservation is being written waits for it, so the release that
        follows finds it (the same reason the saga shields partner steps).
        """
        req = self._input.request
        if req.origin_warehouse is None and req.destination_warehouse is None:
            return None
        if not workflow.patched(INVENTORY):
            return None
        handle = workflow.start_activity_method(InventoryActivities.reserve, self._request("reserve"),
                                                start_to_close_timeout=timedelta(seconds=30),
                                                retry_policy=LEDGER_RETRY)
        try:
            record = await asyncio.shield(handle)
        except asyncio.CancelledError:
            try:
                self._reserved(await handle)
            except ActivityError:
                pass  # nothing was reserved, nothing to release
            raise
        self._reserved(record)
        return record

    def _reserved(self, record: StockRecord) -> None:
        self._state.stock = record
        if record.state == "refused":
            return
        shipment_id = self._state.shipment_id
        release = StockRelease(shipment_id=shipment_id, idempotency_key=idempotency_key(shipment_id, "release", LEDGER))
        where = record.origin_warehouse or record.destination_warehouse
        self._saga.push(StockUndo(call=release, description=f"release stock held at {where}"))
        if record.state == "reserved":
            self._note(f"stock reserved at {record.origin_warehouse}: "
                       + ", ".join(f"{units} x {sku}" for sku, units in record.lines.items()))

    async def shipped(self) -> None:
        """Booked: the goods leave the origin's shelf; a replenishment is inbound at its destination."""
        if self._state.stock is None:
            return
        self._state.stock = await self._ledger(InventoryActivities.ship, self._request("ship"))

    async def received(self) -> None:
        """Delivered: a replenishment's goods are on the destination's shelf."""
        stock = self._state.stock
        if stock is None or stock.destination_warehouse is None:
            return
        self._state.stock = await self._ledger(InventoryActivities.receive, self._request("receive"))
        self._note(f"stock received at {stock.destination_warehouse}")

    async def _ledger(self, method: Any, req: StockRequest) -> StockRecord:
        return await workflow.execute_activity_method(method, req, start_to_close_timeout=timedelta(seconds=30),
                                                      retry_policy=LEDGER_RETRY)
