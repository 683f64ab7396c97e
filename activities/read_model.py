"""Read-model activity: writes workflow snapshots into the SQL tables."""

import asyncio

import structlog
from sqlalchemy.engine import Engine
from temporalio import activity

from infra.db import apply_projection
from tradelane.state import ProjectionUpdate

log = structlog.stdlib.get_logger(__name__)


class ReadModelActivities:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    @activity.defn(name="read_model.project")
    async def project(self, update: ProjectionUpdate) -> bool:
        """Idempotent and order-tolerant: a retried or late snapshot never overwrites a newer one."""
        written = await asyncio.to_thread(apply_projection, self._engine, update)
        log.debug("projected", shipment_id=update.state.shipment_id, version=update.version, written=written)
        return written
