"""The shop's logo where the customer meets the shop (issue 19, point 5): a merchant's backend sets its profile's logo
through the API; the customer's HTML e-mail shows it (its plain text names the shop), and the public tracking page,
served over loopback HTTP by the real API app from a migrated SQLite read model, shows it under a policy that
allows images from that logo's origin alone. A merchant without a profile gets no image anywhere.

No workflow is needed: the read model's projection (`apply_projection`, the path the worker's snapshots take)
records the shipment, its tracking token and its e-mails.
"""

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from infra.persistence.db import apply_projection, make_engine, migrate
from infra.persistence.outbox import OutboxRow
from infra.platform.http_server import ServedApp
from infra.platform.notice_config import NoticeConfig
from infra.platform.settings import DEV_TRACKING_SECRET, Settings
from starter.api import create_app
from tests.domain.test_tracking_page import Document
from tests.support import unique_id
from tradelane.enums import NoticeKind, Stage, Status
from tradelane.shipment.projection import ProjectionUpdate, Recipient
from tradelane.shipment.state import Notice, ShipmentState, Transition
from tradelane.tracking_page import tracking_token

AT = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)
CONFIG = NoticeConfig(tracking_url="https://track.example/track", tracking_secret=SecretStr(DEV_TRACKING_SECRET))
SHOP_KEY = "northwind-key-" + "n" * 30
KEYS = [{"name": "northwind", "role": "backend", "key": SHOP_KEY, "merchants": ["northwind-electronics"]}]
LOGO = "https://cdn.northwind.example/brand/logo.png?v=2&size=96"


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    url = f"sqlite:///{tmp_path / 'read_model.db'}"
    migrate(url)
    return make_engine(url)


@pytest.fixture
async def api(engine) -> AsyncIterator[httpx.AsyncClient]:
    """The API on a real loopback port (its Temporal client connects lazily and is never needed here)."""
    served = await ServedApp(create_app(Settings(_env_file=None, environment="test", api_keys=KEYS),
                                        engine=engine)).start()
    try:
        async with httpx.AsyncClient(base_url=served.url, timeout=10) as http:
            yield http
    finally:
        await served.stop()


async def set_logo(api: httpx.AsyncClient) -> None:
    saved = await api.put("/v1/merchants/northwind-electronics/profile",
                          headers={"Authorization": f"Bearer {SHOP_KEY}"},
                          json={"display_name": "Northwind Electronics", "logo_url": LOGO})
    assert saved.status_code == 200, saved.text


def booked(engine: Engine, merchant_id: str) -> tuple[str, OutboxRow]:
    """A booked shipment of `merchant_id` projected into the read model: its tracking page's path and the
    customer's e-mail."""
    state = ShipmentState(
        shipment_id=unique_id("LOGO"), workflow_id="shipment:x", origin_country="CN", destination_country="DE",
        merchant_id=merchant_id, declared_value="49.90", currency="EUR", tracking_number="1Z999AA10123456784",
        transitions=[Transition(seq=0, stage=Stage.BOOKING, status=Status.IN_PROGRESS, at=AT)])
    notice = Notice(seq=0, kind=NoticeKind.BOOKED, at=AT)
    state.notices.append(notice)
    assert apply_projection(engine, ProjectionUpdate(
        version=1, state=state, notices=[notice], order_ref="ORD-7",
        recipient=Recipient(email="ann@example.com", locale="de-DE", country="DE")), CONFIG)
    with Session(engine) as session:
        mail = session.exec(select(OutboxRow).where(col(OutboxRow.shipment_id) == state.shipment_id,
                                                    col(OutboxRow.audience) == "customer")).one()
    return f"/track/{tracking_token(DEV_TRACKING_SECRET, state.shipment_id)}", mail


async def test_the_customers_email_and_tracking_page_show_the_shops_logo(api, engine):
    await set_logo(api)
    path, mail = booked(engine, "northwind-electronics")

    images = Document(mail.body_html or "").all("img")
    assert [(i.attrs["src"], i.attrs["alt"]) for i in images] == [(LOGO, "Northwind Electronics")]
    assert 'src="https://cdn.northwind.example/brand/logo.png?v=2&amp;size=96"' in (mail.body_html or "")
    assert "Northwind Electronics" in mail.body_text and "cdn.northwind.example" not in mail.body_text

    response = await api.get(path, params={"lang": "de"})
    assert response.status_code == 200
    logo = Document(response.text).by_id("shop-logo")
    assert (logo.attrs["src"], logo.attrs["alt"]) == (LOGO, "Northwind Electronics")
    assert 'src="https://cdn.northwind.example/brand/logo.png?v=2&amp;size=96"' in response.text
    policy = response.headers["Content-Security-Policy"]
    assert "img-src https://cdn.northwind.example;" in policy and "default-src 'none'" in policy
    assert response.headers["Referrer-Policy"] == "no-referrer"


async def test_without_a_profile_no_logo_and_no_image_allowed(api, engine):
    path, mail = booked(engine, "voltcraft-direct")
    assert "<img" not in (mail.body_html or "")
    response = await api.get(path, params={"lang": "en"})
    assert response.status_code == 200 and "<img" not in response.text
    assert "img-src 'none'" in response.headers["Content-Security-Policy"]


async def test_a_logo_that_is_not_https_never_reaches_the_page_or_email(api, engine):
    """The API refuses it (422 naming the field); a row written past the API (by hand, an older version) is left
    out of e-mails and page instead of failing them."""
    refused = await api.put("/v1/merchants/northwind-electronics/profile",
                            headers={"Authorization": f"Bearer {SHOP_KEY}"},
                            json={"display_name": "Northwind Electronics", "logo_url": "http://cdn.example/l.png"})
    assert refused.status_code == 422 and "logo_url" in refused.text
    await set_logo(api)
    with engine.begin() as connection:
        connection.exec_driver_sql("UPDATE merchant_profiles SET logo_url = 'javascript:alert(1)'")
    path, mail = booked(engine, "northwind-electronics")
    assert "<img" not in (mail.body_html or "") and "javascript:" not in (mail.body_html or "")
    response = await api.get(path, params={"lang": "en"})
    assert response.status_code == 200 and "Northwind Electronics" in response.text
    assert "<img" not in response.text and "javascript:" not in response.text
