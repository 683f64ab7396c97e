"""The read model on a real PostgreSQL server: migrations, and a whole shipment projected into it."""


import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import Session, SQLModel, select

from infra.persistence.db import ApprovalRow, ShipmentRow, StageTransitionRow
from tests.support import load_example, unique_id
from tradelane.connections import PartnerProtocol, connection
from tradelane.enums import Status

pytestmark = pytest.mark.temporal


def test_migrations_build_the_model_schema_on_postgres(pg_engine):
    with pg_engine.connect() as connection:
        assert pg_engine.dialect.name == "postgresql"
        assert compare_metadata(MigrationContext.configure(connection), SQLModel.metadata) == []


async def test_a_shipment_is_projected_into_postgres(harness_factory, pg_engine):
    async with harness_factory(engine=pg_engine) as h:
        shipment_id = unique_id("pg")
        await h.start(load_example("high-value-us-jp.json", shipment_id))
        await h.until_held(shipment_id)
        await h.approve(shipment_id, actor="ops@pg", comment="ok")
        state = await h.result(shipment_id)
        assert state.status is Status.DELIVERED
        with Session(pg_engine) as session:
            row = session.get(ShipmentRow, shipment_id)
            assert (row.status, row.carrier) == ("delivered", state.carrier)
            assert connection(row.carrier).protocol is PartnerProtocol.KARRIO
            assert row.version >= len(state.transitions), "the last snapshot written is the final one"
            seqs = session.exec(select(StageTransitionRow.seq).where(
                StageTransitionRow.shipment_id == shipment_id)).all()
            assert sorted(seqs) == [t.seq for t in state.transitions]
            approval = session.exec(select(ApprovalRow).where(ApprovalRow.shipment_id == shipment_id)).one()
            assert (approval.decision, approval.actor) == ("approve", "ops@pg")
        listed = (await h.api.get("/v1/shipments", params={"status": "delivered"})).json()
        assert shipment_id in [s["shipment_id"] for s in listed]
