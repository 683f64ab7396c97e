"""Temporal as a cluster on loopback: PostgreSQL, the two schemas, one process per service (history twice), and the
namespace with Tradelane's search attributes.

`running_temporal_cluster()` is the whole lifetime: everything it started is stopped when it exits, in reverse order,
also when the start fails half-way. Tradelane's services go on top (`devstack.cluster.stack`); a harness that
wants bare Temporal (a benchmark's baseline) stops here.
"""

import asyncio
import subprocess
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import TypeVar

import psycopg
from google.protobuf.duration_pb2 import Duration
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest, RegisterNamespaceRequest
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from devstack.cluster.binaries import ensure_binaries, schema_dir
from devstack.cluster.config import (
    LOOPBACK,
    TEMPORAL_DB,
    TEMPORAL_USER,
    TRADELANE_DB,
    TRADELANE_USER,
    ClusterError,
    ClusterLayout,
    ClusterPorts,
    ClusterSettings,
    Role,
    check_ports_free,
    load_cluster_settings,
    server_argv,
    server_env,
)
from devstack.cluster.postgres import Credentials, LocalPostgres
from devstack.cluster.processes import ManagedProcess, port_open
from devstack.cluster.schema import SchemaTool, ensure_schemas
from devstack.devserver import ensure_search_attributes, find_cli
from infra.platform.logging import get_logger

log = get_logger(__name__)

SERVER_STOP_GRACE_S = 30.0
"""A history host hands its shards over on SIGTERM before it exits; SIGKILL after this long."""
NAMESPACE_RETENTION = timedelta(days=30)
"""As production's compose file registers it: a closed shipment's history is kept 30 days for ops to inspect."""


@dataclass
class TemporalCluster:
    """A running cluster: its addresses, its database, and a handle on each server process."""

    ports: ClusterPorts
    layout: ClusterLayout
    postgres: LocalPostgres
    credentials: Credentials
    servers: dict[str, ManagedProcess]
    """By name, in start order: `history-1`, `history-2`, `matching`, `frontend`, `worker`."""
    namespace: str

    @property
    def frontend_address(self) -> str:
        """Where clients connect (gRPC)."""
        return self.ports.frontend.address

    @property
    def frontend(self) -> ManagedProcess:
        return self.servers[self.ports.frontend.name]

    @property
    def history(self) -> list[ManagedProcess]:
        return [self.servers[spec.name] for spec in self.ports.by_role(Role.HISTORY)]

    @property
    def tradelane_database_url(self) -> str:
        """The read model's database, as its own user (SQLAlchemy URL)."""
        return self.postgres.url(TRADELANE_USER, self.credentials.tradelane, TRADELANE_DB)

    def shard_ranges(self) -> dict[int, int]:
        """Each history shard's range id, which grows by one every time a host takes the shard: after a lost host,
        its shards have grown (the other host took them), and again once it is back and has them again."""
        with psycopg.connect(host=LOOPBACK, port=self.ports.postgres, user=TEMPORAL_USER,
                             password=self.credentials.temporal, dbname=TEMPORAL_DB) as conn:
            return dict(conn.execute("SELECT shard_id, range_id FROM shards ORDER BY shard_id").fetchall())


@asynccontextmanager
async def running_temporal_cluster(settings: ClusterSettings | None = None, *, ports: ClusterPorts | None = None,
                                   namespace: str = "default") -> AsyncIterator[TemporalCluster]:
    """Start the cluster (building the binaries, creating the database and schemas the first time) and stop it on
    exit.

    Args:
        settings: The cluster's settings; the environment's by default.
        ports: Other ports than the settings' (`ClusterPorts.free()` in tests).
        namespace: Registered when missing, with Tradelane's search attributes.

    Raises:
        ClusterError: A reason in one line (a port taken, PostgreSQL or Go missing, a schema that cannot be
            brought up to date, a server that exits while starting).
    """
    settings = settings or load_cluster_settings()
    ports = ports or ClusterPorts.from_settings(settings)
    layout = ClusterLayout(settings.dir.resolve())
    check_ports_free(ports.uses())
    binaries = await asyncio.to_thread(ensure_binaries, settings)
    schemas = await asyncio.to_thread(schema_dir, settings.schema_dir)
    credentials = Credentials.load_or_create(layout.credentials)
    postgres = LocalPostgres(layout, ports.postgres)
    async with AsyncExitStack() as cleanup:
        await asyncio.to_thread(postgres.start)
        cleanup.push_async_callback(asyncio.to_thread, postgres.stop)
        await asyncio.to_thread(postgres.bootstrap, credentials)
        tool = SchemaTool(binaries.sql_tool, ports.postgres, credentials.temporal, layout.logs / "schema.log")
        await asyncio.to_thread(ensure_schemas, tool, schemas, layout.pgdata)
        servers: dict[str, ManagedProcess] = {}
        for spec in ports.servers:
            process = ManagedProcess(
                spec.name, server_argv(binaries.server, spec),
                server_env(spec, ports, credentials.temporal, settings.server_log_level),
                layout.logs / f"{spec.name}.log", port_open(spec.grpc_port),
                start_timeout_s=settings.startup_timeout_s, stop_grace_s=SERVER_STOP_GRACE_S, cwd=layout.root)
            servers[spec.name] = process
            cleanup.push_async_callback(process.stop)
            await process.start()
        cluster = TemporalCluster(ports, layout, postgres, credentials, servers, namespace)
        await prepare_namespace(cluster.frontend_address, namespace, settings.startup_timeout_s)
        yield cluster
        log.info("stopping the Temporal cluster")


async def prepare_namespace(address: str, namespace: str, timeout_s: float) -> None:
    """Wait until the frontend answers for `namespace`, registering it when missing, then add the search attributes
    it lacks. A cold cluster answers UNAVAILABLE until its services have found each other: that is waited out."""
    deadline = time.monotonic() + timeout_s
    client = await _until(deadline, address, lambda: Client.connect(address, namespace=namespace))
    describe = DescribeNamespaceRequest(namespace=namespace)

    async def described() -> None:
        try:
            await client.workflow_service.describe_namespace(describe)
        except RPCError as err:
            if err.status is not RPCStatusCode.NOT_FOUND:
                raise
            await _register(client, namespace)
            raise  # described once the frontend's namespace registry has it

    await _until(deadline, address, described)
    cli = await asyncio.to_thread(find_cli, None, False)
    added = await _until(deadline, address, lambda: ensure_search_attributes(client, cli, address, namespace))
    if added:
        log.info("search attributes registered", namespace=namespace, attributes=added)


async def _register(client: Client, namespace: str) -> None:
    retention = Duration()
    retention.FromTimedelta(NAMESPACE_RETENTION)
    try:
        await client.workflow_service.register_namespace(RegisterNamespaceRequest(
            namespace=namespace, workflow_execution_retention_period=retention))
        log.info("namespace registered", namespace=namespace, retention_days=NAMESPACE_RETENTION.days)
    except RPCError as err:
        if err.status is not RPCStatusCode.ALREADY_EXISTS:
            raise


T = TypeVar("T")


async def _until(deadline: float, address: str, attempt: Callable[[], Awaitable[T]]) -> T:
    """`attempt()` again every second until it succeeds or the deadline passes (then one line with its last error)."""
    while True:
        try:
            return await attempt()
        except (RPCError, RuntimeError, subprocess.CalledProcessError) as err:
            if time.monotonic() > deadline:
                raise ClusterError(f"the Temporal frontend at {address} did not answer in time: {err}") from None
        await asyncio.sleep(1.0)
