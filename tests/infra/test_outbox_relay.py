"""The outbox relay each worker runs (issue 19): it sends the messages that came due after their shipment's workflow
closed, on a real SQLite outbox and a real SMTP server over loopback, and leaves fresh ones to the workflow."""

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import Engine

from activities.notifications import NotificationActivities, OutboxRelay, message_id
from devstack.mailserver import DevMailServer
from infra.persistence.db import make_engine, migrate
from infra.persistence.outbox import Channel, OutboxState, messages_of
from infra.platform.settings import Settings
from tests.activities.test_notifications import add, outbox_message
from tests.support import unique_id
from worker import outbox_relay

CUSTOMER = "kunde@example.de"


@pytest.fixture
def mail_server(tmp_path: Path) -> Iterator[DevMailServer]:
    server = DevMailServer(tmp_path / "mail", port=0).start()
    yield server
    server.stop()


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    url = f"sqlite:///{tmp_path / 'read_model.db'}"
    migrate(url)
    engine = make_engine(url)
    yield engine
    engine.dispose()


def states(engine, shipment_id: str) -> dict[str, str]:
    return {row.id: row.state for row in messages_of(engine, shipment_id)}


async def test_the_worker_relay_sends_a_held_email_once_it_is_due(engine, mail_server):
    """The e-mail of a closed workflow comes due a second from now: the worker's relay sends it then, and stops
    with the worker."""
    shipment_id = unique_id("R")
    held = outbox_message(shipment_id, 0, Channel.EMAIL, CUSTOMER, datetime.now(UTC) + timedelta(seconds=1))
    add(engine, held)
    settings = Settings(environment="test", smtp_host=mail_server.host,
                        smtp_port=mail_server.port, outbox_relay_every_s=0.2, outbox_relay_overdue_s=0)
    stop = asyncio.Event()
    async with httpx.AsyncClient(timeout=5) as http:
        relay = outbox_relay(settings, engine, http, stop)
        assert relay is not None
        try:
            assert states(engine, shipment_id) == {held.id: OutboxState.PENDING}
            for _ in range(100):
                if states(engine, shipment_id)[held.id] == OutboxState.SENT:
                    break
                await asyncio.sleep(0.05)
        finally:
            stop.set()
            await asyncio.wait_for(relay, 10)
    assert states(engine, shipment_id) == {held.id: OutboxState.SENT}
    assert [m["Message-ID"] for m in mail_server.messages()] == [message_id(held.id)]
    assert outbox_relay(settings.model_copy(update={"outbox_relay_every_s": None}), engine, http, stop) is None


async def test_the_relay_leaves_a_message_just_due_to_its_running_workflow(engine, mail_server):
    """A message due 5 s ago is its running workflow's to send; one due 2 minutes ago was left by a closed one."""
    shipment_id = unique_id("R")
    now = datetime.now(UTC)
    fresh = outbox_message(shipment_id, 0, Channel.EMAIL, CUSTOMER, now - timedelta(seconds=5))
    overdue = outbox_message(shipment_id, 1, Channel.EMAIL, CUSTOMER, now - timedelta(minutes=2))
    add(engine, fresh, overdue)
    settings = Settings(environment="test", smtp_host=mail_server.host, smtp_port=mail_server.port)
    async with httpx.AsyncClient(timeout=5) as http:
        notifications = NotificationActivities(engine, settings.mail(), http, settings.merchant_secrets(),
                                               clock=lambda: now)
        report = await OutboxRelay(notifications, every=timedelta(seconds=30), overdue=timedelta(seconds=30)).round()
    assert report.sent == [overdue.id]
    assert states(engine, shipment_id) == {fresh.id: OutboxState.PENDING, overdue.id: OutboxState.SENT}


def test_the_relay_needs_a_positive_interval():
    with pytest.raises(ValueError, match="every: 0.0 s"):
        OutboxRelay(None, every=timedelta(0))  # type: ignore[arg-type]
