"""Settings refuse configurations that would make access control ambiguous or weak, naming the setting; renamed
settings still read their old variables for one release, with a warning naming the new one."""

import warnings

import pytest

from infra.platform.dev_secrets import dev_partner_key, dev_partner_secret
from infra.platform.settings import DEV_API_KEYS, DEV_PAYLOAD_KEY_ID, Settings
from tradelane.connections import directory

PRODUCTION = dict(environment="production", database_url="postgresql+psycopg://t:pw@db/t",
                  webhook_secret="whsec-real-" + "w" * 21, tracking_secret="track-real-" + "t" * 21,
                  partner_webhook_secrets={"roadlink": "partner-real-" + "s" * 20},
                  payload_keys={"k1": "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVoxMjM0NTY="}, payload_key_id="k1",
                  codec_cors_origins=["https://temporal-ui.example.com"])


def keys(*entries: tuple[str, str, str]) -> list[dict[str, object]]:
    """API keys; a backend key acts for the merchant of its name (every backend key names its merchants)."""
    return [{"name": n, "role": r, "key": k, **({"merchants": [n]} if r == "backend" else {})} for n, r, k in entries]


@pytest.mark.parametrize(("api_keys", "message"), [
    (keys(("shop", "backend", "a" * 30), ("shop", "ops", "b" * 30)), "keys 'shop' share one name"),
    (keys(("shop", "backend", "a" * 30), ("ops", "ops", "a" * 30)), "keys 'ops', 'shop' share one key"),
], ids=["same name twice", "same secret for two roles"])
def test_each_key_has_its_own_name_and_secret(api_keys, message):
    with pytest.raises(ValueError, match=message):
        Settings(_env_file=None, api_keys=api_keys)


def test_production_refuses_short_keys_and_accepts_long_ones():
    """Finding (issue 18): production took 24-character API keys; every key and HMAC secret is now >= 32 bytes."""
    with pytest.raises(ValueError, match="TRADELANE_API_KEYS: key\\(s\\) 'ops' is shorter than 32 bytes") as refused:
        Settings(_env_file=None, **PRODUCTION, api_keys=keys(("shop", "backend", "x" * 40), ("ops", "ops", "y" * 31)))
    assert "yyyy" not in str(refused.value)
    settings = Settings(_env_file=None, **PRODUCTION,
                        api_keys=keys(("shop", "backend", "x" * 40), ("ops", "ops", "y" * 32)))
    assert settings.api_key("ops") == "y" * 32


LONG_KEYS = keys(("shop", "backend", "x" * 40), ("ops", "ops", "y" * 40))


@pytest.mark.parametrize(("override", "message"), [
    ({"webhook_secret": "whsec-" + "w" * 25}, "TRADELANE_WEBHOOK_SECRET is shorter than 32 bytes"),
    ({"partner_webhook_secrets": {"roadlink": "r" * 40, "parcelnow": "p" * 31}},
     "TRADELANE_PARTNER_WEBHOOK_SECRETS: the secret\\(s\\) of 'parcelnow' is shorter than 32 bytes"),
], ids=["merchant webhook secret", "one partner's secret"])
def test_production_refuses_short_hmac_secrets_naming_the_entry_not_the_value(override, message):
    """Finding (issue 18): production accepted HMAC secrets of any length (e.g. 'whsec-real')."""
    with pytest.raises(ValueError, match=message) as refused:
        Settings(_env_file=None, **{**PRODUCTION, **override}, api_keys=LONG_KEYS)
    assert "wwww" not in str(refused.value) and "pppp" not in str(refused.value)


@pytest.mark.parametrize("origins", [None, []], ids=["left at the local default", "empty"])
def test_production_requires_explicit_codec_cors_origins(origins):
    """Finding (issue 18): production ran with the local UI's origins as the codec's CORS origins by default."""
    production = {k: v for k, v in PRODUCTION.items() if k != "codec_cors_origins"}
    given = {} if origins is None else {"codec_cors_origins": origins}
    with pytest.raises(ValueError, match="TRADELANE_CODEC_CORS_ORIGINS must list the Web UI origin"):
        Settings(_env_file=None, **production, **given, api_keys=LONG_KEYS)


SECRET_TAIL = "TAIL-OF-THE-SECRET-VALUE"


@pytest.mark.parametrize("override", [
    # Alone in the input, so pydantic's shortened quote of the input (its head and tail) ended with the key.
    {"payload_keys": {DEV_PAYLOAD_KEY_ID: "not base64 at all, " + SECRET_TAIL}},
    {"payload_keys": {DEV_PAYLOAD_KEY_ID: 12345678901234567890}},
    {"api_keys": [{"name": "shop", "role": "nobody", "key": "k" * 20 + SECRET_TAIL}]},
    {"api_keys": [{"name": "shop", "key": "k" * 20 + SECRET_TAIL}]},
    {"partner_webhook_secrets": {"roadlink": ["s" * 20 + SECRET_TAIL]}},
    {"webhook_secret": {"nested": SECRET_TAIL}},
], ids=["payload key not base64", "payload key not text", "api key with an unknown role", "api key without a role",
        "partner secret not text", "webhook secret not text"])
def test_an_error_about_a_malformed_secret_never_quotes_it(override):
    """Finding (issue 18): a malformed payload key's error printed its last 21 characters (pydantic quotes input)."""
    with pytest.raises(ValueError) as refused:
        Settings(_env_file=None, **override)
    text = str(refused.value)
    assert "TAIL" not in text and "SECRET-VALUE" not in text and "1234" not in text, text
    assert "kkkk" not in text and "ssss" not in text, text


def test_the_key_of_a_role_and_each_partner_its_own():
    settings = Settings(_env_file=None)
    assert [settings.api_key(role) for role in ("backend", "ops")] == list(DEV_API_KEYS.values())
    partner_keys = settings.partner_keys()
    assert partner_keys["roadlink"] == dev_partner_key("roadlink")
    assert set(partner_keys) == set(directory().connections)  # one per partner, none shared
    assert len(set(partner_keys.values())) == len(partner_keys)
    assert len({s.get_secret_value() for s in settings.partner_webhook_secrets.values()}) == len(partner_keys)
    with pytest.raises(ValueError, match="no key with role 'partner'"):
        Settings(_env_file=None, api_keys=keys(("shop", "backend", "k" * 30))).api_key("partner")


def test_a_partner_key_is_named_after_its_partner():
    with pytest.raises(ValueError, match="partner key\\(s\\) 'acme' name no partner connection"):
        Settings(_env_file=None, api_keys=keys(("acme", "partner", "k" * 30)))


def test_production_refuses_development_partner_keys_and_secrets():
    real = keys(("shop", "backend", "x" * 40), ("roadlink", "partner", "p" * 40))
    dev_secret = {"roadlink": dev_partner_secret("roadlink")}
    with pytest.raises(ValueError, match="roadlink's secret is a development secret"):
        Settings(_env_file=None, **{**PRODUCTION, "partner_webhook_secrets": dev_secret}, api_keys=real)
    dev_key = keys(("shop", "backend", "x" * 40), ("roadlink", "partner", dev_partner_key("roadlink") + "x" * 20))
    with pytest.raises(ValueError, match="'roadlink' is a development partner key"):
        Settings(_env_file=None, **PRODUCTION, api_keys=dev_key)
    assert Settings(_env_file=None, **PRODUCTION, api_keys=real).partner_keys() == {"roadlink": "p" * 40}


@pytest.mark.parametrize(("keys_", "active", "message"), [
    ({"k1": "not base64!"}, "k1", "TRADELANE_payload_keys\\[k1\\]: not valid base64"),
    ({"k1": "c2hvcnQ="}, "k1", "TRADELANE_payload_keys\\[k1\\]: the key is 5 bytes"),
    ({"k1": "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVoxMjM0NTY="}, "k2", "TRADELANE_payload_key_id 'k2' is not in"),
], ids=["not base64", "too short", "unknown active id"])
def test_a_bad_payload_key_fails_at_start_naming_the_setting(keys_, active, message):
    with pytest.raises(ValueError, match=message):
        Settings(_env_file=None, payload_keys=keys_, payload_key_id=active)


NEW_URL, OLD_URL = "TRADELANE_PARTNERS_BASE_URL", "TRADELANE_SANDBOX_URL"


@pytest.fixture
def partner_env(monkeypatch):
    """Sets only the given partner URL variables, whatever the surrounding environment holds."""
    def set_(**variables: str) -> None:
        for name in (NEW_URL, OLD_URL):
            monkeypatch.delenv(name, raising=False)
        for name, value in variables.items():
            monkeypatch.setenv(name, value)
    return set_


def test_partners_base_url_from_its_own_variable_without_a_warning(partner_env):
    partner_env(TRADELANE_PARTNERS_BASE_URL="https://partners.example")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert Settings(_env_file=None).partners_base_url == "https://partners.example"


def test_the_old_variable_still_works_and_names_the_new_one(partner_env):
    partner_env(TRADELANE_SANDBOX_URL="https://old.example")
    with pytest.warns(DeprecationWarning, match=f"{OLD_URL} is deprecated: rename it to {NEW_URL}"):
        assert Settings(_env_file=None).partners_base_url == "https://old.example"


def test_the_old_variable_in_a_dotenv_file_still_works(partner_env, tmp_path):
    partner_env()
    (tmp_path / ".env").write_text(f"{OLD_URL}=https://old.example\n")
    with pytest.warns(DeprecationWarning, match=f"rename it to {NEW_URL}"):
        assert Settings(_env_file=tmp_path / ".env").partners_base_url == "https://old.example"


@pytest.mark.parametrize("new_in_dotenv", [False, True], ids=["both in the environment", "new one in .env"])
def test_with_both_variables_set_the_new_one_wins(partner_env, tmp_path, new_in_dotenv):
    (tmp_path / ".env").write_text(f"{NEW_URL}=https://partners.example\n" if new_in_dotenv else "")
    partner_env(**{OLD_URL: "https://old.example"}, **({} if new_in_dotenv else {NEW_URL: "https://partners.example"}))
    with pytest.warns(DeprecationWarning, match=f"{OLD_URL} and {NEW_URL} are both set; using {NEW_URL}"):
        assert Settings(_env_file=tmp_path / ".env").partners_base_url == "https://partners.example"


def test_without_either_variable_the_partners_are_the_local_sandbox(partner_env):
    partner_env()
    settings = Settings(_env_file=None)
    assert settings.partners_base_url == f"http://{settings.sandbox_host}:{settings.sandbox_port}"


def test_the_shared_partner_secret_is_no_longer_read_and_the_operator_is_told_why(monkeypatch):
    monkeypatch.setenv("TRADELANE_PARTNER_WEBHOOK_SECRET", "one-for-all")
    with pytest.warns(DeprecationWarning, match="TRADELANE_PARTNER_WEBHOOK_SECRET is no longer read: .* set "
                                                "TRADELANE_PARTNER_WEBHOOK_SECRETS, one secret per partner"):
        settings = Settings(_env_file=None)
    assert "one-for-all" not in {s.get_secret_value() for s in settings.partner_webhook_secrets.values()}
