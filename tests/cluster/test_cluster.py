"""Tradelane on a real multi-service Temporal cluster (issue 23): what runs on the dev server runs here too.

Shipments are delivered, approved and compensated; their search attributes are listed through advanced visibility
on PostgreSQL; the replenishment schedule fires; payloads are encrypted in the cluster's histories and the API's
codec server decodes them for ops; the shards are eight, on two history hosts."""

import asyncio
import json
from typing import Any

import httpx
import pytest
from temporalio.client import Client, WorkflowExecutionStatus

from devstack.cluster.stack import Cluster
from tests.support import load_example, unique_id
from tradelane.keys import workflow_id
from workflows.replenishment_schedule import SCHEDULE_ID

pytestmark = pytest.mark.temporal


async def until(predicate: Any, what: str, timeout: float = 120) -> Any:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        found = await predicate()
        if found:
            return found
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.5)


async def final(api: httpx.AsyncClient, shipment_id: str, timeout: float = 180) -> dict[str, Any]:
    async def ended() -> dict[str, Any] | None:
        view = (await api.get(f"/v1/shipments/{shipment_id}")).json()
        return view if view.get("execution_status") == "completed" else None

    return await until(ended, f"{shipment_id} to end", timeout)


async def test_shipments_are_delivered_approved_and_compensated(cluster: Cluster, api: httpx.AsyncClient):
    basic, valuable, refused = unique_id("cl-basic"), unique_id("cl-value"), unique_id("cl-reject")
    fault = {"partner": "clearpath", "operation": "file", "shipment_id": refused, "kind": "reject",
             "code": "RESTRICTED_GOODS", "message": "goods restricted at destination"}
    async with httpx.AsyncClient(base_url=cluster.sandbox_url) as sandbox:
        assert (await sandbox.post("/_faults", json=fault)).status_code in (200, 201)
    for shipment_id, example in ((basic, "basic-cn-de.json"), (valuable, "high-value-us-jp.json"),
                                 (refused, "basic-cn-de.json")):
        response = await api.post("/v1/shipments", json=load_example(example, shipment_id))
        assert response.status_code == 201, response.text

    async def held() -> bool:
        view = (await api.get(f"/v1/shipments/{valuable}")).json()
        return [g["kind"] for g in view.get("pending_approvals", [])] == ["high_value"]

    await until(held, f"{valuable} to wait for ops")
    decided = await api.post(f"/v1/shipments/{valuable}/approvals", headers={"Authorization": "Bearer dev-ops-key"},
                             json={"gate": "high_value", "decision": "approve", "actor": "ops@cluster"})
    assert decided.status_code == 200, decided.text

    assert (await final(api, basic))["status"] == "delivered"
    assert (await final(api, valuable))["status"] == "delivered"
    undone = await final(api, refused)
    assert (undone["status"], undone["failure_code"]) == ("compensated", "RESTRICTED_GOODS")
    assert [c["action"] for c in undone["compensation"]] == ["carrier.void_label", "carrier.cancel_booking"]


async def test_search_attributes_are_listed_through_advanced_visibility(cluster: Cluster, api: httpx.AsyncClient):
    shipment_id = unique_id("cl-list")
    body = load_example("basic-cn-de.json", shipment_id)
    assert (await api.post("/v1/shipments", json=body)).status_code == 201
    assert (await final(api, shipment_id))["status"] == "delivered"
    query = (f'WorkflowId = "{workflow_id(shipment_id)}" AND TradelaneStatus = "delivered" '
             f'AND TradelaneDestination = "{body["destination"]["country"]}" AND TradelaneMerchant = '
             f'"{body["merchant_id"]}"')

    async def listed() -> list[str]:
        return [w.id async for w in cluster.client.list_workflows(query)]

    assert await until(listed, "the visibility store to list the shipment", 60) == [workflow_id(shipment_id)]
    assert (await cluster.client.count_workflows(query)).count == 1
    delivered = await cluster.client.count_workflows('TradelaneStatus = "delivered"')
    assert delivered.count >= 1


async def test_the_replenishment_schedule_fires_on_the_cluster(cluster: Cluster):
    handle = cluster.client.get_schedule_handle(SCHEDULE_ID)
    before = len((await handle.describe()).info.recent_actions)
    await handle.trigger()

    async def fired() -> str | None:
        info = (await handle.describe()).info
        actions = [a.action for a in info.recent_actions[before:]] + list(info.running_actions)
        return actions[0].workflow_id if actions else None

    run_id = await until(fired, "the schedule to start a run", 60)
    run = cluster.client.get_workflow_handle(run_id)
    await until(lambda: _closed(run), f"the run {run_id} to finish", 120)
    assert (await run.describe()).status is WorkflowExecutionStatus.COMPLETED


async def _closed(handle: Any) -> bool:
    return (await handle.describe()).status is not WorkflowExecutionStatus.RUNNING


async def test_payloads_are_encrypted_in_the_clusters_history_and_the_codec_decodes_them(cluster: Cluster,
                                                                                         api: httpx.AsyncClient):
    shipment_id = unique_id("cl-codec")
    body = load_example("basic-cn-de.json", shipment_id)
    assert (await api.post("/v1/shipments", json=body)).status_code == 201
    await final(api, shipment_id)
    # A client without Tradelane's codec reads the history as stored: ciphertext only.
    raw = await Client.connect(cluster.frontend_address, namespace=cluster.settings.temporal_namespace)
    history = await raw.get_workflow_handle(workflow_id(shipment_id)).fetch_history()
    started = history.events[0].workflow_execution_started_event_attributes.input.payloads[0]
    assert started.metadata["encoding"] == b"binary/encrypted"
    assert body["destination"]["name"].encode() not in started.data
    # The codec server decodes it for an ops key (and for no one else).
    wire = {"payloads": [{"metadata": {k: _b64(v) for k, v in started.metadata.items()}, "data": _b64(started.data)}]}
    async with httpx.AsyncClient(base_url=cluster.api_url) as http:
        refused = await http.post("/codec/decode", json=wire, headers={"Authorization": "Bearer dev-backend-key"})
        decoded = await http.post("/codec/decode", json=wire, headers={"Authorization": "Bearer dev-ops-key"})
    assert refused.status_code == 403
    assert decoded.status_code == 200, decoded.text
    plain = json.loads(_unb64(decoded.json()["payloads"][0]["data"]))
    assert plain["request"]["shipment_id"] == shipment_id


def test_eight_history_shards_on_two_history_hosts(cluster: Cluster):
    assert sorted(cluster.temporal.shard_ranges()) == list(range(1, 9))  # fixed when the cluster was created
    assert [host.name for host in cluster.history if host.running] == ["history-1", "history-2"]
    assert all(process.running for process in cluster.processes())


def _b64(value: bytes) -> str:
    import base64

    return base64.b64encode(value).decode()


def _unb64(value: str) -> bytes:
    import base64

    return base64.b64decode(value)
