"""Poison messages end (issue 18): a notification or a read-model snapshot that fails the same way every time is
given up as a dead letter, with one ops alert, instead of being retried forever; a transient failure is still
retried. Real services: a migrated SQLite outbox (PostgreSQL for the NUL case), the development SMTP server,
Temporal's ActivityEnvironment."""
# ruff: noqa: F811  (the delivery tests' fixtures are imported, and pytest passes them by name)

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update
from sqlmodel import Session, select
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.notifications import NOTIFICATION_UNDELIVERED
from activities.poison import DEAD_LETTERED, deterministic
from activities.read_model import ReadModelActivities
from infra.persistence.db import ShipmentRow, make_engine
from infra.persistence.dead_letters import DeadLetterRow, describe, open_letters
from infra.persistence.outbox import OutboxRow, OutboxState, claim_due, mark_failed
from infra.platform.notice_config import NoticeConfig
from tests.activities.test_notifications import (  # noqa: F401  (fixtures)
    activities,
    add,
    clock,
    deliver,
    email,
    engine,
    http,
    mail_server,
    rows,
    shipment_id,
)
from tests.support import load_example
from tradelane.enums import Stage, Status
from tradelane.models import RECORDED, ShipmentRequest
from tradelane.shipment.events import CarrierEvent
from tradelane.shipment.projection import ProjectionUpdate, Recipient
from tradelane.shipment.state import ShipmentState, Transition

OPS = "ops@tradelane.test"


def letters(engine, shipment_id: str) -> list[DeadLetterRow]:
    return open_letters(engine, shipment_id=shipment_id)


async def test_an_email_that_cannot_be_built_is_a_dead_letter_with_one_ops_alert(engine, activities, clock,
                                                                                mail_server, shipment_id):
    """The order reference with CR/LF went into the subject; building the e-mail raised ValueError on every retry
    and only `DeliveryFailed` was handled, so the activity (and the workflow waiting for it) retried forever."""
    mail_server.start()
    poison = email(shipment_id, clock).model_copy(update={"subject": "Order PO-1\r\nBcc: everyone@example.com"})
    add(engine, poison)
    acts = activities(ops_email=OPS)

    report = await deliver(acts, shipment_id)  # returns: nothing left to retry

    assert report.failed == [poison.id]
    [letter] = letters(engine, shipment_id)
    assert (letter.kind, letter.message_key, letter.error_type) == ("notification", poison.id, "ValueError")
    assert "kunde@example.de" not in letter.error and "\n" not in letter.error
    assert rows(engine, shipment_id)[poison.id].state == OutboxState.FAILED
    # The alert is due at once (the workflow comes back for it), and goes out on the next delivery.
    assert report.next_due is not None and report.next_due <= clock()
    again = await deliver(acts, shipment_id)
    [alert] = mail_server.messages()
    assert alert["To"] == OPS and f"of shipment {shipment_id}" in str(alert["Subject"])
    assert again.sent == [f"{shipment_id}:dead-letter:{letter.id}:email:ops"]
    # Delivering again changes nothing: one dead letter, one alert.
    await deliver(acts, shipment_id)
    assert len(letters(engine, shipment_id)) == 1 and len(mail_server.messages()) == 1


async def test_a_transient_failure_is_retried_then_dead_lettered_at_the_attempt_cap(engine, activities, clock,
                                                                                 shipment_id):
    add(engine, email(shipment_id, clock))  # the mail relay is down: connection refused
    acts = activities(max_attempts=3, ops_email=OPS)
    for _ in range(2):
        with pytest.raises(ApplicationError) as err:
            await deliver(acts, shipment_id)
        assert (err.value.type, err.value.non_retryable) == (NOTIFICATION_UNDELIVERED, False)
        assert letters(engine, shipment_id) == []
        clock.advance(timedelta(seconds=5))
    report = await deliver(acts, shipment_id)  # the third claim is the last
    [letter] = letters(engine, shipment_id)
    assert (report.failed, letter.attempts) == ([f"{shipment_id}:1:email:customer"], 3)
    assert letter.error_type in ("ConnectionRefusedError", "OSError", "SMTPConnectError")


async def test_a_row_whose_claims_all_expired_is_not_claimed_forever(engine, activities, clock, shipment_id):
    """Each claim's deliverer died or hung (no outcome recorded): before, the expired lease made the row claimable
    again without end."""
    message = email(shipment_id, clock)
    add(engine, message)
    with Session(engine) as session:
        session.exec(update(OutboxRow).where(OutboxRow.id == message.id).values(  # type: ignore[call-overload]
            state=OutboxState.SENDING, attempts=10, lease_until=clock() - timedelta(seconds=1)))
        session.commit()
    assert claim_due(engine, clock(), shipment_id=shipment_id, max_attempts=10) == []
    report = await deliver(activities(max_attempts=10), shipment_id)
    [letter] = letters(engine, shipment_id)
    assert (report.failed, letter.error_type, letter.attempts) == ([message.id], "ClaimsExhausted", 10)
    assert rows(engine, shipment_id)[message.id].state == OutboxState.FAILED


async def test_a_row_failed_by_a_deliverer_killed_before_its_dead_letter_is_recorded_next_time(
        engine, activities, clock, mail_server, shipment_id):
    """The fault matrix SIGKILLed a worker between the row's `failed` and its dead letter (two writes): the message
    was given up and nobody told. The shipment's next delivery records it, with its one ops alert."""
    mail_server.start()
    poison = email(shipment_id, clock).model_copy(update={"subject": "Order PO-1\r\nBcc: everyone@example.com"})
    add(engine, poison)
    [claimed] = claim_due(engine, clock(), shipment_id=shipment_id, max_attempts=10)
    assert mark_failed(engine, claimed.id, "the email cannot be built: ValueError", clock(), max_attempts=10,
                       permanent=True, attempt=claimed.attempts) is OutboxState.FAILED
    assert letters(engine, shipment_id) == []  # killed here

    report = await deliver(activities(ops_email=OPS), shipment_id)

    [letter] = letters(engine, shipment_id)
    assert (report.failed, letter.message_key) == ([poison.id], poison.id)
    assert "ValueError" in letter.error
    assert report.sent == [f"{shipment_id}:dead-letter:{letter.id}:email:ops"]
    [alert] = mail_server.messages()
    assert alert["To"] == OPS
    await deliver(activities(ops_email=OPS), shipment_id)
    assert len(letters(engine, shipment_id)) == 1 and len(mail_server.messages()) == 1, "recorded and told once"


@pytest.mark.parametrize(("error", "expected"), [
    (ValueError("Header values may not contain linefeed or carriage return characters"), True),
    (TypeError("Object of type Decimal is not JSON serializable"), True),
    (ConnectionRefusedError(111, "Connection refused"), False),
    (TimeoutError(), False),
    (RuntimeError("something else"), False),
])
def test_deterministic_errors_are_told_from_transient_ones(error, expected):
    assert deterministic(error) is expected


def test_an_unknown_error_counts_as_deterministic_at_the_cap():
    assert (deterministic(RuntimeError("x"), attempt=19, max_attempts=20),
            deterministic(RuntimeError("x"), attempt=20, max_attempts=20)) == (False, True)


def update_for(shipment_id: str, *, merchant_id: str = "acme-store", location: str = "Rotterdam",
               version: int = 1) -> ProjectionUpdate:
    body = load_example("basic-cn-de.json", shipment_id)
    body["merchant_id"] = merchant_id
    request = ShipmentRequest.model_validate(body, context=RECORDED)  # as a started workflow holds it
    now = datetime.now(UTC)
    state = ShipmentState(shipment_id=shipment_id, workflow_id=f"shipment:{shipment_id}", origin_country="CN",
                          destination_country="DE", merchant_id=request.merchant_id,
                          declared_value=request.declared_value, currency=request.currency,
                          transitions=[Transition(seq=0, stage=Stage.BOOKING, status=Status.IN_PROGRESS, at=now)])
    event = CarrierEvent.model_construct(  # constructed, as an event from before the boundary cleaned them would be
        event_id="ev-1", partner="roadlink", shipment_id=shipment_id, code="ARRIVED", status="arrived_at_destination",
        description="", location=location, occurred_at=now, tracking_number=None, booking_ref=None, sequence=None,
        received_seq=1, via="poll")
    return ProjectionUpdate(version=version, state=state, events=[event], notices=[],
                            recipient=Recipient(email=None, locale=None, country="DE", region=None),
                            order_ref=request.order_ref)


@pytest.fixture(scope="module")
def pg(pg_engine):
    return pg_engine


@pytest.mark.parametrize("poison", ["merchant_id", "location"])
async def test_a_nul_postgres_cannot_store_is_a_dead_letter_not_endless_retries(pg, poison):
    """PostgreSQL refuses a NUL with `DataError`; before, the projection retried it without limit."""
    shipment_id = f"PG-NUL-{poison}-{datetime.now(UTC).strftime('%H%M%S%f')}"
    update_ = update_for(shipment_id, **{poison: "bad\x00value"})
    acts = ReadModelActivities(pg, NoticeConfig(ops_email=OPS))

    with pytest.raises(ApplicationError) as err:
        await ActivityEnvironment().run(acts.project, update_)
    assert (err.value.type, err.value.non_retryable) == (DEAD_LETTERED, True)
    assert "bad" not in str(err.value)
    [letter] = letters(pg, shipment_id)
    assert (letter.kind, letter.message_key, letter.error_type) == ("projection", shipment_id, "DataError")
    with Session(pg) as session:
        assert session.get(ShipmentRow, shipment_id) is None  # the snapshot itself was not written
        [alert] = session.exec(select(OutboxRow).where(OutboxRow.shipment_id == shipment_id)).all()
    assert (alert.recipient, alert.audience, alert.kind) == (OPS, "ops", "dead_letter")

    # The next snapshot fails the same way: the same dead letter, counted, and no second alert.
    with pytest.raises(ApplicationError):
        await ActivityEnvironment().run(acts.project, update_.model_copy(update={"version": 2}))
    [again] = letters(pg, shipment_id)
    assert again.id == letter.id
    with Session(pg) as session:
        assert len(session.exec(select(OutboxRow).where(OutboxRow.shipment_id == shipment_id)).all()) == 1


async def test_a_database_that_is_down_is_retried_not_dead_lettered(tmp_path):
    """No connection is transient: the activity's error stays retryable (and there is nowhere to record a letter)."""
    down = make_engine("postgresql+psycopg://tradelane@127.0.0.1:9/postgres?connect_timeout=1")
    acts = ReadModelActivities(down, NoticeConfig(ops_email=OPS))
    with pytest.raises(Exception) as err:
        await asyncio.wait_for(ActivityEnvironment().run(acts.project, update_for("PG-DOWN-1")), 30)
    assert not isinstance(err.value, ApplicationError)
    assert not deterministic(err.value)


def test_an_error_is_described_without_the_values_it_quotes():
    err = ValueError("refused kunde@example.de\nDETAIL: Key (merchant_id)=(secret-shop) already exists")
    assert describe(err, redact=("kunde@example.de",)) == ("ValueError", "refused <redacted>")
