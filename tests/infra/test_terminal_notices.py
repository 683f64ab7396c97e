"""What a shipment's ending does to its outbox (issue 19): a compensated, rejected or cancelled shipment withdraws
the customer e-mails that are no longer true, tells its merchant (signed webhook `shipment.<kind>`) and ops (alert),
and tells the customer in their language only when they were already told something.

On a real SQLite read model, through the projection's own transaction (`apply_projection`)."""

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from infra.persistence.db import apply_projection, make_engine, migrate
from infra.persistence.outbox import OutboxRow, OutboxState, claim_due, mark_sent
from infra.platform.notice_config import NoticeConfig
from tests.support import unique_id
from tradelane.enums import NoticeKind, Stage, Status
from tradelane.eta.estimate import Eta
from tradelane.notify import QuietHours
from tradelane.notify.catalog import catalog
from tradelane.shipment.projection import ProjectionUpdate, Recipient
from tradelane.shipment.state import TERMINAL_NOTICES, WITHDRAWN_AT_END, Notice, ShipmentState, Transition

EVENING = datetime(2026, 12, 7, 21, 30, tzinfo=UTC)
"""22:30 in Berlin: inside the quiet hours, so the customer's e-mails wait for 08:00."""
MORNING = datetime(2026, 12, 8, 7, 0, tzinfo=UTC)
"""08:00 in Berlin: the quiet hours are over."""
MERCHANT_HOOK = "http://merchant.test/hooks/tradelane"
OPS = "ops@tradelane.test"
CUSTOMER = "kundin@example.de"
CONFIG = NoticeConfig(quiet_hours=QuietHours.parse("21:00-08:00"), ops_email=OPS,
                      default_merchant_webhook=MERCHANT_HOOK)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    url = f"sqlite:///{tmp_path / 'read_model.db'}"
    migrate(url)
    engine = make_engine(url)
    yield engine
    engine.dispose()


class Shipment:
    """A shipment's snapshots as its workflow sends them: each with the notices not projected before."""

    def __init__(self, engine: Engine, *, recipient_email: str | None = CUSTOMER) -> None:
        self.engine = engine
        self.state = ShipmentState(
            shipment_id=unique_id("END"), workflow_id="shipment:x", origin_country="CN", destination_country="DE",
            merchant_id="acme-store", declared_value="49.90", currency="EUR",
            transitions=[Transition(seq=0, stage=Stage.BOOKING, status=Status.IN_PROGRESS, at=EVENING)])
        self.recipient = Recipient(email=recipient_email, locale="de-DE", country="DE")
        self.version = 0

    def notify(self, kind: NoticeKind, at: datetime, **fields: object) -> Notice:
        notice = Notice(seq=len(self.state.notices), kind=kind, at=at, **fields)
        self.state.notices.append(notice)
        self.version += 1
        if kind in TERMINAL_NOTICES.values():
            self.state.status = next(s for s, k in TERMINAL_NOTICES.items() if k is kind)
        assert apply_projection(self.engine, ProjectionUpdate(
            version=self.version, state=self.state, notices=[notice], recipient=self.recipient,
            order_ref="ORD-1042"), CONFIG)
        return notice

    def rows(self) -> dict[str, OutboxRow]:
        with Session(self.engine) as session:
            rows = session.exec(select(OutboxRow).where(col(OutboxRow.shipment_id) == self.state.shipment_id))
            return {row.id: row for row in rows}

    def row(self, notice: Notice, channel: str, audience: str) -> OutboxRow | None:
        return self.rows().get(f"{self.state.shipment_id}:{notice.seq}:{channel}:{audience}")


def test_a_compensated_shipment_withdraws_its_held_booked_email_and_tells_merchant_and_ops(engine):
    """The issue's case: 'booked' held by quiet hours, then customs refuses and the shipment is undone. Before,
    the 'booked' e-mail still went out the next morning and nobody heard of the compensation."""
    shipment = Shipment(engine)
    booked = shipment.notify(NoticeKind.BOOKED, EVENING)
    held = shipment.row(booked, "email", "customer")
    assert held is not None and held.state == OutboxState.PENDING and held.not_before > EVENING

    ended = shipment.notify(NoticeKind.COMPENSATED, EVENING + timedelta(minutes=20), customer=True, ops=True,
                            reason_code="RESTRICTED_GOODS")

    withdrawn = shipment.row(booked, "email", "customer")
    assert withdrawn is not None and withdrawn.state == OutboxState.WITHDRAWN
    assert withdrawn.last_error is not None and "compensated" in withdrawn.last_error
    # The merchant's 'booked' webhook is what did happen: it stays.
    assert shipment.row(booked, "webhook", "merchant").state == OutboxState.PENDING
    hook = shipment.row(ended, "webhook", "merchant")
    assert hook is not None and hook.recipient == MERCHANT_HOOK and hook.subject == "shipment.compensated"
    assert hook.payload["type"] == "shipment.compensated" and hook.payload["reason_code"] == "RESTRICTED_GOODS"
    assert hook.payload["duties_due"] is None
    alert = shipment.row(ended, "email", "ops")
    assert alert is not None and alert.recipient == OPS and "compensated" in alert.subject
    assert "Reason code: RESTRICTED_GOODS" in alert.body_text
    # The customer never got a message about this shipment: nothing to take back, nothing to say.
    assert shipment.row(ended, "email", "customer") is None

    due_in_the_morning = claim_due(engine, MORNING + timedelta(hours=1), shipment_id=shipment.state.shipment_id)
    assert {(r.kind, r.audience) for r in due_in_the_morning} == {
        ("booked", "merchant"), ("compensated", "merchant"), ("compensated", "ops")}


@pytest.mark.parametrize("kind", list(TERMINAL_NOTICES.values()), ids=[k.value for k in TERMINAL_NOTICES.values()])
def test_a_customer_already_told_hears_of_the_end_in_their_language(engine, kind):
    """'booked' was sent; 'shipped' waits for the morning. The ending withdraws 'shipped' and tells the customer,
    in German as their locale says, without ETA or duties."""
    shipment = Shipment(engine)
    booked = shipment.notify(NoticeKind.BOOKED, EVENING - timedelta(hours=5))
    sent = shipment.row(booked, "email", "customer")
    assert sent is not None
    assert [r.id for r in claim_due(engine, EVENING, shipment_id=shipment.state.shipment_id)
            if r.id == sent.id] == [sent.id]
    mark_sent(engine, sent.id, EVENING)
    shipped = shipment.notify(NoticeKind.SHIPPED, EVENING)

    ended = shipment.notify(kind, EVENING + timedelta(minutes=5), customer=True, ops=True, reason_code="X_CODE")

    assert shipment.row(booked, "email", "customer").state == OutboxState.SENT
    assert shipment.row(shipped, "email", "customer").state == OutboxState.WITHDRAWN
    mail = shipment.row(ended, "email", "customer")
    assert mail is not None and mail.recipient == CUSTOMER and mail.locale == "de"
    german = catalog("de")
    assert mail.subject == german.text(f"notice.{kind.value}.subject", order_ref="ORD-1042")
    assert german.text(f"notice.{kind.value}.headline") in mail.body_text
    assert "X_CODE" not in mail.body_text, "the reason code is for the merchant and ops"
    assert german.text("label.eta") not in mail.body_text
    assert mail.not_before >= MORNING, "an ending is held for quiet hours like any customer e-mail"
    assert shipment.row(ended, "webhook", "merchant").payload["type"] == f"shipment.{kind.value}"
    assert shipment.row(ended, "email", "ops") is not None


def test_an_ending_promises_no_arrival_to_the_merchant_or_ops(engine):
    """The workflow's terminal notice copies the state's last ETA; the merchant's webhook and the ops alert of a
    compensated shipment carried it (`eta.expected` 2026-12-16), as if the parcel were still coming."""
    shipment = Shipment(engine)
    eta = Eta(expected=date(2026, 12, 16), earliest=date(2026, 12, 15), latest=date(2026, 12, 18),
              basis="plan air_express:ups", as_of=EVENING)
    ended = shipment.notify(NoticeKind.COMPENSATED, EVENING, customer=True, ops=True, eta=eta,
                            reason_code="RESTRICTED_GOODS")

    hook = shipment.row(ended, "webhook", "merchant")
    assert hook is not None
    assert hook.payload["eta"] == {"expected": None, "earliest": None, "latest": None, "promised": None}
    alert = shipment.row(ended, "email", "ops")
    assert alert is not None and "2026-12-16" not in alert.body_text


def test_a_shipment_rejected_before_booking_tells_merchant_and_ops_only(engine):
    shipment = Shipment(engine)
    ended = shipment.notify(NoticeKind.REJECTED, EVENING, customer=False, ops=True,
                            reason_code="EMBARGOED_DESTINATION")
    assert {(r.channel, r.audience) for r in shipment.rows().values()} == {("webhook", "merchant"), ("email", "ops")}
    assert shipment.row(ended, "webhook", "merchant").payload["reason_code"] == "EMBARGOED_DESTINATION"


def test_a_delivered_shipment_withdraws_nothing(engine):
    """Delivered is true news: a held 'out for delivery' still goes out in the morning, before 'delivered'."""
    shipment = Shipment(engine)
    out = shipment.notify(NoticeKind.OUT_FOR_DELIVERY, EVENING)
    shipment.notify(NoticeKind.DELIVERED, EVENING + timedelta(minutes=30))
    assert shipment.row(out, "email", "customer").state == OutboxState.PENDING
    assert OutboxState.WITHDRAWN not in {r.state for r in shipment.rows().values()}


def test_an_email_being_sent_when_the_shipment_ends_is_withdrawn_unless_its_send_succeeds(engine):
    """A deliverer holds the 'delayed' e-mail when the cancellation lands: the customer may be reading it, so they
    count as told; the row is withdrawn (not retried), and a send that did succeed is still recorded as sent."""
    shipment = Shipment(engine)
    delayed = shipment.notify(NoticeKind.DELAYED, MORNING)
    [claimed] = [r for r in claim_due(engine, MORNING, shipment_id=shipment.state.shipment_id)
                 if r.channel == "email"]
    ended = shipment.notify(NoticeKind.CANCELLED, MORNING + timedelta(minutes=1), customer=True, ops=True)
    assert shipment.row(delayed, "email", "customer").state == OutboxState.WITHDRAWN
    assert shipment.row(ended, "email", "customer") is not None, "the customer may have read 'delayed'"
    mark_sent(engine, claimed.id, MORNING + timedelta(minutes=2))
    assert shipment.row(delayed, "email", "customer").state == OutboxState.SENT


def test_withdrawn_notices_are_the_ones_that_promise_a_delivery():
    """Every notice but 'delivered' and the endings themselves tells the customer the parcel is coming."""
    assert WITHDRAWN_AT_END == set(NoticeKind) - {NoticeKind.DELIVERED, *TERMINAL_NOTICES.values()}
