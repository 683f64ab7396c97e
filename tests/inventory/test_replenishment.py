"""The daily replenishment on the real dev server: the Temporal Schedule fires, its run suggests from the sales
history and the ledger, ops approve through the API, and the approved replenishment runs as an ordinary shipment
workflow whose goods end on the target warehouse's shelf."""

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from infra.persistence import inventory as ledger
from infra.persistence.db import make_engine, migrate
from tests.inventory.network import make_network, position, receive
from tradelane.enums import Status
from tradelane.inventory.models import ReplenishmentState, SaleRecord, SuggestionState
from tradelane.inventory.synthetic import seasonal_sales
from workflows.replenishment import ReplenishmentWorkflow
from workflows.replenishment_schedule import SCHEDULE_ID, ensure_schedule

pytestmark = pytest.mark.temporal


async def _running_run(client, timeout: float = 30) -> str:
    """The workflow id of the schedule's first run, once the schedule has fired."""
    handle = client.get_schedule_handle(SCHEDULE_ID)
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        info = (await handle.describe()).info
        actions = [a.action for a in info.recent_actions] + list(info.running_actions)
        if actions:
            return actions[0].workflow_id
        await asyncio.sleep(0.2)
    raise AssertionError("the schedule did not fire")


async def _state(client, run_id: str, predicate, timeout: float = 60) -> ReplenishmentState:
    handle = client.get_workflow_handle(run_id, result_type=ReplenishmentState)
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        state = await handle.query(ReplenishmentWorkflow.state)
        if predicate(state):
            return state
        assert asyncio.get_running_loop().time() < deadline, f"run stuck in {state.status}"
        await asyncio.sleep(0.1)


async def test_schedule_fires_and_approved_suggestions_ship(harness_factory, tmp_path):
    url = f"sqlite:///{tmp_path / 'inventory.db'}"
    migrate(url)
    engine = make_engine(url)  # its own database: the run plans every warehouse it finds
    net = make_network(engine)
    receive(engine, net.origin, net.sku, 5_000)
    today = datetime.now(UTC).date()
    start = today - timedelta(days=182)
    units = seasonal_sales(182, base=30, trend_per_day=0.02, weekly=(0.8, 0.9, 1, 1, 1.2, 1.4, 0.7),
                           noise_sd=3, start=start, seed=7)
    ledger.save_sales(engine, [SaleRecord(day=start + timedelta(days=i), sku=net.sku, market="DE", quantity=q)
                               for i, q in enumerate(units)])

    async with harness_factory(engine=engine, replenishment_every_s=1.0, replenishment_cron=None) as h:
        try:
            assert await ensure_schedule(h.client, h.settings)
            run_id = await _running_run(h.client)
            state = await _state(h.client, run_id, lambda s: s.status == "awaiting_approval")
            [suggestion] = state.suggestions
            assert (suggestion.sku, suggestion.warehouse_id, suggestion.source_id) == (net.sku, net.target,
                                                                                      net.origin)
            # Nothing on hand against ~30 a day: it must run out before a sea shipment could arrive, so it flies.
            assert suggestion.mode.is_air and suggestion.stockout_risk > 0.2
            assert suggestion.quantity > 0 and suggestion.quantity % 50 == 0  # whole cartons
            assert suggestion.cost.amount > 0 and suggestion.co2e_kg > 0 and suggestion.alternative
            assert any("no sales history" in s for s in state.skipped if net.other_sku in s)
            stored = await h.api.get("/v1/inventory/suggestions", params={"run": run_id})
            assert [s["state"] for s in stored.json()] == ["proposed"]

            decided = await h.api.post(f"/v1/inventory/replenishments/{run_id}/decisions",
                                       json={"actor": "planner@test", "approve": [suggestion.suggestion_id]})
            assert decided.status_code == 200, decided.text
            done = await _state(h.client, run_id, lambda s: s.status == "done")
            [started] = done.suggestions
            assert started.state is SuggestionState.STARTED and started.shipment_id == suggestion.suggestion_id
            stored = await h.api.get("/v1/inventory/suggestions", params={"run": run_id})
            assert [s["state"] for s in stored.json()] == ["started"]

            shipment_id = started.shipment_id
            state_now = await h.wait_until(shipment_id, lambda s: s.status is Status.ON_HOLD or s.status.terminal,
                                           timeout=60)
            if state_now.status is Status.ON_HOLD:  # a replenishment above the value threshold needs approval too
                await h.approve(shipment_id)
            shipment = await h.result(shipment_id, timeout=90)
            assert shipment.status is Status.DELIVERED
            assert position(engine, net.target, net.sku) == (suggestion.quantity, 0, 0)
            assert position(engine, net.origin, net.sku) == (5_000 - suggestion.quantity, 0, 0)
            description = await h.handle(shipment_id).describe()
            assert description.parent_id == run_id  # started by the run, as a child
        finally:
            await h.client.get_schedule_handle(SCHEDULE_ID).delete()
    engine.dispose()
