"""Read-model activity: writes workflow snapshots into the SQL tables.

A snapshot the database refuses for good (PostgreSQL stores no NUL: `DataError`; a constraint it breaks, such as
NOT NULL: `IntegrityError`) is not retried forever: it becomes a dead letter for the shipment (one open letter per
shipment, with one ops alert) and the activity fails non-retryable with type `DeadLettered`, so the workflow moves
on and the next snapshot is tried afresh. A database that is down (`OperationalError`, refused connections) is
retried without limit: the tables catch up when it returns, and there would be nowhere to record a dead letter
anyway. A duplicate key is a concurrent writer of the same shipment (a timed-out local activity still writing
while its fallback activity runs), not a poison message: `apply_projection` reads again and finds the row, and
should the race repeat, the activity retries it like an unknown error, up to the cap.
"""

import asyncio
from datetime import UTC, datetime

import structlog
from sqlalchemy.engine import Engine
from temporalio import activity

from activities.poison import deterministic, non_retryable, type_name
from infra.persistence import dead_letters
from infra.persistence.db import apply_projection
from infra.persistence.dead_letters import DeadLetterKind
from infra.platform.notice_config import NoticeConfig
from tradelane.shipment.projection import ProjectionUpdate

log = structlog.stdlib.get_logger(__name__)

UNKNOWN_ERROR_ATTEMPTS = 20
"""Attempts after which an error neither known transient nor known deterministic is given up as a dead letter."""


class ReadModelActivities:
    def __init__(self, engine: Engine, notices: NoticeConfig | None = None) -> None:
        self._engine = engine
        self._notices = notices or NoticeConfig()

    @activity.defn(name="read_model.project")
    async def project(self, update: ProjectionUpdate) -> bool:
        """Idempotent and order-tolerant: a retried or late snapshot never overwrites a newer one. The notices'
        outbox messages are written in the same transaction.

        Raises:
            ApplicationError: Non-retryable `DeadLettered` when the snapshot can never be written; the dead letter
                (and its ops alert) is recorded first.
        """
        shipment_id = update.state.shipment_id
        try:
            written = await asyncio.to_thread(apply_projection, self._engine, update, self._notices)
        except Exception as err:
            attempt = activity.info().attempt if activity.in_activity() else 1
            if not deterministic(err, attempt=attempt, max_attempts=UNKNOWN_ERROR_ATTEMPTS):
                raise
            new = await asyncio.to_thread(
                dead_letters.record, self._engine, DeadLetterKind.PROJECTION, shipment_id, shipment_id=shipment_id,
                attempts=attempt, error=err, now=datetime.now(UTC), ops_email=self._notices.ops_email)
            log.error("projection_dead_lettered", shipment_id=shipment_id, version=update.version,
                      error=type_name(err), attempt=attempt, new=new)
            if new and activity.in_activity():
                activity.metric_meter().create_counter(
                    "tradelane_dead_letters_recorded", "Dead letters recorded").add(
                        1, {"kind": DeadLetterKind.PROJECTION.value})
            raise non_retryable(err, f"{shipment_id}: read-model snapshot {update.version}") from err
        log.debug("projected", shipment_id=shipment_id, version=update.version, written=written)
        return written
