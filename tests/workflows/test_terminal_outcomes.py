"""How a shipment ends, on the real stack (issue 19): once its outcome is final the workflow closes, and messages
held for the recipient's quiet hours stay in the outbox for the relay; an ending other than delivered withdraws the
customer e-mails it makes untrue and tells the merchant, ops, and the customer who was already told something."""

import asyncio
from collections.abc import Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from temporalio.client import WorkflowExecutionStatus

from activities.notifications import NotificationActivities, OutboxRelay, message_id
from infra.persistence.outbox import OutboxRow, OutboxState, messages_of
from tests.support import load_example, unique_id
from tests.workflows.test_visibility import express, mails_of, merchant_events
from tradelane.enums import NoticeKind, Stage, Status
from tradelane.notify.catalog import catalog

pytestmark = pytest.mark.temporal

CUSTOMER = "jonas.becker@example.de"
"""The recipient of basic-cn-de.json, who reads German."""
QUIET_FOR = timedelta(minutes=20)


def quiet_now() -> tuple[str, datetime]:
    """Quiet hours in Berlin from a minute ago to `QUIET_FOR` from now, and when they end (UTC)."""
    now = datetime.now(ZoneInfo("Europe/Berlin")).replace(microsecond=0)
    end = now + QUIET_FOR
    return f"{now - timedelta(minutes=1):%H:%M:%S}-{end:%H:%M:%S}", end.astimezone(UTC)


def relay_at(h, http: httpx.AsyncClient, clock: Callable[[], datetime]) -> OutboxRelay:
    """The worker's outbox relay (`worker.outbox_relay`), on the harness's settings and a clock of the test's."""
    notifications = NotificationActivities(h.engine, h.settings.mail(), http, h.settings.merchant_secrets(),
                                           ops_email=h.settings.ops_email, clock=clock)
    return OutboxRelay(notifications, every=timedelta(seconds=1))


@asynccontextmanager
async def client():
    async with httpx.AsyncClient(timeout=5) as http:
        yield http


def rows(h, shipment_id: str, **where: Any) -> list[OutboxRow]:
    return [r for r in messages_of(h.engine, shipment_id) if all(getattr(r, k) == v for k, v in where.items())]


def sent_for(report, shipment_id: str) -> list[str]:
    """What a relay round sent of one shipment's messages: the harness's database holds other tests' rows too,
    and the relay sends every shipment's."""
    return sorted(m for m in report.sent if m.startswith(f"{shipment_id}:"))


async def closed(h, shipment_id: str) -> WorkflowExecutionStatus | None:
    return (await h.handle(shipment_id).describe()).status


async def test_a_delivered_shipment_closes_while_its_held_emails_wait_for_the_relay(harness_factory, mail_server):
    """Quiet hours cover the whole journey: the workflow closes (Completed) as soon as the parcel is delivered and
    the merchant told, its customer e-mails stay queued, and the relay sends them once the quiet hours end. Before,
    the workflow stayed Running until the quiet hours ended, only to send them."""
    quiet, end = quiet_now()
    async with harness_factory(quiet_hours=quiet) as h, client() as http:
        shipment_id = unique_id("held")
        await h.start(express("basic-cn-de.json", shipment_id))
        state = await h.result(shipment_id, timeout=60)
        assert state.status is Status.DELIVERED
        assert await closed(h, shipment_id) is WorkflowExecutionStatus.COMPLETED

        held = rows(h, shipment_id, audience="customer")
        assert [r.kind for r in held] == [n.kind.value for n in state.notices]
        assert {r.state for r in held} == {OutboxState.PENDING}
        assert all(r.not_before.replace(tzinfo=UTC) == end for r in held)
        await h.until_notified(shipment_id)  # the worker's relay sends what is due (the webhooks)
        assert {r.state for r in rows(h, shipment_id, audience="customer")} == {OutboxState.PENDING}
        assert {r.state for r in rows(h, shipment_id, channel="webhook")} == {OutboxState.SENT}
        assert mails_of(mail_server, shipment_id, CUSTOMER) == []

        relay = relay_at(h, http, clock=lambda: end + timedelta(seconds=1))
        early = await relay_at(h, http, clock=lambda: end - timedelta(minutes=1)).round()
        assert sent_for(early, shipment_id) == [], "not before the quiet hours end"
        report = await relay.round()
        assert sent_for(report, shipment_id) == sorted(r.id for r in held)
        assert {r.state for r in rows(h, shipment_id, audience="customer")} == {OutboxState.SENT}
        mails = mails_of(mail_server, shipment_id, CUSTOMER)
        assert sorted(m["Message-ID"] for m in mails) == sorted(message_id(r.id) for r in held)


async def test_a_compensated_shipment_withdraws_its_held_booked_email_and_tells_merchant_and_ops(harness_factory,
                                                                                                 mail_server):
    """Customs refuses the filing while the 'booked' e-mail waits for the morning: it is withdrawn, never sent,
    while the merchant gets `shipment.compensated` and ops an alert; the workflow closes at once."""
    quiet, end = quiet_now()
    async with harness_factory(quiet_hours=quiet) as h, client() as http:
        shipment_id = unique_id("undone")
        await h.add_fault(partner="clearpath", operation="file", shipment_id=shipment_id, kind="reject",
                          code="RESTRICTED_GOODS", message="goods restricted at destination")
        await h.start(load_example("basic-cn-de.json", shipment_id))
        state = await h.result(shipment_id, timeout=60)
        assert state.status is Status.COMPENSATED
        assert [n.kind for n in state.notices] == [NoticeKind.BOOKED, NoticeKind.COMPENSATED]
        assert await closed(h, shipment_id) is WorkflowExecutionStatus.COMPLETED

        await h.until_notified(shipment_id)
        [booked] = rows(h, shipment_id, audience="customer")
        assert (booked.kind, booked.state) == ("booked", OutboxState.WITHDRAWN)
        report = await relay_at(h, http, clock=lambda: end + timedelta(hours=1)).round()
        assert sent_for(report, shipment_id) == [] and mails_of(mail_server, shipment_id, CUSTOMER) == []

        events = (await merchant_events(h, shipment_id))["events"]
        assert [e["payload"]["type"] for e in events] == ["shipment.booked", "shipment.compensated"]
        assert events[-1]["payload"]["reason_code"] == "RESTRICTED_GOODS"
        [alert] = mails_of(mail_server, shipment_id, h.settings.ops_email)
        assert "compensated" in alert["Subject"] and "RESTRICTED_GOODS" in alert.get_body(("plain",)).get_content()


async def test_a_cancelled_shipment_tells_the_customer_who_was_told_before_in_their_language(harness,
                                                                                              mail_server):
    shipment_id = unique_id("told")
    await harness.add_fault(operation="handover", shipment_id=shipment_id, kind="scenario", scenario="stalled")
    await harness.start(load_example("basic-cn-de.json", shipment_id))
    await harness.wait_until(shipment_id, lambda s: s.stage is Stage.TRANSIT)
    for _ in range(200):  # the 'booked' e-mail reaches the customer
        if mails_of(mail_server, shipment_id, CUSTOMER):
            break
        await asyncio.sleep(0.05)
    response = await harness.api.post(f"/v1/shipments/{shipment_id}/cancel",
                                      json={"actor": "ops@test", "reason": "customer withdrew the order"})
    assert response.status_code == 202, response.text
    state = await harness.result(shipment_id)
    assert state.status is Status.CANCELLED and state.notices[-1].kind is NoticeKind.CANCELLED
    await harness.until_notified(shipment_id)

    german = catalog("de")
    subjects = [m["Subject"] for m in mails_of(mail_server, shipment_id, CUSTOMER)]
    assert subjects[-1] == german.text("notice.cancelled.subject", order_ref=state_order_ref(harness, shipment_id))
    assert [m["Content-Language"] for m in mails_of(mail_server, shipment_id, CUSTOMER)][-1] == "de"
    events = (await merchant_events(harness, shipment_id))["events"]
    assert events[-1]["payload"]["type"] == "shipment.cancelled"
    [alert] = mails_of(mail_server, shipment_id, harness.settings.ops_email)
    assert "cancelled" in alert["Subject"]


def state_order_ref(h, shipment_id: str) -> str:
    return rows(h, shipment_id, kind="cancelled", audience="merchant")[0].payload["order_ref"]


async def test_a_shipment_rejected_before_booking_tells_merchant_and_ops_but_not_the_customer(harness, mail_server):
    shipment_id = unique_id("embargo")
    body = load_example("basic-cn-de.json", shipment_id)
    body["destination"].update(country="CU", city="Havana", postal_code="10400", locale="es-CU")
    await harness.start(body)
    state = await harness.result(shipment_id)
    assert state.status is Status.REJECTED
    [notice] = state.notices
    assert (notice.kind, notice.customer, notice.reason_code) == (NoticeKind.REJECTED, False, "EMBARGOED_DESTINATION")
    await harness.until_notified(shipment_id)

    events = (await merchant_events(harness, shipment_id))["events"]
    assert [e["payload"]["type"] for e in events] == ["shipment.rejected"]
    assert events[0]["payload"]["reason_code"] == "EMBARGOED_DESTINATION"
    assert rows(harness, shipment_id, audience="customer") == []
    [alert] = mails_of(mail_server, shipment_id, harness.settings.ops_email)
    assert "rejected" in alert["Subject"]
