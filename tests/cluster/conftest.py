"""One real multi-service Temporal cluster for these tests (`make test-cluster`; issue 23): a frontend, two history
hosts sharing 8 history shards, matching and the internal worker as separate processes on loopback, PostgreSQL
for Temporal's persistence and advanced visibility and, under its own database and user, Tradelane's read model;
Tradelane's API, sandbox and two worker processes on top (`devstack.cluster.running_cluster`)."""

import os
import shutil
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from devstack.cluster.config import ClusterPorts, ClusterSettings, scratch_dir
from devstack.cluster.stack import Cluster, running_cluster
from infra.platform.settings import STATE_DIR, Settings

pytestmark = pytest.mark.temporal


def free_run(length: int) -> int:
    """The first of `length` consecutive free loopback ports (worker N takes a setting's port + N - 1)."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            first = s.getsockname()[1]
        if first + length < 65535 and all(_free(first + i) for i in range(length)):
            return first


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@pytest.fixture(scope="module")
def cluster_env() -> Iterator[Path]:
    """The cluster's directory (one PostgreSQL can reach); the workers, their own processes, read their settings
    from the environment, which is restored after this module (the rest of the suite runs as `test`)."""
    folder = scratch_dir("tradelane-test-cluster-")
    saved = dict(os.environ)
    os.environ.update({"TRADELANE_QUIET_HOURS": "", "TRADELANE_MAIL_DIR": str(folder / "mail"),
                       "TRADELANE_ENVIRONMENT": "development"})
    yield folder
    os.environ.clear()
    os.environ.update(saved)
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
async def cluster(cluster_env: Path) -> AsyncIterator[Cluster]:
    settings = Settings(_env_file=None, environment="development", api_port=free_run(1), sandbox_port=free_run(1),
                        smtp_port=free_run(1), worker_health_port=free_run(2), metrics_port=free_run(2),
                        mail_dir=cluster_env / "mail", quiet_hours="")
    cluster_settings = ClusterSettings(dir=cluster_env / "data", bin_dir=(STATE_DIR / "cluster" / "bin").resolve(),
                                       server_log_level="warn")
    async with running_cluster(settings, cluster_settings, ports=ClusterPorts.free()) as running:
        yield running


@pytest.fixture
async def api(cluster: Cluster) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=cluster.api_url, timeout=30,
                                 headers={"Authorization": "Bearer dev-backend-key"}) as client:
        yield client
