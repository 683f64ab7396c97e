"""The delivery activity against real services: a migrated SQLite outbox, the development SMTP server, and the
carrier sandbox's merchant webhook receiver served on loopback. Run through Temporal's own ActivityEnvironment."""

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiosmtplib
import httpx
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.notifications import (
    NOTIFICATION_UNDELIVERED,
    DeliverRequest,
    DeliveryReport,
    MailSettings,
    NotificationActivities,
    message_id,
    smtp_failure,
)
from devstack.mailserver import DevMailServer
from infra.persistence.db import ShipmentRow, make_engine, migrate
from infra.persistence.outbox import Channel, OutboxMessage, OutboxRow, OutboxState, claim_due, enqueue, messages_of
from infra.platform.http_server import ServedApp
from infra.platform.webhooks import MerchantSecrets
from tests.support import unique_id

SENDER = "Tradelane <notify@tradelane.test>"
SANDBOX_SECRET = "dev-webhook-secret"  # the sandbox config's default merchant_webhook_secret (the derivation root)
MERCHANT = "acme-store"


class Clock:
    """Real time to start with (the merchant receiver checks signature ages against its own clock), moved by hand."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    url = f"sqlite:///{tmp_path / 'outbox.db'}"
    migrate(url)
    engine = make_engine(url)
    yield engine
    engine.dispose()


@pytest.fixture
def mail_server(tmp_path: Path) -> Iterator[DevMailServer]:
    """Not started: each test decides when the relay is up."""
    server = DevMailServer(tmp_path / "mail", port=0)
    yield server
    server.stop()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=5) as client:
        yield client


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def activities(engine, mail_server, http, clock) -> Callable[..., NotificationActivities]:
    def build(secret: str = SANDBOX_SECRET, **options: Any) -> NotificationActivities:
        mail = MailSettings(host=mail_server.host, port=mail_server.port, sender=SENDER, timeout_s=2)
        return NotificationActivities(engine, mail, http, MerchantSecrets({}, derive_from=secret), webhook_timeout_s=2,
                                      clock=clock, **options)

    return build


@pytest.fixture
def shipment_id() -> str:
    return unique_id("N")


def outbox_message(shipment_id: str, seq: int, channel: Channel, recipient: str, not_before: datetime,
                   audience: str = "customer") -> OutboxMessage:
    return OutboxMessage(
        id=f"{shipment_id}:{seq}:{channel}:{audience}", shipment_id=shipment_id, notice_id=f"{shipment_id}:{seq}",
        kind="delayed", channel=channel, audience=audience, recipient=recipient, locale="de-DE",
        subject="Ihre Sendung verspätet sich – neue Zustellung am Freitag",
        body_text="Guten Tag,\nIhre Sendung kommt am Freitag.",
        body_html="<p>Ihre Sendung kommt am <b>Freitag</b>.</p>",
        payload={"shipment_id": shipment_id, "kind": "delayed", "seq": seq} if channel is Channel.WEBHOOK else None,
        not_before=not_before, created_at=not_before,
    )


def add(engine: Engine, *messages: OutboxMessage) -> None:
    """The messages, and their shipment's row (a webhook is signed with its merchant's secret)."""
    with Session(engine) as session:
        for shipment_id in {m.shipment_id for m in messages}:
            if session.get(ShipmentRow, shipment_id) is None:
                session.add(ShipmentRow(
                    shipment_id=shipment_id, workflow_id=f"shipment:{shipment_id}", merchant_id=MERCHANT,
                    origin_country="CN", destination_country="DE", stage="transit", status="in_progress",
                    declared_value="10", currency="EUR", created_at=datetime.now(UTC), updated_at=datetime.now(UTC)))
        enqueue(session, list(messages))
        session.commit()


def email(shipment_id: str, clock: Clock, seq: int = 1, not_before: datetime | None = None) -> OutboxMessage:
    return outbox_message(shipment_id, seq, Channel.EMAIL, "kunde@example.de", not_before or clock())


def webhook(shipment_id: str, clock: Clock, sandbox: ServedApp, seq: int = 1, path: str = "/merchant/webhooks",
            ) -> OutboxMessage:
    return outbox_message(shipment_id, seq, Channel.WEBHOOK, f"{sandbox.url}{path}", clock(), audience="merchant")


async def deliver(acts: NotificationActivities, shipment_id: str) -> DeliveryReport:
    return await ActivityEnvironment().run(acts.deliver, DeliverRequest(shipment_id=shipment_id))


async def merchant_saw(http: httpx.AsyncClient, sandbox: ServedApp, shipment_id: str) -> dict[str, Any]:
    response = await http.get(f"{sandbox.url}/_inspect/merchant-webhooks", params={"shipment_id": shipment_id})
    assert response.status_code == 200, response.text
    return response.json()


def rows(engine: Engine, shipment_id: str) -> dict[str, OutboxRow]:
    return {row.id: row for row in messages_of(engine, shipment_id)}


async def test_due_email_and_webhook_are_delivered_exactly_once(activities, engine, mail_server, http, clock,
                                                                sandbox, shipment_id):
    mail_server.start()
    add(engine, email(shipment_id, clock), webhook(shipment_id, clock, sandbox))
    acts = activities()

    report = await deliver(acts, shipment_id)
    again = await deliver(acts, shipment_id)

    assert sorted(report.sent) == [f"{shipment_id}:1:email:customer", f"{shipment_id}:1:webhook:merchant"]
    assert (report.failed, report.next_due) == ([], None)
    assert again == DeliveryReport()
    assert [m["Message-ID"] for m in mail_server.messages()] == [f"<{shipment_id}.1.email.customer@tradelane>"]
    seen = await merchant_saw(http, sandbox, shipment_id)
    assert [(e["event_id"], e["payload"]) for e in seen["events"]] == [
        (f"{shipment_id}:1:webhook:merchant", {"kind": "delayed", "seq": 1, "shipment_id": shipment_id})]
    assert seen["duplicates"] == 0
    assert {(r.state, r.attempts, r.sent_at) for r in rows(engine, shipment_id).values()} == {
        (OutboxState.SENT, 1, clock())}


async def test_the_email_is_localised_multipart_and_identifiable(activities, engine, mail_server, clock,
                                                                 shipment_id):
    mail_server.start()
    add(engine, email(shipment_id, clock))
    await deliver(activities(), shipment_id)
    [received] = mail_server.messages()
    headers = {name: str(received[name]) for name in (
        "From", "To", "Subject", "Message-ID", "Content-Language", "Auto-Submitted", "X-MailFrom", "X-RcptTo")}
    assert headers == {
        "From": SENDER, "To": "kunde@example.de",
        "Subject": "Ihre Sendung verspätet sich – neue Zustellung am Freitag",
        "Message-ID": f"<{shipment_id}.1.email.customer@tradelane>", "Content-Language": "de-DE",
        "Auto-Submitted": "auto-generated", "X-MailFrom": "notify@tradelane.test", "X-RcptTo": "kunde@example.de"}
    assert received.get_content_type() == "multipart/alternative"
    assert received.get_body(("plain",)).get_content() == "Guten Tag,\nIhre Sendung kommt am Freitag.\n"
    assert received.get_body(("html",)).get_content() == "<p>Ihre Sendung kommt am <b>Freitag</b>.</p>\n"


async def test_quiet_hours_hold_a_message_and_report_when_it_is_due(activities, engine, mail_server, clock,
                                                                   shipment_id):
    mail_server.start()
    morning = clock() + timedelta(hours=9)
    add(engine, email(shipment_id, clock, not_before=morning))

    report = await deliver(activities(), shipment_id)

    assert report == DeliveryReport(next_due=morning)
    assert mail_server.messages() == []
    [row] = rows(engine, shipment_id).values()
    assert (row.state, row.attempts) == (OutboxState.PENDING, 0)


async def test_an_unreachable_mail_server_is_retried_and_then_delivered_once(activities, engine, mail_server, http,
                                                                             clock, sandbox, shipment_id):
    add(engine, email(shipment_id, clock), webhook(shipment_id, clock, sandbox))
    acts = activities()
    email_id, webhook_id = f"{shipment_id}:1:email:customer", f"{shipment_id}:1:webhook:merchant"

    with pytest.raises(ApplicationError) as err:
        await deliver(acts, shipment_id)

    assert (err.value.type, err.value.non_retryable) == (NOTIFICATION_UNDELIVERED, False)
    assert err.value.details[0]["sent"] == [webhook_id]  # recorded before raising: the retry will not resend it
    email_row = rows(engine, shipment_id)[email_id]
    assert (email_row.state, email_row.attempts) == (OutboxState.PENDING, 1)
    assert email_row.last_error is not None and f"{mail_server.host}:{mail_server.port}" in email_row.last_error

    mail_server.start()
    clock.advance(timedelta(seconds=5))
    report = await deliver(acts, shipment_id)
    assert (report.sent, report.failed) == ([email_id], [])
    assert await deliver(acts, shipment_id) == DeliveryReport()
    assert [m["Message-ID"] for m in mail_server.messages()] == [message_id(email_id)]
    seen = await merchant_saw(http, sandbox, shipment_id)
    assert ([e["event_id"] for e in seen["events"]], seen["duplicates"]) == ([webhook_id], 0)
    assert rows(engine, shipment_id)[email_id].attempts == 2


async def test_a_crash_between_send_and_record_resends_with_the_same_ids(activities, engine, mail_server, http,
                                                                        clock, sandbox, shipment_id):
    mail_server.start()
    add(engine, email(shipment_id, clock), webhook(shipment_id, clock, sandbox))
    acts = activities()
    # A deliverer claims and sends, then dies before recording anything.
    claimed = claim_due(engine, clock(), shipment_id=shipment_id)
    for row in claimed:
        await acts.send(row)

    # Leased rows wait for the lease to expire, and the report says when to come back for them.
    lease_end = min(row.lease_until for row in claimed)
    assert await deliver(acts, shipment_id) == DeliveryReport(next_due=lease_end)
    clock.advance(timedelta(minutes=2, seconds=1))
    report = await deliver(acts, shipment_id)

    assert sorted(report.sent) == [f"{shipment_id}:1:email:customer", f"{shipment_id}:1:webhook:merchant"]
    expected_id = message_id(f"{shipment_id}:1:email:customer")
    assert [m["Message-ID"] for m in mail_server.messages()] == [expected_id, expected_id]
    seen = await merchant_saw(http, sandbox, shipment_id)
    assert ([e["event_id"] for e in seen["events"]], seen["events"][0]["deliveries"], seen["duplicates"]) == (
        [f"{shipment_id}:1:webhook:merchant"], 2, 1)
    assert {r.attempts for r in rows(engine, shipment_id).values()} == {2}


@pytest.mark.parametrize(("secret", "path", "status"), [
    ("not-the-merchants-secret", "/merchant/webhooks", 401),
    (SANDBOX_SECRET, "/merchant/no-such-hook", 404),
], ids=["401-bad-signature", "404-unknown-url"])
async def test_a_permanent_webhook_rejection_fails_at_once_without_retry(activities, engine, http, clock, sandbox,
                                                                        shipment_id, secret, path, status):
    add(engine, webhook(shipment_id, clock, sandbox, path=path))
    acts = activities(secret=secret)

    report = await deliver(acts, shipment_id)

    webhook_id = f"{shipment_id}:1:webhook:merchant"
    assert (report.sent, report.failed) == ([], [webhook_id])
    row = rows(engine, shipment_id)[webhook_id]
    assert (row.state, row.attempts) == (OutboxState.FAILED, 1)
    assert row.last_error is not None and f"HTTP {status}" in row.last_error
    clock.advance(timedelta(hours=1))
    assert await deliver(acts, shipment_id) == DeliveryReport()
    assert (await merchant_saw(http, sandbox, shipment_id))["events"] == []


@pytest.mark.parametrize("status", [503, 429, 408], ids=["503-unavailable", "429-rate-limited", "408-timeout"])
async def test_a_transient_webhook_failure_is_retried(activities, engine, http, clock, sandbox, shipment_id, status):
    add(engine, webhook(shipment_id, clock, sandbox))
    acts = activities()
    switched = await http.post(f"{sandbox.url}/_merchant/fail", json={"times": 1, "status": status})
    assert switched.status_code == 200, switched.text

    with pytest.raises(ApplicationError) as err:
        await deliver(acts, shipment_id)
    assert err.value.type == NOTIFICATION_UNDELIVERED
    [row] = rows(engine, shipment_id).values()
    assert (row.state, row.attempts, f"HTTP {status}" in (row.last_error or "")) == (OutboxState.PENDING, 1, True)

    report = await deliver(acts, shipment_id)
    assert report.sent == [row.id]
    seen = await merchant_saw(http, sandbox, shipment_id)
    assert ([e["event_id"] for e in seen["events"]], seen["duplicates"]) == ([row.id], 0)


async def test_after_max_attempts_a_message_is_failed_and_reported_not_raised(activities, engine, clock,
                                                                               shipment_id):
    add(engine, email(shipment_id, clock))
    acts = activities(max_attempts=2)
    with pytest.raises(ApplicationError):
        await deliver(acts, shipment_id)
    report = await deliver(acts, shipment_id)
    email_id = f"{shipment_id}:1:email:customer"
    assert (report.sent, report.failed) == ([], [email_id])
    row = rows(engine, shipment_id)[email_id]
    assert (row.state, row.attempts) == (OutboxState.FAILED, 2)


async def test_more_due_rows_than_a_batch_all_go_out_in_one_run(activities, engine, mail_server, clock,
                                                                shipment_id):
    mail_server.start()
    add(engine, *(email(shipment_id, clock, seq=seq) for seq in range(7)))
    report = await deliver(activities(batch=3), shipment_id)
    assert len(report.sent) == 7
    assert len({m["Message-ID"] for m in mail_server.messages()}) == 7


def test_a_lease_too_short_for_a_batch_is_refused(engine, http):
    mail = MailSettings(host="127.0.0.1", port=25, sender=SENDER, timeout_s=10)
    with pytest.raises(ValueError, match="lease: 60 s cannot cover batch=5 sends of up to 20 s"):
        NotificationActivities(engine, mail, http, MerchantSecrets({"m": ["s"]}), lease=timedelta(seconds=60))


@pytest.mark.parametrize(("outbox_id", "expected"), [
    ("S-1:3:email:customer", "<S-1.3.email.customer@tradelane>"),
    ("S.1:3:email:customer", "<S%2E1.3.email.customer@tradelane>"),
    ("S 1/ü:3:email:ops", "<S%201%2F%C3%BC.3.email.ops@tradelane>"),
    ("S-1::email:ops", "<S-1._.email.ops@tradelane>"),
], ids=["plain", "dot-in-shipment-id", "space-slash-umlaut", "empty-part"])
def test_message_ids_are_stable_dot_atoms(outbox_id, expected):
    from email.headerregistry import HeaderRegistry

    assert message_id(outbox_id) == expected
    parsed = HeaderRegistry()("Message-ID", expected)
    assert (str(parsed), parsed.defects) == (expected, ())


def email_row() -> OutboxRow:
    return OutboxRow(id="S-1:1:email:customer", shipment_id="S-1", notice_id="n", kind="k", channel="email",
                     audience="customer", recipient="a@b.c", locale="en", subject="s", body_text="t",
                     not_before=datetime(2026, 1, 1, tzinfo=UTC), created_at=datetime(2026, 1, 1, tzinfo=UTC))


@pytest.mark.parametrize(("error", "permanent"), [
    (aiosmtplib.SMTPRecipientsRefused([aiosmtplib.SMTPRecipientRefused(550, "no such user", "a@b.c")]), True),
    (aiosmtplib.SMTPRecipientsRefused([aiosmtplib.SMTPRecipientRefused(450, "mailbox busy", "a@b.c")]), False),
    (aiosmtplib.SMTPDataError(554, "content rejected"), True),
    (aiosmtplib.SMTPDataError(451, "try again later"), False),
    (aiosmtplib.SMTPSenderRefused(550, "sender not allowed", "notify@tradelane.test"), False),
    (aiosmtplib.SMTPServerDisconnected("gone"), False),
], ids=["recipient-550", "recipient-450", "data-554", "data-451", "our-sender-refused", "disconnected"])
def test_only_a_final_smtp_refusal_of_this_message_is_permanent(error, permanent):
    failure = smtp_failure(email_row(), "relay.test:25", error)
    assert failure.permanent is permanent
    assert str(failure).startswith("S-1:1:email:customer: SMTP relay.test:25: ")


class RecordingRelay:
    """An aiosmtpd handler noting the connection (client address) each message came over; refuses `nobody@`."""

    def __init__(self) -> None:
        self.peers: list[tuple[str, int]] = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802, ANN001, ANN201
        if address.startswith("nobody@"):
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802, ANN001, ANN201
        self.peers.append(session.peer)
        return "250 Message accepted for delivery"


@pytest.fixture
def recording_relay() -> Iterator[tuple[RecordingRelay, int]]:
    from aiosmtpd.controller import Controller

    from devstack.ports import free_port

    handler = RecordingRelay()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield handler, controller.port
    controller.stop()


async def test_a_batch_of_emails_shares_one_smtp_connection_even_past_a_refusal(engine, http, clock, shipment_id,
                                                                               recording_relay):
    """Issue 20: each e-mail opened its own SMTP connection (connect, EHLO, QUIT per message). A relay round now
    sends a batch over one connection; a recipient refused for good fails alone and the connection goes on."""
    handler, port = recording_relay
    mail = MailSettings(host="127.0.0.1", port=port, sender=SENDER, timeout_s=2)
    acts = NotificationActivities(engine, mail, http, MerchantSecrets({}, derive_from=SANDBOX_SECRET), clock=clock)
    refused = outbox_message(shipment_id, 5, Channel.EMAIL, "nobody@example.de", clock())
    add(engine, *(email(shipment_id, clock, seq=seq) for seq in range(12) if seq != 5), refused)

    report = await acts.relay(batch=50)

    assert (len(report.sent), report.failed) == (11, [refused.id])
    assert len(handler.peers) == 11 and len(set(handler.peers)) == 1, handler.peers
    stored = rows(engine, shipment_id)
    assert (stored[refused.id].state, "550" in (stored[refused.id].last_error or "")) == (OutboxState.FAILED, True)
    assert {r.state for r in stored.values() if r.id != refused.id} == {OutboxState.SENT}


async def test_one_shipments_webhooks_reach_its_merchant_in_order_within_a_batch(activities, engine, clock,
                                                                                 shipment_id):
    """Found by CI (issue 20): the relay sent a batch's webhooks side by side, so `shipment.delivered` could reach
    the merchant before `shipment.out_for_delivery`. One shipment's webhooks to one merchant now go one after
    another, oldest first (notice 10 after notice 9); other shipments' still go alongside."""
    from fastapi import FastAPI, Request

    from infra.platform.http_server import ServedApp
    from infra.platform.webhooks import EVENT_ID_HEADER

    arrived: list[str] = []
    app = FastAPI()

    @app.post("/hook")
    async def hook(request: Request) -> dict[str, str]:
        message = request.headers[EVENT_ID_HEADER]
        if message.endswith(":8:webhook:merchant"):
            await asyncio.sleep(0.3)  # the oldest is the slowest to be taken
        arrived.append(message)
        return {}

    served = await ServedApp(app).start()
    try:
        other = unique_id("N")
        ours = [outbox_message(shipment_id, seq, Channel.WEBHOOK, f"{served.url}/hook", clock(), audience="merchant")
                for seq in (8, 9, 10, 11)]
        theirs = [outbox_message(other, 1, Channel.WEBHOOK, f"{served.url}/hook", clock(), audience="merchant")]
        add(engine, *ours)
        add(engine, *theirs)
        report = await activities().relay(batch=50)
    finally:
        await served.stop()
    assert sorted(report.sent) == sorted(m.id for m in [*ours, *theirs])
    assert [m for m in arrived if m.startswith(f"{shipment_id}:")] == [m.id for m in ours]
    assert arrived.index(theirs[0].id) < arrived.index(ours[0].id), "another shipment's does not wait for ours"
