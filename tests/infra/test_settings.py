"""Settings refuse configurations that would make access control ambiguous or weak, naming the setting."""

import pytest

from infra.platform.settings import DEV_API_KEYS, Settings

PRODUCTION = dict(environment="production", database_url="postgresql+psycopg://t:pw@db/t",
                  webhook_secret="whsec-real", partner_webhook_secret="partner-real",
                  payload_keys={"k1": "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVoxMjM0NTY="}, payload_key_id="k1")


def keys(*entries: tuple[str, str, str]) -> list[dict[str, str]]:
    return [{"name": n, "role": r, "key": k} for n, r, k in entries]


@pytest.mark.parametrize(("api_keys", "message"), [
    (keys(("shop", "backend", "a" * 30), ("shop", "ops", "b" * 30)), "keys 'shop' share one name"),
    (keys(("shop", "backend", "a" * 30), ("ops", "ops", "a" * 30)), "keys 'ops', 'shop' share one key"),
], ids=["same name twice", "same secret for two roles"])
def test_each_key_has_its_own_name_and_secret(api_keys, message):
    with pytest.raises(ValueError, match=message):
        Settings(_env_file=None, api_keys=api_keys)


def test_production_refuses_short_keys_and_accepts_long_ones():
    with pytest.raises(ValueError, match="key\\(s\\) 'ops' shorter than 24 characters"):
        Settings(_env_file=None, **PRODUCTION, api_keys=keys(("shop", "backend", "x" * 40), ("ops", "ops", "short")))
    settings = Settings(_env_file=None, **PRODUCTION,
                        api_keys=keys(("shop", "backend", "x" * 40), ("ops", "ops", "y" * 24)))
    assert settings.api_key("ops") == "y" * 24


def test_the_key_of_a_role():
    settings = Settings(_env_file=None)
    assert [settings.api_key(role) for role in ("backend", "ops", "partner")] == list(DEV_API_KEYS.values())
    with pytest.raises(ValueError, match="no key with role 'partner'"):
        Settings(_env_file=None, api_keys=keys(("shop", "backend", "k" * 30))).api_key("partner")


@pytest.mark.parametrize(("keys_", "active", "message"), [
    ({"k1": "not base64!"}, "k1", "TRADELANE_payload_keys\\[k1\\]: not valid base64"),
    ({"k1": "c2hvcnQ="}, "k1", "TRADELANE_payload_keys\\[k1\\]: the key is 5 bytes"),
    ({"k1": "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVoxMjM0NTY="}, "k2", "TRADELANE_payload_key_id 'k2' is not in"),
], ids=["not base64", "too short", "unknown active id"])
def test_a_bad_payload_key_fails_at_start_naming_the_setting(keys_, active, message):
    with pytest.raises(ValueError, match=message):
        Settings(_env_file=None, payload_keys=keys_, payload_key_id=active)
