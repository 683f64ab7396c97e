"""A snapshot the read model refuses because it holds that version or a newer one (the projection of a task lost
with its worker: a local activity commits inside the task, and the task run again numbers other content the same)
is written over it. Found by the fault matrix: a cancelled shipment whose read model still said `delayed`, its
cancellation notice never in the outbox."""

import pytest
from sqlalchemy import update
from sqlmodel import Session

from infra.persistence.db import SHIPMENTS, ShipmentRow, StageTransitionRow
from tests.support import by_road, unique_id
from tests.workflows.test_visibility import finish_transit
from tradelane.enums import Status

pytestmark = pytest.mark.temporal


async def test_a_lost_tasks_snapshot_in_the_read_model_is_written_over(harness_factory):
    async with harness_factory(stall_after_s=60) as h:
        shipment_id = unique_id("phantom")
        await h.add_fault(partner="roadlink", operation="handover", shipment_id=shipment_id, kind="scenario",
                          scenario="stalled")
        await h.start(by_road(shipment_id))
        state = await h.wait_until(shipment_id, lambda s: s.events_received >= 2)
        await h.wait_until(shipment_id, lambda s: True)  # a query: the projection of those events is requested
        # What a lost task's projection leaves: a row far ahead of the workflow's numbering, with other content.
        with h.engine.begin() as conn:
            conn.execute(update(SHIPMENTS).where(SHIPMENTS.c.shipment_id == shipment_id).values(
                version=SHIPMENTS.c.version + 1000, status="on_hold", stage="customs_filing"))
        await finish_transit(h, state)
        final = await h.result(shipment_id, timeout=90)
        assert final.status is Status.DELIVERED
        with Session(h.engine) as session:
            row = session.get(ShipmentRow, shipment_id)
            assert row is not None and (row.status, row.stage) == ("delivered", final.stage.value), row
            assert row.version < 1000, "the workflow's numbering again"
            seqs = [t.seq for t in session.query(StageTransitionRow).filter_by(shipment_id=shipment_id)]
        assert sorted(seqs) == [t.seq for t in final.transitions]
