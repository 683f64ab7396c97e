"""Operations on the real API: the codec server the Web UI decodes encrypted payloads with, and the read model's
Prometheus metrics; both for ops only."""

import asyncio
import base64
import json
import subprocess

import httpx
import pytest
from google.protobuf import json_format
from temporalio.api.common.v1 import Payloads

from infra.platform.dev_secrets import dev_partner_key
from infra.platform.http_server import ServedApp
from infra.platform.settings import DEV_API_KEYS, Settings
from starter.api import create_app
from tests.support import load_example, unique_id

pytestmark = pytest.mark.temporal

UI_ORIGIN = "http://localhost:8233"


def bearer(role: str) -> dict[str, str]:
    """The development key of a role; `partner` is one partner's own key (each has one)."""
    return {"Authorization": f"Bearer {dev_partner_key('roadlink') if role == 'partner' else DEV_API_KEYS[role]}"}


async def started_input(harness, shipment_id: str) -> dict:
    """The workflow's input payloads as stored by the server, in the JSON the Web UI sends to a codec server."""
    history = await harness.handle(shipment_id).fetch_history()
    payloads = history.events[0].workflow_execution_started_event_attributes.input
    return json.loads(json_format.MessageToJson(payloads))


async def test_ops_decode_what_the_server_stores_encrypted(harness):
    shipment_id = unique_id("codec")
    await harness.start(load_example("basic-cn-de.json", shipment_id))
    stored = await started_input(harness, shipment_id)
    assert base64.b64decode(stored["payloads"][0]["metadata"]["encoding"]) == b"binary/encrypted"
    assert "Jonas" not in json.dumps(stored)

    decoded = await harness.api.post("/codec/decode", json=stored, headers={**bearer("ops"), "X-Namespace": "default"})
    assert decoded.status_code == 200, decoded.text
    payload = json_format.ParseDict(decoded.json(), Payloads()).payloads[0]
    assert payload.metadata["encoding"] == b"json/plain"
    assert json.loads(payload.data)["request"]["destination"]["name"] == "Jonas Becker"

    for headers, status in (({**bearer("backend")}, 403), ({**bearer("partner")}, 403), ({"Authorization": ""}, 401),
                            ({"Authorization": "", "Origin": UI_ORIGIN}, 401)):
        response = await harness.api.post("/codec/decode", json=stored, headers=headers)
        assert response.status_code == status, (headers, response.text)


async def test_in_development_the_local_web_ui_needs_the_ops_key_too(harness):
    """Finding (issue 18): in development an `Origin` of the local UI alone got decrypted personal data. Now only the
    preflight is keyless; the decode itself needs an ops key, from any origin."""
    shipment_id = unique_id("codecdev")
    await harness.start(load_example("basic-cn-de.json", shipment_id))
    stored = await started_input(harness, shipment_id)
    app = create_app(Settings(environment="development", task_queue=harness.settings.task_queue),
                     client=harness.client, engine=harness.engine)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as api:
        preflight = await api.options("/codec/decode", headers={
            "Origin": UI_ORIGIN, "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type,x-namespace"})
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == UI_ORIGIN
        for path in ("/codec/decode", "/codec/encode"):
            keyless = await api.post(path, json=stored, headers={"Origin": UI_ORIGIN, "X-Namespace": "default"})
            assert keyless.status_code == 401, keyless.text
            assert "Jonas" not in keyless.text
            backend = await api.post(path, json=stored, headers={"Origin": UI_ORIGIN, **bearer("backend")})
            assert backend.status_code == 403, backend.text
        from_ui = await api.post("/codec/decode", json=stored, headers={"Origin": UI_ORIGIN, **bearer("ops")})
        assert from_ui.status_code == 200 and "Jonas Becker" in base64.b64decode(
            from_ui.json()["payloads"][0]["data"]).decode()
        assert from_ui.headers["access-control-allow-origin"] == UI_ORIGIN
        elsewhere = await api.post("/codec/decode", json=stored, headers={"Origin": "http://evil.example",
                                                                          **bearer("ops")})
        assert "access-control-allow-origin" not in elsewhere.headers


async def test_read_model_metrics_are_for_ops(harness):
    shipment_id = unique_id("metrics")
    await harness.start(load_example("basic-cn-de.json", shipment_id))
    await harness.result(shipment_id)
    response = await harness.api.get("/metrics", headers=bearer("ops"))
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    delivered = [line for line in response.text.splitlines()
                 if line.startswith("tradelane_shipments{") and 'status="delivered"' in line]
    assert delivered and float(delivered[0].rsplit(" ", 1)[1]) >= 1
    assert "tradelane_read_model_up 1.0" in response.text
    assert (await harness.api.get("/metrics", headers=bearer("backend"))).status_code == 403


async def test_temporal_cli_decodes_through_the_codec_server(harness, dev_server):
    """Temporal's own tools use the codec server as the Web UI does, with the ops key as their credential (other
    roles are refused: see above)."""
    shipment_id = unique_id("codeccli")
    await harness.start(load_example("basic-cn-de.json", shipment_id))
    api = await ServedApp(create_app(harness.settings, client=harness.client, engine=harness.engine)).start()
    try:
        base = [dev_server.cli_path, "workflow", "show", "--workflow-id", f"shipment:{shipment_id}",
                "--address", dev_server.address, "--output", "json", "--codec-endpoint", f"{api.url}/codec"]
        decoded = await asyncio.to_thread(subprocess.run, [*base, "--codec-auth", f"Bearer {DEV_API_KEYS['ops']}"],
                                          capture_output=True, text=True, timeout=60)
    finally:
        await api.stop()
    assert decoded.returncode == 0, decoded.stderr
    assert "Jonas Becker" in json.dumps(first_input(decoded.stdout))


def first_input(show_json: str) -> dict:
    """The workflow input as `temporal workflow show --output json` prints it (payload data in base64)."""
    started = json.loads(show_json)["events"][0]["workflowExecutionStartedEventAttributes"]
    payload = started["input"]["payloads"][0]
    assert base64.b64decode(payload["metadata"]["encoding"]) == b"json/plain"
    return json.loads(base64.b64decode(payload["data"]))
