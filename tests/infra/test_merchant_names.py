"""Customer e-mails name the shop by its profile's display name and give its support contact (issue 19, point 5);
only a merchant without a profile is named by its id. On a real SQLite read model, through the projection's own
transaction (`apply_projection`), which reads the profile in that transaction."""

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from infra.persistence.db import apply_projection, make_engine, migrate
from infra.persistence.merchants import save_profile
from infra.persistence.outbox import OutboxRow
from infra.platform.notice_config import NoticeConfig
from tests.support import unique_id
from tradelane.enums import NoticeKind, Stage, Status
from tradelane.shipment.projection import ProjectionUpdate, Recipient
from tradelane.shipment.state import Notice, ShipmentState, Transition

AT = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)
CONFIG = NoticeConfig(ops_email="ops@tradelane.test")


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    url = f"sqlite:///{tmp_path / 'read_model.db'}"
    migrate(url)
    engine = make_engine(url)
    yield engine
    engine.dispose()


def booked_email(engine: Engine, merchant_id: str, locale: str = "en-US", country: str = "US") -> OutboxRow:
    state = ShipmentState(
        shipment_id=unique_id("MN"), workflow_id="shipment:x", origin_country="CN", destination_country=country,
        merchant_id=merchant_id, declared_value="49.90", currency="USD", tracking_number="1Z999",
        transitions=[Transition(seq=0, stage=Stage.BOOKING, status=Status.IN_PROGRESS, at=AT)])
    notice = Notice(seq=0, kind=NoticeKind.BOOKED, at=AT)
    state.notices.append(notice)
    assert apply_projection(engine, ProjectionUpdate(
        version=1, state=state, notices=[notice], order_ref="ORD-7",
        recipient=Recipient(email="ann@example.com", locale=locale, country=country)), CONFIG)
    with Session(engine) as session:
        return session.exec(select(OutboxRow).where(col(OutboxRow.shipment_id) == state.shipment_id,
                                                    col(OutboxRow.audience) == "customer")).one()


def test_customer_email_names_the_shop_by_its_display_name_and_gives_its_support_contact(engine):
    with Session(engine) as session:
        save_profile(session, "northwind-electronics", {"display_name": "Northwind Electronics",
                                                        "support_email": "help@northwind.example"})
        session.commit()
    mail = booked_email(engine, "northwind-electronics")
    for body in (mail.subject + mail.body_text, mail.body_html or ""):
        assert "northwind-electronics" not in body
    assert "Northwind Electronics" in mail.body_text and "Northwind Electronics" in (mail.body_html or "")
    assert "Questions about your order? Contact Northwind Electronics: help@northwind.example" in mail.body_text
    assert "help@northwind.example" in (mail.body_html or "")


def test_support_page_when_there_is_no_support_email_in_the_recipients_language(engine):
    with Session(engine) as session:
        save_profile(session, "acme-store", {"display_name": "Acme", "support_url": "https://acme.example/help"})
        session.commit()
    mail = booked_email(engine, "acme-store", locale="de-DE", country="DE")
    assert "Fragen zu Ihrer Bestellung? Wenden Sie sich bitte an Acme: https://acme.example/help" in mail.body_text


def test_a_merchant_without_a_profile_is_named_by_its_id_and_no_support_line_is_invented(engine):
    mail = booked_email(engine, "voltcraft-direct")
    assert "voltcraft-direct" in mail.body_text
    assert "Questions about your order?" not in mail.body_text
