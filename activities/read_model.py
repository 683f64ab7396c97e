"""Read-model activity: writes workflow snapshots into the SQL tables."""

import asyncio

import structlog
from sqlalchemy.engine import Engine
from temporalio import activity

from infra.persistence.db import apply_projection
from infra.platform.notice_config import NoticeConfig
from tradelane.shipment.projection import ProjectionUpdate

log = structlog.stdlib.get_logger(__name__)


class ReadModelActivities:
    def __init__(self, engine: Engine, notices: NoticeConfig | None = None) -> None:
        self._engine = engine
        self._notices = notices or NoticeConfig()

    @activity.defn(name="read_model.project")
    async def project(self, update: ProjectionUpdate) -> bool:
        """Idempotent and order-tolerant: a retried or late snapshot never overwrites a newer one. The notices'
        outbox messages are written in the same transaction."""
        written = await asyncio.to_thread(apply_projection, self._engine, update, self._notices)
        log.debug("projected", shipment_id=update.state.shipment_id, version=update.version, written=written)
        return written
