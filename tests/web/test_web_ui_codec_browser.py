"""The Temporal Web UI of the dev server (UI 2.54, Server 1.32) in a real headless Chromium, decoding Tradelane's
encrypted payloads in the browser through the API's codec server, as ops see a shipment.

The shipment's input reaches the server encrypted (AES-GCM); only the codec turns it back into JSON for the page.
With the codec's answer blocked, the same page shows no plaintext.
"""

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, Route, async_playwright
from temporalio.client import Client

from devstack.devserver import TESTED_CLI, DevServer, start_dev_server
from devstack.ports import free_port
from infra.persistence.db import make_engine, migrate
from infra.platform.http_server import ServedApp
from infra.platform.settings import DEV_API_KEYS, Settings
from starter.api import create_app
from tests.support import load_example, unique_id
from tests.web.test_tracking_page_browser import chromium_path
from tradelane.models import ShipmentRequest
from tradelane.shipment.run import ShipmentInput

pytestmark = pytest.mark.temporal


@dataclass
class UiStack:
    server: DevServer
    codec_requests: list[str]
    codec_statuses: list[tuple[str, int]]


@pytest.fixture(scope="module")
async def ui_stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[UiStack]:
    """A dev server with its Web UI, whose codec endpoint is the real API's `/codec`, as `make up` runs them."""
    api_port, ui_port = free_port(), free_port()
    server = await start_dev_server(ui_port=ui_port, ui_codec_endpoint=f"http://127.0.0.1:{api_port}/codec",
                                    startup_timeout=timedelta(minutes=2))
    url = f"sqlite:///{tmp_path_factory.mktemp('ui') / 'read_model.db'}"
    migrate(url)
    # The codec needs an ops key in every environment, development included.
    settings = Settings(environment="development", codec_cors_origins=[f"http://localhost:{ui_port}"])
    app = create_app(settings, client=server.client, engine=make_engine(url))
    codec_requests: list[str] = []
    codec_statuses: list[tuple[str, int]] = []

    @app.middleware("http")
    async def count_codec(request, call_next):  # type: ignore[no-untyped-def]
        response = await call_next(request)
        if request.url.path.startswith("/codec") and request.method == "POST":
            codec_requests.append(request.url.path)
            codec_statuses.append((request.url.path, response.status_code))
        return response

    api = await ServedApp(app, "127.0.0.1", api_port).start()
    yield UiStack(server=server, codec_requests=codec_requests, codec_statuses=codec_statuses)
    await api.stop()
    await server.stop()


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=chromium_path(),
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run"])
        yield browser
        await browser.close()


async def started_shipment(client: Client) -> ShipmentRequest:
    """A shipment whose workflow is started with the encrypting converter (no worker is needed to show its input)."""
    request = ShipmentRequest.model_validate(load_example("basic-cn-de.json", unique_id("ui")))
    await client.start_workflow("Shipment", ShipmentInput(request=request), id=f"shipment:{request.shipment_id}",
                                task_queue=f"ui-{request.shipment_id}")
    return request


async def workflow_page(browser: Browser, stack: UiStack, request: ShipmentRequest, *,
                        block_codec: bool = False, ops_token: bool = True) -> Page:
    context = await browser.new_context(viewport={"width": 1400, "height": 1000})
    page = await context.new_page()
    if block_codec:
        await page.route("**/codec/**", lambda route: route.abort())
    elif ops_token:
        # What a UI with a login does with `codec.passAccessToken`: forward the user's token as a bearer key. The dev
        # server's UI has no login, hence no token and no setting for it, so the test stands in for the login.
        async def with_ops_token(route: Route) -> None:
            await route.continue_(headers={**route.request.headers, "authorization": f"Bearer {DEV_API_KEYS['ops']}"})

        await page.route("**/codec/**", with_ops_token)
    await page.goto(f"{stack.server.ui_url}/namespaces/default/workflows/shipment:{request.shipment_id}")
    await page.get_by_text("Workflow Type").first.wait_for(timeout=30_000)
    return page


async def test_the_web_ui_shows_the_shipment_input_decoded_by_the_codec(ui_stack, browser, tmp_path: Path):
    request = await started_shipment(ui_stack.server.client)
    page = await workflow_page(browser, ui_stack, request)
    await page.get_by_text(request.order_ref).first.wait_for(timeout=30_000)
    text = await page.inner_text("body")
    assert f'"shipment_id": "{request.shipment_id}"' in text
    assert f'"merchant_id": "{request.merchant_id}"' in text
    assert TESTED_CLI.ui in text  # the UI release the page was served by (2.54.1)
    assert any(path.endswith("/decode") for path in ui_stack.codec_requests)
    await page.screenshot(path=str(tmp_path / "web-ui-decoded.png"), full_page=True)
    await page.context.close()


async def test_without_the_ops_key_the_codec_decodes_nothing(ui_stack, browser):
    """Finding (issue 18): in development the local UI's origin alone got decrypted personal data from the codec."""
    request = await started_shipment(ui_stack.server.client)
    seen = len(ui_stack.codec_statuses)
    page = await workflow_page(browser, ui_stack, request, ops_token=False)
    await page.wait_for_timeout(3_000)  # time enough for a decoded payload to appear, as it does above
    text = await page.inner_text("body")
    assert request.order_ref not in text
    assert request.merchant_id not in text
    refused = [status for path, status in ui_stack.codec_statuses[seen:] if path.endswith("/decode")]
    assert refused and set(refused) == {401}
    await page.context.close()


async def test_without_the_codec_the_page_shows_no_plaintext(ui_stack, browser):
    request = await started_shipment(ui_stack.server.client)
    page = await workflow_page(browser, ui_stack, request, block_codec=True)
    await page.wait_for_timeout(3_000)  # time enough for a decoded payload to appear, as it does above
    text = await page.inner_text("body")
    assert request.order_ref not in text
    assert request.merchant_id not in text
    shown = text[text.index("Input"):text.index("Result")]
    assert '"shipment_id"' not in shown
    assert re.search(r"[A-Za-z0-9+/]{500,}", shown)  # the ciphertext, base64, as the server holds it
    await page.context.close()
