"""Merchants' webhooks are signed with each merchant's own secrets (issue 18): one merchant's secret never verifies
a delivery for another, and a rotation keeps both secrets valid until the old one is dropped."""

import json

import pytest

from infra.platform.settings import Settings
from infra.platform.webhooks import NoWebhookSecret, SignatureProblem, WebhookSignatureError, signed_headers, verify

NOW = 1_765_000_000
BODY = json.dumps({"type": "shipment.delivered", "shipment_id": "S-1"}).encode()
PRODUCTION = dict(environment="production", database_url="postgresql+psycopg://t:pw@db/t",
                  webhook_secret="whsec-real-" + "w" * 21, tracking_secret="track-real-" + "t" * 21,
                  partner_webhook_secrets={"roadlink": "partner-real-" + "s" * 20},
                  payload_keys={"k1": "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVoxMjM0NTY="}, payload_key_id="k1",
                  codec_cors_origins=["https://temporal-ui.example.com"],
                  api_keys=[{"name": "shop", "role": "backend", "key": "x" * 40, "merchants": ["merchant-b"]},
                            {"name": "ops", "role": "ops", "key": "y" * 40}])
A_SECRET, B_OLD, B_NEW = "a" * 40, "b-old-" + "o" * 34, "b-new-" + "n" * 34


def signature(settings: Settings, merchant: str) -> str:
    """The signature header Tradelane sends to `merchant`."""
    headers = signed_headers(settings.merchant_secrets().of(merchant), "S-1:1:webhook:merchant", NOW, BODY,
                             merchant=merchant)
    return headers["Tradelane-Signature"]


def accepts(secret: str, header: str) -> bool:
    """Whether a merchant verifying with `secret` accepts the delivery."""
    try:
        verify(secret, header, BODY, now=NOW)
    except WebhookSignatureError as err:
        assert err.problem is SignatureProblem.MISMATCH
        return False
    return True


@pytest.mark.parametrize("environment", ["development", "production"])
def test_merchant_a_cannot_sign_a_webhook_merchant_b_accepts(environment):
    """Finding (issue 18): TRADELANE_WEBHOOK_SECRET signed every merchant's webhooks, so merchant A (who knows it)
    could forge a delivery merchant B accepts."""
    overrides = PRODUCTION if environment == "production" else {"environment": environment}
    settings = Settings(_env_file=None, **overrides,
                        merchant_webhook_secrets={"merchant-a": [A_SECRET], "merchant-b": [B_NEW]})
    forged_by_a = signature(settings, "merchant-a")
    assert accepts(A_SECRET, forged_by_a) and not accepts(B_NEW, forged_by_a)
    assert accepts(B_NEW, signature(settings, "merchant-b"))


def test_development_derives_a_different_secret_per_merchant():
    settings = Settings(_env_file=None, environment="development")
    a, b = settings.merchant_secrets().of("merchant-a"), settings.merchant_secrets().of("merchant-b")
    assert a != b and settings.webhook_secret.get_secret_value() not in a + b
    assert not accepts(a[0], signature(settings, "merchant-b"))


def test_during_a_rotation_both_secrets_verify_and_after_it_only_the_new_one():
    rotating = Settings(_env_file=None, **PRODUCTION, merchant_webhook_secrets={"merchant-b": [B_NEW, B_OLD]})
    header = signature(rotating, "merchant-b")
    assert header.count("v1=") == 2
    assert accepts(B_OLD, header) and accepts(B_NEW, header)
    rotated = Settings(_env_file=None, **PRODUCTION, merchant_webhook_secrets={"merchant-b": [B_NEW]})
    header = signature(rotated, "merchant-b")
    assert accepts(B_NEW, header) and not accepts(B_OLD, header)
    # A receiver mid-rotation verifies with either of its secrets.
    verify([B_NEW, B_OLD], header, BODY, now=NOW)


def test_production_signs_nothing_for_a_merchant_without_its_own_secret():
    settings = Settings(_env_file=None, **PRODUCTION, merchant_webhook_secrets={"merchant-b": [B_NEW]})
    with pytest.raises(NoWebhookSecret, match="merchant 'merchant-c' has no webhook secret: add it to "
                                              "TRADELANE_MERCHANT_WEBHOOK_SECRETS"):
        settings.merchant_secrets().of("merchant-c")


def test_production_refuses_a_merchant_webhook_url_without_a_secret_naming_the_merchant_not_a_value():
    with pytest.raises(ValueError, match="TRADELANE_MERCHANT_WEBHOOK_SECRETS: merchant\\(s\\) 'merchant-c' have a "
                                         "webhook URL but no secret") as refused:
        Settings(_env_file=None, **PRODUCTION, merchant_webhook_secrets={"merchant-b": [B_NEW]},
                 merchant_webhooks={"merchant-b": "https://b.example/hook", "merchant-c": "https://c.example/hook"})
    assert "nnnn" not in str(refused.value)
    with pytest.raises(ValueError, match="TRADELANE_MERCHANT_WEBHOOK_SECRETS: a secret of 'merchant-b' is shorter "
                                         "than 32 bytes") as short:
        Settings(_env_file=None, **PRODUCTION, merchant_webhook_secrets={"merchant-b": [B_NEW, "short-old"]})
    assert "short-old" not in str(short.value)
