"""Records the read-model snapshots of one happy-path shipment (`snapshots/basic_cn_de.json.gz`), which
`test_projection_writes.py` projects without Temporal. Not collected by default (no `test_` prefix); run it
explicitly on the real stack when the snapshots must change (e.g. `ProjectionUpdate` gains a field):

    .venv/bin/pytest -q -p no:cacheprovider tests/activities/record_projection_snapshots.py
"""

import gzip
import json
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from activities import read_model
from infra.platform.notice_config import NoticeConfig
from tests.support import load_example, unique_id
from tradelane.enums import Status
from tradelane.shipment.projection import ProjectionUpdate

pytestmark = pytest.mark.temporal

SNAPSHOTS = Path(__file__).parent / "snapshots" / "basic_cn_de.json.gz"


async def test_record_the_snapshots_of_a_happy_path_shipment(harness, monkeypatch):
    shipment_id = unique_id("snap")
    updates: list[ProjectionUpdate] = []
    real = read_model.apply_projection

    def recording(engine: Engine, update: ProjectionUpdate, notices: NoticeConfig | None = None) -> bool:
        if update.state.shipment_id == shipment_id:
            updates.append(update.model_copy(deep=True))
        return real(engine, update, notices)

    monkeypatch.setattr(read_model, "apply_projection", recording)
    await harness.start(load_example("basic-cn-de.json", shipment_id))
    state = await harness.result(shipment_id)
    assert state.status is Status.DELIVERED
    assert updates and updates[-1].state.status is Status.DELIVERED
    record = {"shipment_id": shipment_id, "updates": [u.model_dump(mode="json") for u in updates]}
    SNAPSHOTS.write_bytes(gzip.compress(json.dumps(record).encode(), mtime=0))
