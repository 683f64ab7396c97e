"""Customer notifications, operations alerts and merchant webhooks, rendered from one set of shipment facts.

Pure: no clock, no I/O beyond loading the packaged catalogs and templates once. Times come in as UTC and are shown
in the recipient's zone; dates, numbers and money are formatted by Babel (CLDR) for the recipient's locale.
Customer messages carry no personal data: `NoticeFacts` has no name, address, e-mail or phone field at all.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from babel.dates import (
    PATTERN_CHAR_ORDER,
    DateTimeFormat,
    DateTimePattern,
    format_interval,
    parse_pattern,
    tokenize_pattern,
)
from babel.numbers import format_currency, format_decimal
from jinja2 import Environment, PackageLoader, StrictUndefined
from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field

from tradelane.enums import ExceptionKind, NoticeKind
from tradelane.models import CountryCode, CurrencyCode
from tradelane.notify.catalog import Catalog, babel_locale, catalog, resolve_locale, text_direction
from tradelane.notify.locale_data import day_forms
from tradelane.notify.timing import zone

FSI, PDI = "\u2068", "\u2069"
"""Unicode first-strong isolate and pop: keep a Latin value (order number, shop name) from reordering RTL text."""


def _utc(at: datetime) -> datetime:
    return at.astimezone(UTC)


def _web_url(url: str | None) -> str | None:
    if url is not None and not url.startswith(("https://", "http://")):
        raise ValueError(f"'{url}' is not an http(s) URL")
    return url


def https_url(url: str | None) -> str | None:
    """`url` itself when it is an absolute https URL with a host and no whitespace or control characters (what a
    merchant's profile may name for its logo, `starter/routes/merchants.py`).

    Raises:
        ValueError: anything else (`http://`, `javascript:`, `data:`, a relative path), so no other scheme reaches
            an e-mail or page that embeds it.
    """
    if url is None:
        return None
    if urlsplit(url).scheme != "https" or not urlsplit(url).hostname or not url.isprintable() or " " in url:
        raise ValueError(f"must be an https URL (https://host/...), not {url[:60]!r}")
    return url


class Money(BaseModel):
    """An amount in a currency (ISO 4217)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    amount: Decimal
    currency: CurrencyCode


class NoticeFacts(BaseModel):
    """What happened to a shipment, as far as a notification needs it. Deliberately no personal data fields."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: NoticeKind
    shipment_id: str
    """Internal id: only in operations alerts and merchant webhooks, never in customer messages."""
    order_ref: str
    """The merchant's order reference, which the customer knows."""
    merchant: str
    """The merchant's display name (its profile's; its id when it has none)."""
    merchant_support: str | None = None
    """Where the customer reaches the merchant about the order (its profile's support e-mail or page)."""
    merchant_logo_url: Annotated[str | None, AfterValidator(https_url)] = None
    """The merchant's logo (its profile's; https only), shown atop customer e-mails with the display name as its
    alternative text; None without one. Plain-text e-mails name the shop instead."""
    tracking_number: str | None
    tracking_url: Annotated[str | None, AfterValidator(_web_url)]
    destination_country: CountryCode
    eta_expected: date | None = None
    eta_earliest: date | None = None
    eta_latest: date | None = None
    promised: date | None = None
    """The delivery date first promised to the customer."""
    occurred_at: Annotated[AwareDatetime, AfterValidator(_utc)]
    """When it happened; stored in UTC."""
    location: str | None = None
    exception: ExceptionKind | None = None
    attempt: int | None = Field(default=None, ge=1)
    """Failed delivery attempt number (1 = first attempt)."""
    duties_due: Money | None = None
    """DAP: duties and taxes the recipient pays on delivery."""
    reason_code: str | None = None
    """Why a shipment ended without delivery (compensated, rejected, cancelled), e.g. `RESTRICTED_GOODS`: for
    merchants and ops only; customer messages never show it."""


class RenderedMessage(BaseModel):
    """One message ready for the outbox."""

    model_config = ConfigDict(frozen=True)

    locale: str
    direction: Literal["ltr", "rtl"]
    subject: str
    text: str
    """Plain-text body."""
    html: str
    """Complete HTML e-mail: `lang`/`dir` on `<html>`, inline CSS only."""


# --- locale formatting, shared with the tracking page ------------------------------------------------------------


class _DayFormsFormat(DateTimeFormat):
    """Babel's CLDR field formatter, writing a day of the month the way the locale does where CLDR has a plain
    number (`1er`, `1º`: `tradelane.notify.locale_data`)."""

    def __init__(self, value: date | datetime, locale: str) -> None:
        super().__init__(value, babel_locale(locale))
        self._day = value.day
        self._days = day_forms(resolve_locale(locale))

    def __getitem__(self, name: str) -> str:
        if name == "d" and self._day in self._days:
            return self._days[self._day]
        return super().__getitem__(name)


def _format_pattern(pattern: str | DateTimePattern, value: date | datetime, locale: str) -> str:
    """A date formatted by a CLDR pattern, with the locale's day-of-month forms."""
    parsed = parse_pattern(pattern) if isinstance(pattern, str) else pattern
    return parsed % _DayFormsFormat(value, locale)


def format_long_date(day: date, locale: str) -> str:
    """A date as CLDR's long format writes it in a sentence (`1er décembre 2026`, `8. Dezember 2026`)."""
    return _format_pattern(babel_locale(locale).date_formats["long"], day, locale)


def format_full_date(day: date, locale: str) -> str:
    """A single date in full (`Dienstag, 8. Dezember 2026`, `mardi 1er décembre 2026`)."""
    return _format_pattern(babel_locale(locale).date_formats["full"], day, locale)


def _format_date_interval(low: date, high: date, skeleton: str, locale: str) -> str:
    """Two dates as one range, by CLDR's interval formats for `skeleton` (UTS #35, "intervalFormats": the pattern
    pair of the largest field that differs), with the locale's day-of-month forms.

    Babel's `format_interval` does the same without those forms; it is the fallback where the locale has no interval
    format for the skeleton.
    """
    language = babel_locale(locale)
    pairs = language.interval_formats.get(skeleton)
    if not pairs:
        return format_interval(low, high, skeleton, locale=language)
    low_fields, high_fields = DateTimeFormat(low, language), DateTimeFormat(high, language)
    for char in PATTERN_CHAR_ORDER:  # largest field first
        if char in pairs and low_fields.extract(char) != high_fields.extract(char):
            return "".join(_format_pattern(pattern, day, locale) for pattern, day in zip(pairs[char], (low, high),
                                                                                         strict=True))
    # No field of the pair differs (another year, same month and day): CLDR's fallback, "{0} – {1}".
    single = language.datetime_skeletons[skeleton]
    fallback: str = language.interval_formats.get(None, "{0} – {1}")
    return fallback.replace("{0}", _format_pattern(single, low, locale)).replace(
        "{1}", _format_pattern(single, high, locale))


def format_eta(expected: date | None, earliest: date | None, latest: date | None, locale: str) -> str | None:
    """The ETA as the customer should read it, or None when there is none.

    A window (`earliest`..`latest`) is shown as a short range with weekdays (`Tue, Dec 8 – Thu, Dec 10`); a window
    of one day, or `expected` when there is no full window, as one full date (`Tuesday, December 8, 2026`). A window
    missing one end and no `expected` shows nothing rather than half a promise.
    """
    if earliest and latest and earliest != latest:
        low, high = sorted((earliest, latest))
        return _format_date_interval(low, high, "MMMEd", locale)
    single = expected or (earliest if earliest == latest else None)
    return format_full_date(single, locale) if single else None


def _clock_hour(local: datetime, time_pattern: DateTimePattern) -> int:
    """The hour as the time pattern shows it (13 -> 1 on a 12-hour clock), which decides a connector's number."""
    fields = {value[0] for kind, value in tokenize_pattern(time_pattern.pattern) if kind == "field"}
    if "h" in fields:
        return local.hour % 12 or 12
    if "K" in fields:
        return local.hour % 12
    return local.hour


def format_local_datetime(at: datetime, timezone: str, locale: str) -> str:
    """An instant as date and time on the recipient's clock, ready for a sentence (`8. Dezember 2026 um 14:32 Uhr`,
    `8 de diciembre de 2026 a las 14:32`, `1º de dezembro de 2026 às 14:32`).

    The date is CLDR's long date (with the locale's day-of-month forms), the time CLDR's short time. CLDR joins them
    with the "atTime" combining pattern (`{1} 'um' {0}`), which Babel's data does not carry (its `datetime_formats`
    are the standard `{1}, {0}`, a list's comma rather than a sentence's connector); the catalog's `date_time`
    template holds the connector instead, and `date_time_singular` the form for an hour the language treats as
    singular (CLDR plural category "one" of the hour: Spanish "a la 1:05", Portuguese "à 0:30").
    """
    local = at.astimezone(zone(timezone))
    language = babel_locale(locale)
    time_pattern = language.time_formats["short"]
    key = "date_time_singular" if language.plural_form(_clock_hour(local, time_pattern)) == "one" else "date_time"
    return catalog(locale).text(key, date=format_long_date(local.date(), locale),
                                time=_format_pattern(time_pattern, local, locale))


def format_money(money: Money, locale: str) -> str:
    """An amount in the locale's currency format (`1.234,50 €`, `R$ 1.234,50`)."""
    return format_currency(money.amount, money.currency, locale=babel_locale(locale))


def country_name(code: str, locale: str) -> str:
    """A country's name in the locale (`DE`, `fr` -> `Allemagne`); the code itself when CLDR has no name."""
    names: Mapping[str, str] = babel_locale(locale).territories
    return names.get(code.upper(), code.upper())


def isolate(value: str, direction: str) -> str:
    """A value wrapped in Unicode isolates in right-to-left text, so its own direction cannot scramble the line."""
    return f"{FSI}{value}{PDI}" if direction == "rtl" else value


# --- e-mail assembly ---------------------------------------------------------------------------------------------


@dataclass
class _Email:
    """What the e-mail templates show; built per message, the templates only lay it out."""

    lang: str
    direction: str
    subject: str
    headline: str
    greeting: str | None
    paragraphs: list[str]
    facts: list[tuple[str, str, str]] = field(default_factory=list)
    """(label, value, the label-value line for plain text)."""
    button: str | None = None
    url: str | None = None
    link_line: str | None = None
    closing: str | None = None
    """The sign-off line (`Mit freundlichen Grüßen`), after the body and before the signature."""
    signature: str | None = None
    """Who signs (`Ihr Team von Acme Outdoor`)."""
    footer: str = ""
    logo_url: str | None = None
    """The shop's logo (https), atop the HTML e-mail; the plain text has none."""
    logo_alt: str = ""
    """The logo's alternative text: the shop's display name, what a reader sees while images are blocked."""


_ENV = Environment(
    loader=PackageLoader("tradelane.notify", "templates"),
    autoescape=lambda name: bool(name and name.endswith(".html.j2")),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)


def _message(email: _Email) -> RenderedMessage:
    view = vars(email)
    return RenderedMessage(
        locale=email.lang, direction="rtl" if email.direction == "rtl" else "ltr", subject=email.subject,
        text=_ENV.get_template("email.txt.j2").render(view),
        html=_ENV.get_template("email.html.j2").render(view),
    )


_SHOWS_ETA = {NoticeKind.BOOKED, NoticeKind.SHIPPED, NoticeKind.CUSTOMS_CLEARED, NoticeKind.DELAYED,
              NoticeKind.EXCEPTION}
"""Out for delivery means today and delivered means done: those show no ETA."""


def _reason(facts: NoticeFacts, cat: Catalog, locale: str) -> str | None:
    """Why a delayed or exception notice was sent, in customer words (never the partner's failure text)."""
    if facts.kind not in (NoticeKind.DELAYED, NoticeKind.EXCEPTION):
        return None
    if facts.exception is None:
        return cat.text("reason.unspecified") if facts.kind is NoticeKind.EXCEPTION else None
    if facts.exception is ExceptionKind.DELIVERY_FAILED and facts.attempt:
        return cat.text("reason.delivery_failed_attempt",
                        attempt=format_decimal(facts.attempt, locale=babel_locale(locale)))
    return cat.text(f"reason.{facts.exception.value}")


def render_notice(facts: NoticeFacts, locale: str, timezone: str) -> RenderedMessage:
    """A customer notification in the recipient's language and time zone.

    Args:
        facts: The shipment facts of the notice.
        locale: A supported locale (see `negotiate_locale`); regional tags such as `de-DE` are accepted.
        timezone: The recipient's IANA zone (see `recipient_timezone`), for the time of the event.

    Raises:
        ValueError: the locale is not supported or the time zone is unknown.
    """
    locale = resolve_locale(locale)
    cat = catalog(locale)
    direction = text_direction(locale)
    kind = facts.kind.value
    values = {
        "order_ref": isolate(facts.order_ref, direction),
        "merchant": isolate(facts.merchant, direction),
        "when": format_local_datetime(facts.occurred_at, timezone, locale),
    }
    paragraphs = [cat.text(f"notice.{kind}.intro", **values)]
    reason = _reason(facts, cat, locale)
    if reason:
        paragraphs.append(reason)
    if facts.duties_due and facts.kind is not NoticeKind.DELIVERED:
        paragraphs.append(cat.text("duties", amount=format_money(facts.duties_due, locale)))

    rows: list[tuple[str, str]] = [("order", values["order_ref"])]
    if facts.tracking_number:
        rows.append(("tracking_number", isolate(facts.tracking_number, direction)))
    eta = format_eta(facts.eta_expected, facts.eta_earliest, facts.eta_latest, locale)
    if eta and facts.kind in _SHOWS_ETA:
        moved = facts.kind is NoticeKind.DELAYED or facts.exception is ExceptionKind.LATE
        rows.append(("eta_new" if moved else "eta", eta))
    if facts.promised and facts.kind in (NoticeKind.DELAYED, NoticeKind.EXCEPTION):
        rows.append(("promised", format_full_date(facts.promised, locale)))
    if facts.kind is not NoticeKind.DELIVERED:
        rows.append(("updated", values["when"]))
    if facts.location:
        rows.append(("location", isolate(facts.location, direction)))
    labelled = [(cat.text(f"label.{key}"), value) for key, value in rows]

    return _message(_Email(
        lang=locale, direction=direction,
        subject=cat.text(f"notice.{kind}.subject", **values),
        headline=cat.text(f"notice.{kind}.headline"),
        greeting=cat.text("greeting"),
        paragraphs=paragraphs,
        facts=[(label, value, cat.text("label_value", label=label, value=value)) for label, value in labelled],
        button=cat.text("track_button") if facts.tracking_url else None,
        url=facts.tracking_url,
        link_line=cat.text("track_link", url=facts.tracking_url) if facts.tracking_url else None,
        closing=cat.text("closing", merchant=values["merchant"]),
        signature=cat.text("signature", merchant=values["merchant"]),
        footer="\n".join([cat.text("footer", merchant=values["merchant"]), *(
            [cat.text("footer_support", merchant=values["merchant"],
                      contact=isolate(facts.merchant_support, direction))] if facts.merchant_support else [])]),
        logo_url=facts.merchant_logo_url, logo_alt=facts.merchant,
    ))


# --- operations and merchants ------------------------------------------------------------------------------------

_OPS_EXCEPTIONS: dict[ExceptionKind, str] = {
    ExceptionKind.STALLED: "No tracking event for longer than the configured time.",
    ExceptionKind.LATE: "The ETA slipped past the date promised to the customer.",
    ExceptionKind.CUSTOMS_HOLD: "Held at customs longer than the configured threshold.",
    ExceptionKind.DELIVERY_FAILED: "A delivery attempt failed.",
    ExceptionKind.CARRIER_EXCEPTION: "The partner reported an exception event.",
}


_OPS_ENDINGS: dict[NoticeKind, str] = {
    NoticeKind.COMPENSATED: "The shipment ended without delivery; its bookings were undone (see the compensation).",
    NoticeKind.REJECTED: "The shipment was rejected and will not ship.",
    NoticeKind.CANCELLED: "The shipment was cancelled; its bookings were undone (see the compensation).",
}


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day else None


def _instant(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def render_ops_alert(facts: NoticeFacts) -> RenderedMessage:
    """An English alert for the operations team: ids, the exception and raw dates (ISO, UTC); no personal data."""
    what = facts.kind.value + (f" ({facts.exception.value})" if facts.exception else "")
    subject = f"Shipment {facts.shipment_id} (order {facts.order_ref}): {what}"
    paragraphs = [f"Notice '{facts.kind.value}' raised for shipment {facts.shipment_id}."]
    if facts.exception:
        paragraphs.append(_OPS_EXCEPTIONS[facts.exception])
    if facts.kind in _OPS_ENDINGS:
        paragraphs.append(_OPS_ENDINGS[facts.kind])
    eta = None
    if facts.eta_earliest or facts.eta_latest or facts.eta_expected:
        eta = (f"{_iso(facts.eta_earliest) or '?'} .. {_iso(facts.eta_latest) or '?'}"
               f" (expected {_iso(facts.eta_expected) or '?'})")
    rows = [
        ("Shipment", facts.shipment_id), ("Order", facts.order_ref), ("Merchant", facts.merchant),
        ("Notice", facts.kind.value), ("Exception", facts.exception.value if facts.exception else None),
        ("Reason code", facts.reason_code),
        ("Attempt", str(facts.attempt) if facts.attempt else None),
        ("Occurred at (UTC)", _instant(facts.occurred_at)), ("Location", facts.location),
        ("Destination", facts.destination_country), ("ETA", eta), ("Promised", _iso(facts.promised)),
        ("Tracking number", facts.tracking_number),
        ("Duties due on delivery",
         f"{facts.duties_due.currency} {facts.duties_due.amount}" if facts.duties_due else None),
    ]
    return _message(_Email(
        lang="en", direction="ltr", subject=subject, headline=subject, greeting=None, paragraphs=paragraphs,
        facts=[(label, value, f"{label}: {value}") for label, value in rows if value],
        button="Open tracking page" if facts.tracking_url else None, url=facts.tracking_url,
        link_line=f"Tracking page: {facts.tracking_url}" if facts.tracking_url else None,
        footer="Tradelane operations alert. It holds no customer personal data; look the shipment up by its id.",
    ))


def webhook_payload(facts: NoticeFacts) -> dict[str, Any]:
    """The JSON body of the merchant webhook (`type` is `shipment.<kind>`); JSON-ready values, no personal data.

    Dates are ISO 8601 (`2026-12-08`), instants UTC with `Z`, money amounts decimal strings (no float rounding).
    """
    return {
        "type": f"shipment.{facts.kind.value}",
        "shipment_id": facts.shipment_id,
        "order_ref": facts.order_ref,
        "tracking_number": facts.tracking_number,
        "tracking_url": facts.tracking_url,
        "occurred_at": _instant(facts.occurred_at),
        "destination_country": facts.destination_country,
        "location": facts.location,
        "eta": {
            "expected": _iso(facts.eta_expected),
            "earliest": _iso(facts.eta_earliest),
            "latest": _iso(facts.eta_latest),
            "promised": _iso(facts.promised),
        },
        "exception": {"kind": facts.exception.value, "attempt": facts.attempt} if facts.exception else None,
        "duties_due": ({"amount": str(facts.duties_due.amount), "currency": facts.duties_due.currency}
                       if facts.duties_due else None),
        "reason_code": facts.reason_code,
    }
