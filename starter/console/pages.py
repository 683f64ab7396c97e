"""Rendering the console's pages: one Jinja2 environment, every string marked for translation, strict headers.

Templates mark their text with `_()` (Jinja2's i18n extension, new-style gettext), so `pybabel extract -F
starter/console/babel.cfg` collects it into a catalog; until a catalog is installed the text is English.
Autoescaping is on for every template; the Content-Security-Policy allows the console's own stylesheet and script
only (no inline script or style), forms posting to the console only, and no framing.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from functools import cache
from typing import Any

from babel.numbers import format_decimal
from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

HEADERS = {
    "Content-Security-Policy": "; ".join([
        "default-src 'none'", "script-src 'self'", "style-src 'self'", "img-src 'self'", "connect-src 'self'",
        "form-action 'self'", "base-uri 'none'", "frame-ancestors 'none'"]),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
"""Every page: only the console's own assets, no framing, and nothing cached (pages hold shipment data)."""


def _age(since: datetime, now: datetime | None = None) -> str:
    """`3 d 4 h`, `5 h 12 min`, `40 s`: how long something has waited."""
    seconds = int(((now or datetime.now(UTC)) - (since if since.tzinfo else since.replace(tzinfo=UTC)))
                  .total_seconds())
    days, rest = divmod(max(seconds, 0), 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min" if minutes else f"{seconds} s"


def _when(at: datetime | date | None) -> str:
    if at is None:
        return "-"
    if isinstance(at, datetime):
        return (at if at.tzinfo else at.replace(tzinfo=UTC)).astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return at.isoformat()


def _money(amount: Decimal | float | str | None, currency: str = "") -> str:
    if amount is None:
        return "-"
    return f"{format_decimal(Decimal(str(amount)), format='#,##0.00', locale='en')} {currency}".strip()


@cache
def environment() -> Environment:
    env = Environment(loader=PackageLoader("starter.console", "templates"), undefined=StrictUndefined,
                      autoescape=select_autoescape(default=True, default_for_string=True),
                      extensions=["jinja2.ext.i18n"], trim_blocks=True, lstrip_blocks=True)
    env.install_null_translations(newstyle=True)  # type: ignore[attr-defined]  # added by the i18n extension
    env.filters.update(age=_age, when=_when, money=_money)
    return env


def render(request: Request, template: str, context: dict[str, Any], status_code: int = 200) -> HTMLResponse:
    context = {"who": None, "error": "", "done": "", "path": request.url.path, **context}
    html = environment().get_template(template).render(context)
    return HTMLResponse(html, status_code=status_code, headers=HEADERS)
