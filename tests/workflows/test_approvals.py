"""Ops approval gates: updates with validators, the same decision as a signal, escalation."""

import asyncio

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowUpdateFailedError

from infra.platform.settings import DEV_API_KEYS
from tests.support import load_example, unique_id
from tradelane.enums import Decision, GateKind, Stage, Status
from tradelane.shipment.state import ApprovalDecision
from workflows import visibility as sa
from workflows.shipment import ShipmentWorkflow

pytestmark = pytest.mark.temporal


async def held_high_value(h) -> str:
    shipment_id = unique_id("hv")
    await h.start(load_example("high-value-us-jp.json", shipment_id))
    state = await h.until_held(shipment_id)
    assert state.stage is Stage.BOOKING
    assert [g.kind for g in state.pending_gates] == [GateKind.HIGH_VALUE]
    return shipment_id


async def test_approve_continues_to_delivery(harness):
    shipment_id = await held_high_value(harness)
    assert await harness.inspect(shipment_id) == [], "nothing is booked before the gate is decided"
    response = await harness.decide(shipment_id, "high_value", "approve", comment="invoice checked")
    assert response.status_code == 200
    assert response.json()["decision"] == "approve"
    state = await harness.result(shipment_id)
    assert state.status is Status.DELIVERED
    gate = state.gates[0]
    assert (gate.actor, gate.comment, gate.via) == ("ops@test", "invoice checked", "update")
    assert gate.decided_at is not None and gate.decided_at >= gate.opened_at


async def test_reject_ends_rejected_with_nothing_booked(harness):
    shipment_id = await held_high_value(harness)
    response = await harness.decide(shipment_id, "high_value", "reject", comment="suspected fraud")
    assert response.status_code == 200
    state = await harness.result(shipment_id)
    assert state.status is Status.REJECTED
    assert "suspected fraud" in state.failure
    assert await harness.inspect(shipment_id) == []


async def test_deciding_a_gate_that_is_not_pending_is_refused_and_leaves_no_history(harness):
    shipment_id = await held_high_value(harness)
    handle = harness.handle(shipment_id)
    response = await harness.decide(shipment_id, "customs_hold", "approve")
    assert response.status_code == 409
    assert response.json()["error"] == {
        "code": "GATE_NOT_PENDING",
        "message": "gate 'customs_hold' is not pending for this shipment (pending gates: high_value)"}
    with pytest.raises(WorkflowUpdateFailedError):
        await handle.execute_update(ShipmentWorkflow.decide, ApprovalDecision(
            gate=GateKind.CUSTOMS_HOLD, decision=Decision.APPROVE, actor="ops@test"))
    updates = [e async for e in handle.fetch_history_events()
               if e.event_type in (EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED,
                                   EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED)]
    assert updates == [], "a rejected update must not be written to history"
    await handle.terminate("test over")


async def test_customs_hold_approved_releases_the_filing(harness):
    shipment_id = unique_id("hold")
    await harness.add_fault(partner="clearpath", operation="file", shipment_id=shipment_id, kind="hold",
                            code="DOCUMENTS_REQUIRED")
    await harness.start(load_example("basic-cn-de.json", shipment_id))
    state = await harness.until_held(shipment_id)
    assert state.stage is Stage.CUSTOMS_FILING
    assert "DOCUMENTS_REQUIRED" in state.pending_gates[0].reason
    response = await harness.decide(shipment_id, "customs_hold", "approve", comment="invoice uploaded")
    assert response.status_code == 200
    state = await harness.result(shipment_id)
    assert state.status is Status.DELIVERED
    filings = [r for r in await harness.inspect(shipment_id) if r["kind"] == "filing"]
    assert [f["state"] for f in filings] == ["cleared"]
    assert [h["state"] for h in filings[0]["history"]][:2] == ["hold", "cleared"]


async def test_customs_hold_rejected_compensates(harness):
    shipment_id = unique_id("holdrej")
    await harness.add_fault(partner="clearpath", operation="file", shipment_id=shipment_id, kind="hold",
                            code="SANCTIONS_REVIEW")
    await harness.start(load_example("basic-cn-de.json", shipment_id))
    await harness.until_held(shipment_id)
    await harness.decide(shipment_id, "customs_hold", "reject")
    state = await harness.result(shipment_id)
    assert state.status is Status.REJECTED
    assert [c.action for c in state.compensation] == ["customs.withdraw", "carrier.void_label",
                                                      "carrier.cancel_booking"]
    assert {r["state"] for r in await harness.inspect(shipment_id)} == {"withdrawn", "voided", "cancelled"}


async def test_decision_by_signal_works_and_a_stray_signal_is_recorded_as_ignored(harness):
    shipment_id = await held_high_value(harness)
    handle = harness.handle(shipment_id)
    await handle.signal(ShipmentWorkflow.decision_signal, ApprovalDecision(
        gate=GateKind.CUSTOMS_HOLD, decision=Decision.APPROVE, actor="ops@cli"))
    await handle.signal(ShipmentWorkflow.decision_signal, ApprovalDecision(
        gate=GateKind.HIGH_VALUE, decision=Decision.APPROVE, actor="ops@cli", comment="from the web ui"))
    state = await harness.result(shipment_id)
    assert state.status is Status.DELIVERED
    assert state.gates[0].via == "signal" and state.gates[0].actor == "ops@cli"
    assert len(state.ignored_signals) == 1
    assert state.ignored_signals[0].gate == "customs_hold"
    assert "not pending" in state.ignored_signals[0].reason


async def test_undecided_gate_escalates_instead_of_waiting_silently(harness_factory):
    async with harness_factory(gate_escalate_after_s=0.5) as h:
        shipment_id = await held_high_value(h)
        state = await h.wait_until(shipment_id, lambda s: s.gates[0].escalated_at is not None, timeout=20)
        assert state.status is Status.ON_HOLD
        assert state.transitions[-1].note.startswith("escalated: high_value")
        handle = h.handle(shipment_id)
        for _ in range(100):  # visibility is eventually consistent
            description = await handle.describe()
            if description.typed_search_attributes.get(sa.ESCALATED):
                break
            await asyncio.sleep(0.1)
        assert description.typed_search_attributes.get(sa.ESCALATED) is True
        assert description.typed_search_attributes.get(sa.PENDING_GATE) == "high_value"
        await h.decide(shipment_id, "high_value", "approve")
        assert (await h.result(shipment_id)).status is Status.DELIVERED


async def test_readme_cli_signal_example_decides_a_gate(harness, dev_server, webhook_api):
    """The copy-paste example from the README, run with the real `temporal` binary. It encodes through the codec
    server with an ops key: the worker refuses a plaintext signal (tests/infra/test_plaintext_refused.py)."""
    shipment_id = await held_high_value(harness)
    payload = '{"gate": "high_value", "decision": "approve", "actor": "ops@example.com", "comment": "checked"}'
    process = await asyncio.create_subprocess_exec(
        dev_server.cli_path, "workflow", "signal", "--address", dev_server.address,
        "--codec-endpoint", f"{webhook_api.url}/codec", "--codec-auth", f"Bearer {DEV_API_KEYS['ops']}",
        "--workflow-id", f"shipment:{shipment_id}", "--name", "decision", "--input", payload,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    _, stderr = await process.communicate()
    assert process.returncode == 0, stderr.decode()
    state = await harness.result(shipment_id)
    assert state.status is Status.DELIVERED
    assert (state.gates[0].actor, state.gates[0].via) == ("ops@example.com", "signal")
