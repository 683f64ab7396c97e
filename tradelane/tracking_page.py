"""Who may open a shipment's public tracking page, and what of a partner's event it may show: pure rules.

The page is reached by an unguessable token, never by the carrier's tracking number (carriers number parcels in
sequence, so any number near one's own is someone else's parcel). The token is derived from the shipment id with a
secret key (HMAC-SHA256), so e-mails, the projection and ops tools can all compute it without sharing any state;
the read model keeps only a digest of it (`tracking_tokens`), to find the shipment a token belongs to.

The page shows no personal data beyond the destination country: a partner's location text near the recipient
(the local depot, the doorstep) usually holds their postcode or street, so it is not shown there.

The page is written in the reader's language: the one they chose on the page (its language links), else the first
their browser asks for that Tradelane speaks, else the recipient's (as the merchant gave it), else the destination
country's.
"""

import base64
import hashlib
import hmac
import re
from collections.abc import Mapping
from types import MappingProxyType

from babel.core import negotiate_locale as babel_negotiate_locale

from tradelane.enums import PartnerKind, TrackingStatus
from tradelane.notify.catalog import SUPPORTED_LOCALES, accept_language_tags, negotiate_locale, resolve_locale

TOKEN_BYTES = 20
"""160 bits of HMAC output: 32 base32 characters, well beyond guessing at any request rate."""
TOKEN_PATTERN = re.compile(r"^[a-z2-7]{32}$")
"""What a token looks like (lowercase base32 without padding)."""
_CONTEXT = b"tradelane tracking page v1\x00"
"""Binds the key to this use: the same secret used elsewhere would give other MACs."""


def tracking_token(secret: str, shipment_id: str) -> str:
    """The public token of a shipment's tracking page: `base32(HMAC-SHA256(secret, shipment_id))[:160 bits]`.

    Args:
        secret: The tracking secret (`TRADELANE_TRACKING_SECRET`).
        shipment_id: The shipment's id.
    """
    mac = hmac.new(secret.encode(), _CONTEXT + shipment_id.encode(), hashlib.sha256).digest()[:TOKEN_BYTES]
    return base64.b32encode(mac).decode("ascii").lower()


def token_digest(token: str) -> str:
    """How the read model stores a token (SHA-256, hex): a copy of the table does not give the links away."""
    return hashlib.sha256(token.encode()).hexdigest()


def is_token(value: str) -> bool:
    """Whether `value` has a token's shape (anything else cannot be one and needs no lookup)."""
    return TOKEN_PATTERN.fullmatch(value) is not None


DOORSTEP_STATUSES = frozenset({TrackingStatus.AT_LOCAL_DEPOT, TrackingStatus.OUT_FOR_DELIVERY,
                               TrackingStatus.DELIVERY_FAILED, TrackingStatus.DELIVERED})
"""Statuses reported near the recipient, whoever reports them: their location is the recipient's neighbourhood."""

LOCATION_SHOWN: Mapping[PartnerKind, bool] = MappingProxyType({
    PartnerKind.CARRIER: True,
    PartnerKind.CUSTOMS_BROKER: True,
    PartnerKind.LAST_MILE: False,  # every event of a last-mile courier is on the way to the recipient's door
})
"""Whether a partner kind's event locations (hubs, ports, customs offices) are public, outside the doorstep."""


def public_location(location: str, status: TrackingStatus, partner_kind: PartnerKind | None) -> str | None:
    """A partner's event location as the public page may show it, or None where it could name where the recipient
    lives (a partner of an unknown kind is treated as being at the doorstep)."""
    if status in DOORSTEP_STATUSES or partner_kind is None or not LOCATION_SHOWN[partner_kind]:
        return None
    return location or None


_NEGOTIABLE = (*SUPPORTED_LOCALES, "pt")
"""What Babel negotiates against: the supported locales, and `pt`, so that `pt-PT` finds the Brazilian catalog (as
`tradelane.notify.catalog.LANGUAGE_LOCALES` has it); `de-DE`, `zh-Hant-TW` find `de`, `zh` by their language."""


def _negotiated(preferred: list[str]) -> str | None:
    found = babel_negotiate_locale(preferred, _NEGOTIABLE, sep="-", aliases={})  # no aliases: `pt` is ours
    return resolve_locale(found) if found else None


def page_locale(chosen: str | None, accept_language: str | None, recipient_locale: str | None = None,
                country: str | None = None) -> str:
    """The locale of a tracking page: the reader's explicit choice (`?lang=`), else the best supported language of
    their browser (`Accept-Language`, by q-value), else the recipient's locale, else the destination country's main
    language, else English. A choice or header naming no supported language is passed over, not refused: the page
    still shows, in the next language down.

    Args:
        chosen: The `lang` query parameter (the page's language links set it).
        accept_language: The browser's Accept-Language header.
        recipient_locale: The locale the merchant gave for the recipient.
        country: The destination country (ISO alpha-2).
    """
    return (_negotiated([chosen] if chosen else []) or _negotiated(accept_language_tags(accept_language))
            or negotiate_locale(recipient_locale, country=country))
