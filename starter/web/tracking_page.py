"""The public parcel tracking page: one self-contained, phone-friendly HTML document per tracking number.

The page shows only what a recipient may see. `TrackingPage` is the whole input and has no field for internal data
(shipment id, merchant id, partner or carrier names, costs, failure reasons, workflow ids) nor for personal data (no
name, street or postcode: the route leaves out event locations near the recipient), so none can leak into the
page. Strings come from the notification catalogs (`tradelane/notify/messages`); dates, times, time zone names,
language and country names from CLDR (Babel), so the page reads right in each language.

The page says only what is still true: a shipment that ended without delivery (compensated, rejected, cancelled)
has no delivery date and no "check back later"; events are listed in the order they happened, whichever partner
reported them; every time is on the recipient's clock, with its zone named.

The page loads nothing but the shop's logo, straight from the https origin the merchant's profile names: its
Content-Security-Policy (`security_headers`) allows images from exactly that origin, styles only by the hash of the
page's own inline stylesheet, and nothing else (no scripts, frames, forms or fonts). Tradelane does not proxy the
logo: fetching URLs a merchant chose from inside Tradelane's network would be a server-side request forgery risk,
and the page's `Referrer-Policy: no-referrer` (header, meta and the image's own attribute) keeps the page's address,
which is its key, from the logo's host.
"""

from __future__ import annotations

import base64
import hashlib
import re
from datetime import UTC, date, datetime
from functools import cache
from typing import Annotated, Any, Self
from urllib.parse import urlsplit

from babel.dates import get_timezone_gmt, get_timezone_name
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from tradelane.enums import Status, TrackingStatus
from tradelane.models import CountryCode
from tradelane.notify.catalog import (
    SUPPORTED_LOCALES,
    Catalog,
    babel_locale,
    catalog,
    resolve_locale,
    status_label,
    text_direction,
)
from tradelane.notify.render import country_name, format_eta, format_local_datetime, https_url
from tradelane.notify.timing import zone


def _known_zone(name: str) -> str:
    zone(name)
    return name


_HOST = re.compile(r"^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$")
"""A host as a Content-Security-Policy source may name it (CSP 3 `host-char`): letters, digits, dots and hyphens."""


def image_origin(url: str) -> str:
    """The origin (`https://cdn.shop.example`, with its port when not 443) the page must allow to load an image
    from `url`; an internationalised host in its ASCII (IDNA) form, as the policy needs it.

    Raises:
        ValueError: `url` is not https, or its host cannot be named in a policy (an IP v6 literal, odd characters).
    """
    parts = urlsplit(https_url(url) or "")
    try:
        host = (parts.hostname or "").encode("idna").decode("ascii")
        port = parts.port
    except (UnicodeError, ValueError):
        raise ValueError(f"the host or port of {url[:60]!r} is not valid") from None
    if not _HOST.match(host):
        raise ValueError(f"the host of {url[:60]!r} cannot be allowed by a Content-Security-Policy; use a DNS name")
    return f"https://{host}" + (f":{port}" if port not in (None, 443) else "")


def _page_image(url: str | None) -> str | None:
    if url is not None:
        image_origin(url)
    return url


def shown_logo(url: str | None) -> str | None:
    """`url` when the page can show it (https, a host a policy can name), else None: a logo the page cannot load
    is left out rather than failing the page."""
    try:
        return _page_image(url)
    except ValueError:
        return None


ENDED_UNDELIVERED = frozenset({Status.COMPENSATED, Status.REJECTED, Status.CANCELLED})
"""Shipments that will not be delivered: the page shows no delivery date, progress or "no updates yet" for them."""


class PageEvent(BaseModel):
    """One tracking event as the recipient sees it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    occurred_at: AwareDatetime
    status: TrackingStatus
    location: str | None = None
    """Where it happened, when that is public (`tradelane.tracking_page.public_location`): a hub, a port, never the
    recipient's neighbourhood."""


class TrackingPage(BaseModel):
    """Everything the public page shows, and nothing more."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tracking_number: str
    shipment_status: Status
    latest_status: TrackingStatus | None
    origin_country: CountryCode
    destination_country: CountryCode
    eta_expected: date | None = None
    eta_earliest: date | None = None
    eta_latest: date | None = None
    delivered_at: AwareDatetime | None = None
    events: list[PageEvent] = Field(default_factory=list)
    """In any order; the page shows them newest first (`timeline`)."""
    timezone: Annotated[str, AfterValidator(_known_zone)]
    """The recipient's IANA zone, for event times."""
    shop_name: str | None = None
    """The shop's display name from its profile, as the recipient knows it; None without a profile (its internal
    id is not for the page)."""
    shop_logo_url: Annotated[str | None, AfterValidator(_page_image)] = None
    """The shop's logo from its profile (https; `shown_logo`), shown with `shop_name` as its alternative text."""

    @model_validator(mode="after")
    def _no_eta_when_it_will_not_arrive(self) -> Self:
        if self.shipment_status in ENDED_UNDELIVERED and (self.eta_expected or self.eta_earliest or self.eta_latest):
            raise ValueError(f"eta_expected: a {self.shipment_status.value} shipment will not be delivered; leave "
                             "its ETA out of the page (see ENDED_UNDELIVERED)")
        return self

    @model_validator(mode="after")
    def _logo_has_a_name(self) -> Self:
        if self.shop_logo_url and not self.shop_name:
            raise ValueError("shop_logo_url: a logo needs the shop's name (shop_name) as its alternative text")
        return self


STAGES: tuple[str, ...] = ("booked", "shipped", "in_transit", "customs", "out_for_delivery", "delivered")
"""The steps of the progress indicator, in order."""

STAGE_OF: dict[TrackingStatus, int | None] = {
    TrackingStatus.PICKED_UP: 1,
    TrackingStatus.IN_TRANSIT: 2,
    TrackingStatus.ARRIVED_AT_DESTINATION: 2,
    TrackingStatus.CUSTOMS_HOLD: 3,
    TrackingStatus.CUSTOMS_CLEARED: 3,
    TrackingStatus.AT_LOCAL_DEPOT: 3,
    TrackingStatus.OUT_FOR_DELIVERY: 4,
    TrackingStatus.DELIVERY_FAILED: 4,
    TrackingStatus.DELIVERED: 5,
    TrackingStatus.EXCEPTION: None,
    TrackingStatus.UNKNOWN: None,
}
"""The progress step a tracking status shows as reached; None for statuses that say nothing about progress."""

JOURNEY: tuple[TrackingStatus, ...] = (
    TrackingStatus.PICKED_UP, TrackingStatus.IN_TRANSIT, TrackingStatus.ARRIVED_AT_DESTINATION,
    TrackingStatus.CUSTOMS_HOLD, TrackingStatus.CUSTOMS_CLEARED, TrackingStatus.AT_LOCAL_DEPOT,
    TrackingStatus.OUT_FOR_DELIVERY, TrackingStatus.DELIVERY_FAILED, TrackingStatus.DELIVERED,
)
"""The order a parcel's statuses follow. Events of one instant (partners often report to the minute, and a carrier's
"arrived in the country" and the last mile's "at the local depot" can share it) are listed in this order, not in
the order they reached Tradelane. Statuses outside it (exception, unknown) come after the others of their instant."""
_JOURNEY_RANK = {status: rank for rank, status in enumerate(JOURNEY)}

_HINTS = {Status.DELAYED: "page.hint_delayed", Status.ON_HOLD: "page.hint_on_hold"}

_ENV = Environment(
    loader=PackageLoader("starter.web", "templates"),
    autoescape=select_autoescape(enabled_extensions=("html", "j2"), default_for_string=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def timeline(events: list[PageEvent]) -> list[PageEvent]:
    """Events as the page lists them: newest first, by when they happened; events of one instant by `JOURNEY`."""
    return sorted(events, key=lambda e: (e.occurred_at, _JOURNEY_RANK.get(e.status, len(JOURNEY))), reverse=True)


def reached_stage(page: TrackingPage) -> int:
    """Index in `STAGES` of the furthest step reached; events arriving out of order cannot move it back."""
    if page.shipment_status is Status.DELIVERED:
        return len(STAGES) - 1
    statuses = [event.status for event in page.events] + ([page.latest_status] if page.latest_status else [])
    reached = [stage for stage in (STAGE_OF[s] for s in statuses) if stage is not None]
    return max(reached, default=0)


def _delivered_at(page: TrackingPage) -> datetime | None:
    if page.delivered_at:
        return page.delivered_at
    delivered = [e.occurred_at for e in page.events if e.status is TrackingStatus.DELIVERED]
    return max(delivered) if delivered else None


def _header(page: TrackingPage, locale: str) -> dict[str, str | None]:
    """Headline (status in words), the latest event's status when the headline does not already say it, a hint."""
    cat = catalog(locale)
    status = page.shipment_status
    latest = page.latest_status if page.latest_status is not TrackingStatus.UNKNOWN else None
    if status is Status.IN_PROGRESS and latest:
        return {"headline": status_label(latest, locale), "latest": None, "hint": None}
    headline = cat.text(f"page.shipment_status.{status.value}")
    show_latest = latest and status in (Status.DELAYED, Status.ON_HOLD)
    hint = "page.hint_cancelled" if status in ENDED_UNDELIVERED else _HINTS.get(status)
    return {
        "headline": headline,
        "latest": cat.text("page.latest", status=status_label(latest, locale)) if show_latest and latest else None,
        "hint": cat.text(hint) if hint else None,
    }


def _eta(page: TrackingPage, locale: str) -> str | None:
    """The delivery line: when it was delivered, else the expected date (range), else that it is not known yet."""
    cat = catalog(locale)
    if page.shipment_status in ENDED_UNDELIVERED:
        return None
    if page.shipment_status is Status.DELIVERED:
        at = _delivered_at(page)
        return cat.text("page.delivered_on", date=time_in_zone(at, page.timezone, locale)) if at else None
    eta = format_eta(page.eta_expected, page.eta_earliest, page.eta_latest, locale)
    return cat.text("page.eta", eta=eta) if eta else cat.text("page.eta_unknown")


def _stages(page: TrackingPage, locale: str) -> list[dict[str, str]]:
    if page.shipment_status in ENDED_UNDELIVERED:
        return []
    cat = catalog(locale)
    reached = reached_stage(page)
    done_all = page.shipment_status is Status.DELIVERED
    return [{
        "key": key,
        "label": cat.text(f"page.stage.{key}"),
        "state": "done" if i < reached or (done_all and i == reached) else "current" if i == reached else "todo",
    } for i, key in enumerate(STAGES)]


def zone_abbreviation(at: datetime, timezone: str, locale: str) -> str:
    """The zone of an instant on the recipient's clock, short, as CLDR writes it in the locale (`MEZ`, `EST`, `JST`),
    or as an offset from GMT where the locale has no abbreviation for it (`GMT+01:00`, `UTC+01:00` in French)."""
    local = at.astimezone(zone(timezone))
    language = babel_locale(locale)
    short = get_timezone_name(local, "short", locale=language)
    # Babel's fallback for a zone without a short name is a bare "+0100"; CLDR's localised GMT format reads better.
    return get_timezone_gmt(local, "long", locale=language) if short == get_timezone_gmt(local, "short",
                                                                                         locale=language) else short


def zone_name(timezone: str, locale: str) -> str:
    """A zone's name in the locale (`Mitteleuropäische Zeit`, `Eastern Time`, `日本時間`): CLDR's generic name, which
    holds in summer and winter; UTC has no region, so it gets its own name (`Koordinierte Weltzeit`)."""
    tz, language = zone(timezone), babel_locale(locale)
    if get_timezone_name(tz, "long", locale=language, zone_variant="generic", return_zone=True).startswith("Etc/"):
        return get_timezone_name(datetime(2000, 1, 1, tzinfo=tz), "long", locale=language)  # any instant: no DST
    return get_timezone_name(tz, "long", locale=language, zone_variant="generic")


def time_in_zone(at: datetime, timezone: str, locale: str) -> str:
    """Date and time on the recipient's clock with its zone (`5. Dezember 2026 um 14:32 MEZ`)."""
    return catalog(locale).text("page.time_in_zone", time=format_local_datetime(at, timezone, locale),
                                zone=zone_abbreviation(at, timezone, locale))


def _labelled(cat: Catalog, label: str) -> tuple[str, str]:
    """The text before and after a value labelled `label`, as the locale joins them (`Label: `, French
    `Label\u00a0: `, Japanese `ラベル：`); the template wraps the value in its own element between them."""
    before, _, after = cat.text("label_value", label=label, value="\x00").partition("\x00")
    return before, after


def _languages(locale: str) -> list[dict[str, str | bool]]:
    """The language links: every supported language, named in itself (a reader finds their own language whatever
    the page is in), the page's own marked current."""
    def name(code: str) -> str:
        own = babel_locale(code).get_display_name(babel_locale(code)) or code
        return own[:1].upper() + own[1:]  # CLDR capitalises language names in menus (contextTransforms)
    return [{"code": code, "name": name(code), "direction": text_direction(code), "current": code == locale}
            for code in SUPPORTED_LOCALES]


def render_tracking_page(page: TrackingPage, locale: str) -> str:
    """The tracking page as a complete HTML5 document.

    Args:
        page: What to show.
        locale: A supported locale (see `negotiate_locale`); regional tags such as `de-DE` are accepted.

    Raises:
        ValueError: the locale is not supported.
    """
    locale = resolve_locale(locale)
    cat = catalog(locale)
    events = timeline(page.events)
    tracking_number_before, tracking_number_after = _labelled(cat, cat.text("page.tracking_number"))
    time_zone_before, time_zone_after = _labelled(cat, cat.text("page.time_zone"))
    view: dict[str, Any] = {
        "lang": locale,
        "direction": text_direction(locale),
        "title": cat.text("page.title"),
        "language_label": cat.text("page.language"),
        "languages": _languages(locale),
        "tracking_number_before": tracking_number_before,
        "tracking_number_after": tracking_number_after,
        "tracking_number": page.tracking_number,
        "shop_name": page.shop_name,
        "shop_logo_url": page.shop_logo_url,
        "order_from": cat.text("page.order_from", merchant="\x00").partition("\x00") if page.shop_name else None,
        "shipment_status": page.shipment_status.value,
        **_header(page, locale),
        "eta": _eta(page, locale),
        "origin_label": cat.text("page.origin"),
        "origin": country_name(page.origin_country, locale),
        "destination_label": cat.text("page.destination"),
        "destination": country_name(page.destination_country, locale),
        "progress_label": cat.text("page.progress"),
        "stages": _stages(page, locale),
        "history_label": cat.text("page.history"),
        # "No updates yet, check again later" is a promise: an ended shipment gets no more updates.
        "no_events": None if page.shipment_status in ENDED_UNDELIVERED else cat.text("page.no_events"),
        "time_zone_before": time_zone_before,
        "time_zone_after": time_zone_after,
        "time_zone": zone_name(page.timezone, locale),
        "events": [{
            "status": event.status.value,
            "label": status_label(event.status, locale),
            "location": event.location,
            "iso": event.occurred_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            "when": time_in_zone(event.occurred_at, page.timezone, locale),
        } for event in events],
    }
    return _ENV.get_template("tracking.html.j2").render(view)


@cache
def _style_sources() -> str:
    """The policy's sources for the pages' one inline stylesheet (`base.html.j2`): its SHA-256, so that stylesheet
    and no other applies. Taken from a rendered page, so it is the hash of exactly what is served."""
    html = render_too_many_requests_page()
    sheets = re.findall(r"<style>(.*?)</style>", html, flags=re.DOTALL)
    return " ".join(f"'sha256-{base64.b64encode(hashlib.sha256(sheet.encode()).digest()).decode()}'"
                    for sheet in sheets) or "'none'"


def security_headers(page: TrackingPage | None) -> dict[str, str]:
    """The headers that keep a served page to itself: a Content-Security-Policy allowing its own stylesheet and
    images from the shop logo's origin only (`page` None: the pages without a shipment, which load no image), and
    no MIME sniffing."""
    images = image_origin(page.shop_logo_url) if page is not None and page.shop_logo_url else "'none'"
    policy = "; ".join([
        "default-src 'none'", f"style-src {_style_sources()}", f"img-src {images}",
        "base-uri 'none'", "form-action 'none'", "frame-ancestors 'none'",
    ])
    return {"Content-Security-Policy": policy, "X-Content-Type-Options": "nosniff"}


def render_not_found_page(tracking_number: str, locale: str) -> str:
    """The page for a tracking number Tradelane does not know (served with HTTP 404), as a complete HTML5 document.

    Raises:
        ValueError: the locale is not supported.
    """
    locale = resolve_locale(locale)
    cat = catalog(locale)
    # The number sits inside the sentence wherever the language puts it; splitting on a marker lets the template
    # wrap it in its own element (and escape both halves) without building HTML in Python.
    before, _, after = cat.text("page.not_found_body", tracking_number="\x00").partition("\x00")
    return _ENV.get_template("not_found.html.j2").render({
        "lang": locale,
        "direction": text_direction(locale),
        "title": cat.text("page.not_found_title"),
        "body_before": before,
        "body_after": after,
        "tracking_number": tracking_number,
        "hint": cat.text("page.not_found_hint"),
    })


def render_too_many_requests_page() -> str:
    """The page for a client over the tracking page's rate limit (served with HTTP 429 and Retry-After): short, in
    English, with nothing about any shipment."""
    return _ENV.get_template("too_many_requests.html.j2").render({
        "lang": "en", "direction": "ltr", "title": "Too many requests",
        "hint": "This address has asked for tracking pages too often. Please wait a minute and try again."})
