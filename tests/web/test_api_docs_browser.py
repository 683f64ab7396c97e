"""The API's documentation pages in a real headless Chromium (Debian's package, driven by Playwright), on a machine
with no internet: every request the browser makes is watched, and any that would leave loopback is refused and
reported. `/docs` must show every operation, and its "Authorize" must send the API key, so that "Try it out"
gets an answer instead of a 401. `/redoc` is not served (see `starter.docs`)."""

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import pytest
from playwright.async_api import Browser, BrowserContext, Route, async_playwright
from sqlalchemy.engine import Engine

from infra.platform.http_server import ServedApp
from infra.platform.settings import DEV_API_KEYS, Settings
from starter.api import create_app
from tests.web.test_tracking_page_browser import chromium_path

LOOPBACK = {"127.0.0.1", "localhost", "::1"}


@dataclass
class DocsApi:
    url: str
    operations: int
    """How many operations the OpenAPI document has."""


@pytest.fixture(scope="module")
async def docs_api(db_engine: Engine) -> AsyncIterator[DocsApi]:
    """The API on a loopback port; its docs need neither Temporal nor a worker (the client connects lazily)."""
    app = create_app(Settings(environment="test"), engine=db_engine)
    served = await ServedApp(app).start()
    yield DocsApi(served.url, sum(len(item) for item in app.openapi()["paths"].values()))
    await served.stop()


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium_path(),
                                                   args=["--no-sandbox", "--disable-gpu"])
        yield browser
        await browser.close()


@dataclass
class Offline:
    """A browser context that lets requests to loopback through and refuses (and records) every other one."""

    context: BrowserContext
    refused: list[str] = field(default_factory=list)

    async def guard(self, route: Route) -> None:
        if urlsplit(route.request.url).hostname in LOOPBACK:
            await route.continue_()
        else:
            self.refused.append(route.request.url)
            await route.abort("internetdisconnected")


@pytest.fixture
async def offline(browser: Browser) -> AsyncIterator[Offline]:
    watched = Offline(await browser.new_context(viewport={"width": 1280, "height": 900}))
    await watched.context.route("**/*", watched.guard)
    yield watched
    await watched.context.close()


async def test_docs_show_every_operation_without_the_internet(docs_api, offline):
    page = await offline.context.new_page()
    response = await page.goto(f"{docs_api.url}/docs")
    assert response is not None and response.status == 200
    operations = page.locator(".opblock")
    await operations.first.wait_for(timeout=15_000)
    assert await operations.count() == docs_api.operations
    assert await page.locator(".opblock-tag").count() >= 10  # the sections, with their descriptions
    assert "Start a shipment" in await page.inner_text("#operations-tag-shipments + div")
    assert offline.refused == [], f"the page tried to load from outside loopback: {offline.refused}"


async def test_authorize_sends_the_key_so_try_it_out_gets_an_answer(docs_api, offline):
    page = await offline.context.new_page()
    await page.goto(f"{docs_api.url}/docs")
    await page.locator(".btn.authorize").click()
    dialog = page.locator(".dialog-ux")
    # The bearer scheme's section of the dialog: its one input takes the key as is (no "Bearer " prefix).
    bearer = dialog.locator(".auth-container", has=page.locator("#auth-bearer-value"))
    await bearer.locator("#auth-bearer-value").fill(DEV_API_KEYS["ops"])
    await bearer.locator("button[type=submit]").click()
    await dialog.locator(".close-modal").click()

    operation = page.locator("#operations-shipments-list_shipments_v1_shipments_get")
    await operation.locator(".opblock-summary").click()
    await operation.get_by_role("button", name="Try it out").click()
    async with page.expect_response(lambda r: urlsplit(r.url).path == "/v1/shipments") as answer:
        await operation.get_by_role("button", name="Execute").click()
    sent = await (await answer.value).request.all_headers()
    assert sent.get("authorization") == f"Bearer {DEV_API_KEYS['ops']}"
    assert (await answer.value).status == 200
    assert offline.refused == []


async def test_redoc_is_not_served_rather_than_blank(docs_api, offline):
    """ReDoc's bundle loads its logo from Redocly's CDN whatever it is told (`starter.docs`): it is off."""
    page = await offline.context.new_page()
    response = await page.goto(f"{docs_api.url}/redoc")
    assert response is not None and response.status == 404
    assert offline.refused == []
