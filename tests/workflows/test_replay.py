"""Determinism guard: histories of representative runs replay against the current workflow code.

Two sources: histories made fresh in this run, and histories committed under `tests/workflows/histories/`
(recorded by an earlier version of the code, encrypted with the development payload key as production's are).
A workflow change that would break running shipments fails the second; such a change goes behind
`workflow.patched(...)`, and a test here shows the committed histories need that guard.

Re-record (only when the committed ones must change, e.g. a patch was deprecated; a new scenario: record, then
keep only its new file, so the others stay as older code wrote them):
    .venv/bin/pytest tests/workflows/test_replay.py --record-histories
"""

import gzip
import json
from pathlib import Path

import pytest
from temporalio import workflow
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from infra.platform.temporal import converter_for
from tests.inventory.network import make_network, outbound, receive
from tests.support import load_example, unique_id
from tradelane.enums import Status
from workflows import visibility as sa
from workflows.shipment import ShipmentWorkflow
from workflows.shipment.patches import ENDING_NOTICES as PATCH_ENDING_NOTICES
from workflows.shipment.patches import FAILURE_CODE as PATCH_FAILURE_CODE
from workflows.shipment.patches import FINISH_STEP_ON_CANCEL as PATCH_FINISH_STEP_ON_CANCEL
from workflows.shipment.patches import INVENTORY as PATCH_INVENTORY
from workflows.shipment.patches import LEAN_HISTORY as PATCH_LEAN_HISTORY
from workflows.shipment.patches import OVERWRITE_PHANTOMS as PATCH_OVERWRITE_PHANTOMS
from workflows.shipment.patches import QUIET_ATTRIBUTES as PATCH_QUIET_ATTRIBUTES
from workflows.shipment.patches import RELAY_DELIVERS as PATCH_RELAY_DELIVERS

pytestmark = pytest.mark.temporal

HISTORIES = Path(__file__).parent / "histories"
PATCH_MARKER = "core_patch"
"""The marker name of `workflow.patched`; local activities (the read model's projections) record markers too."""
SCENARIOS = ["happy_path", "compensation", "approval", "replan", "stock"]
"""`stock`: a shipment from a warehouse (reserve, ship on booking) compensated after booking (stock released)."""


async def run_scenarios(harness) -> dict[str, str]:
    """One shipment per scenario; returns scenario -> shipment id, once every one has finished as expected."""
    ids = {name: unique_id(f"rp-{name.replace('_', '')}") for name in SCENARIOS}
    await harness.add_fault(operation="book", shipment_id=ids["happy_path"], kind="error", status=502, times=2)
    await harness.add_fault(partner="clearpath", operation="file", shipment_id=ids["compensation"], kind="reject",
                            code="RESTRICTED_GOODS")
    replan = load_example("basic-cn-de.json", ids["replan"])
    first = (await harness.api.post("/v1/quotes", json=replan)).json()["plan"]["legs"][0]["partner"]
    await harness.add_fault(partner=first, operation="book", shipment_id=ids["replan"], kind="reject",
                            code="CAPACITY_EXHAUSTED")
    await harness.start(load_example("basic-cn-de.json", ids["happy_path"]))
    await harness.start(load_example("basic-cn-de.json", ids["compensation"]))
    await harness.start(load_example("high-value-us-jp.json", ids["approval"]))
    await harness.start(replan)
    net = make_network(harness.engine)
    receive(harness.engine, net.origin, net.sku, 10)
    receive(harness.engine, net.origin, net.other_sku, 10)
    await harness.add_fault(partner="clearpath", operation="file", shipment_id=ids["stock"], kind="reject",
                            code="RESTRICTED_GOODS")
    await harness.start(outbound(ids["stock"], net.origin, net.sku, net.other_sku))
    await harness.until_held(ids["approval"])
    await harness.approve(ids["approval"], comment="verified with the merchant")
    statuses = {name: (await harness.result(sid)).status for name, sid in ids.items()}
    assert statuses == {"happy_path": Status.DELIVERED, "compensation": Status.COMPENSATED,
                        "approval": Status.DELIVERED, "replan": Status.DELIVERED, "stock": Status.COMPENSATED}
    return ids


def replayer() -> Replayer:
    return Replayer(workflows=[ShipmentWorkflow], data_converter=converter_for())


def committed(name: str) -> WorkflowHistory:
    data = json.loads(gzip.decompress((HISTORIES / f"{name}.json.gz").read_bytes()))
    return WorkflowHistory.from_json(data["workflow_id"], data["history"])


async def test_fresh_histories_replay(harness, request):
    ids = await run_scenarios(harness)
    # Today's code marks the patch and sets the failure code the committed compensation history lacks.
    compensated = harness.handle(ids["compensation"])
    described = await compensated.describe()
    assert described.typed_search_attributes.get(sa.FAILURE_CODE) == "RESTRICTED_GOODS"
    markers = [e.marker_recorded_event_attributes async for e in compensated.fetch_history_events()
               if e.event_type == EventType.EVENT_TYPE_MARKER_RECORDED
               and e.marker_recorded_event_attributes.marker_name == PATCH_MARKER]
    # Core writes the patch id as plain JSON in the marker (no user data, so no codec).
    patches = [json.loads(m.details["patch-data"].payloads[0].data)["id"] for m in markers]
    # The outbox relay delivers notices (issue 20): asked at the first notice, the booking's, after the step's own.
    assert patches[patches.index(PATCH_FINISH_STEP_ON_CANCEL) + 1] == PATCH_RELAY_DELIVERS
    patches.remove(PATCH_RELAY_DELIVERS)  # the others, in their order:
    assert patches == [PATCH_LEAN_HISTORY, PATCH_QUIET_ATTRIBUTES, PATCH_OVERWRITE_PHANTOMS,
                       PATCH_FINISH_STEP_ON_CANCEL, PATCH_FAILURE_CODE, PATCH_ENDING_NOTICES]
    stock_markers = [json.loads(e.marker_recorded_event_attributes.details["patch-data"].payloads[0].data)["id"]
                     async for e in harness.handle(ids["stock"]).fetch_history_events()
                     if e.event_type == EventType.EVENT_TYPE_MARKER_RECORDED
                     and e.marker_recorded_event_attributes.marker_name == PATCH_MARKER]
    # The ledger steps run behind their patch (the lean history's and the board's are checked when the workflow is
    # built, the phantom overwrite's at the first projection request).
    assert stock_markers[:4] == [PATCH_LEAN_HISTORY, PATCH_QUIET_ATTRIBUTES, PATCH_OVERWRITE_PHANTOMS,
                                 PATCH_INVENTORY]
    for name, shipment_id in ids.items():
        history = await harness.handle(shipment_id).fetch_history()
        result = await replayer().replay_workflow(history, raise_on_replay_failure=False)
        assert result.replay_failure is None, (name, result.replay_failure)
        if request.config.getoption("--record-histories"):
            HISTORIES.mkdir(exist_ok=True)
            record = {"workflow_id": history.workflow_id, "history": history.to_json_dict()}
            (HISTORIES / f"{name}.json.gz").write_bytes(gzip.compress(json.dumps(record).encode(), mtime=0))


@pytest.mark.parametrize("name", SCENARIOS)
async def test_committed_histories_still_replay(name):
    history = committed(name)
    result = await replayer().replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None, result.replay_failure


def test_committed_histories_are_encrypted():
    """They were written as production writes them: no personal data in plaintext, every payload encrypted."""
    for name in [*SCENARIOS, LEAN_HAPPY_PATH]:
        text = json.dumps(committed(name).to_json_dict())
        assert "Jonas" not in text and "example.de" not in text and "example.jp" not in text, name
        first = committed(name).events[0].workflow_execution_started_event_attributes.input.payloads[0]
        assert first.metadata["encoding"] == b"binary/encrypted", name


async def test_the_failure_code_change_needs_its_patch(monkeypatch):
    """The compensation history predates the failure-code search attribute: replayed as if the new code had always
    run (the patch check forced true), it fails as nondeterministic; with the check, it replays (test above)."""
    monkeypatch.setattr(workflow, "patched", lambda patch_id: True)
    result = await replayer().replay_workflow(committed("compensation"), raise_on_replay_failure=False)
    assert result.replay_failure is not None
    assert "nondetermin" in str(result.replay_failure).lower()


LEAN_HAPPY_PATH = "lean_happy_path"
"""A happy path recorded with the lean history (2026-12-07), before search attributes waited for a stage or status
change: a tracking event's new ETA was an upsert of its own."""


async def test_a_lean_history_from_before_the_quiet_board_replays():
    result = await replayer().replay_workflow(committed(LEAN_HAPPY_PATH), raise_on_replay_failure=False)
    assert result.replay_failure is None, result.replay_failure


async def test_the_quiet_board_needs_its_patch(monkeypatch):
    """Replayed as if the board had always waited for stage or status changes (only its patch check forced true),
    the lean happy path fails as nondeterministic: its ETA upserts are commands today's code does not issue."""
    history = committed(LEAN_HAPPY_PATH)
    patches = [json.loads(e.marker_recorded_event_attributes.details["patch-data"].payloads[0].data)["id"]
               for e in history.events if e.event_type == EventType.EVENT_TYPE_MARKER_RECORDED
               and e.marker_recorded_event_attributes.marker_name == PATCH_MARKER]
    assert PATCH_LEAN_HISTORY in patches and PATCH_QUIET_ATTRIBUTES not in patches
    patched = workflow.patched
    monkeypatch.setattr(workflow, "patched",
                        lambda patch_id: patch_id == PATCH_QUIET_ATTRIBUTES or patched(patch_id))
    result = await replayer().replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is not None
    assert "nondetermin" in str(result.replay_failure).lower()
