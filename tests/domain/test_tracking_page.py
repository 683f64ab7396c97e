"""The public tracking page: a valid, self-contained HTML5 document per locale, with stable ids for browser tests,
events newest first, localised words, dates and country names, a progress indicator, and no internal data."""

import re
from datetime import UTC, date, datetime
from html.parser import HTMLParser

import pytest
from pydantic import ValidationError

from starter.web.tracking_page import (
    STAGES,
    PageEvent,
    TrackingPage,
    reached_stage,
    render_not_found_page,
    render_too_many_requests_page,
    render_tracking_page,
)
from tradelane.enums import PartnerKind, Status, TrackingStatus
from tradelane.tracking_page import is_token, public_location, token_digest, tracking_token

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class Element:
    def __init__(self, tag: str, attrs: dict[str, str | None]) -> None:
        self.tag, self.attrs, self.children, self.parts = tag, attrs, [], []

    @property
    def text(self) -> str:
        return "".join(part if isinstance(part, str) else part.text for part in self.parts)

    def walk(self):
        yield self
        for child in self.children:
            yield from child.walk()


class Document(HTMLParser):
    """A strict little tree builder: every non-void element must be closed in order, or parsing fails."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.doctype: str | None = None
        self.root = Element("#document", {})
        self.stack = [self.root]
        self.feed(html)
        self.close()
        assert [e.tag for e in self.stack] == ["#document"], f"unclosed elements: {[e.tag for e in self.stack]}"

    def handle_decl(self, decl: str) -> None:
        self.doctype = decl

    def handle_starttag(self, tag, attrs):
        element = Element(tag, dict(attrs))
        self.stack[-1].children.append(element)
        self.stack[-1].parts.append(element)
        if tag not in VOID:
            self.stack.append(element)

    def handle_startendtag(self, tag, attrs):
        assert tag in VOID, f"<{tag}/> is not a void element"
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag):
        assert tag not in VOID, f"</{tag}> closes a void element"
        assert self.stack[-1].tag == tag, f"</{tag}> closes <{self.stack[-1].tag}>"
        self.stack.pop()

    def handle_data(self, data):
        self.stack[-1].parts.append(data)

    def all(self, tag: str | None = None, **attrs: str) -> list[Element]:
        return [e for e in self.root.walk() if (tag is None or e.tag == tag)
                and all(e.attrs.get(k.replace("_", "-")) == v for k, v in attrs.items())]

    def by_id(self, id_: str) -> Element:
        found = [e for e in self.root.walk() if e.attrs.get("id") == id_]
        assert len(found) == 1, f"{len(found)} elements with id {id_}"
        return found[0]

    def has_id(self, id_: str) -> bool:
        return any(e.attrs.get("id") == id_ for e in self.root.walk())


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


EVENTS = [  # deliberately out of order
    PageEvent(occurred_at=at("2026-12-02T08:00"), status="in_transit", location="Hong Kong"),
    PageEvent(occurred_at=at("2026-12-05T13:32"), status="customs_hold", location="Frankfurt am Main"),
    PageEvent(occurred_at=at("2026-12-01T06:40"), status="picked_up", location="Shenzhen"),
]


def page(**update) -> TrackingPage:
    fields = {
        "tracking_number": "TL123456789DE", "shipment_status": "delayed", "latest_status": "customs_hold",
        "origin_country": "CN", "destination_country": "DE", "eta_expected": date(2026, 12, 9),
        "eta_earliest": date(2026, 12, 8), "eta_latest": date(2026, 12, 10), "delivered_at": None,
        "events": EVENTS, "timezone": "Europe/Berlin",
    }
    return TrackingPage(**{**fields, **update})


@pytest.mark.parametrize(("locale", "direction", "status", "eta", "destination", "first_event"), [
    ("en", "ltr", "Delayed", "Expected delivery: Tue, Dec 8\u2009–\u2009Thu, Dec 10", "Germany",
     ("Held at customs", "Frankfurt am Main", "December 5, 2026 at 2:32\u202fPM GMT+01:00")),
    ("de", "ltr", "Verzögert", "Voraussichtliche Zustellung: Di., 8.\u2009–\u2009Do., 10. Dez.", "Deutschland",
     ("Beim Zoll zurückgehalten", "Frankfurt am Main", "5. Dezember 2026 um 14:32 Uhr MEZ")),
    ("ja", "ltr", "遅延", "お届け予定日：12月8日(火)～10日(木)", "ドイツ",
     ("税関で保留中", "Frankfurt am Main", "2026年12月5日 14:32（GMT+01:00）")),
    ("ar", "rtl", "متأخرة", "موعد التوصيل المتوقع: الثلاثاء، 8 – الخميس، 10 ديسمبر", "ألمانيا",
     ("محتجز لدى الجمارك", "Frankfurt am Main", "5 ديسمبر 2026، الساعة 2:32 م غرينتش+01:00")),
], ids=["en", "de", "ja", "ar"])
def test_page_structure_in_each_locale(locale, direction, status, eta, destination, first_event):
    doc = Document(render_tracking_page(page(), locale))
    assert doc.doctype == "DOCTYPE html"
    html = doc.all("html")[0]
    assert (html.attrs["lang"], html.attrs["dir"]) == (locale, direction)
    assert doc.all("meta", name="viewport")[0].attrs["content"] == "width=device-width, initial-scale=1"
    assert doc.all("meta", charset="utf-8")
    assert doc.by_id("status").text == status
    assert doc.by_id("eta").text == eta
    assert doc.by_id("tracking-number").text == "TL123456789DE"
    assert doc.by_id("destination").text == destination
    events = doc.all(data_testid="event")
    assert [e.attrs["data-status"] for e in events] == ["customs_hold", "in_transit", "picked_up"]
    assert [t.attrs["datetime"] for t in doc.all("time")] == ["2026-12-05T13:32:00Z", "2026-12-02T08:00:00Z",
                                                            "2026-12-01T06:40:00Z"]
    first = events[0]
    assert (first.children[0].text, first.children[1].text, first.children[2].text) == first_event


def test_headline_of_a_moving_shipment_is_its_latest_status():
    doc = Document(render_tracking_page(page(shipment_status="in_progress", latest_status="in_transit",
                                             events=EVENTS[:1]), "en"))
    assert doc.by_id("status").text == "In transit"
    assert not doc.has_id("latest") and not doc.has_id("hint")


def test_delayed_page_names_the_latest_status_and_reassures():
    doc = Document(render_tracking_page(page(), "en"))
    assert doc.by_id("latest").text == "Latest update: Held at customs"
    assert doc.by_id("hint").text == "Your parcel is delayed. We are working on it and will update this page."


@pytest.mark.parametrize(("update", "states"), [
    ({}, ["done", "done", "done", "current", "todo", "todo"]),
    ({"shipment_status": "in_progress", "latest_status": None, "events": []},
     ["current", "todo", "todo", "todo", "todo", "todo"]),
    ({"shipment_status": "in_progress", "latest_status": "in_transit",
      "events": EVENTS + [PageEvent(occurred_at=at("2026-12-06T08:00"), status="exception", location="Leipzig")]},
     ["done", "done", "done", "current", "todo", "todo"]),
    ({"shipment_status": "in_progress", "latest_status": "delivery_failed"},
     ["done", "done", "done", "done", "current", "todo"]),
    ({"shipment_status": "delivered", "latest_status": "delivered"}, ["done"] * 6),
], ids=["customs-hold-is-at-customs", "nothing-yet-is-booked", "late-older-event-and-exception-do-not-go-back",
        "failed-attempt-is-out-for-delivery", "delivered-all-done"])
def test_progress_indicator(update, states):
    doc = Document(render_tracking_page(page(**update), "en"))
    steps = doc.by_id("progress").children
    assert [s.attrs["data-stage"] for s in steps] == list(STAGES)
    assert [s.attrs["data-state"] for s in steps] == states
    assert [s.attrs.get("aria-current") for s in steps].count("step") == states.count("current")


def test_reached_stage_ignores_statuses_without_progress():
    assert reached_stage(page(latest_status="unknown", events=[])) == 0


@pytest.mark.parametrize(("locale", "status", "eta"), [
    ("en", "Delivered", "Delivered on December 8, 2026 at 2:32\u202fPM GMT+01:00"),
    ("de", "Zugestellt", "Zugestellt am 8. Dezember 2026 um 14:32 Uhr MEZ"),
], ids=["en", "de"])
def test_delivered_page_shows_the_delivery_time_in_the_recipients_zone(locale, status, eta):
    delivered = page(shipment_status="delivered", latest_status="delivered", delivered_at=at("2026-12-08T13:32"))
    doc = Document(render_tracking_page(delivered, locale))
    assert (doc.by_id("status").text, doc.by_id("eta").text) == (status, eta)


def test_delivered_time_falls_back_to_the_delivery_event():
    events = EVENTS + [PageEvent(occurred_at=at("2026-12-08T13:32"), status="delivered", location="Berlin")]
    doc = Document(render_tracking_page(page(shipment_status="delivered", events=events), "en"))
    assert doc.by_id("eta").text == "Delivered on December 8, 2026 at 2:32\u202fPM GMT+01:00"


def test_unknown_eta_is_said_in_words():
    doc = Document(render_tracking_page(page(eta_expected=None, eta_earliest=None, eta_latest=None), "fr"))
    assert doc.by_id("eta").text == "La date de livraison n'est pas encore connue."


@pytest.mark.parametrize("status", [Status.CANCELLED, Status.COMPENSATED, Status.REJECTED],
                         ids=["cancelled", "compensated", "rejected"])
def test_cancelled_page_has_no_eta_or_progress_and_sends_to_the_shop(status):
    doc = Document(render_tracking_page(page(shipment_status=status, eta_expected=None, eta_earliest=None,
                                             eta_latest=None), "en"))
    assert doc.by_id("status").text == "Cancelled"
    assert not doc.has_id("eta") and not doc.has_id("progress")
    assert doc.by_id("hint").text == "This shipment will not be delivered. Please contact the shop where you ordered."


def test_page_without_events_says_so():
    doc = Document(render_tracking_page(page(events=[], shipment_status="in_progress", latest_status=None), "es"))
    assert doc.all(data_testid="event") == []
    assert doc.by_id("no-events").text.startswith("Todavía no hay información de seguimiento")
    assert doc.by_id("status").text == "En preparación"


# --- phone layout and self-containment ---------------------------------------------------------------------------


@pytest.mark.parametrize("locale", ["en", "ar"], ids=["en", "ar"])
def test_page_is_self_contained_and_fits_a_phone(locale):
    html = render_tracking_page(page(tracking_number="TL" + "9" * 80), locale)
    doc = Document(html)
    assert not doc.all("script") and not doc.all("link") and not doc.all("img") and not doc.all("table")
    assert "http" not in html and "url(" not in html  # nothing fetched from anywhere
    css = doc.all("style")[0].text
    fixed = [int(px) for px in re.findall(r"(?<![-\w])(?:min-)?width:\s*(\d+)px", css)]
    assert all(px <= 320 for px in fixed), fixed  # nothing fixed wider than a 360 px screen minus padding
    assert "max-width: 40rem" in css and "overflow-wrap: anywhere" in css  # long numbers wrap
    assert "@media (max-width: 30rem)" in css  # progress labels reflow on phones


def test_page_escapes_every_value():
    doc_html = render_tracking_page(page(tracking_number="<script>alert(1)</script>", events=[
        PageEvent(occurred_at=at("2026-12-02T08:00"), status="in_transit", location='"><img src=x>')]), "en")
    assert "<script>" not in doc_html and "<img" not in doc_html
    doc = Document(doc_html)
    assert doc.by_id("tracking-number").text == "<script>alert(1)</script>"


# --- nothing internal ---------------------------------------------------------------------------------------------


def test_page_models_hold_only_public_fields():
    assert set(TrackingPage.model_fields) == {
        "tracking_number", "shipment_status", "latest_status", "origin_country", "destination_country",
        "eta_expected", "eta_earliest", "eta_latest", "delivered_at", "events", "timezone", "shop_name",
        "shop_logo_url",
    }
    assert set(PageEvent.model_fields) == {"occurred_at", "status", "location"}


@pytest.mark.parametrize("field", ["shipment_id", "merchant", "partner", "carrier", "cost", "failure_reason",
                                   "workflow_id"])
def test_internal_fields_are_refused(field):
    with pytest.raises(ValidationError, match=field):
        page(**{field: "ups"})


def test_event_status_words_come_from_the_catalog_not_partner_codes():
    doc = Document(render_tracking_page(page(), "en"))
    labels = [e.children[0].text for e in doc.all(data_testid="event")]
    assert labels == ["Held at customs", "In transit", "Picked up"]
    assert {e.attrs["data-status"] for e in doc.all(data_testid="event")} <= {s.value for s in TrackingStatus}


@pytest.mark.parametrize(("update", "field"), [
    ({"timezone": "Mars/Olympus"}, "timezone"),
    ({"destination_country": "XX"}, "destination_country"),
    ({"delivered_at": datetime(2026, 12, 8, 13, 32)}, "delivered_at"),
], ids=["unknown-zone", "bad-country", "naive-delivery-time"])
def test_page_refuses_bad_values(update, field):
    with pytest.raises(ValidationError, match=field):
        page(**update)


# --- not found ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("locale", "direction", "title"), [
    ("en", "ltr", "Tracking number not found"),
    ("ja", "ltr", "追跡番号が見つかりません"),
    ("ar", "rtl", "لم يتم العثور على رقم التتبع"),
], ids=["en", "ja", "ar"])
def test_not_found_page(locale, direction, title):
    html = render_not_found_page("<b>TL0000</b>", locale)
    doc = Document(html)
    assert (doc.all("html")[0].attrs["lang"], doc.all("html")[0].attrs["dir"]) == (locale, direction)
    assert doc.all("meta", name="viewport")
    assert doc.by_id("status").text == title
    assert doc.by_id("tracking-number").text == "<b>TL0000</b>" and "<b>" not in html
    assert doc.by_id("not-found").text.count("<b>TL0000</b>") == 1


def test_unsupported_locale_is_refused():
    with pytest.raises(ValueError, match="locale: 'nl' is not supported"):
        render_tracking_page(page(), "nl")


def test_too_many_requests_page_is_a_small_valid_document_about_no_shipment():
    doc = Document(render_too_many_requests_page())
    assert doc.doctype == "DOCTYPE html" and doc.by_id("status").text == "Too many requests"
    assert not doc.has_id("tracking-number")


# --- who may open the page, and what of a partner's event it shows (issue 18) -------------------------------------


def test_a_token_is_160_bits_of_hmac_bound_to_the_secret_and_the_shipment():
    token = tracking_token("s" * 32, "SHP-1")
    assert is_token(token) and len(token) == 32  # 32 base32 characters: 160 bits
    assert token == tracking_token("s" * 32, "SHP-1")  # e-mails, projection and page agree without shared state
    assert len({token, tracking_token("s" * 32, "SHP-2"), tracking_token("t" * 32, "SHP-1")}) == 3
    # Consecutive shipments get unrelated tokens: nothing to walk as with sequential carrier numbers.
    neighbours = [tracking_token("s" * 32, f"SHP-{n}") for n in range(1, 200)]
    assert len({t[:8] for t in neighbours}) == len(neighbours)
    assert token_digest(token) != token and len(token_digest(token)) == 64


@pytest.mark.parametrize("value", ["SX0000000001", "1Z0000000000000001", "A" * 32, "a" * 31, "a" * 33,
                                   "0" * 32, "a1" * 16], ids=["sequential-number", "ups-number", "uppercase",
                                                              "short", "long", "zeros", "not-base32"])
def test_only_a_token_shaped_value_is_looked_up(value):
    assert not is_token(value)


@pytest.mark.parametrize(("status", "kind", "shown"), [
    (TrackingStatus.IN_TRANSIT, PartnerKind.CARRIER, "Hong Kong hub"),
    (TrackingStatus.CUSTOMS_HOLD, PartnerKind.CUSTOMS_BROKER, "Hong Kong hub"),
    (TrackingStatus.AT_LOCAL_DEPOT, PartnerKind.CARRIER, None),
    (TrackingStatus.OUT_FOR_DELIVERY, PartnerKind.CARRIER, None),
    (TrackingStatus.DELIVERY_FAILED, PartnerKind.CARRIER, None),
    (TrackingStatus.DELIVERED, PartnerKind.CARRIER, None),
    (TrackingStatus.PICKED_UP, PartnerKind.LAST_MILE, None),
    (TrackingStatus.IN_TRANSIT, None, None),
], ids=["carrier-hub", "customs-office", "local-depot", "out-for-delivery", "failed-attempt", "doorstep",
        "last-mile-courier", "unknown-partner"])
def test_locations_near_the_recipient_are_not_public(status, kind, shown):
    assert public_location("Hong Kong hub", status, kind) == shown


def test_an_event_without_a_public_location_shows_none():
    doc = Document(render_tracking_page(page(events=[
        PageEvent(occurred_at=at("2026-12-08T10:00"), status="delivered", location=None)],
        shipment_status="delivered"), "en"))
    event = doc.all(data_testid="event")[0]
    assert not [e for e in event.walk() if e.attrs.get("class") == "where"]
