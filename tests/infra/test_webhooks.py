"""Webhook signatures: the signed text, and every way verification refuses a delivery."""

import pytest

from infra.platform.webhooks import (
    EVENT_ID_HEADER,
    SIGNATURE_HEADER,
    SignatureProblem,
    WebhookSignatureError,
    sign,
    signed_headers,
    verify,
)

SECRET = "whsec_test"
BODY = b'{"a":1}'
T = 1_700_000_000


def test_signature_is_hmac_sha256_of_timestamp_dot_body():
    # Computed independently: printf '1700000000.{"a":1}' | openssl dgst -sha256 -hmac whsec_test
    assert sign(SECRET, T, BODY) == "t=1700000000,v1=38877139021993b830af32feea6e18a8da83eb2f6e49ee50bd9e4cf4ca4d3789"


def test_signed_headers_carry_the_event_id_and_signature():
    assert signed_headers(SECRET, "S-1:3:webhook:merchant", T, BODY) == {
        EVENT_ID_HEADER: "S-1:3:webhook:merchant", SIGNATURE_HEADER: sign(SECRET, T, BODY)}


@pytest.mark.parametrize(("header", "now"), [
    (sign(SECRET, T, BODY), T),
    (sign(SECRET, T, BODY), T + 300),
    (sign(SECRET, T, BODY), T - 300),
    (f"t={T},v1={'0' * 64},{sign(SECRET, T, BODY).split(',')[1]}", T),
    (f"{sign(SECRET, T, BODY)},v2=future-scheme", T),
    (f" t={T} , {sign(SECRET, T, BODY).split(',')[1]} ", T),
], ids=["fresh", "at-tolerance-old", "at-tolerance-ahead", "rotated-secret-second-v1", "unknown-scheme-ignored",
        "spaces"])
def test_valid_signatures_pass(header, now):
    verify(SECRET, header, BODY, now=now)


@pytest.mark.parametrize(("secret", "header", "body", "now", "problem", "says"), [
    (SECRET, None, BODY, T, SignatureProblem.MISSING, "missing"),
    (SECRET, "  ", BODY, T, SignatureProblem.MISSING, "missing"),
    (SECRET, "garbage", BODY, T, SignatureProblem.MALFORMED, "malformed element 'garbage'"),
    (SECRET, f"t=soon,v1={'a' * 64}", BODY, T, SignatureProblem.MALFORMED, "timestamp 'soon' is not an integer"),
    (SECRET, f"v1={'a' * 64}", BODY, T, SignatureProblem.MALFORMED, "no timestamp"),
    (SECRET, f"t={T}", BODY, T, SignatureProblem.MALFORMED, "no v1 signature"),
    (SECRET, sign(SECRET, T, BODY), b'{"a":2}', T, SignatureProblem.MISMATCH, "body was changed"),
    ("whsec_other", sign(SECRET, T, BODY), BODY, T, SignatureProblem.MISMATCH, "wrong secret"),
    (SECRET, sign(SECRET, T, BODY), BODY, T + 301, SignatureProblem.OUTSIDE_TOLERANCE, "is 301 s old"),
    (SECRET, sign(SECRET, T, BODY), BODY, T - 301, SignatureProblem.OUTSIDE_TOLERANCE, "301 s in the future"),
    (SECRET, f"t={T},v1=ünïcode", BODY, T, SignatureProblem.MISMATCH, "no v1 signature matches"),
], ids=["absent", "blank", "not-key-value", "timestamp-not-integer", "no-timestamp", "no-v1", "tampered-body",
        "wrong-secret", "too-old", "too-far-ahead", "non-ascii-signature"])
def test_invalid_signatures_are_refused_naming_the_problem(secret, header, body, now, problem, says):
    with pytest.raises(WebhookSignatureError) as err:
        verify(secret, header, body, now=now)
    assert err.value.problem is problem
    assert says in str(err.value)
    assert str(err.value).startswith(f"{SIGNATURE_HEADER}: ")


def test_tolerance_is_configurable():
    with pytest.raises(WebhookSignatureError, match="tolerance is 10 s"):
        verify(SECRET, sign(SECRET, T, BODY), BODY, now=T + 11, tolerance_s=10)
