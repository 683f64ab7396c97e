"""Customer notifications in the recipient's language and time zone, operations alerts and merchant webhooks.

Pure code: callers pass the facts, the locale (`negotiate_locale`) and the zone (`recipient_timezone`); the outbox
decides when to send (`release_time`, which respects quiet hours).
"""

from tradelane.notify.catalog import SUPPORTED_LOCALES, negotiate_locale, status_label
from tradelane.notify.render import (
    Money,
    NoticeFacts,
    RenderedMessage,
    render_notice,
    render_ops_alert,
    webhook_payload,
)
from tradelane.notify.timing import QuietHours, recipient_timezone, release_time

__all__ = [
    "SUPPORTED_LOCALES",
    "Money",
    "NoticeFacts",
    "QuietHours",
    "RenderedMessage",
    "negotiate_locale",
    "recipient_timezone",
    "release_time",
    "render_notice",
    "render_ops_alert",
    "status_label",
    "webhook_payload",
]
