"""One real multi-service Temporal cluster for these tests (`make test-cluster`; issue 23): a frontend, two history
hosts sharing 8 history shards, matching and the internal worker as separate processes on loopback, PostgreSQL
for Temporal's persistence and advanced visibility and, under its own database and user, Tradelane's read model;
Tradelane's API, sandbox and two worker processes on top (`devstack.cluster.running_cluster`)."""

import os
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from devstack.cluster.config import ClusterPorts, ClusterSettings, scratch_dir
from devstack.cluster.stack import Cluster, running_cluster
from devstack.ports import free_port_run
from infra.platform.settings import STATE_DIR, Settings

pytestmark = pytest.mark.temporal


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


TRADELANE_PORT_RUN = 7
"""The API, sandbox and SMTP ports, then two workers' health and metrics ports."""


def tradelane_ports() -> dict[str, int]:
    """Tradelane's ports for a private stack (its settings' names), all different: the API, sandbox, SMTP and two
    workers' health and metrics ports (worker N takes a setting's port + N - 1), from one run of free ports."""
    first = free_port_run(TRADELANE_PORT_RUN)
    return {"api_port": first, "sandbox_port": first + 1, "smtp_port": first + 2, "worker_health_port": first + 3,
            "metrics_port": first + 5}


@pytest.fixture(scope="module")
async def cluster(cluster_env: Path) -> AsyncIterator[Cluster]:
    settings = Settings(_env_file=None, environment="development", **tradelane_ports(), mail_dir=cluster_env / "mail",
                        quiet_hours="")
    cluster_settings = ClusterSettings(dir=cluster_env / "data", bin_dir=(STATE_DIR / "cluster" / "bin").resolve(),
                                       server_log_level="warn")
    async with running_cluster(settings, cluster_settings, ports=ClusterPorts.free()) as running:
        yield running


@pytest.fixture
async def api(cluster: Cluster) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=cluster.api_url, timeout=30,
                                 headers={"Authorization": "Bearer dev-backend-key"}) as client:
        yield client
