"""The shop's logo in customer e-mails (issue 19, point 5): an <img> with the escaped https URL, the shop's display
name as its alternative text and a fixed height; no image at all without a logo; the plain text names the shop
only; no scheme but https accepted. The same through the projection and API: tests/api/test_merchant_logos.py.
"""

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from tests.domain.test_tracking_page import Document
from tradelane.enums import NoticeKind
from tradelane.notify import SUPPORTED_LOCALES, NoticeFacts, render_notice

LOGO = "https://cdn.northwind.example/brand/logo.png?v=2&size=96"
ESCAPED = "https://cdn.northwind.example/brand/logo.png?v=2&amp;size=96"


def facts(**update) -> NoticeFacts:
    fields = {
        "kind": NoticeKind.BOOKED, "shipment_id": "SHP-1", "order_ref": "ORD-7", "merchant": "Northwind Electronics",
        "tracking_number": "1Z999", "tracking_url": "https://track.example/t/abc", "destination_country": "DE",
        "occurred_at": datetime(2026, 12, 7, 10, 0, tzinfo=UTC),
    }
    return NoticeFacts(**{**fields, **update})



@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
def test_the_html_email_shows_the_logo_with_its_escaped_url_and_the_shop_as_alt_text(locale):
    mail = render_notice(facts(merchant_logo_url=LOGO), locale, "Europe/Berlin")
    images = Document(mail.html).all("img")
    assert len(images) == 1, mail.html
    logo = images[0]
    assert logo.attrs["src"] == LOGO and logo.attrs["alt"] == "Northwind Electronics"
    # A fixed height (attribute for Outlook, CSS for the others), so the layout does not jump as it loads.
    assert logo.attrs["height"] == "48" and "max-height:48px" in (logo.attrs["style"] or "")
    assert f'src="{ESCAPED}"' in mail.html
    # The plain-text version names the shop and has no image address.
    assert "Northwind Electronics" in mail.text and "cdn.northwind.example" not in mail.text


def test_markup_in_a_logo_url_or_shop_name_stays_text():
    mail = render_notice(facts(merchant="Nord & \"West\" <b>", merchant_logo_url='https://cdn.example/l.png?a="><b>x'),
                         "en", "UTC")
    assert 'src="https://cdn.example/l.png?a=&#34;&gt;&lt;b&gt;x"' in mail.html
    assert 'alt="Nord &amp; &#34;West&#34; &lt;b&gt;"' in mail.html
    assert "<b>" not in mail.html


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
def test_without_a_logo_the_email_has_no_image(locale):
    mail = render_notice(facts(), locale, "Europe/Berlin")
    assert "<img" not in mail.html


@pytest.mark.parametrize("url", ["http://cdn.northwind.example/logo.png", "javascript:alert(1)",
                                 "data:image/png;base64,iVBORw0KGgo=", "//cdn.northwind.example/logo.png",
                                 "https:///logo.png", "https://cdn.northwind.example/a logo.png"])
def test_only_https_logos_reach_an_email(url):
    with pytest.raises(ValidationError, match="must be an https URL"):
        facts(merchant_logo_url=url)
