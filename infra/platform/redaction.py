"""Personal data out of the logs: names, addresses, phone numbers and e-mail addresses never reach a log line.

Two rules, applied to every value of every event (nested dicts, lists, tuples and pydantic models included):

- the value of a key that names personal data (`PII_KEYS`: ``name``, ``phone``, ``address_lines``, a mail's ``to``
  ...) becomes ``[redacted]``, whatever it holds;
- in every other string (the ``event`` message too) e-mail addresses become ``[email]`` and international phone
  numbers ``[phone]``.

What stays: countries, ids (shipment, order, merchant, workflow), partner names, stages, amounts, dates, tracking
numbers and HS codes, so a log line still says which shipment did what. `redact_processor` is the structlog
processor that `infra.platform.logging` runs for structlog and standard-library (Temporal's) records alike.
"""

import re
from collections.abc import Mapping, MutableMapping
from typing import Any

import structlog
from pydantic import BaseModel

REDACTED = "[redacted]"
EMAIL_MARK = "[email]"
PHONE_MARK = "[phone]"

PII_KEYS: frozenset[str] = frozenset({
    # A party of the request contract (`tradelane.models.Party`) and the partner payloads built from it.
    "name", "first_name", "last_name", "full_name", "company", "contact_name",
    "address", "address_lines", "address_line1", "address_line2", "street", "postal_code", "zip", "zip_code",
    "phone", "phone_number", "mobile", "email", "email_address",
    # Notifications: the outbox row's `recipient` (an e-mail address or a merchant's webhook URL), the relay's
    # `sender`, and a mail's headers.
    "recipient", "sender", "to", "from", "cc", "bcc", "reply_to",
})
"""Keys (compared lower-case, ``-`` read as ``_``) whose values are personal data wherever they appear.

`country` is deliberately absent: it is what ops filter on, and alone it identifies nobody.
"""

STRUCTLOG_KEYS: frozenset[str] = frozenset({"timestamp", "level", "logger", "_record", "_from_structlog"})
"""Keys structlog itself adds (and `ProcessorFormatter`'s bookkeeping), left as they are."""

_EMAIL = re.compile(r"[\w.%+-]+@[\w-]+(?:\.[\w-]+)*\.[^\W\d_]{2,}")

# An international number (`+49 30 1234567`, `+1-212-555-0100`, `+49 (0)30 1234567`) or one with its area code in
# parentheses (`(030) 1234567`). The lead-in is required: bare digit runs are HS codes, ids and amounts far more
# often than phone numbers. The look-behind keeps UTC offsets of ISO timestamps (`...00+00:00`) and digits inside
# ids (`SHP-2026-000207`, `SR123456789CN`) out; `_phone` then checks the digit count.
_PHONE = re.compile(r"""
    (?<![\w+])
    (?: \+\d{1,4} | \(\d{1,5}\) )
    (?: [ \t./-]? \(?\d+\)? )+
    (?!\w)
""", re.VERBOSE)
_SIGNED_DECIMAL = re.compile(r"\+?\d+\.\d+")
_MIN_PHONE_DIGITS = 7


def _phone(match: re.Match[str]) -> str:
    text = match.group()
    digits = sum(c.isdigit() for c in text)
    # `+12345.67` is an amount with its sign, not a dotted phone number (those have several dots).
    if digits < _MIN_PHONE_DIGITS or _SIGNED_DECIMAL.fullmatch(text):
        return text
    return PHONE_MARK


def redact_text(text: str) -> str:
    """`text` with e-mail addresses replaced by ``[email]`` and phone numbers by ``[phone]``."""
    # E-mail first: a local part may hold digits (`+4930123456@fax.example`) that must not become a phone mark.
    return _PHONE.sub(_phone, _EMAIL.sub(EMAIL_MARK, text))


def is_pii_key(key: object) -> bool:
    """Whether a mapping key names personal data (see `PII_KEYS`)."""
    return isinstance(key, str) and key.lower().replace("-", "_") in PII_KEYS


def redact(value: Any) -> Any:
    """A copy of `value` without personal data.

    Dicts, lists, tuples, sets and pydantic models are walked (models through ``model_dump(mode="json")``, so they
    come back as dicts); the value of a `PII_KEYS` key becomes ``[redacted]``; strings lose e-mail addresses and
    phone numbers (`redact_text`). Anything else is returned as it is.
    """
    if isinstance(value, str):
        cleaned = redact_text(value)
        # Unchanged strings keep their type (a StrEnum stays an enum for the renderer).
        return value if cleaned == value else cleaned
    if isinstance(value, BaseModel):
        return redact(value.model_dump(mode="json"))
    if isinstance(value, Mapping):
        return {k: REDACTED if is_pii_key(k) else redact(v) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v) for v in value]
    if isinstance(value, tuple):
        return tuple(redact(v) for v in value)
    if isinstance(value, set | frozenset):
        return [redact(v) for v in value]
    return value


def redact_processor(logger: Any, method_name: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: `redact` every value of the event except structlog's own keys (`STRUCTLOG_KEYS`).

    An exception attached to the event (``exc_info``) is rendered to its ``exception`` text here, so that text is
    redacted too: error messages quote recipients (``recipient refused: {'jonas@example.de': ...}``). Rendering it
    once more later (`format_exc_info`) finds nothing left to do.
    """
    if event_dict.get("exc_info"):
        event_dict = structlog.processors.format_exc_info(logger, method_name, event_dict)
    for key, value in event_dict.items():
        if key in STRUCTLOG_KEYS:
            continue
        event_dict[key] = REDACTED if is_pii_key(key) else redact(value)
    return event_dict
