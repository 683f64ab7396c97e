"""A merchant's profile where the shop is named (issue 19, point 5): the customer's e-mails, the public tracking page
and the commercial invoice's seller block name it by its display name, never by its id slug. A shipment run to
delivery through the real API, worker, Temporal dev server and sandbox; the page read over loopback HTTP."""

import httpx
import pytest

from infra.persistence.outbox import messages_of
from infra.platform.settings import DEV_TRACKING_SECRET
from tests.domain.test_pdf import text
from tests.support import load_example, unique_id
from tradelane.enums import Status
from tradelane.tracking_page import tracking_token

pytestmark = pytest.mark.temporal


async def test_display_name_in_emails_tracking_page_and_invoice(harness, webhook_api):
    merchant = unique_id("shop").lower()
    profile = {"display_name": "Northwind Electronics", "support_email": "help@northwind.example",
               "ioss_number": "IM2760000042"}
    saved = await harness.api.put(f"/v1/merchants/{merchant}/profile", json=profile)
    assert saved.status_code == 200, saved.text
    shipment_id = unique_id("prof")
    body = load_example("basic-cn-de.json", shipment_id)
    body["merchant_id"] = merchant
    await harness.start(body)
    assert (await harness.result(shipment_id)).status is Status.DELIVERED

    mails = [m for m in messages_of(harness.engine, shipment_id) if m.audience == "customer"]
    assert mails, "the customer was e-mailed"
    for mail in mails:
        assert merchant not in mail.subject + mail.body_text + (mail.body_html or "")
        assert "Northwind Electronics" in mail.body_text and "help@northwind.example" in mail.body_text

    async with httpx.AsyncClient(base_url=webhook_api.url, timeout=10) as http:
        page = (await http.get(f"/track/{tracking_token(DEV_TRACKING_SECRET, shipment_id)}?lang=en")).text
    assert 'Your order from <bdi>Northwind Electronics</bdi>' in page and merchant not in page

    invoice = await harness.api.post("/v1/documents/commercial-invoice", json=body)
    shown = text(invoice.content)
    assert "Seller (exporter) Buyer (consignee) Northwind Electronics Acme Trading Co., Ltd." in shown
    assert "IOSS number (seller) IM2760000042" in shown


async def test_without_a_profile_the_page_names_no_shop(harness, webhook_api):
    shipment_id = unique_id("noprof")
    body = load_example("basic-cn-de.json", shipment_id)
    body["merchant_id"] = unique_id("bare").lower()
    await harness.start(body)
    assert (await harness.result(shipment_id)).status is Status.DELIVERED
    async with httpx.AsyncClient(base_url=webhook_api.url, timeout=10) as http:
        page = (await http.get(f"/track/{tracking_token(DEV_TRACKING_SECRET, shipment_id)}?lang=en")).text
    assert 'data-shipment-status="delivered"' in page
    assert 'id="merchant"' not in page and body["merchant_id"] not in page
