"""Merchants as tenants (issue 18): a backend key acts for its own merchants only. Another merchant's shipment is
answered 404 exactly as a missing one (its id does not leak), lists and stock views show the key's merchants only,
and starting, quoting or reserving stock for another merchant is refused. On the real API app with a real Temporal
dev server, worker and sandbox, and a database of this module's own (so the lists are exact)."""

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import Engine

from infra.persistence.db import make_engine, migrate
from infra.platform.settings import DEV_API_KEYS, Settings
from tests.conftest import Harness
from tests.inventory.network import Net, make_network, outbound, receive
from tests.support import load_example, unique_id
from tradelane.keys import workflow_id

pytestmark = pytest.mark.temporal

SHOP_A, SHOP_B = "shop-a-key-" + "a" * 30, "shop-b-key-" + "b" * 30
KEYS = [{"name": "shop-a", "role": "backend", "key": SHOP_A, "merchants": ["merchant-a"]},
        {"name": "shop-b", "role": "backend", "key": SHOP_B, "merchants": ["merchant-b", "merchant-b2"]},
        {"name": "dev-ops", "role": "ops", "key": DEV_API_KEYS["ops"]}]
A, B, OPS = ({"Authorization": f"Bearer {key}"} for key in (SHOP_A, SHOP_B, DEV_API_KEYS["ops"]))


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    url = f"sqlite:///{tmp_path / 'tenants.db'}"
    migrate(url)
    return make_engine(url)


@pytest.fixture
async def tenants(harness_factory, engine) -> AsyncIterator[Harness]:
    async with harness_factory(engine=engine, api_keys=KEYS) as h:
        yield h


def shipment(merchant: str, shipment_id: str | None = None) -> dict[str, Any]:
    body = load_example("basic-cn-de.json", shipment_id or unique_id("TEN"))
    body["merchant_id"] = merchant
    return body


async def started(api: httpx.AsyncClient, body: dict[str, Any], headers: dict[str, str]) -> str:
    """Start `body` and wait until the read model has it (the lists and the timeline read it)."""
    response = await api.post("/v1/shipments", json=body, headers=headers)
    assert response.status_code == 201, response.text
    for _ in range(200):
        listed = await api.get("/v1/shipments", headers=OPS)
        if body["shipment_id"] in [s["shipment_id"] for s in listed.json()]:
            return str(body["shipment_id"])
        await asyncio.sleep(0.05)
    raise AssertionError(f"{body['shipment_id']} never reached the read model")


def test_settings_scope_every_backend_key():
    with pytest.raises(ValueError, match="backend key 'shop' names no merchants") as refused:
        Settings(_env_file=None, api_keys=[{"name": "shop", "role": "backend", "key": "k" * 40}])
    assert "kkkk" not in str(refused.value)
    with pytest.raises(ValueError, match="key 'ops' has role ops and lists merchants"):
        Settings(_env_file=None, api_keys=[{"name": "ops", "role": "ops", "key": "o" * 40, "merchants": ["m"]}])
    # The documented development backend key sees every merchant, so the demo works as before...
    assert Settings(_env_file=None).api_keys[0].merchants == ["*"]


def test_production_refuses_an_unscoped_backend_key_naming_it_not_its_value():
    production = dict(environment="production", database_url="postgresql+psycopg://t:pw@db/t",
                      webhook_secret="w" * 40, tracking_secret="t" * 40, partner_webhook_secrets={},
                      payload_keys={"k1": "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVoxMjM0NTY="}, payload_key_id="k1",
                      codec_cors_origins=["https://ui.example.com"])
    unscoped = [{"name": "shop", "role": "backend", "key": "s" * 40, "merchants": ["*"]}]
    with pytest.raises(ValueError, match="backend key 'shop' is unscoped") as refused:
        Settings(_env_file=None, **production, api_keys=unscoped)
    assert "ssss" not in str(refused.value)


async def test_another_merchants_shipment_is_answered_as_a_missing_one(tenants):
    """Finding (issue 18): any backend key read every merchant's shipments, their timelines and notifications."""
    api = tenants.api
    own = await started(api, shipment("merchant-a"), A)
    missing = unique_id("NONE")
    for path in ("/v1/shipments/{id}", "/v1/shipments/{id}/events", "/v1/shipments/{id}/notifications"):
        mine = await api.get(path.format(id=own), headers=A)
        theirs = await api.get(path.format(id=own), headers=B)
        absent = await api.get(path.format(id=missing), headers=B)
        assert mine.status_code == 200, (path, mine.text)
        assert (theirs.status_code, absent.status_code) == (404, 404), path
        # The same answer, word for word but the id, so B cannot tell A's shipment from no shipment.
        assert theirs.json() == {"error": {"code": "SHIPMENT_NOT_FOUND", "message": f"no shipment {own}"}}
        assert absent.json() == {"error": {"code": "SHIPMENT_NOT_FOUND", "message": f"no shipment {missing}"}}
        assert (await api.get(path.format(id=own), headers=OPS)).status_code == 200  # ops see every merchant


async def test_lists_show_only_the_keys_merchants(tenants):
    api = tenants.api
    a = await started(api, shipment("merchant-a"), A)
    b = await started(api, shipment("merchant-b"), B)
    b2 = await started(api, shipment("merchant-b2"), B)

    async def listed(headers: dict[str, str]) -> set[str]:
        response = await api.get("/v1/shipments", headers=headers)
        assert response.status_code == 200, response.text
        return {s["shipment_id"] for s in response.json()}

    assert await listed(A) == {a}
    assert await listed(B) == {b, b2}
    assert await listed(OPS) == {a, b, b2}


async def test_starting_quoting_or_documenting_for_another_merchant_is_refused(tenants):
    """Finding (issue 18): any backend key created shipments for any `merchant_id`."""
    api = tenants.api
    body = shipment("merchant-b")
    for path in ("/v1/shipments", "/v1/quotes", "/v1/documents/packing-list"):
        response = await api.post(path, json=body, headers=A)
        assert response.status_code == 403, (path, response.text)
        error = response.json()["error"]
        assert error["code"] == "MERCHANT_FORBIDDEN"
        assert error["fields"] == [{"field": "merchant_id", "message": "outside this API key's merchants"}]
        assert "'merchant-b'" in error["message"]
    # Nothing was started: Temporal has no such workflow.
    with pytest.raises(Exception, match="not found"):
        await tenants.client.get_workflow_handle(workflow_id(body["shipment_id"])).describe()


@pytest.fixture
def networks(engine) -> tuple[Net, Net]:
    a, b = make_network(engine, "merchant-a"), make_network(engine, "merchant-b")
    for net in (a, b):
        receive(engine, net.origin, net.sku, 100)
        receive(engine, net.origin, net.other_sku, 100)
    return a, b


async def test_stock_views_show_only_the_keys_merchants_warehouses(tenants, networks):
    """Finding (issue 18): any backend key read every merchant's stock and ledger."""
    a, b = networks
    api = tenants.api
    for path in ("/v1/inventory", "/v1/inventory/movements"):
        seen_by_b = {row["warehouse_id"] for row in (await api.get(path, headers=B)).json()}
        seen_by_ops = {row["warehouse_id"] for row in (await api.get(path, headers=OPS)).json()}
        assert seen_by_b == {b.origin}, path
        assert seen_by_ops == {a.origin, b.origin}, path
    # A's warehouse and SKU are answered as not in the network, as missing ones are.
    forecast = await api.get("/v1/inventory/forecast", params={"sku": a.sku, "warehouse": a.target}, headers=B)
    assert (forecast.status_code, forecast.json()["error"]["code"]) == (404, "UNKNOWN_WAREHOUSE")
    forecast = await api.get("/v1/inventory/forecast", params={"sku": a.sku, "warehouse": b.target}, headers=B)
    assert (forecast.status_code, forecast.json()["error"]["code"]) == (404, "UNKNOWN_SKU")
    sales = await api.post("/v1/inventory/sales", content=f"day,sku,market,quantity\n2026-03-01,{a.sku},DE,3\n",
                           headers={**B, "Content-Type": "text/csv"})
    assert sales.status_code == 422, sales.text
    assert a.sku in sales.json()["error"]["message"]


async def test_another_merchants_stock_cannot_be_reserved(tenants, networks):
    """Finding (issue 18): a backend key reserved another merchant's warehouse stock by starting a shipment for
    that merchant from its warehouse."""
    a, _ = networks
    api = tenants.api
    before = (await api.get("/v1/inventory/movements", params={"warehouse": a.origin}, headers=OPS)).json()
    body = outbound(unique_id("TEN"), a.origin, a.sku, a.other_sku)
    body["merchant_id"] = "merchant-a"
    refused = await api.post("/v1/shipments", json=body, headers=B)
    assert (refused.status_code, refused.json()["error"]["code"]) == (403, "MERCHANT_FORBIDDEN")
    # B's own merchant with A's warehouse is refused by the warehouse rule (it belongs to merchant-a).
    body["merchant_id"] = "merchant-b"
    invalid = await api.post("/v1/shipments", json=body, headers=B)
    assert invalid.status_code == 422, invalid.text
    after = (await api.get("/v1/inventory/movements", params={"warehouse": a.origin}, headers=OPS)).json()
    assert after == before
