"""The shop's logo on the public tracking page (issue 19, point 5): an <img> with the escaped https URL and the shop's
display name as its alternative text, nothing without a logo, no scheme but https and no host a policy cannot name,
and a Content-Security-Policy that allows images from the logo's own origin and no other, and styles by the hash of
the page's own stylesheet.

Fast tests of the view model, renderer and headers; through the API: tests/api/test_merchant_logos.py; in Chromium:
tests/web/test_tracking_page_browser.py.
"""

import base64
import hashlib
import re

import pytest
from pydantic import ValidationError

from starter.web.tracking_page import (
    image_origin,
    render_not_found_page,
    render_tracking_page,
    security_headers,
    shown_logo,
)
from tests.domain.test_tracking_page import Document, page
from tradelane.notify import SUPPORTED_LOCALES

LOGO = "https://cdn.northwind.example/brand/logo.png?v=2&size=96"
ESCAPED = "https://cdn.northwind.example/brand/logo.png?v=2&amp;size=96"



@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
def test_the_page_shows_the_logo_with_its_escaped_url_and_the_shop_as_alt_text(locale):
    html = render_tracking_page(page(shop_name="Northwind Electronics", shop_logo_url=LOGO), locale)
    logo = Document(html).by_id("shop-logo")
    assert logo.tag == "img" and logo.attrs["src"] == LOGO and logo.attrs["alt"] == "Northwind Electronics"
    assert logo.attrs["height"] == "40" and logo.attrs["referrerpolicy"] == "no-referrer"
    assert f'src="{ESCAPED}"' in html


def test_without_a_logo_the_page_has_no_image():
    assert "<img" not in render_tracking_page(page(shop_name="Northwind Electronics"), "en")
    assert "<img" not in render_tracking_page(page(), "en")


@pytest.mark.parametrize("url", ["http://cdn.northwind.example/logo.png", "javascript:alert(1)",
                                 "data:image/png;base64,iVBORw0KGgo=", "https://[2001:db8::1]/logo.png",
                                 "https://cdn.northwind.example:99999/logo.png"])
def test_only_https_logos_from_a_named_host_reach_the_page(url):
    with pytest.raises(ValidationError, match="shop_logo_url"):
        page(shop_name="Northwind Electronics", shop_logo_url=url)
    assert shown_logo(url) is None  # the route leaves such a logo out instead of failing the page


def test_a_logo_needs_the_shops_name_for_its_alt_text():
    with pytest.raises(ValidationError, match="alternative text"):
        page(shop_logo_url=LOGO)


# --- the page's policy ----------------------------------------------------------------------------------------------


def policy(headers: dict[str, str]) -> dict[str, str]:
    directives = (d.strip().split(" ", 1) for d in headers["Content-Security-Policy"].split(";"))
    return {d[0]: d[1] if len(d) > 1 else "" for d in directives}


@pytest.mark.parametrize(("url", "origin"), [
    (LOGO, "https://cdn.northwind.example"),
    ("https://CDN.Northwind.example:8443/logo.svg", "https://cdn.northwind.example:8443"),
    ("https://cdn.northwind.example:443/logo.png", "https://cdn.northwind.example"),
    ("https://bücher.example/logo.png", "https://xn--bcher-kva.example"),
])
def test_the_policy_allows_images_from_the_logos_origin_only(url, origin):
    assert image_origin(url) == origin
    headers = security_headers(page(shop_name="Northwind Electronics", shop_logo_url=url))
    directives = policy(headers)
    assert directives["img-src"] == origin
    assert directives["default-src"] == "'none'" and "script-src" not in directives
    assert headers["X-Content-Type-Options"] == "nosniff"


def test_without_a_logo_the_policy_allows_no_image():
    assert policy(security_headers(page(shop_name="Northwind Electronics")))["img-src"] == "'none'"
    assert policy(security_headers(None))["img-src"] == "'none'"


def test_the_policy_allows_exactly_the_pages_own_stylesheet():
    allowed = policy(security_headers(None))["style-src"]
    for html in (render_tracking_page(page(), "ar"), render_not_found_page("NOPE", "ja")):
        sheets = re.findall(r"<style>(.*?)</style>", html, flags=re.DOTALL)
        assert len(sheets) == 1
        digest = base64.b64encode(hashlib.sha256(sheets[0].encode()).digest()).decode()
        assert allowed == f"'sha256-{digest}'"
