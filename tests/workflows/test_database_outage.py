"""A read-model outage on a real PostgreSQL server: the shipment goes on (its truth is in Temporal), the API
answers from the workflow, and every transition, event and notification reaches the tables when the database
returns."""

import asyncio
from collections.abc import Iterator

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from temporalio.api.enums.v1 import EventType

from infra.persistence.db import ShipmentRow, StageTransitionRow, TrackingEventRow, make_engine, migrate
from infra.persistence.outbox import OutboxRow
from tests.postgres import PostgresCluster, postgres_cluster
from tests.support import load_example, unique_id
from tradelane.enums import Status

pytestmark = pytest.mark.temporal


@pytest.fixture
def pg() -> Iterator[tuple[PostgresCluster, Engine]]:
    with postgres_cluster() as cluster:
        migrate(cluster.url)
        engine = make_engine(cluster.url)
        yield cluster, engine
        engine.dispose()


def projected_status(engine: Engine, shipment_id: str) -> str | None:
    with Session(engine) as session:
        row = session.get(ShipmentRow, shipment_id)
        return None if row is None else row.status


async def test_projections_catch_up_after_a_database_outage(harness_factory, pg):
    cluster, engine = pg
    async with harness_factory(engine=engine) as h:
        shipment_id = unique_id("dbout")
        await h.start(load_example("high-value-us-jp.json", shipment_id))
        await h.until_held(shipment_id)
        for _ in range(200):
            if projected_status(engine, shipment_id) == "on_hold":
                break
            await asyncio.sleep(0.05)
        assert projected_status(engine, shipment_id) == "on_hold"

        cluster.stop()
        await h.approve(shipment_id, comment="approved while the database is away")
        # The shipment moves on without its tables: booking, customs, transit and last mile all happen now.
        during = await h.wait_until(shipment_id, lambda s: s.status is Status.DELIVERED or len(s.events) >= 3,
                                    timeout=60)
        ready = await h.api.get("/readyz")
        assert ready.status_code == 503
        assert {c["name"]: c["ok"] for c in ready.json()["checks"]} == {"temporal": True, "database": False}
        shown = await h.api.get(f"/v1/shipments/{shipment_id}")  # answered by the workflow, not the tables
        assert shown.status_code == 200 and len(shown.json()["transitions"]) >= len(during.transitions)
        await asyncio.sleep(2)  # a few failed projection attempts
        assert (await h.handle(shipment_id).describe()).status.name == "RUNNING", \
            "the workflow waits for its projections before it closes"

        cluster.start()
        state = await h.result(shipment_id, timeout=90)
        assert state.status is Status.DELIVERED
        await h.until_notified(shipment_id)  # the outbox relay sends what the late snapshots enqueued
        with Session(engine) as session:
            row = session.get(ShipmentRow, shipment_id)
            assert row is not None and row.status == "delivered"
            seqs = session.exec(select(StageTransitionRow.seq).where(
                StageTransitionRow.shipment_id == shipment_id).order_by(col(StageTransitionRow.seq))).all()
            assert seqs == [t.seq for t in state.transitions], "no transition lost"
            events = session.exec(select(TrackingEventRow.event_id).where(
                TrackingEventRow.shipment_id == shipment_id)).all()
            assert sorted(events) == sorted(e.event_id for e in state.events)
            outbox = session.exec(select(OutboxRow).where(OutboxRow.shipment_id == shipment_id)).all()
        assert outbox and {m.state for m in outbox} == {"sent"}, "notices written late are still delivered"
        assert (await h.api.get("/readyz")).status_code == 200
        scheduled: dict[int, str] = {}
        retried = set()
        async for e in h.handle(shipment_id).fetch_history_events():
            if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
                scheduled[e.event_id] = e.activity_task_scheduled_event_attributes.activity_type.name
            elif e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
                started = e.activity_task_started_event_attributes
                if started.attempt > 1:
                    retried.add(scheduled[started.scheduled_event_id])
        assert "read_model.project" in retried, "the projection really failed and was retried during the outage"
