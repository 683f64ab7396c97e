"""A shipment's stock on the real dev server: reserved when it starts, off the shelf when booked, given back by
compensation and cancellation; a replenishment is inbound with the shipment's ETA and on the shelf on delivery."""

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.service import RPCError

from infra.persistence import inventory as ledger
from tests.inventory.network import make_network, outbound, position, receive
from tests.support import load_example, unique_id
from tradelane.enums import Status

pytestmark = pytest.mark.temporal


async def test_outbound_reserves_on_start_and_ships_on_booking(harness):
    net = make_network(harness.engine)
    receive(harness.engine, net.origin, net.sku, 10)
    receive(harness.engine, net.origin, net.other_sku, 5)
    shipment_id = unique_id("stock")
    handle = await harness.start(outbound(shipment_id, net.origin, net.sku, net.other_sku))
    state = await harness.result(shipment_id)

    assert state.status is Status.DELIVERED
    assert state.stock is not None and state.stock.state == "shipped"
    assert position(harness.engine, net.origin, net.sku) == (7, 0, 0)
    assert position(harness.engine, net.origin, net.other_sku) == (3, 0, 0)
    kinds = [(m.kind.value, m.quantity) for m in reversed(ledger.movements(harness.engine, sku=net.sku))]
    assert kinds == [("receipt", 10), ("reservation", 3), ("shipment", 3)]
    names = [e.activity_task_scheduled_event_attributes.activity_type.name
             async for e in handle.fetch_history_events()
             if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED]
    # Reserved before anything is booked, taken off the shelf right after the label.
    assert names.index("inventory.reserve") < names.index("carrier.book")
    assert names.index("carrier.create_label") < names.index("inventory.ship")


async def test_short_stock_rejects_the_shipment_and_changes_nothing(harness):
    net = make_network(harness.engine)
    receive(harness.engine, net.origin, net.sku, 10)
    receive(harness.engine, net.origin, net.other_sku, 1)  # two are ordered
    shipment_id = unique_id("short")
    await harness.start(outbound(shipment_id, net.origin, net.sku, net.other_sku))
    state = await harness.result(shipment_id)

    assert state.status is Status.REJECTED and state.failure_code == "INSUFFICIENT_STOCK"
    assert net.other_sku in (state.failure or "") and "available at -1" in (state.failure or "")
    assert position(harness.engine, net.origin, net.sku) == (10, 0, 0)  # all or nothing: no line reserved
    assert await harness.inspect(shipment_id) == []  # nothing booked


async def test_compensation_after_booking_puts_the_goods_back(harness):
    net = make_network(harness.engine)
    receive(harness.engine, net.origin, net.sku, 10)
    receive(harness.engine, net.origin, net.other_sku, 5)
    shipment_id = unique_id("stockundo")
    await harness.add_fault(partner="clearpath", operation="file", shipment_id=shipment_id, kind="reject",
                            code="RESTRICTED_GOODS", message="goods restricted at destination")
    await harness.start(outbound(shipment_id, net.origin, net.sku, net.other_sku))
    state = await harness.result(shipment_id)

    assert state.status is Status.COMPENSATED
    assert state.stock is not None and state.stock.state == "released"
    assert [c.action for c in state.compensation][-1] == "inventory.release"  # undone last: pushed first
    assert position(harness.engine, net.origin, net.sku) == (10, 0, 0)
    kinds = [m.kind.value for m in reversed(ledger.movements(harness.engine, sku=net.sku))]
    assert kinds == ["receipt", "reservation", "shipment", "receipt"]


async def test_cancel_before_booking_releases_the_reservation(harness):
    net = make_network(harness.engine)
    receive(harness.engine, net.origin, net.sku, 10)
    receive(harness.engine, net.origin, net.other_sku, 5)
    shipment_id = unique_id("stockcancel")
    body = outbound(shipment_id, net.origin, net.sku, net.other_sku)
    body["items"][0]["unit_value"] = "9000.00"  # above the approval threshold: holds before booking
    await harness.start(body)
    await harness.until_held(shipment_id)
    assert position(harness.engine, net.origin, net.sku) == (10, 3, 0)

    response = await harness.api.post(f"/v1/shipments/{shipment_id}/cancel", json={"actor": "ops@test"})
    assert response.status_code == 202, response.text
    state = await harness.result(shipment_id)
    assert state.status is Status.CANCELLED
    assert position(harness.engine, net.origin, net.sku) == (10, 0, 0)
    kinds = [m.kind.value for m in reversed(ledger.movements(harness.engine, sku=net.sku))]
    assert kinds == ["receipt", "reservation", "release"]


async def test_replenishment_is_inbound_with_its_eta_then_on_hand(harness):
    net = make_network(harness.engine)
    receive(harness.engine, net.origin, net.sku, 500)
    shipment_id = unique_id("inbound")
    body = load_example("basic-cn-de.json", shipment_id)
    body.update(origin_warehouse=net.origin, destination_warehouse=net.target)
    body["items"] = [body["items"][0] | {"sku": net.sku, "quantity": 200}]
    body["destination"] = body["destination"] | {"name": "Acme Lager Berlin", "postal_code": "13507"}
    await harness.start(body)
    state = await harness.wait_until(shipment_id, lambda s: s.stock is not None and s.stock.state == "shipped")
    views = ledger.stock(harness.engine, sku=net.sku, warehouse_id=net.target)
    assert views and views[0].in_transit == 200 and views[0].on_hand == 0
    assert [i.shipment_id for i in views[0].inbound] == [shipment_id]

    state = await harness.result(shipment_id)
    assert state.status is Status.DELIVERED and state.stock is not None and state.stock.state == "received"
    assert position(harness.engine, net.target, net.sku) == (200, 0, 0)
    assert position(harness.engine, net.origin, net.sku) == (300, 0, 0)


async def test_unknown_or_misplaced_warehouse_is_refused_before_anything_starts(harness):
    net = make_network(harness.engine)
    for field, value, message in (("origin_warehouse", "NOPE-1", "not a warehouse"),
                                  ("origin_warehouse", net.target, "is in DE, but the origin is in CN")):
        shipment_id = unique_id("badwh")
        body = outbound(shipment_id, net.origin, net.sku, net.other_sku)
        body[field] = value
        response = await harness.api.post("/v1/shipments", json=body)
        assert response.status_code == 422, response.text
        error = response.json()["error"]
        assert error["fields"][0]["field"] == field and message in error["fields"][0]["message"]
        with pytest.raises(RPCError):  # no workflow was started
            await harness.client.get_workflow_handle(f"shipment:{shipment_id}").describe()
