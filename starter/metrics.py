"""The API's Prometheus endpoint: gauges of what the read model holds right now.

The worker's endpoint (`infra.platform.telemetry`) counts what happened (shipments started, stage durations); this one
says where things are: shipments by status and stage, open exceptions by kind, outbox messages by delivery state,
open dead letters by kind (alert on any: each is a message Tradelane gave up on).
Each scrape reads the read model (one grouped query per family), so the numbers are as fresh as the projection.
"""

from collections import Counter
from collections.abc import Iterable

import structlog
from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, col, select

from infra.persistence.db import ShipmentRow
from infra.persistence.dead_letters import open_counts
from infra.persistence.outbox import OutboxRow, OutboxState
from tradelane.enums import ExceptionKind

log = structlog.stdlib.get_logger(__name__)

SHIPMENTS = "tradelane_shipments"
OPEN_EXCEPTIONS = "tradelane_open_exceptions"
OUTBOX_MESSAGES = "tradelane_outbox_messages"
READ_MODEL_UP = "tradelane_read_model_up"
DEAD_LETTERS = "tradelane_dead_letters"


def _shipments_family() -> GaugeMetricFamily:
    return GaugeMetricFamily(SHIPMENTS, "Shipments in the read model by status and stage",
                             labels=["status", "stage"])


def _exceptions_family() -> GaugeMetricFamily:
    return GaugeMetricFamily(OPEN_EXCEPTIONS, "Shipments with an open exception, by exception kind",
                             labels=["kind"])


def _outbox_family() -> GaugeMetricFamily:
    return GaugeMetricFamily(OUTBOX_MESSAGES, "Notification outbox messages by delivery state", labels=["state"])


def _dead_letters_family() -> GaugeMetricFamily:
    return GaugeMetricFamily(DEAD_LETTERS, "Open dead letters (messages given up, not yet resolved by ops), by kind",
                             labels=["kind"])


def _up_family() -> GaugeMetricFamily:
    return GaugeMetricFamily(READ_MODEL_UP, "1 when the read model answered this scrape, 0 when it failed")


class ReadModelCollector(Collector):
    """Collects the read-model gauges at each scrape.

    A database that does not answer does not fail the scrape: the other collectors of the registry still report,
    and ``tradelane_read_model_up`` is 0 (alert on it) instead of the read-model families.

    Args:
        engine: The read-model database.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def describe(self) -> Iterable[Metric]:
        """The families this collector yields, without samples: registering it never touches the database."""
        return [_shipments_family(), _exceptions_family(), _outbox_family(), _dead_letters_family(), _up_family()]

    def collect(self) -> Iterable[Metric]:
        """Read the gauges now: four grouped queries, then ``tradelane_read_model_up``."""
        try:
            # Everything is read before anything is yielded, so a failing query never leaves half a scrape.
            families = self._read()
        except SQLAlchemyError as err:
            # Not raised: the scrape must still report `up 0` (and the registry's other collectors).
            log.warning("read model metrics unavailable", error=f"{type(err).__name__}: {err}")
            up = _up_family()
            up.add_metric([], 0)
            yield up
            return
        yield from families
        up = _up_family()
        up.add_metric([], 1)
        yield up

    def _read(self) -> list[GaugeMetricFamily]:
        with Session(self._engine) as session:
            by_status_stage = session.exec(
                select(ShipmentRow.status, ShipmentRow.stage, func.count())
                .group_by(col(ShipmentRow.status), col(ShipmentRow.stage))
            ).all()
            by_exception_set = session.exec(
                select(ShipmentRow.open_exceptions, func.count())
                .where(col(ShipmentRow.open_exceptions) != "")
                .group_by(col(ShipmentRow.open_exceptions))
            ).all()
            by_state = session.exec(
                select(OutboxRow.state, func.count()).group_by(col(OutboxRow.state))
            ).all()
            open_letters = open_counts(session)

        shipments = _shipments_family()
        for status, stage, count in sorted(by_status_stage):
            shipments.add_metric([status, stage], count)

        # `open_exceptions` holds each shipment's set of kinds ("late,stalled"): a shipment counts once per kind.
        # Every known kind is reported, 0 included, so an alert on one kind always has a series to look at.
        kinds: Counter[str] = Counter({kind.value: 0 for kind in ExceptionKind})
        for kind_list, count in by_exception_set:
            for kind in {k.strip() for k in kind_list.split(",") if k.strip()}:
                kinds[kind] += count
        exceptions = _exceptions_family()
        for kind, count in sorted(kinds.items()):
            exceptions.add_metric([kind], count)

        states: Counter[str] = Counter({state.value: 0 for state in OutboxState})
        for state, count in by_state:
            states[state] += count
        outbox = _outbox_family()
        for state, count in sorted(states.items()):
            outbox.add_metric([state], count)
        letters = _dead_letters_family()
        for kind, count in sorted(open_letters.items()):
            letters.add_metric([kind], count)
        return [shipments, exceptions, outbox, letters]


def metrics_router(registry: CollectorRegistry) -> APIRouter:
    """``GET /metrics``: the Prometheus text exposition of `registry`.

    Args:
        registry: The collectors to expose, e.g. one holding a `ReadModelCollector`.
    """
    router = APIRouter()

    # A plain `def`: FastAPI runs it in its thread pool, so the collectors' database queries never block the loop.
    @router.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        return Response(content=generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return router
