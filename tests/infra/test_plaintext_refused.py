"""A signal or update that reaches Temporal without Tradelane's encryption is refused, not obeyed.

Finding (issue 18): `temporal workflow signal --name decision` with no key approved a high-value gate: the codec
passed unencrypted payloads through, so anyone who could reach the frontend could decide for ops. Now the worker's
converter refuses them (`infra.platform.codec`), without wedging the shipment: the SDK drops a signal it cannot
decode (and logs it) and rejects such an update, where a codec error would fail the workflow task forever.
"""

import asyncio
import contextlib
import json
import logging
import traceback
from typing import Any

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowFailureError, WorkflowUpdateFailedError
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.exceptions import ApplicationError

from infra.platform.codec import RefusedPlaintext
from infra.platform.http_server import ServedApp
from infra.platform.settings import Settings
from infra.platform.temporal import converter_for
from starter.api import create_app
from tests.infra.test_temporal_access import PRODUCTION
from tests.support import load_example, unique_id
from tradelane.enums import GateKind, Stage, Status

APPROVAL = {"gate": "high_value", "decision": "approve", "actor": "intruder@example.com", "comment": "no key"}


def production_settings() -> Settings:
    return Settings(_env_file=None, **PRODUCTION)  # type: ignore[arg-type]


async def test_the_production_converter_refuses_an_unencrypted_payload():
    plaintext = await pydantic_data_converter.encode([APPROVAL])
    with pytest.raises(RefusedPlaintext, match=r"arrived unencrypted \(json/plain\)"):
        await converter_for(production_settings()).decode(plaintext, [dict])


async def test_the_production_converter_decodes_its_own_payloads():
    converter = converter_for(production_settings())
    assert await converter.decode(await converter.encode([APPROVAL]), [dict]) == [APPROVAL]


async def wait_for_workflow_task_after(client: Client, workflow_id: str, signals: int) -> list[Any]:
    """The history once `signals` signals are in it and a workflow task completed after the last one."""
    for _ in range(300):
        events = (await client.get_workflow_handle(workflow_id).fetch_history()).events
        signalled = [i for i, e in enumerate(events)
                     if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED]
        if len(signalled) >= signals and any(e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED
                                             for e in events[signalled[-1]:]):
            return list(events)
        await asyncio.sleep(0.1)
    raise AssertionError(f"no workflow task completed after {signals} signals")


def refusals(records: list[logging.LogRecord], workflow_id: str) -> tuple[list[str], list[str]]:
    """The worker's log lines about this workflow: the codec's refusals (by encoding) and the signals the SDK
    dropped (with the reason from the converter)."""
    refused = [r.msg.get("encoding") for r in records
               if isinstance(r.msg, dict) and r.msg.get("event") == "unencrypted payload refused"
               and r.msg.get("workflow_id") == workflow_id]
    dropped = ["".join(traceback.format_exception(*r.exc_info)) if r.exc_info else "" for r in records
               if "dropping the signal" in r.getMessage() and workflow_id in r.getMessage()]
    return refused, dropped


@pytest.mark.temporal
@pytest.mark.parametrize("mode", ["production", "development"])
async def test_a_plaintext_decision_leaves_the_gate_pending_and_ops_still_approve(
        mode, harness_factory, temporal_client: Client, dev_server, sandbox, db_engine, caplog):
    """The finding's attack, with the `temporal` CLI and with an SDK client without the keys, against a worker
    with the production converter (and the development one, which refuses the same: nothing legitimate sends
    plaintext, since the API, the CLI and the Web UI all encode through the keys or the codec server)."""
    caplog.set_level(logging.WARNING)
    settings = production_settings() if mode == "production" else Settings(_env_file=None)
    client = Client(temporal_client.service_client, namespace=temporal_client.namespace,
                    data_converter=converter_for(settings))
    keys = {"payload_keys": settings.payload_keys, "payload_key_id": settings.payload_key_id}
    # Partners' tracking events reach the workflow through an API with the same keys.
    events_api = await ServedApp(create_app(Settings(_env_file=None, environment="test",
                                                     partners_base_url=sandbox.url, **keys),
                                            client=client, engine=db_engine)).start()
    async with contextlib.AsyncExitStack() as stack:
        stack.push_async_callback(events_api.stop)
        h = await stack.enter_async_context(harness_factory(client=client, public_url=events_api.url, **keys))
        shipment_id = unique_id("hv-plain")
        workflow_id = f"shipment:{shipment_id}"
        await h.start(load_example("high-value-us-jp.json", shipment_id))
        held = await h.until_held(shipment_id)
        assert [g.kind for g in held.pending_gates] == [GateKind.HIGH_VALUE]

        # The CLI, as in the finding: no codec endpoint, no key. Temporal takes the signal...
        cli = await asyncio.create_subprocess_exec(
            dev_server.cli_path, "workflow", "signal", "--address", dev_server.address,
            "--namespace", temporal_client.namespace, "--workflow-id", workflow_id, "--name", "decision",
            "--input", json.dumps(APPROVAL), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        _, stderr = await cli.communicate()
        assert cli.returncode == 0, stderr.decode()
        # ... and from an SDK client with the default (unencrypted) pydantic converter: a signal and an update.
        intruder = Client(temporal_client.service_client, namespace=temporal_client.namespace,
                          data_converter=pydantic_data_converter).get_workflow_handle(workflow_id)
        await intruder.signal("decision", APPROVAL)
        with pytest.raises(WorkflowUpdateFailedError):
            await intruder.execute_update("decide", APPROVAL)

        # ... but the worker decodes neither: the gate stays pending, and no workflow task failed (not wedged).
        events = await wait_for_workflow_task_after(h.client, workflow_id, signals=2)
        assert not [e for e in events if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED]
        state = await h.state(shipment_id)
        assert (state.status, state.stage) == (Status.ON_HOLD, Stage.BOOKING)
        assert [g.kind for g in state.pending_gates] == [GateKind.HIGH_VALUE]
        assert state.gates[0].decided_at is None and state.ignored_signals == []
        assert await h.inspect(shipment_id) == [], "nothing is booked"

        # The worker's log says so: the codec refused three payloads, the SDK dropped both signals and said why.
        refused, dropped = refusals(caplog.records, workflow_id)
        assert refused.count("json/plain") >= 3
        assert len(dropped) >= 2 and all("payload refused: it arrived unencrypted" in d for d in dropped)

        # Ops approve through the API, and the shipment moves on.
        await h.approve(shipment_id, comment="checked")
        state = await h.result(shipment_id)
        assert state.status is Status.DELIVERED
        assert (state.gates[0].actor, state.gates[0].via) == ("ops@test", "update")


@pytest.mark.temporal
async def test_a_shipment_started_in_plaintext_fails_at_once_without_booking(harness, temporal_client: Client):
    """A workflow input that arrives unencrypted is never decoded: the workflow fails (non-retryable) instead of
    running on an input that did not come through the API, or failing its first workflow task forever."""
    shipment_id = unique_id("plain-start")
    request = load_example("basic-cn-de.json", shipment_id)
    intruder = Client(temporal_client.service_client, namespace=temporal_client.namespace,
                      data_converter=pydantic_data_converter)
    await intruder.start_workflow("Shipment", request, id=f"shipment:{shipment_id}",
                                  task_queue=harness.settings.task_queue)

    with pytest.raises(WorkflowFailureError) as failed:
        await asyncio.wait_for(harness.handle(shipment_id).result(), 30)

    assert isinstance(failed.value.cause, ApplicationError) and failed.value.cause.type == "RefusedPlaintext"
    assert "payload refused: it arrived unencrypted (json/plain)" in failed.value.cause.message
    history = await harness.handle(shipment_id).fetch_history()
    assert [e for e in history.events if e.event_type in (EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED,
                                                           EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED)] == []
    assert await harness.inspect(shipment_id) == []
