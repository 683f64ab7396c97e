"""Signed webhooks to merchants: HMAC-SHA256 over timestamp and body, in the style of Stripe's signatures.

The header reads ``Tradelane-Signature: t=1735891200,v1=<hex>``, where the hex is
``HMAC-SHA256(secret, f"{t}." + body)``. The timestamp inside the signed text lets a receiver refuse replays of an
old delivery; the event id header (stable across retries) lets it drop duplicates.

Each merchant has its own secrets (`MerchantSecrets`), so no merchant can sign as another. A rotation lists the new
secret before the old one: every delivery then carries one ``v1`` per secret (``t=...,v1=<new>,v1=<old>``), and a
merchant verifying with either accepts it; one match suffices. The ``Tradelane-Merchant`` header names whose
secrets signed it, for a receiver serving several merchants at one URL (the sandbox's).
"""

import hashlib
import hmac
from collections.abc import Mapping, Sequence
from enum import StrEnum

SIGNATURE_HEADER = "Tradelane-Signature"
EVENT_ID_HEADER = "Tradelane-Event-Id"
MERCHANT_HEADER = "Tradelane-Merchant"
SCHEME = "v1"
DEFAULT_TOLERANCE_S = 300
"""Stripe's default: five minutes either way absorbs clock skew and retries in flight, not replays."""


class SignatureProblem(StrEnum):
    """Why a signature was refused (stable codes for receivers and logs)."""

    MISSING = "missing"
    MALFORMED = "malformed"
    OUTSIDE_TOLERANCE = "outside_tolerance"
    MISMATCH = "mismatch"


class WebhookSignatureError(ValueError):
    """A webhook's signature header is missing, malformed, outside the time tolerance, or does not match.

    Attributes:
        problem: Which of those it is.
    """

    def __init__(self, problem: SignatureProblem, message: str) -> None:
        super().__init__(f"{SIGNATURE_HEADER}: {message}")
        self.problem = problem


def _digest(secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def _secrets(secret: str | Sequence[str]) -> list[str]:
    return [secret] if isinstance(secret, str) else list(secret)


def sign(secret: str | Sequence[str], timestamp: int, body: bytes) -> str:
    """The signature header value for `body` sent at `timestamp` (Unix seconds): one `v1` per secret, in order."""
    signatures = ",".join(f"{SCHEME}={_digest(s, timestamp, body)}" for s in _secrets(secret))
    return f"t={timestamp},{signatures}"


def signed_headers(secret: str | Sequence[str], event_id: str, timestamp: int, body: bytes,
                   merchant: str | None = None) -> dict[str, str]:
    """Every header a webhook delivery carries besides Content-Type (`merchant`: whose secrets signed it)."""
    headers = {EVENT_ID_HEADER: event_id, SIGNATURE_HEADER: sign(secret, timestamp, body)}
    if merchant is not None:
        headers[MERCHANT_HEADER] = merchant
    return headers


def derived_secret(root: str, merchant: str) -> str:
    """A merchant's own secret derived from `root` (HMAC-SHA256 of the merchant id): knowing one merchant's tells
    nothing of another's. Development only: production gives each merchant a secret of its own."""
    return hmac.new(root.encode(), f"tradelane-merchant-webhook:{merchant}".encode(), hashlib.sha256).hexdigest()


class NoWebhookSecret(LookupError):
    """A merchant has no webhook secret of its own, so nothing may be signed for it."""


class MerchantSecrets:
    """Each merchant's webhook secrets, newest first.

    Args:
        secrets: The configured secrets by merchant id (`TRADELANE_MERCHANT_WEBHOOK_SECRETS`).
        derive_from: Outside production, the root a merchant not listed gets a derived secret from
            (`derived_secret`); None (production): such a merchant has no secret and gets no webhook.
    """

    def __init__(self, secrets: Mapping[str, Sequence[str]], derive_from: str | None = None) -> None:
        self._secrets = {merchant: list(values) for merchant, values in secrets.items() if values}
        self._root = derive_from

    def of(self, merchant: str) -> list[str]:
        """The secrets a delivery to `merchant` is signed with (two while it rotates).

        Raises:
            NoWebhookSecret: The merchant has none and none may be derived; names the setting to fix.
        """
        if merchant in self._secrets:
            return self._secrets[merchant]
        if self._root is not None:
            return [derived_secret(self._root, merchant)]
        raise NoWebhookSecret(f"merchant '{merchant}' has no webhook secret: add it to "
                              "TRADELANE_MERCHANT_WEBHOOK_SECRETS; nothing is signed with another merchant's")


def _parse(header: str) -> tuple[int, list[str]]:
    expected = f"expected 't=<unix seconds>,{SCHEME}=<hex>', got {header[:120]!r}"
    timestamp: int | None = None
    signatures: list[str] = []
    for part in header.split(","):
        key, sep, value = part.strip().partition("=")
        if not sep:
            raise WebhookSignatureError(SignatureProblem.MALFORMED, f"malformed element {part.strip()!r}; {expected}")
        if key == "t":
            if not value.isdigit():
                raise WebhookSignatureError(SignatureProblem.MALFORMED, f"timestamp {value!r} is not an integer; "
                                            f"{expected}")
            timestamp = int(value)
        elif key == SCHEME:
            signatures.append(value)
        # Other schemes (a future v2) are ignored, so receivers keep working while senders add them.
    if timestamp is None:
        raise WebhookSignatureError(SignatureProblem.MALFORMED, f"no timestamp; {expected}")
    if not signatures:
        raise WebhookSignatureError(SignatureProblem.MALFORMED, f"no {SCHEME} signature; {expected}")
    return timestamp, signatures


def verify(secret: str | Sequence[str], header: str | None, body: bytes, now: int,
           tolerance_s: int = DEFAULT_TOLERANCE_S) -> None:
    """Check a delivery's signature against the raw request body.

    Args:
        secret: The merchant's webhook secret (or secrets, while the receiver rotates: either one matching
            suffices).
        header: The `SIGNATURE_HEADER` value as received, or None when absent.
        body: The raw request body (verify before parsing: re-serialised JSON would not match).
        now: Current Unix time in seconds.
        tolerance_s: How far the signed timestamp may be from `now`, either way.

    Raises:
        WebhookSignatureError: Naming what is wrong.
    """
    if not header or not header.strip():
        raise WebhookSignatureError(SignatureProblem.MISSING, "header is missing; every delivery is signed")
    timestamp, signatures = _parse(header)
    age = now - timestamp
    if abs(age) > tolerance_s:
        where = f"{age} s old" if age > 0 else f"{-age} s in the future"
        raise WebhookSignatureError(SignatureProblem.OUTSIDE_TOLERANCE,
                                    f"timestamp {timestamp} is {where}; tolerance is {tolerance_s} s "
                                    "(a replayed delivery, or a clock out of sync)")
    expected = [_digest(s, timestamp, body).encode() for s in _secrets(secret)]
    # Check every candidate in constant time, so timing reveals neither the digest nor which one matched.
    # Bytes, because compare_digest refuses non-ASCII str and a header is attacker-controlled.
    matches = [hmac.compare_digest(e, candidate.encode()) for e in expected for candidate in signatures]
    if not any(matches):
        raise WebhookSignatureError(SignatureProblem.MISMATCH,
                                    f"no {SCHEME} signature matches the body: wrong secret, or the body was changed")
