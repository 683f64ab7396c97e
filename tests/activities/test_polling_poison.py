"""A polled partner answer that can never be read ends as a dead letter, not as a poll failing forever (issue 18).

A partner in Tradelane's dialect, served on loopback, lists an event that does not validate (a description over the
limit): before, `tracking.poll` raised the same `ValidationError` on every retry, without limit. Now the poll records
a `partner_event` dead letter with one ops alert and ends non-retryable; a partner that is down is still retried.
"""

from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlmodel import Session, select
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.http import PartnerGateway
from activities.poison import DEAD_LETTERED
from activities.polling import PollRequest, TrackingActivities
from infra.persistence.dead_letters import open_letters
from infra.persistence.outbox import OutboxRow
from infra.platform.http_server import ServedApp
from tests.support import unique_id
from tradelane.enums import TrackingStatus

PARTNER = "roadlink"  # speaks Tradelane's dialect


def partner_listing(events: list[dict[str, Any]]) -> FastAPI:
    app = FastAPI()

    @app.get("/{path:path}")
    async def listing(path: str) -> dict[str, Any]:
        return {"events": events}

    return app


def request(shipment_id: str) -> PollRequest:
    return PollRequest(shipment_id=shipment_id, workflow_id=f"shipment:{shipment_id}", partner=PARTNER,
                       booking_ref="RL-B-1", until=TrackingStatus.DELIVERED, interval=timedelta(seconds=1))


async def test_an_event_that_never_validates_is_a_dead_letter(temporal_client, db_engine):
    shipment_id = unique_id("poll-poison")
    bad = {"event_id": "rl:1", "shipment_id": shipment_id, "code": "COLLECTED",
           "occurred_at": "2026-12-01T08:00:00+01:00", "description": "x" * 501, "tracking_number": "RL1"}
    served = await ServedApp(partner_listing([bad])).start()
    try:
        async with httpx.AsyncClient(timeout=5) as http:
            acts = TrackingActivities(PartnerGateway(http, served.url, "test", 2.0), db_engine,
                                      ops_email="ops@tradelane.test")
            env = ActivityEnvironment(client=temporal_client)
            with pytest.raises(ApplicationError) as err:
                await env.run(acts.poll, request(shipment_id))
    finally:
        await served.stop()
    assert (err.value.type, err.value.non_retryable) == (DEAD_LETTERED, True)
    [letter] = open_letters(db_engine, shipment_id=shipment_id)
    assert (letter.kind, letter.message_key, letter.error_type) == ("partner_event", f"{PARTNER}:RL-B-1",
                                                                     "ValidationError")
    with Session(db_engine) as session:
        [alert] = session.exec(select(OutboxRow).where(OutboxRow.shipment_id == shipment_id)).all()
    assert (alert.audience, alert.kind) == ("ops", "dead_letter")


async def test_a_partner_that_is_down_is_still_retried(temporal_client, db_engine):
    shipment_id = unique_id("poll-down")
    async with httpx.AsyncClient(timeout=1) as http:
        acts = TrackingActivities(PartnerGateway(http, "http://127.0.0.1:9", "test", 1.0), db_engine)
        with pytest.raises(Exception) as err:
            await ActivityEnvironment(client=temporal_client).run(acts.poll, request(shipment_id))
    assert not (isinstance(err.value, ApplicationError) and err.value.non_retryable)
    assert open_letters(db_engine, shipment_id=shipment_id) == []
