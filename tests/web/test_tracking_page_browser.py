"""The public tracking page in a real headless Chromium (Debian's package, driven by Playwright), served by the real
API from the read model of a shipment that really went through the workflow. The shop's logo is the page's one
outside resource: the browser asks its https host for it, which these tests answer in the browser (`serve_logo`)."""

import io
import re
import shutil
from collections.abc import AsyncIterator

import pytest
from PIL import Image, ImageStat
from playwright.async_api import Browser, async_playwright

from infra.platform.settings import DEV_TRACKING_SECRET
from tests.support import load_example, unique_id
from tradelane.connections import directory
from tradelane.enums import Status, TrackingStatus
from tradelane.notify import SUPPORTED_LOCALES, status_label
from tradelane.tracking_page import tracking_token

pytestmark = pytest.mark.temporal

PHONE = {"width": 390, "height": 844}
"""A common phone viewport (CSS pixels)."""


def chromium_path() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    assert path, "Chromium is missing: `make browser` installs Debian's chromium package"
    return path


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium_path(),
                                                   args=["--no-sandbox", "--disable-gpu"])
        yield browser
        await browser.close()


async def delivered(harness, locale: str | None, merchant_id: str | None = None) -> tuple[str, str]:
    """Run a shipment to delivery; returns its tracking number and the path of its public page (by its token, as the
    recipient's e-mails link to it)."""
    shipment_id = unique_id("page")
    body = load_example("basic-cn-de.json", shipment_id)
    if merchant_id is not None:
        body["merchant_id"] = merchant_id
    if locale is None:
        del body["destination"]["locale"]
    else:
        body["destination"]["locale"] = locale
    await harness.start(body)
    state = await harness.result(shipment_id)
    # The workflow finishes only once the read model (which the page reads) has its last snapshot.
    assert state.status is Status.DELIVERED and state.tracking_number
    return state.tracking_number, f"/track/{tracking_token(DEV_TRACKING_SECRET, shipment_id)}"


async def open_page(browser: Browser, url: str, accept_language: str | None = None, javascript: bool = True):
    context = await browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True,
                                        java_script_enabled=javascript,
                                        extra_http_headers={"Accept-Language": accept_language} if accept_language
                                        else {})
    page = await context.new_page()
    response = await page.goto(url)
    return context, page, response


LOGO_HOST = "https://cdn.northwind.example"
LOGO = f"{LOGO_HOST}/brand/logo.png?v=2&size=96"


def logo_png() -> bytes:
    image = Image.new("RGB", (240, 60), (29, 78, 216))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


async def serve_logo(context, asked: list[str]) -> None:
    """Answer the browser's requests to any https host as that host would (the logo's host with a PNG, others with
    404), recording each URL asked for: only what the page's policy lets through is ever asked."""
    async def answer(route):
        asked.append(route.request.url)
        if route.request.url == LOGO:
            await route.fulfill(status=200, content_type="image/png", body=logo_png())
        else:
            await route.fulfill(status=404, body=b"")
    await context.route(re.compile(r"^https://"), answer)


async def test_the_recipient_sees_the_timeline_in_their_language_on_a_phone(harness, webhook_api, browser):
    merchant_id = unique_id("northwind").lower()
    saved = await harness.api.put(f"/v1/merchants/{merchant_id}/profile",
                                  json={"display_name": "Northwind Electronics", "logo_url": LOGO})
    assert saved.status_code == 200, saved.text
    tracking_number, path = await delivered(harness, "de-DE", merchant_id)
    context = await browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True,
                                        extra_http_headers={"Accept-Language": "nl-NL,nl;q=0.8"})
    asked: list[str] = []
    await serve_logo(context, asked)
    refused: list[str] = []
    page = await context.new_page()
    page.on("console", lambda message: refused.append(message.text) if "Content Security Policy" in message.text
            else None)
    try:
        response = await page.goto(f"{webhook_api.url}{path}")
        assert response is not None and response.status == 200
        # A browser asking only for languages Tradelane does not speak: the recipient's locale.
        assert await page.get_attribute("html", "lang") == "de"
        assert await page.get_attribute("html", "dir") == "ltr"
        assert await page.inner_text("#tracking-number") == tracking_number
        assert status_label(TrackingStatus.DELIVERED, "de") in await page.inner_text("#status")
        events = page.locator('[data-testid="event"]')
        # The express carrier's scans (its "label created" has no status to show) plus the last mile (3).
        assert await events.count() >= 7
        assert await events.first.get_attribute("data-status") == "delivered"  # newest first
        # Every time on the recipient's clock, with the zone named (Berlin: MEZ, or MESZ in summer).
        times = await page.locator("#timeline time").all_inner_texts()
        assert times and all(re.search(r"\d:\d\d Uhr MES?Z$", t) for t in times), times
        assert await page.inner_text("#time-zone") == "Zeitzone: Mitteleuropäische Zeit"
        # The shop's logo, loaded from its own https host under the page's policy, 40 px high in its proportions,
        # named by the shop's name; the page's own stylesheet applies (its hash is in the policy).
        logo = page.locator("#shop-logo")
        await logo.wait_for()
        assert await logo.evaluate("img => img.complete && img.naturalWidth") == 240
        assert await logo.get_attribute("alt") == "Northwind Electronics"
        box = await logo.bounding_box()
        assert box is not None and (round(box["height"]), round(box["width"])) == (40, 160)
        assert await page.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(243, 244, 246)"
        assert asked == [LOGO] and refused == [], (asked, refused)
        # Any other image host is refused by the policy before a request leaves the browser.
        blocked = await page.evaluate("""() => new Promise(resolve => {
            document.addEventListener("securitypolicyviolation", e => resolve(e.blockedURI), {once: true});
            setTimeout(() => resolve(null), 5000);
            const image = new Image();
            image.src = "https://tracker.example/pixel.png";
            document.body.append(image);
        })""")
        assert blocked == "https://tracker.example/pixel.png" and asked == [LOGO]
        # Readable on a phone: nothing wider than the screen.
        scroll_width = await page.evaluate("document.documentElement.scrollWidth")
        assert scroll_width <= PHONE["width"]
        # Nothing internal reaches the page.
        html = await page.content()
        recipient = load_example("basic-cn-de.json")["destination"]
        for internal in (*directory().connections, "acme-store", merchant_id, "shipment:", recipient["postal_code"],
                         *recipient["address_lines"], *recipient["name"].split()):
            # As a word: a partner named `ups` is not in "groups". Nor personal data: no postcode, street, name.
            assert not re.search(rf"(?<![\w-]){re.escape(internal)}(?![\w-])", html), internal
        # The page really renders: a screenshot of the phone screen with text on it, not a blank page.
        shot = Image.open(io.BytesIO(await page.screenshot(full_page=True)))
        assert shot.width == PHONE["width"] * 2
        assert len(shot.convert("L").getcolors(maxcolors=100_000) or []) > 20
        assert ImageStat.Stat(shot.convert("L")).stddev[0] > 10
    finally:
        await context.close()


@pytest.mark.parametrize(("accept_language", "query", "lang", "direction"), [
    ("fr-CH,fr;q=0.9,en;q=0.5", "", "fr", "ltr"),
    ("ja", "", "ja", "ltr"),
    ("fr-CH,fr;q=0.9", "?lang=ar", "ar", "rtl"),
], ids=["accept-language-french", "accept-language-japanese", "lang-parameter-arabic-right-to-left"])
async def test_without_a_recipient_locale_the_browser_decides(harness, webhook_api, browser, accept_language, query,
                                                               lang, direction):
    _, path = await delivered(harness, None)
    context, page, response = await open_page(browser, f"{webhook_api.url}{path}{query}",
                                              accept_language=accept_language)
    try:
        assert response is not None and response.status == 200
        assert (await page.get_attribute("html", "lang"), await page.get_attribute("html", "dir")) == (lang, direction)
        assert status_label(TrackingStatus.DELIVERED, lang) in await page.inner_text("#status")
        assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        shot = Image.open(io.BytesIO(await page.screenshot()))
        assert ImageStat.Stat(shot.convert("L")).stddev[0] > 10
    finally:
        await context.close()


async def test_a_tracking_number_alone_gets_a_localised_404(webhook_api, browser):
    context, page, response = await open_page(browser, f"{webhook_api.url}/track/NOPE123", accept_language="es")
    try:
        assert response is not None and response.status == 404
        assert await page.get_attribute("html", "lang") == "es"
        assert "NOPE123" in await page.inner_text("body")
    finally:
        await context.close()


async def test_the_browsers_language_wins_over_the_recipients(harness, webhook_api, browser):
    _, path = await delivered(harness, "de-DE")
    context, page, response = await open_page(browser, f"{webhook_api.url}{path}",
                                              accept_language="fr-CH,fr;q=0.9,de;q=0.5")
    try:
        assert response is not None and response.status == 200
        assert response.headers["content-language"] == "fr" and "accept-language" in response.headers["vary"].lower()
        assert await page.get_attribute("html", "lang") == "fr"
        assert status_label(TrackingStatus.DELIVERED, "fr") in await page.inner_text("#status")
        # French puts a no-break space before the colon.
        assert (await page.inner_text("#time-zone")).startswith("Fuseau horaire\u00a0: ")
    finally:
        await context.close()


async def test_the_reader_switches_language_with_the_keyboard(harness, webhook_api, browser):
    """The language links in a real browser: reached with Tab, followed with Enter; the reader's choice then wins
    over the browser's language (Japanese here) and the recipient's (German)."""
    _, path = await delivered(harness, "de-DE")
    context, page, _ = await open_page(browser, f"{webhook_api.url}{path}", accept_language="ja,en;q=0.5")
    try:
        assert await page.get_attribute("html", "lang") == "ja"
        assert await page.get_attribute('#languages a[aria-current="true"]', "lang") == "ja"
        for _ in range(len(SUPPORTED_LOCALES) + 1):  # the links are the page's first focusable elements
            await page.keyboard.press("Tab")
            if await page.evaluate("document.activeElement.dataset.lang") == "de":
                break
        assert await page.evaluate("document.activeElement.textContent") == "Deutsch"
        # Visible focus: the focused link draws an outline.
        assert await page.evaluate("getComputedStyle(document.activeElement).outlineStyle") == "solid"
        async with page.expect_navigation():
            await page.keyboard.press("Enter")
        assert page.url.endswith(f"{path}?lang=de")
        assert await page.get_attribute("html", "lang") == "de"
        assert status_label(TrackingStatus.DELIVERED, "de") in await page.inner_text("#status")
        assert await page.get_attribute('#languages a[aria-current="true"]', "lang") == "de"
    finally:
        await context.close()


async def test_the_language_links_work_without_javascript(harness, webhook_api, browser):
    _, path = await delivered(harness, "de-DE")
    context, page, _ = await open_page(browser, f"{webhook_api.url}{path}", accept_language="es", javascript=False)
    try:
        assert await page.get_attribute("html", "lang") == "es"
        async with page.expect_navigation():
            await page.click('#languages a[hreflang="ar"]')
        assert (await page.get_attribute("html", "lang"), await page.get_attribute("html", "dir")) == ("ar", "rtl")
        assert status_label(TrackingStatus.DELIVERED, "ar") in await page.inner_text("#status")
        assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    finally:
        await context.close()


async def test_a_shipment_compensated_before_its_first_scan_promises_nothing(harness, webhook_api, browser):
    """Customs refuse the goods after the label is made: the saga undoes label and booking. The recipient's page
    says it will not be delivered, and neither an ETA nor "no updates yet, check again later"."""
    shipment_id = unique_id("page-undone")
    await harness.add_fault(partner="clearpath", operation="file", shipment_id=shipment_id, kind="reject",
                            code="RESTRICTED_GOODS", message="goods restricted at destination")
    await harness.start(load_example("basic-cn-de.json", shipment_id))
    state = await harness.result(shipment_id)
    assert state.status is Status.COMPENSATED and state.tracking_number and state.eta is not None
    path = f"/track/{tracking_token(DEV_TRACKING_SECRET, shipment_id)}"
    context, page, response = await open_page(browser, f"{webhook_api.url}{path}?lang=en")
    try:
        assert response is not None and response.status == 200
        assert await page.get_attribute("body", "data-shipment-status") == "compensated"
        assert await page.inner_text("#status") == "Cancelled"
        for promise in ("#eta", "#progress", "#no-events"):
            assert await page.locator(promise).count() == 0, promise
    finally:
        await context.close()
