"""Tradelane on a real multi-service Temporal cluster on loopback (`make cluster`, issue 23).

PostgreSQL (the distribution's packages) holds Temporal's default store, its SQL visibility store and Tradelane's
read model, each database with its owner; Temporal Server 1.32.0 runs as five processes (frontend, two history
hosts sharing 8 shards, matching, worker) from one configuration template (`deploy/temporal/`); Tradelane's API,
sandbox and SMTP server run in the calling process and its workers as processes of their own.

For tests and benchmarks::

    async with running_cluster(ports=ClusterPorts.free()) as cluster:
        await cluster.history[0].kill()      # SIGKILL: its shards move to the other host
        await cluster.history[0].start()     # back, and its shards with it
        await cluster.frontend.restart()
        for worker in cluster.workers:       # a rolling restart
            await worker.restart()
"""

from devstack.cluster.config import ClusterError, ClusterPorts, ClusterSettings
from devstack.cluster.processes import ManagedProcess
from devstack.cluster.servers import TemporalCluster, running_temporal_cluster
from devstack.cluster.stack import Cluster, running_cluster, serve_forever

__all__ = ["Cluster", "ClusterError", "ClusterPorts", "ClusterSettings", "ManagedProcess", "TemporalCluster",
           "running_cluster", "running_temporal_cluster", "serve_forever"]
