"""Every workflow task in a shipment's history names the build of workflow code that made it (Worker Deployment
Version, Server 1.32): after a deploy, ops can tell which code ran which step of a long shipment."""

import shutil
from pathlib import Path

import pytest
from temporalio.api.enums.v1 import EventType

from infra.platform.settings import Settings
from tests.support import load_example, unique_id
from tradelane.enums import Status
from worker import CODE_ROOT, DEPLOYMENT_NAME, deployment_config, workflow_build_id


def copy_of_code(tmp_path: Path) -> Path:
    for package in ("workflows", "tradelane"):
        shutil.copytree(CODE_ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path


def test_the_build_id_is_the_workflow_code(tmp_path):
    root = copy_of_code(tmp_path)
    assert workflow_build_id(root) == workflow_build_id(CODE_ROOT)
    (root / "workflows" / "shipment" / "gates.py").write_text(
        (root / "workflows" / "shipment" / "gates.py").read_text() + "\n# a change\n")
    assert workflow_build_id(root) != workflow_build_id(CODE_ROOT)


def test_an_explicit_build_id_wins_and_routing_stays_off():
    config = deployment_config(Settings(environment="test", build_id="release-2026-12-06"))
    assert config.version.deployment_name == DEPLOYMENT_NAME
    assert config.version.build_id == "release-2026-12-06"
    assert config.use_worker_versioning is False
    assert deployment_config(Settings(environment="test")).version.build_id == workflow_build_id()


@pytest.mark.temporal
async def test_each_workflow_task_of_a_shipment_names_its_build(harness):
    shipment_id = unique_id("build")
    handle = await harness.start(load_example("basic-cn-de.json", shipment_id))
    assert (await harness.result(shipment_id)).status is Status.DELIVERED
    completed = [event.workflow_task_completed_event_attributes async for event in handle.fetch_history_events()
                 if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED]
    assert completed
    assert {(task.worker_deployment_name, task.worker_version.build_id) for task in completed} \
        == {(DEPLOYMENT_NAME, workflow_build_id())}
