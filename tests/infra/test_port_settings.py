"""Addresses derived from the port settings follow them (issue 19, point 7): moving a service to another port moves
whoever reaches it, unless their own address is set."""

import pytest
from pydantic import ValidationError

from infra.platform.settings import ApiAddress, Settings
from tests.infra.test_temporal_access import PRODUCTION


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch, tmp_path):
    """No TRADELANE_* variable or .env file of the developer's shell leaks into these settings."""
    import os

    for name in list(os.environ):
        if name.startswith("TRADELANE_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def test_the_partners_url_follows_the_sandbox_port(monkeypatch):
    assert Settings().partners_base_url == "http://127.0.0.1:8100"
    monkeypatch.setenv("TRADELANE_SANDBOX_PORT", "8123")
    assert Settings().partners_base_url == "http://127.0.0.1:8123"
    monkeypatch.setenv("TRADELANE_SANDBOX_HOST", "0.0.0.0")  # listening everywhere: reached on loopback
    assert Settings().partners_base_url == "http://127.0.0.1:8123"
    monkeypatch.setenv("TRADELANE_PARTNERS_BASE_URL", "https://partners.example/gateway")
    assert Settings().partners_base_url == "https://partners.example/gateway"


def test_the_codec_cors_default_follows_the_web_ui_port(monkeypatch):
    assert Settings().codec_cors_origins == ["http://localhost:8233", "http://127.0.0.1:8233"]
    monkeypatch.setenv("TRADELANE_TEMPORAL_UI_PORT", "9233")
    assert Settings().codec_cors_origins == ["http://localhost:9233", "http://127.0.0.1:9233"]
    monkeypatch.setenv("TRADELANE_CODEC_CORS_ORIGINS", '["https://ui.example"]')
    assert Settings().codec_cors_origins == ["https://ui.example"]


def test_production_still_needs_the_codec_origins_set(monkeypatch):
    """The derived default is a development convenience: production names its Web UI origins itself."""
    production = {k: v for k, v in PRODUCTION.items() if k != "codec_cors_origins"}
    with pytest.raises(ValidationError, match="TRADELANE_CODEC_CORS_ORIGINS must list"):
        Settings(**production, temporal_ui_port=9233)
    assert Settings(**PRODUCTION, temporal_ui_port=9233).codec_cors_origins == PRODUCTION["codec_cors_origins"]


def test_clients_find_the_api_on_its_port_unless_its_url_is_set(monkeypatch):
    assert ApiAddress().url == "http://127.0.0.1:8000"
    monkeypatch.setenv("TRADELANE_API_PORT", "8123")
    assert ApiAddress().url == "http://127.0.0.1:8123"
    monkeypatch.setenv("TRADELANE_API_HOST", "0.0.0.0")
    assert ApiAddress().url == "http://127.0.0.1:8123"
    monkeypatch.setenv("TRADELANE_API_URL", "https://tradelane.example/")
    assert ApiAddress().url == "https://tradelane.example"


def test_the_api_address_is_read_without_the_servers_settings(monkeypatch):
    """A shell set up for production (no secrets in it) still runs the CLI: the address is all it reads."""
    monkeypatch.setenv("TRADELANE_ENVIRONMENT", "production")
    monkeypatch.setenv("TRADELANE_API_PORT", "8124")
    with pytest.raises(ValidationError):
        Settings()
    assert ApiAddress().url == "http://127.0.0.1:8124"
