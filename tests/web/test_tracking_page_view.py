"""The tracking page says only what is true, in the reader's language (issue 19, point 3 and the page's share of 6).

Fast tests of the view model and the rendered document, without a browser or Temporal: the timeline in the order
things happened, no ETA or "check back later" for a shipment that will not arrive, every time with the recipient's
zone named, labels joined as each language joins them, plain language links, and which language a reader gets.
The same page in a real browser: tests/web/test_tracking_page_browser.py.
"""

from datetime import UTC, date, datetime

import pytest
from pydantic import ValidationError

from infra.persistence.db import ShipmentRow, TrackingEventRow
from starter.routes.tracking_page import page_of
from starter.web.tracking_page import (
    ENDED_UNDELIVERED,
    JOURNEY,
    PageEvent,
    TrackingPage,
    render_tracking_page,
    timeline,
)
from tests.domain.test_tracking_page import Document
from tradelane.connections import directory
from tradelane.enums import Status, TrackingStatus
from tradelane.notify import SUPPORTED_LOCALES
from tradelane.tracking_page import page_locale


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def event(when: str, status: str, location: str | None = None) -> PageEvent:
    return PageEvent(occurred_at=at(when), status=status, location=location)


def page(**update) -> TrackingPage:
    fields = {
        "tracking_number": "1Z0000000000000001", "shipment_status": "in_progress", "latest_status": "in_transit",
        "origin_country": "CN", "destination_country": "DE", "eta_expected": date(2026, 12, 9),
        "events": [event("2026-12-07T06:44", "picked_up", "Shenzhen")], "timezone": "Europe/Berlin",
    }
    return TrackingPage(**{**fields, **update})


def ended(status: Status, **update) -> TrackingPage:
    return page(shipment_status=status, eta_expected=None, **update)


# --- the timeline, in the order things happened --------------------------------------------------------------------


def test_events_of_one_instant_follow_the_journey_not_the_order_they_arrived():
    # What the demo showed: the carrier's "arrived in the country", the broker's "cleared" and the last mile's "at
    # the local depot" stamped to the same minute, listed newest first as "cleared customs", "at the local depot",
    # "arrived in the destination country".
    same = "2026-12-09T00:44"
    received = [event(same, "arrived_at_destination", "DE"), event("2026-12-09T12:44", "out_for_delivery"),
                event(same, "at_local_depot"), event("2026-12-08T12:44", "in_transit", "DE"),
                event(same, "customs_cleared", "Frankfurt")]
    doc = Document(render_tracking_page(page(events=received), "en"))
    assert [e.attrs["data-status"] for e in doc.all(data_testid="event")] == [
        "out_for_delivery", "at_local_depot", "customs_cleared", "arrived_at_destination", "in_transit"]


def test_timeline_is_newest_first_by_event_time_whatever_the_order_received():
    received = [event("2026-12-02T08:00", "in_transit"), event("2026-12-05T13:32", "customs_hold"),
                event("2026-12-01T06:40", "picked_up"), event("2026-12-05T13:32", "exception")]
    assert [(e.occurred_at.day, e.status.value) for e in timeline(received)] == [
        (5, "exception"), (5, "customs_hold"), (2, "in_transit"), (1, "picked_up")]


# --- nothing that is no longer true -------------------------------------------------------------------------------


def row(status: Status, **update) -> ShipmentRow:
    fields = {
        "shipment_id": "SHP-1", "workflow_id": "shipment:SHP-1", "merchant_id": "acme-store", "origin_country": "CN",
        "destination_country": "DE", "stage": "transit", "status": status.value, "carrier": "ups",
        "tracking_number": "1Z0000000000000001", "declared_value": "120.00", "currency": "EUR",
        "created_at": at("2026-12-07T06:00"), "updated_at": at("2026-12-08T06:00"),
        "eta_expected": date(2026, 12, 10), "eta_earliest": date(2026, 12, 9), "eta_latest": date(2026, 12, 11),
        "latest_status": "in_transit", "recipient_locale": "de-DE", "recipient_timezone": "Europe/Berlin",
    }
    return ShipmentRow(**{**fields, **update})


EVENT_ROWS = [TrackingEventRow(shipment_id="SHP-1", event_id="e1", partner="ups", code="PU", status="picked_up",
                               location="Shenzhen", occurred_at=at("2026-12-07T06:44"), received_seq=1)]


@pytest.mark.parametrize("status", sorted(ENDED_UNDELIVERED), ids=str)
def test_a_shipment_that_will_not_arrive_has_no_eta(status):
    # The read model keeps the last ETA of a compensated shipment (ops read it); the page must not promise it.
    view = page_of("1Z0000000000000001", row(status), EVENT_ROWS)
    assert (view.eta_expected, view.eta_earliest, view.eta_latest) == (None, None, None)
    doc = Document(render_tracking_page(view, "en"))
    assert not doc.has_id("eta") and not doc.has_id("progress")
    assert "Dec" not in doc.by_id("status").text + doc.by_id("hint").text


def test_a_moving_shipment_keeps_its_eta():
    view = page_of("1Z0000000000000001", row(Status.IN_PROGRESS), EVENT_ROWS)
    assert view.eta_expected == date(2026, 12, 10)
    assert Document(render_tracking_page(view, "en")).by_id("eta").text.startswith("Expected delivery: ")


@pytest.mark.parametrize("status", sorted(ENDED_UNDELIVERED), ids=str)
def test_the_page_model_refuses_an_eta_for_a_shipment_that_will_not_arrive(status):
    with pytest.raises(ValidationError, match=f"eta_expected: a {status.value} shipment will not be delivered"):
        page(shipment_status=status, eta_expected=date(2026, 12, 9))


@pytest.mark.parametrize("status", sorted(ENDED_UNDELIVERED), ids=str)
def test_an_ended_shipment_without_events_does_not_say_check_back_later(status):
    doc = Document(render_tracking_page(ended(status, events=[]), "en"))
    assert doc.by_id("status").text == "Cancelled"
    assert not doc.has_id("no-events") and not doc.has_id("timeline")
    assert "check again later" not in doc.root.text and "No tracking updates yet" not in doc.root.text


def test_an_ended_shipment_still_shows_what_did_happen():
    doc = Document(render_tracking_page(ended(Status.COMPENSATED), "en"))
    assert [e.attrs["data-status"] for e in doc.all(data_testid="event")] == ["picked_up"]


def test_a_shipment_still_waiting_for_its_first_scan_says_check_back_later():
    doc = Document(render_tracking_page(page(events=[], latest_status=None), "en"))
    assert doc.by_id("no-events").text == "No tracking updates yet. Please check again later."


def test_a_rejected_shipment_names_no_carrier():
    # The page has no carrier field at all (tests/domain/test_tracking_page.py), so no partner reaches it, booked
    # or only planned. The carrier shown for a shipment rejected before booking was the operator views' (see the
    # report of issue 19): the read model's `carrier` is the planned one.
    html = render_tracking_page(page_of("1Z0000000000000001", row(Status.REJECTED, stage="booking"), []), "en")
    assert not [name for name in directory().connections if f">{name}<" in html or f" {name} " in html]


# --- times with their zone ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("locale", "timezone", "when", "zone"), [
    ("de", "Europe/Berlin", "5. Dezember 2026 um 14:32 Uhr MEZ", "Mitteleuropäische Zeit"),
    ("en", "America/New_York", "December 5, 2026 at 8:32\u202fAM EST", "Eastern Time"),
    ("en", "Europe/Berlin", "December 5, 2026 at 2:32\u202fPM GMT+01:00", "Central European Time"),
    ("fr", "Europe/Paris", "5 décembre 2026 à 14:32 UTC+01:00", "heure d’Europe centrale"),
    ("ja", "Asia/Tokyo", "2026年12月5日 22:32（JST）", "日本時間"),
    ("pt-BR", "America/Sao_Paulo", "10:32 BRT", "Horário de Brasília"),
    ("de", "UTC", "5. Dezember 2026 um 13:32 Uhr UTC", "Koordinierte Weltzeit"),
], ids=["de-berlin", "en-new-york", "en-berlin-no-abbreviation", "fr-paris", "ja-tokyo", "pt-sao-paulo", "utc"])
def test_every_time_names_the_recipients_zone(locale, timezone, when, zone):
    view = page(events=[event("2026-12-05T13:32", "customs_hold", "Frankfurt")], timezone=timezone)
    doc = Document(render_tracking_page(view, locale))
    assert doc.all("time")[0].text.endswith(when)
    assert doc.all("time")[0].attrs["datetime"] == "2026-12-05T13:32:00Z"  # machines get the instant in UTC
    assert doc.by_id("time-zone-name").text == zone


def test_the_delivery_time_names_the_zone_too():
    view = page(shipment_status="delivered", latest_status="delivered", delivered_at=at("2026-12-08T13:32"))
    assert Document(render_tracking_page(view, "de")).by_id("eta").text.endswith("14:32 Uhr MEZ")


# --- labels joined as each language joins them --------------------------------------------------------------------


@pytest.mark.parametrize(("locale", "line", "zone_line"), [
    ("en", "Tracking number: 1Z0000000000000001", "Time zone: Central European Time"),
    ("fr", "Numéro de suivi\u00a0: 1Z0000000000000001", "Fuseau horaire\u00a0: heure d’Europe centrale"),
    ("ja", "追跡番号：1Z0000000000000001", "タイムゾーン：中央ヨーロッパ時間"),
    ("zh", "运单号：1Z0000000000000001", "时区：中欧时间"),
], ids=["en", "fr-no-break-space", "ja-full-width", "zh-full-width"])
def test_labels_are_joined_by_the_locales_separator(locale, line, zone_line):
    doc = Document(render_tracking_page(page(), locale))
    assert doc.by_id("tracking-number").text == "1Z0000000000000001"
    assert [p.text for p in doc.all("p") if p.children and p.children[0].attrs.get("id") == "tracking-number"] \
        == [line]
    assert doc.by_id("time-zone").text == zone_line


# --- the language links --------------------------------------------------------------------------------------------


def test_language_links_are_plain_links_to_every_language_named_in_itself():
    html = render_tracking_page(page(), "de")
    doc = Document(html)
    nav = doc.by_id("languages")
    assert nav.tag == "nav" and nav.attrs["aria-label"] == "Sprache"
    links = [e for e in nav.walk() if e.tag == "a"]
    assert [a.attrs["hreflang"] for a in links] == list(SUPPORTED_LOCALES)
    assert [a.attrs["href"] for a in links] == [f"?lang={code}" for code in SUPPORTED_LOCALES]
    assert {a.attrs["lang"]: a.text for a in links} == {
        "en": "English", "de": "Deutsch", "fr": "Français", "es": "Español", "ja": "日本語", "zh": "中文",
        "pt-BR": "Português (Brasil)", "ar": "العربية"}
    assert [a.attrs["lang"] for a in links if a.attrs.get("aria-current") == "true"] == ["de"]
    assert [a.attrs["dir"] for a in links if a.attrs["lang"] == "ar"] == ["rtl"]
    assert not doc.all("script") and not doc.all("form")  # works without JavaScript


# --- which language a reader gets ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("chosen", "accept_language", "recipient", "country", "expected"), [
    ("ja", "fr-CH,fr;q=0.9", "de-DE", "DE", "ja"),
    (None, "fr-CH,fr;q=0.9,en;q=0.5", "de-DE", "DE", "fr"),
    (None, "en-US,en;q=0.9", "de-DE", "DE", "en"),
    (None, "nl-NL,nl;q=0.9,es;q=0.4", "de-DE", "DE", "es"),
    (None, "de;q=0.3,ja;q=0.8", None, "DE", "ja"),
    (None, "nl-NL,nl;q=0.9", "de-DE", "FR", "de"),
    (None, None, None, "FR", "fr"),
    (None, "pt-PT", "de-DE", "DE", "pt-BR"),
    (None, "zh-Hant-TW", "de-DE", "DE", "zh"),
    ("nl", "es", "de-DE", "DE", "es"),
    ("PT-br", None, "de-DE", "DE", "pt-BR"),
    (None, "*", None, "NL", "en"),
], ids=["choice-over-header", "header-over-recipient", "english-browser-over-german-recipient",
        "first-supported-entry", "q-values-not-order", "unsupported-header-recipient", "country",
        "european-portuguese", "traditional-chinese", "unsupported-choice-passed-over", "choice-any-case",
        "nothing-matches-english"])
def test_page_locale_choice_then_browser_then_recipient(chosen, accept_language, recipient, country, expected):
    assert page_locale(chosen, accept_language, recipient, country) == expected


def test_page_locale_reaches_every_supported_locale_from_its_tag():
    assert [page_locale(None, tag) for tag in SUPPORTED_LOCALES] == list(SUPPORTED_LOCALES)


def test_statuses_are_all_placed_on_the_journey_or_after_it():
    # A new status must be given its place, or it sorts after the others of its instant.
    placed = {TrackingStatus.EXCEPTION, TrackingStatus.UNKNOWN}
    assert set(JOURNEY) | placed == set(TrackingStatus)
