"""Customer notifications: golden renderings in every locale, locale negotiation, local formats, time zones, quiet
hours, catalog completeness, and that no personal or internal data can reach a customer.

Golden files live in `tests/domain/golden/notify/`; regenerate them with `UPDATE_GOLDEN=1` and review the diff.
"""

import json
import os
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from tradelane.enums import ExceptionKind, NoticeKind, Status, TrackingStatus
from tradelane.notify import (
    SUPPORTED_LOCALES,
    Money,
    NoticeFacts,
    QuietHours,
    negotiate_locale,
    recipient_timezone,
    release_time,
    render_notice,
    render_ops_alert,
    status_label,
    webhook_payload,
)
from tradelane.notify.catalog import check_catalog, load_strings, resolve_locale
from tradelane.notify.render import format_eta
from tradelane.notify.timing import DEFAULT_ZONES, REGION_ZONES

GOLDEN = Path(__file__).parent / "golden" / "notify"
BERLIN = "Europe/Berlin"


def assert_golden(name: str, actual: str) -> None:
    """Compare with the golden file, or (re)write it when UPDATE_GOLDEN=1."""
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(actual, encoding="utf-8")
    assert path.exists(), f"{path} is missing; run the tests once with UPDATE_GOLDEN=1 and review the new file"
    assert actual == path.read_text(encoding="utf-8"), f"{name} differs from its golden file"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


COMMON = {
    "shipment_id": "SHP-2026-0042", "order_ref": "ORD-1042", "merchant": "Acme Outdoor",
    "tracking_number": "TL123456789DE", "tracking_url": "https://track.example.com/t/TL123456789DE",
    "destination_country": "DE",
}
EUR_DUTIES = Money(amount=Decimal("1234.50"), currency="EUR")
RANGE = {"eta_expected": date(2026, 12, 9), "eta_earliest": date(2026, 12, 8), "eta_latest": date(2026, 12, 10)}

FACTS: dict[NoticeKind, NoticeFacts] = {
    NoticeKind.BOOKED: NoticeFacts(kind="booked", occurred_at=at("2026-11-30T09:15"), **RANGE, **COMMON),
    NoticeKind.SHIPPED: NoticeFacts(kind="shipped", occurred_at=at("2026-12-01T06:40"), location="Shenzhen",
                                    **RANGE, **COMMON),
    NoticeKind.CUSTOMS_CLEARED: NoticeFacts(
        kind="customs_cleared", occurred_at=at("2026-12-05T13:32"), location="Leipzig",
        eta_earliest=date(2026, 12, 8), eta_latest=date(2026, 12, 8), duties_due=EUR_DUTIES, **COMMON),
    NoticeKind.OUT_FOR_DELIVERY: NoticeFacts(kind="out_for_delivery", occurred_at=at("2026-12-08T07:05"),
                                             location="Berlin", duties_due=EUR_DUTIES, **COMMON),
    NoticeKind.DELIVERED: NoticeFacts(kind="delivered", occurred_at=at("2026-12-08T13:32"), location="Berlin",
                                      **COMMON),
    NoticeKind.DELAYED: NoticeFacts(kind="delayed", occurred_at=at("2026-12-03T16:00"), exception="late",
                                    promised=date(2026, 12, 4), location="Frankfurt am Main", **RANGE, **COMMON),
    NoticeKind.EXCEPTION: NoticeFacts(kind="exception", occurred_at=at("2026-12-09T10:20"),
                                      exception="delivery_failed", attempt=2, location="Berlin",
                                      eta_expected=date(2026, 12, 10), **COMMON),
    NoticeKind.COMPENSATED: NoticeFacts(kind="compensated", occurred_at=at("2026-12-02T11:45"),
                                        reason_code="RESTRICTED_GOODS", **RANGE, **COMMON),
    NoticeKind.REJECTED: NoticeFacts(kind="rejected", occurred_at=at("2026-11-30T09:20"),
                                     reason_code="EMBARGOED_DESTINATION", **COMMON),
    NoticeKind.CANCELLED: NoticeFacts(kind="cancelled", occurred_at=at("2026-12-03T08:10"), **RANGE, **COMMON),
}


def test_every_notice_kind_has_golden_facts():
    assert set(FACTS) == set(NoticeKind)


# --- golden renderings ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES, ids=SUPPORTED_LOCALES)
@pytest.mark.parametrize("kind", list(NoticeKind), ids=[k.value for k in NoticeKind])
def test_notice_text_matches_golden_file(kind, locale):
    message = render_notice(FACTS[kind], locale, BERLIN)
    assert message.locale == locale
    assert_golden(f"{kind.value}.{locale}.txt",
                  f"Subject: {message.subject}\nDirection: {message.direction}\n\n{message.text}")


@pytest.mark.parametrize("locale", ["en", "ar"], ids=["en", "ar"])
@pytest.mark.parametrize("kind", list(NoticeKind), ids=[k.value for k in NoticeKind])
def test_notice_html_matches_golden_file(kind, locale):
    assert_golden(f"{kind.value}.{locale}.html", render_notice(FACTS[kind], locale, BERLIN).html)


def test_ops_alert_matches_golden_file():
    alert = render_ops_alert(FACTS[NoticeKind.EXCEPTION])
    assert alert.subject == "Shipment SHP-2026-0042 (order ORD-1042): exception (delivery_failed)"
    assert (alert.locale, alert.direction) == ("en", "ltr")
    assert_golden("ops_alert.txt", f"Subject: {alert.subject}\n\n{alert.text}")


# --- locale formats ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("locale", "expected"), [
    ("en", ["was delivered on December 8, 2026 at 2:32\u202fPM"]),
    ("de", ["wurde am 8. Dezember 2026 um 14:32 Uhr zugestellt"]),
    ("ja", ["2026年12月8日 14:32にお届けしました"]),
    ("fr", ["a été livrée le 8 décembre 2026 à 14:32"]),
], ids=["en-12h-clock", "de-day-dot-month-name", "ja-year-month-day-kanji", "fr-day-month-name"])
def test_delivered_date_and_time_are_localised(locale, expected):
    text = render_notice(FACTS[NoticeKind.DELIVERED], locale, BERLIN).text
    assert all(fragment in text for fragment in expected), text


@pytest.mark.parametrize(("locale", "amount", "currency", "expected"), [
    ("de", "1234.50", "EUR", "1.234,50\u00a0€"),
    ("en", "1234.50", "EUR", "€1,234.50"),
    ("fr", "1234.50", "EUR", "1\u202f234,50\u00a0€"),
    ("pt-BR", "1234.50", "BRL", "R$\u00a01.234,50"),
    ("ja", "4800", "JPY", "￥4,800"),
], ids=["de-euro-after-comma-decimals", "en-euro-before", "fr-narrow-space-groups", "pt-br-real-sign",
        "ja-yen-no-decimals"])
def test_duties_are_formatted_as_local_money(locale, amount, currency, expected):
    facts = FACTS[NoticeKind.OUT_FOR_DELIVERY].model_copy(
        update={"duties_due": Money(amount=Decimal(amount), currency=currency)})
    assert expected in render_notice(facts, locale, BERLIN).text


def test_event_time_is_shown_on_the_recipients_clock():
    delivered = FACTS[NoticeKind.DELIVERED]  # 13:32 UTC
    assert "2026年12月8日 22:32" in render_notice(delivered, "ja", "Asia/Tokyo").text
    assert "December 8, 2026 at 8:32\u202fAM" in render_notice(delivered, "en", "America/New_York").text


@pytest.mark.parametrize(("expected", "earliest", "latest", "locale", "shown"), [
    (None, date(2026, 12, 8), date(2026, 12, 10), "en", "Tue, Dec 8\u2009–\u2009Thu, Dec 10"),
    (None, date(2026, 12, 8), date(2026, 12, 10), "de", "Di., 8.\u2009–\u2009Do., 10. Dez."),
    (None, date(2026, 12, 8), date(2026, 12, 10), "ja", "12月8日(火)～10日(木)"),
    (None, date(2026, 12, 8), date(2026, 12, 8), "de", "Dienstag, 8. Dezember 2026"),
    (date(2026, 12, 9), None, None, "en", "Wednesday, December 9, 2026"),
    (None, date(2026, 12, 30), date(2027, 1, 2), "en", "Wed, Dec 30\u2009–\u2009Sat, Jan 2"),
    (None, None, None, "en", None),
], ids=["range-en", "range-de", "range-ja", "one-day-window-is-one-date", "expected-only", "across-new-year",
        "no-eta"])
def test_eta_is_a_range_or_a_single_date(expected, earliest, latest, locale, shown):
    assert format_eta(expected, earliest, latest, locale) == shown


def test_arabic_is_right_to_left_with_isolated_latin_values():
    message = render_notice(FACTS[NoticeKind.SHIPPED], "ar", BERLIN)
    assert message.direction == "rtl"
    assert '<html lang="ar" dir="rtl">' in message.html
    assert "direction:rtl;text-align:right" in message.html
    assert "\u2068ORD-1042\u2069" in message.subject
    english = render_notice(FACTS[NoticeKind.SHIPPED], "en", BERLIN)
    assert english.direction == "ltr" and "\u2068" not in english.text


def test_html_escapes_merchant_text():
    facts = FACTS[NoticeKind.SHIPPED].model_copy(update={"merchant": "<b>Bits & Bobs</b>"})
    message = render_notice(facts, "en", BERLIN)
    assert "&lt;b&gt;Bits &amp; Bobs&lt;/b&gt;" in message.html and "<b>" not in message.html
    assert "from <b>Bits & Bobs</b> has been" in message.text  # plain text is not HTML


@pytest.mark.parametrize(("locale", "timezone", "error"), [
    ("nl", BERLIN, "locale: 'nl' is not supported"),
    ("en", "Mars/Olympus", "timezone: 'Mars/Olympus' is not an IANA time zone"),
], ids=["unsupported-locale", "unknown-zone"])
def test_render_refuses_unknown_locale_or_zone(locale, timezone, error):
    with pytest.raises(ValueError, match=error):
        render_notice(FACTS[NoticeKind.SHIPPED], locale, timezone)


def test_regional_tag_renders_in_its_language():
    assert render_notice(FACTS[NoticeKind.SHIPPED], "de-AT", BERLIN).locale == "de"


# --- locale negotiation ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("recipient", "header", "country", "expected"), [
    ("de-DE", None, None, "de"),
    ("pt-BR", None, None, "pt-BR"),
    ("pt-PT", None, "PT", "pt-BR"),
    ("zh-Hans-CN", None, None, "zh"),
    ("zh_TW", None, None, "zh"),
    ("es-MX", "de-DE,de;q=0.9", "DE", "es"),
    ("nl-NL", "fr-CH, fr;q=0.9, en;q=0.8", "NL", "fr"),
    (None, "en;q=0.5, ja;q=0.9, de;q=0", None, "ja"),
    (None, "de;q=0, sv, es;q=0.3", "DE", "es"),
    (None, "fr;q=abc, es;q=0.1", None, "es"),
    (None, "sv-SE, nb;q=0.8, *;q=0.1", "BR", "pt-BR"),
    (None, None, "EG", "ar"),
    (None, None, "CH", "de"),
    (None, None, "tw", "zh"),
    (None, None, "BE", "en"),
    ("xx", "", None, "en"),
    (None, None, None, "en"),
], ids=["recipient-region-stripped", "recipient-pt-br", "pt-pt-served-by-pt-br", "zh-hans", "zh-tw-underscore",
        "recipient-beats-header", "unsupported-recipient-then-header", "header-highest-q-wins",
        "header-q0-excluded-unsupported-skipped", "header-malformed-q-skipped", "header-unusable-then-country",
        "country-egypt-arabic", "country-switzerland-german-first", "country-lower-case-taiwan",
        "country-main-language-unsupported", "nothing-usable", "nothing-given"])
def test_negotiate_locale(recipient, header, country, expected):
    assert negotiate_locale(recipient, header, country) == expected


# --- catalogs ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES, ids=SUPPORTED_LOCALES)
def test_catalog_has_every_english_key_with_the_same_placeholders(locale):
    assert check_catalog(locale, load_strings(locale), load_strings("en")) == []


def test_english_catalog_covers_every_enum_value():
    keys = load_strings("en").keys()
    for prefix, enum in [("status", TrackingStatus), ("reason", ExceptionKind), ("page.shipment_status", Status)]:
        assert {f"{prefix}.{v.value}" for v in enum} <= keys, prefix
    for kind in NoticeKind:
        assert {f"notice.{kind.value}.{part}" for part in ("subject", "headline", "intro")} <= keys


def test_check_catalog_names_missing_keys_and_placeholder_mismatches():
    reference = {"a": "Hello {order_ref}", "b": "Bye"}
    assert check_catalog("xx", {"a": "Hallo {order}", "c": "?"}, reference) == [
        "xx: 'a' has placeholders ['order'], English has ['order_ref']",
        "xx: extra key 'c'",
        "xx: missing key 'b'",
    ]


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES, ids=SUPPORTED_LOCALES)
def test_status_label_covers_every_tracking_status(locale):
    labels = {status: status_label(status, locale) for status in TrackingStatus}
    assert all(label.strip() for label in labels.values())
    assert len(set(labels.values())) == len(TrackingStatus)  # no two statuses read the same
    if locale != "en":
        assert all(labels[s] != status_label(s, "en") for s in TrackingStatus), "untranslated label"


def test_status_label_examples_and_errors():
    assert status_label(TrackingStatus.IN_TRANSIT, "de") == "Unterwegs"
    assert status_label(TrackingStatus.CUSTOMS_HOLD, "ja") == "税関で保留中"
    with pytest.raises(ValueError, match="'lost_in_space' is not a valid TrackingStatus"):
        status_label("lost_in_space", "en")
    with pytest.raises(ValueError, match="supported: en, de, fr, es, ja, zh, pt-BR, ar"):
        resolve_locale("sv-SE")


# --- no personal or internal data ---------------------------------------------------------------------------------


def test_notice_facts_have_no_field_for_personal_data():
    assert set(NoticeFacts.model_fields) == {
        "kind", "shipment_id", "order_ref", "merchant", "merchant_support", "merchant_logo_url", "tracking_number",
        "tracking_url",
        "destination_country",
        "eta_expected", "eta_earliest", "eta_latest", "promised", "occurred_at", "location", "exception",
        "attempt", "duties_due", "reason_code",
    }
    with pytest.raises(ValidationError, match="recipient_email"):
        NoticeFacts(recipient_email="a@b.example", **FACTS[NoticeKind.SHIPPED].model_dump())


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES, ids=SUPPORTED_LOCALES)
def test_customer_messages_never_show_the_internal_shipment_id(locale):
    for facts in FACTS.values():
        message = render_notice(facts, locale, BERLIN)
        assert "SHP-2026-0042" not in message.subject + message.text + message.html


@pytest.mark.parametrize(("update", "field"), [
    ({"tracking_url": "javascript:alert(1)"}, "tracking_url"),
    ({"occurred_at": datetime(2026, 12, 1, 8, 0)}, "occurred_at"),
    ({"attempt": 0}, "attempt"),
    ({"destination_country": "XX"}, "destination_country"),
], ids=["url-must-be-http", "naive-time-refused", "attempt-counts-from-1", "country-must-be-iso"])
def test_notice_facts_refuse_bad_values(update, field):
    with pytest.raises(ValidationError, match=field):
        NoticeFacts(**{**FACTS[NoticeKind.SHIPPED].model_dump(), **update})


def test_occurred_at_is_stored_in_utc():
    facts = NoticeFacts(**{**FACTS[NoticeKind.SHIPPED].model_dump(),
                           "occurred_at": datetime.fromisoformat("2026-12-01T08:40:00+02:00")})
    assert facts.occurred_at == at("2026-12-01T06:40") and facts.occurred_at.tzinfo is UTC


def test_webhook_payload_is_json_with_ids_dates_and_exception():
    payload = webhook_payload(FACTS[NoticeKind.EXCEPTION])
    assert payload == {
        "type": "shipment.exception", "shipment_id": "SHP-2026-0042", "order_ref": "ORD-1042",
        "tracking_number": "TL123456789DE", "tracking_url": "https://track.example.com/t/TL123456789DE",
        "occurred_at": "2026-12-09T10:20:00Z", "destination_country": "DE", "location": "Berlin",
        "eta": {"expected": "2026-12-10", "earliest": None, "latest": None, "promised": None},
        "exception": {"kind": "delivery_failed", "attempt": 2}, "duties_due": None, "reason_code": None,
    }
    assert json.loads(json.dumps(webhook_payload(FACTS[NoticeKind.CUSTOMS_CLEARED])))["duties_due"] == {
        "amount": "1234.50", "currency": "EUR"}


# --- time zones ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("country", "region", "zone"), [
    ("DE", None, "Europe/Berlin"),
    ("DE", "BY", "Europe/Berlin"),
    ("JP", None, "Asia/Tokyo"),
    ("US", "CA", "America/Los_Angeles"),
    ("US", "NY", "America/New_York"),
    ("us", "US-ca", "America/Los_Angeles"),
    ("US", "California", "America/Los_Angeles"),
    ("US", "AZ", "America/Phoenix"),
    ("US", None, "America/New_York"),
    ("US", "Atlantis", "America/New_York"),
    ("BR", None, "America/Sao_Paulo"),
    ("BR", "AM", "America/Manaus"),
    ("BR", "sao paulo", "America/Sao_Paulo"),
    ("CA", "BC", "America/Vancouver"),
    ("CA", None, "America/Toronto"),
    ("AU", "NSW", "Australia/Sydney"),
    ("AU", "Western Australia", "Australia/Perth"),
    ("AU", None, "Australia/Sydney"),
    ("RU", None, "Europe/Moscow"),
    ("MX", None, "America/Mexico_City"),
], ids=["de", "de-region-ignored", "jp", "us-california", "us-new-york", "us-iso-3166-2-code-any-case",
        "us-state-name", "us-arizona-no-dst", "us-default-eastern", "us-unknown-region-default", "br-default",
        "br-amazonas", "br-name-without-accent", "ca-british-columbia", "ca-default-toronto", "au-nsw",
        "au-state-name", "au-default-sydney", "ru-default-moscow", "mx-first-zone"])
def test_recipient_timezone(country, region, zone):
    assert recipient_timezone(country, region) == zone


def test_recipient_timezone_refuses_unknown_country():
    with pytest.raises(ValueError, match="country: 'XX' is not an ISO 3166-1 alpha-2 code"):
        recipient_timezone("XX")


def test_every_zone_in_the_tables_is_in_the_tz_database():
    zones = set(DEFAULT_ZONES.values()) | {z for table in REGION_ZONES.values() for z in table.values()}
    assert all(ZoneInfo(z).key == z for z in zones)
    assert len(REGION_ZONES["US"]) == 56 and len(REGION_ZONES["BR"]) == 27  # 50 states + DC + 5 territories


# --- quiet hours ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "start", "end", "wraps"), [
    ("21:00-08:00", time(21), time(8), True),
    (" 9:30 – 17:00 ", time(9, 30), time(17), False),
    ("00:00-06:00", time(0), time(6), False),
    ("21:00:00-07:59:30", time(21), time(7, 59, 30), True),
], ids=["wrapping", "en-dash-and-spaces", "from-midnight", "with-seconds"])
def test_quiet_hours_parse(text, start, end, wraps):
    quiet = QuietHours.parse(text)
    assert (quiet.start, quiet.end, quiet.wraps_midnight) == (start, end, wraps)


@pytest.mark.parametrize(("text", "error"), [
    ("21-08", r"quiet hours '21-08': expected HH:MM-HH:MM"),
    ("25:00-08:00", "start 25:00:00 is not a time of day"),
    ("21:00-08:60", "end 08:60:00 is not a time of day"),
    ("21:00-08:00:61", "end 08:00:61 is not a time of day"),
    ("08:00-08:00", "both 08:00, an empty window"),
], ids=["no-minutes", "hour-out-of-range", "minute-out-of-range", "second-out-of-range", "empty-window"])
def test_quiet_hours_parse_errors_name_the_problem(text, error):
    with pytest.raises(ValueError, match=error):
        QuietHours.parse(text)


NIGHT = QuietHours.parse("21:00-08:00")


@pytest.mark.parametrize(("due", "zone", "quiet", "released"), [
    ("2026-01-15T12:00", BERLIN, NIGHT, "2026-01-15T12:00"),
    ("2026-01-15T21:30", BERLIN, NIGHT, "2026-01-16T07:00"),
    ("2026-01-16T02:00", BERLIN, NIGHT, "2026-01-16T07:00"),
    ("2026-01-15T20:00", BERLIN, NIGHT, "2026-01-16T07:00"),
    ("2026-01-16T07:00", BERLIN, NIGHT, "2026-01-16T07:00"),
    ("2026-01-15T11:30", BERLIN, QuietHours.parse("12:00-14:00"), "2026-01-15T13:00"),
    ("2026-01-15T11:30", BERLIN, None, "2026-01-15T11:30"),
    ("2026-03-28T21:00", BERLIN, NIGHT, "2026-03-29T06:00"),
    ("2026-10-24T20:00", BERLIN, NIGHT, "2026-10-25T07:00"),
    ("2026-03-28T23:00", BERLIN, QuietHours.parse("23:00-02:30"), "2026-03-29T01:00"),
    ("2026-10-25T01:10", BERLIN, QuietHours.parse("01:00-02:30"), "2026-10-25T01:30"),
    ("2026-01-15T13:00", "Asia/Tokyo", NIGHT, "2026-01-15T23:00"),
    ("2026-07-01T02:00", "America/New_York", NIGHT, "2026-07-01T12:00"),
], ids=["outside", "inside-before-midnight", "inside-after-midnight", "at-start-is-quiet", "at-end-is-free",
        "daytime-window", "no-quiet-hours", "dst-spring-forward-08-cest", "dst-fall-back-08-cet",
        "end-in-skipped-hour-released-at-the-jump", "end-in-repeated-hour-second-pass", "tokyo", "new-york-summer"])
def test_release_time(due, zone, quiet, released):
    assert release_time(at(due), zone, quiet) == at(released)


def test_release_time_refuses_a_naive_datetime():
    with pytest.raises(ValueError, match="at: 2026-01-15T12:00:00 has no time zone"):
        release_time(datetime(2026, 1, 15, 12), BERLIN, NIGHT)


ZONES = ["Europe/Berlin", "America/New_York", "Australia/Sydney", "Asia/Tokyo", "America/Sao_Paulo",
         "Australia/Lord_Howe"]


@settings(max_examples=300, deadline=None)
@given(
    due=st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)),
    zone=st.sampled_from(ZONES),
    start=st.integers(0, 24 * 60 - 1),
    length=st.integers(1, 24 * 60 - 1),
)
def test_release_is_the_first_free_instant(due, zone, start, length):
    end = (start + length) % (24 * 60)
    quiet = QuietHours(time(start // 60, start % 60), time(end // 60, end % 60))
    tz = ZoneInfo(zone)
    released = release_time(due, zone, quiet)
    assert released >= due
    assert not quiet.contains(released.astimezone(tz).time())
    if not quiet.contains(due.astimezone(tz).time()):
        assert released == due
    elif released > due:
        assert quiet.contains((released - timedelta(seconds=1)).astimezone(tz).time())
