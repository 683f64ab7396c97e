"""The outbox relay each worker runs (issue 19): it sends the messages that came due after their shipment's workflow
closed, on a real SQLite outbox and a real SMTP server over loopback, and leaves fresh ones to the workflow."""

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import Engine

from activities.notifications import NotificationActivities, OutboxRelay, message_id, retry_delay
from devstack.mailserver import DevMailServer
from infra.persistence.db import make_engine, migrate
from infra.persistence.dead_letters import open_letters
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


async def test_the_worker_relay_sends_a_due_message_within_a_second_by_default(engine, mail_server):
    """Issue 20: the relay is the delivery path, so by default it looks every half second and takes a message as
    soon as it is due; before, it looked every 30 s at messages 30 s overdue (the workflow sent the rest)."""
    shipment_id = unique_id("R")
    settings = Settings(environment="test", smtp_host=mail_server.host, smtp_port=mail_server.port)
    stop = asyncio.Event()
    async with httpx.AsyncClient(timeout=5) as http:
        relay = outbox_relay(settings, engine, http, stop)
        assert relay is not None
        try:
            await asyncio.sleep(0.3)  # the relay is between rounds, as it mostly is
            due = outbox_message(shipment_id, 0, Channel.EMAIL, CUSTOMER, datetime.now(UTC))
            loop = asyncio.get_running_loop()
            added = loop.time()
            add(engine, due)
            while states(engine, shipment_id)[due.id] != OutboxState.SENT and loop.time() - added < 5:
                await asyncio.sleep(0.02)
            latency = loop.time() - added
        finally:
            stop.set()
            await asyncio.wait_for(relay, 10)
    assert states(engine, shipment_id) == {due.id: OutboxState.SENT}
    assert latency < 1.0, f"sent {latency:.2f} s after it came due"


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


async def test_a_transient_failure_waits_for_its_backoff_instead_of_the_next_round(engine):
    """The relay has no Temporal retry behind it: without a backoff, an SMTP outage would use up a message's
    attempts in a few half-second rounds and make it a dead letter."""
    from devstack.ports import free_port

    shipment_id = unique_id("R")
    clock = Clock(datetime.now(UTC))
    message = outbox_message(shipment_id, 0, Channel.EMAIL, CUSTOMER, clock())
    add(engine, message)
    settings = Settings(environment="test", smtp_port=free_port())  # nothing listens there
    async with httpx.AsyncClient(timeout=5) as http:
        notifications = NotificationActivities(engine, settings.mail(), http, settings.merchant_secrets(),
                                               clock=clock)
        relay = OutboxRelay(notifications, every=timedelta(seconds=0.1))

        def row() -> tuple[str, int, datetime]:
            [stored] = messages_of(engine, shipment_id)
            return stored.state, stored.attempts, stored.not_before

        start = clock()
        await relay.round()
        assert row() == (OutboxState.PENDING, 1, start + retry_delay(1))
        await relay.round()
        assert row()[1] == 1, "not tried again before its backoff ends"
        clock.now = start + retry_delay(1)
        await relay.round()
        assert row() == (OutboxState.PENDING, 2, clock.now + retry_delay(2))
    assert [retry_delay(n).total_seconds() for n in (1, 2, 3, 9, 10)] == [2, 4, 8, 300, 300]


async def test_the_relay_gives_up_a_poisoned_email_and_sends_its_one_ops_alert(engine, mail_server):
    shipment_id = unique_id("R")
    now = datetime.now(UTC)
    poison = outbox_message(shipment_id, 0, Channel.EMAIL, CUSTOMER, now).model_copy(
        update={"subject": "Order PO-1\r\nBcc: everyone@example.com"})
    add(engine, poison)
    settings = Settings(environment="test", smtp_host=mail_server.host, smtp_port=mail_server.port,
                        ops_email="ops@tradelane.test")
    async with httpx.AsyncClient(timeout=5) as http:
        notifications = NotificationActivities(engine, settings.mail(), http, settings.merchant_secrets(),
                                               ops_email=settings.ops_email)
        relay = OutboxRelay(notifications, every=timedelta(seconds=0.1))
        first = await relay.round()
        second = await relay.round()
        third = await relay.round()
    [letter] = open_letters(engine, shipment_id=shipment_id)
    alert_id = f"{shipment_id}:dead-letter:{letter.id}:email:ops"
    assert (first.failed, second.sent, third.sent) == ([poison.id], [alert_id], [])
    assert states(engine, shipment_id) == {poison.id: OutboxState.FAILED, alert_id: OutboxState.SENT}
    [alert] = mail_server.messages()
    assert alert["To"] == "ops@tradelane.test" and "everyone@example.com" not in alert.get_content()


async def test_the_relay_runs_as_a_process_of_its_own_and_stops_on_sigterm(tmp_path, engine, mail_server):
    """Issue 20, point 4: `python relay.py` delivers the outbox apart from any worker (the worker's relay can then
    be turned off), and SIGTERM ends it cleanly."""
    import os
    import signal
    import subprocess
    import sys

    from devstack.ports import free_port

    health_port = free_port()
    shipment_id = unique_id("R")
    due = outbox_message(shipment_id, 0, Channel.EMAIL, CUSTOMER, datetime.now(UTC))
    add(engine, due)
    env = {**os.environ, "TRADELANE_ENVIRONMENT": "test", "TRADELANE_DATABASE_URL": str(engine.url),
           "TRADELANE_SMTP_HOST": mail_server.host, "TRADELANE_SMTP_PORT": str(mail_server.port),
           "TRADELANE_OUTBOX_RELAY_EVERY_S": "0.2", "TRADELANE_WORKER_HEALTH_PORT": str(health_port)}
    root = Path(__file__).resolve().parents[2]
    relay = subprocess.Popen([sys.executable, "relay.py"], cwd=root, env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT)
    try:
        for _ in range(300):
            if states(engine, shipment_id)[due.id] == OutboxState.SENT or relay.poll() is not None:
                break
            await asyncio.sleep(0.05)
        assert states(engine, shipment_id) == {due.id: OutboxState.SENT}, relay.stdout and relay.stdout.read()
        assert [m["Message-ID"] for m in mail_server.messages()] == [message_id(due.id)]
        async with httpx.AsyncClient(timeout=5) as http:
            ready = await http.get(f"http://127.0.0.1:{health_port}/readyz")
        assert ready.status_code == 200 and {c["name"] for c in ready.json()["checks"]} == {"database", "relay"}
    finally:
        relay.send_signal(signal.SIGTERM)
        output = await asyncio.to_thread(relay.communicate, timeout=20)
    assert relay.returncode == 0, output[0].decode()
