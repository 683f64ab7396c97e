"""Who can open a shipment's public tracking page, and what it shows (issue 18), over real loopback HTTP from the
read model of a shipment that really went through the workflow.

Findings: the page was keyed by the carrier's tracking number, which carriers hand out in sequence (SX0000000001..5
all resolved), and it showed the recipient's postcode (in the last mile's event locations).
"""

import re

import httpx
import pytest
from sqlmodel import Session, select

from infra.persistence.db import TrackingEventRow
from infra.persistence.outbox import messages_of
from infra.platform.settings import DEV_TRACKING_SECRET
from tests.support import load_example, unique_id
from tradelane.enums import Status
from tradelane.tracking_page import tracking_token

pytestmark = pytest.mark.temporal

RECIPIENT = load_example("basic-cn-de.json")["destination"]


_DELIVERED: dict[str, tuple[str, str]] = {}


@pytest.fixture
async def delivered(harness_factory) -> tuple[str, str]:
    """A shipment run to delivery (once for this module's tests): its id and its carrier tracking number."""
    if "shipment" not in _DELIVERED:
        shipment_id = unique_id("track")
        async with harness_factory() as harness:
            await harness.start(load_example("basic-cn-de.json", shipment_id))
            state = await harness.result(shipment_id)
        assert state.status is Status.DELIVERED and state.tracking_number
        _DELIVERED["shipment"] = (shipment_id, state.tracking_number)
    return _DELIVERED["shipment"]


async def get(webhook_api, path: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=webhook_api.url, timeout=10) as http:
        return await http.get(path, headers={"Accept-Language": "en"})


async def test_the_carrier_number_alone_does_not_open_the_page(webhook_api, delivered):
    _, tracking_number = delivered
    response = await get(webhook_api, f"/track/{tracking_number}")
    assert response.status_code == 404
    assert 'data-shipment-status="not_found"' in response.text


async def test_the_token_opens_the_page_with_country_but_no_postcode_street_or_name(webhook_api, db_engine,
                                                                                     delivered):
    shipment_id, tracking_number = delivered
    response = await get(webhook_api, f"/track/{tracking_token(DEV_TRACKING_SECRET, shipment_id)}?lang=en")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store" and response.headers["Referrer-Policy"] == "no-referrer"
    page = response.text
    assert tracking_number in page and 'data-shipment-status="delivered"' in page
    assert re.search(r'<dd id="destination">Germany</dd>', page)
    # The last mile reported the recipient's postcode with its events: the read model has it, the page does not.
    with Session(db_engine) as session:
        locations = session.exec(select(TrackingEventRow.location).where(
            TrackingEventRow.shipment_id == shipment_id)).all()
    assert any(RECIPIENT["postal_code"] in location for location in locations)
    for personal in (RECIPIENT["postal_code"], *RECIPIENT["address_lines"], *RECIPIENT["name"].split(),
                     RECIPIENT["email"], RECIPIENT["phone"]):
        assert personal not in page, personal


async def test_a_wrong_token_and_a_carrier_number_get_the_same_404(webhook_api, delivered):
    shipment_id, tracking_number = delivered
    token = tracking_token(DEV_TRACKING_SECRET, shipment_id)
    wrong = [tracking_token("another-secret", shipment_id), tracking_token(DEV_TRACKING_SECRET, shipment_id + "x"),
             token[:-1] + ("a" if token[-1] != "a" else "b"), token.upper(), tracking_number]
    answers = [await get(webhook_api, f"/track/{value}") for value in wrong]
    assert [a.status_code for a in answers] == [404] * len(wrong)
    # One shape: the same page and headers whatever was wrong, apart from the echo of what was asked for.
    shapes = {a.text.replace(value, "<asked>") for a, value in zip(answers, wrong, strict=True)}
    assert len(shapes) == 1
    assert len({tuple(sorted((k, v) for k, v in a.headers.items() if k not in ("content-length", "date")))
                for a in answers}) == 1


async def test_the_recipients_e_mails_link_to_the_token_not_the_carrier_number(db_engine, delivered):
    shipment_id, tracking_number = delivered
    token = tracking_token(DEV_TRACKING_SECRET, shipment_id)
    mails = [m for m in messages_of(db_engine, shipment_id) if m.audience == "customer"]
    linked = [m for m in mails if "/track/" in m.body_text]
    assert linked, [m.subject for m in mails]
    for mail in linked:
        assert f"/track/{token}" in mail.body_text and f"/track/{token}" in (mail.body_html or "")
        assert f"/track/{tracking_number}" not in mail.body_text
