"""Histories of finished runs replay without non-determinism: the workflow code is deterministic."""

import pytest
from temporalio.worker import Replayer

from tests.support import load_example, unique_id
from tradelane.enums import Status
from workflows.shipment import ShipmentWorkflow

pytestmark = pytest.mark.temporal


async def test_finished_histories_replay(harness):
    delivered, rejected, approved = unique_id("rp-ok"), unique_id("rp-comp"), unique_id("rp-hv")
    await harness.add_fault(partner="clearpath", operation="file", shipment_id=rejected, kind="reject",
                            code="RESTRICTED_GOODS")
    await harness.add_fault(operation="book", shipment_id=delivered, kind="error", status=502, times=2)
    for shipment_id, example in ((delivered, "basic-cn-de.json"), (rejected, "basic-cn-de.json"),
                                 (approved, "high-value-us-jp.json")):
        await harness.start(load_example(example, shipment_id))
    await harness.until_held(approved)
    await harness.approve(approved)
    statuses = [(await harness.result(s)).status for s in (delivered, rejected, approved)]
    assert statuses == [Status.DELIVERED, Status.COMPENSATED, Status.DELIVERED]

    histories = [await harness.handle(s).fetch_history() for s in (delivered, rejected, approved)]
    replayer = Replayer(workflows=[ShipmentWorkflow], data_converter=harness.client.data_converter)
    for history in histories:
        result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
        assert result.replay_failure is None, result.replay_failure
