"""How the customer messages read to a native speaker (issue 19, point 6; checklist in docs/translations.md).

Each test renders real e-mails through `tradelane.notify` and asserts on their text: a date and time joined the way a
sentence in the language joins them, first-of-month ordinals, one term per shipment stage on the tracking page and in
the e-mails, word choices a native customer-service writer would make, greeting, closing and footer.
"""

import re
import unicodedata
from datetime import UTC, date, datetime

import pytest

from starter.web.tracking_page import STAGES
from tradelane.enums import ExceptionKind, NoticeKind, TrackingStatus
from tradelane.notify import SUPPORTED_LOCALES, NoticeFacts, RenderedMessage, render_notice, status_label
from tradelane.notify.catalog import catalog
from tradelane.notify.locale_data import DAY_OF_MONTH
from tradelane.notify.render import format_eta

BERLIN = "Europe/Berlin"
MERCHANT = "Acme Outdoor"


def notice(kind: NoticeKind, occurred_at: str = "2026-12-08T13:32", **update: object) -> NoticeFacts:
    """Facts of one notice, as the shipment workflow hands them over (times in UTC)."""
    fields: dict[str, object] = {
        "kind": kind, "shipment_id": "SHP-2026-0042", "order_ref": "ORD-1042", "merchant": MERCHANT,
        "tracking_number": "TL123456789DE", "tracking_url": "https://track.example.com/t/TL123456789DE",
        "destination_country": "DE", "occurred_at": datetime.fromisoformat(occurred_at).replace(tzinfo=UTC),
        "eta_expected": date(2026, 12, 10), "location": "Berlin",
    }
    if kind is NoticeKind.EXCEPTION:
        fields["exception"] = ExceptionKind.CARRIER_EXCEPTION
    return NoticeFacts.model_validate({**fields, **update})


CUSTOMER_KINDS = list(NoticeKind)
"""Every notice a customer can get, the terminal ones (cancelled, rejected, compensated) included."""


def intro(message: RenderedMessage) -> str:
    """The first paragraph of the body: the one after the greeting."""
    return message.text.split("\n\n")[2]


# --- dates and times inside sentences ------------------------------------------------------------------------------


@pytest.mark.parametrize(("locale", "sentence"), [
    ("de", "wurde am 8. Dezember 2026 um 14:32 Uhr zugestellt."),
    ("es", "se entregó el 8 de diciembre de 2026 a las 14:32."),
    ("pt-BR", "foi entregue em 8 de dezembro de 2026 às 14:32."),
    ("fr", "a été livrée le 8 décembre 2026 à 14:32."),
    ("en", "was delivered on December 8, 2026 at 2:32\u202fPM."),
    ("ar", "في 8 ديسمبر 2026، الساعة 2:32 م."),
    ("ja", "2026年12月8日 14:32にお届けしました。"),
    ("zh", "已于 2026年12月8日 14:32 送达。"),
], ids=["de-um-uhr", "es-a-las", "pt-br-as", "fr-a", "en-at", "ar-alsaa", "ja", "zh"])
def test_a_date_and_time_in_a_sentence_has_the_locales_connector(locale, sentence):
    """CLDR's long date and short time, joined by the catalog's connector where the sentence needs it."""
    assert sentence in intro(render_notice(notice(NoticeKind.DELIVERED), locale, BERLIN))


@pytest.mark.parametrize(("locale", "utc", "connector"), [
    ("es", "2026-12-08T00:05", "a la 1:05"),
    ("es", "2026-12-08T12:05", "a las 13:05"),
    ("es", "2026-12-08T01:05", "a las 2:05"),
    ("pt-BR", "2026-12-07T23:30", "à 00:30"),
    ("pt-BR", "2026-12-08T00:05", "à 01:05"),
    ("pt-BR", "2026-12-08T01:05", "às 02:05"),
], ids=["es-la-una", "es-las-trece", "es-las-dos", "pt-br-a-zero-hora", "pt-br-a-uma", "pt-br-as-duas"])
def test_the_connector_agrees_with_a_singular_hour(locale, utc, connector):
    """Spanish "a la 1:05" but "a las 2:05"; Portuguese "à 1h" but "às 2h" (CLDR's plural category of the hour)."""
    text = intro(render_notice(notice(NoticeKind.DELIVERED, utc), locale, BERLIN))
    assert f" {connector}." in text


def test_the_last_update_line_reads_the_same_way():
    text = render_notice(notice(NoticeKind.SHIPPED), "de", BERLIN).text
    assert "Letzte Aktualisierung: 8. Dezember 2026 um 14:32 Uhr\n" in text


# --- the first of the month -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("locale", "expected"), [
    ("fr", "a été livrée le 1er décembre 2026 à 10:00."),
    ("pt-BR", "foi entregue em 1º de dezembro de 2026 às 10:00."),
    ("es", "se entregó el 1 de diciembre de 2026 a las 10:00."),
    ("de", "wurde am 1. Dezember 2026 um 10:00 Uhr zugestellt."),
], ids=["fr-1er", "pt-br-1o", "es-cardinal", "de-cldr-dot"])
def test_the_first_of_the_month_is_written_as_the_language_writes_it(locale, expected):
    assert expected in intro(render_notice(notice(NoticeKind.DELIVERED, "2026-12-01T09:00"), locale, BERLIN))


FIRST = {"eta_expected": date(2026, 12, 1)}
SECOND_TO_FOURTH = {"eta_expected": None, "eta_earliest": date(2026, 12, 2), "eta_latest": date(2026, 12, 4)}


@pytest.mark.parametrize(("locale", "eta", "expected"), [
    ("fr", FIRST, "Livraison prévue\u00a0: mardi 1er décembre 2026\n"),
    ("pt-BR", FIRST, "Previsão de entrega: terça-feira, 1º de dezembro de 2026\n"),
    ("fr", SECOND_TO_FOURTH, "Livraison prévue\u00a0: mer. 2\u2009–\u2009ven. 4 déc.\n"),
], ids=["fr-full-date", "pt-br-full-date", "fr-other-days-stay-cardinal"])
def test_first_of_month_ordinals_in_the_eta_line(locale, eta, expected):
    assert expected in render_notice(notice(NoticeKind.SHIPPED, **eta), locale, BERLIN).text


@pytest.mark.parametrize(("locale", "low", "high", "shown"), [
    ("fr", date(2026, 12, 1), date(2026, 12, 3), "mar. 1er\u2009–\u2009jeu. 3 déc."),
    ("fr", date(2026, 11, 30), date(2026, 12, 1), "lun. 30 nov.\u2009–\u2009mar. 1er déc."),
    ("pt-BR", date(2026, 11, 30), date(2026, 12, 1), "seg., 30 de nov.\u2009–\u2009ter., 1º de dez."),
    ("en", date(2026, 12, 1), date(2026, 12, 3), "Tue, Dec 1\u2009–\u2009Thu, Dec 3"),
], ids=["fr-range-from-the-first", "fr-range-to-the-first", "pt-br-range-to-the-first", "en-unchanged"])
def test_first_of_month_ordinals_in_an_eta_range(locale, low, high, shown):
    assert format_eta(None, low, high, locale) == shown


def test_every_day_of_month_table_is_for_a_supported_locale_and_names_its_source():
    for locale, table in DAY_OF_MONTH.items():
        assert locale in SUPPORTED_LOCALES
        assert table.source.strip() and set(table.forms) <= set(range(1, 32))


# --- one term per stage ---------------------------------------------------------------------------------------------

STAGE_NOTICE = {
    "booked": NoticeKind.BOOKED, "shipped": NoticeKind.SHIPPED, "customs": NoticeKind.CUSTOMS_CLEARED,
    "out_for_delivery": NoticeKind.OUT_FOR_DELIVERY, "delivered": NoticeKind.DELIVERED,
}
"""The e-mail that tells the customer a stage of the page's progress bar is reached."""

STAGE_STATUS = {
    "in_transit": TrackingStatus.IN_TRANSIT, "out_for_delivery": TrackingStatus.OUT_FOR_DELIVERY,
    "delivered": TrackingStatus.DELIVERED,
}
"""Stages that are also a tracking status: the page's history and the e-mails' status words."""


def _words(text: str) -> list[str]:
    """Words for comparing terms: case-folded, and without the Arabic article, which Arabic drops in a construct
    ("تم الشحن" -> "تم شحن طلبك")."""
    words = re.findall(r"\w+", unicodedata.normalize("NFKC", text).casefold())
    return [w[2:] if w.startswith("ال") and len(w) > 4 else w for w in words]


def uses_term(term: str, text: str) -> bool:
    """Whether every word of `term` is in `text`, allowing an inflected ending (fr "expédié" in "expédiée")."""
    haystack = " ".join(_words(text))
    return all(word in haystack for word in _words(term))


def test_every_stage_of_the_page_is_covered_here():
    assert set(STAGES) == set(STAGE_NOTICE) | set(STAGE_STATUS)


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
def test_the_pages_stage_labels_are_the_terms_of_the_emails(locale):
    """A customer reading "Registrado" on the page and "programado" in the e-mail wonders whether they are one step."""
    cat = catalog(locale)
    for stage, kind in STAGE_NOTICE.items():
        label = cat.text(f"page.stage.{stage}")
        message = render_notice(notice(kind), locale, BERLIN)
        headline = message.text.split("\n", 1)[0]
        assert uses_term(label, message.subject) or uses_term(label, headline), (
            f"{locale}: the page's stage '{label}' is not the term of the {kind.value} e-mail: "
            f"'{message.subject}' / '{headline}'")
    for stage, status in STAGE_STATUS.items():
        assert cat.text(f"page.stage.{stage}") == status_label(status, locale), f"{locale}: {stage}"
    assert cat.text("page.shipment_status.delivered") == cat.text("page.stage.delivered"), locale


# --- word choice ---------------------------------------------------------------------------------------------------


def _everything(locale: str, kind: NoticeKind, **update: object) -> str:
    message = render_notice(notice(kind, **update), locale, BERLIN)
    return f"{message.subject}\n{message.text}"


def test_german_booked_is_not_the_logistics_calque_gebucht():
    text = _everything("de", NoticeKind.BOOKED)
    assert "gebucht" not in text.casefold()
    assert "Der Versand Ihrer Bestellung ist beauftragt" in text
    assert catalog("de").text("page.stage.booked") == "Beauftragt"


def test_arabic_booked_does_not_read_as_seized():
    """حجز is to book a seat, and also to seize or detain (محتجز لدى الجمارك, held at customs)."""
    text = _everything("ar", NoticeKind.BOOKED)
    assert "حجز" not in text and "حجز" not in catalog("ar").text("page.stage.booked")
    assert "تم تأكيد شحن طلبك" in text


def test_chinese_customs_hold_does_not_read_as_confiscation():
    """扣留 is what customs does to goods it detains or seizes; a parcel waiting for clearance is being examined."""
    text = _everything("zh", NoticeKind.EXCEPTION, exception=ExceptionKind.CUSTOMS_HOLD)
    label = status_label(TrackingStatus.CUSTOMS_HOLD, "zh")
    assert "扣留" not in text and "扣留" not in label
    assert label == "海关查验中" and "您的包裹正在接受海关查验" in text


# --- greeting, closing, footer -------------------------------------------------------------------------------------

_SIE_FORMS = {"Sie", "Ihr", "Ihre", "Ihrer", "Ihren", "Ihrem", "Ihres", "Ihnen"}


@pytest.mark.parametrize("kind", CUSTOMER_KINDS, ids=[k.value for k in CUSTOMER_KINDS])
def test_german_continues_in_lower_case_after_guten_tag(kind):
    """After "Guten Tag," the letter goes on in lower case; only "Sie"/"Ihr" forms and names keep their capital."""
    message = render_notice(notice(kind), "de", BERLIN)
    assert message.text.split("\n\n")[1] == "Guten Tag,"
    first = intro(message)
    word = first.split()[0]
    assert word[0].islower() or word in _SIE_FORMS or first.startswith(MERCHANT), first


@pytest.mark.parametrize(("locale", "closing"), [
    ("de", "Mit freundlichen Grüßen\nIhr Team von Acme Outdoor"),
    ("ja", "今後ともよろしくお願いいたします。\nAcme Outdoor"),
], ids=["de", "ja"])
@pytest.mark.parametrize("kind", CUSTOMER_KINDS, ids=[k.value for k in CUSTOMER_KINDS])
def test_german_and_japanese_mails_end_with_a_closing_line(kind, locale, closing):
    message = render_notice(notice(kind), locale, BERLIN)
    assert f"\n\n{closing}\n\n--\n" in message.text
    assert closing.replace("\n", "<br>") in message.html


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
def test_every_mail_closes_before_its_footer(locale):
    message = render_notice(notice(NoticeKind.SHIPPED), locale, BERLIN)
    body, _, footer = message.text.rpartition("\n--\n")
    *_, closing, signature = body.rstrip().split("\n")
    assert closing == catalog(locale).text("closing")
    assert MERCHANT in signature and footer.strip()


def test_the_japanese_no_reply_footer_is_polite():
    """"返信しないでください" is an order; a shop asks for understanding that replies cannot be answered."""
    footer = render_notice(notice(NoticeKind.SHIPPED), "ja", BERLIN).text.rpartition("\n--\n")[2]
    assert "しないでください" not in footer
    assert "送信専用" in footer and "ご了承ください" in footer


def test_chinese_on_hold_hint_does_not_say_the_parcel_was_shelved():
    """被搁置 is "set aside, neglected"; the page's status says 暂停处理 (processing paused), and so does its hint."""
    cat = catalog("zh")
    hint = cat.text("page.hint_on_hold")
    assert "搁置" not in hint and cat.text("page.shipment_status.on_hold") in hint
