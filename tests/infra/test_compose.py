"""docker-compose.yml cannot run here (no Docker engine); this checks it matches the real entry points."""

import re
from pathlib import Path

import pytest
import yaml
from typer.main import get_command

from devstack.cli import app
from devstack.devserver import _CLI_TYPE_NAMES, TESTED_CLI
from infra.platform.partner_credentials import MissingCredentials, check_all
from infra.platform.settings import Settings
from tradelane.connections import directory
from workflows.visibility import SEARCH_ATTRIBUTES

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
TRADELANE_SERVICES = ["worker", "api", "sandbox"]


def settings_env_names() -> set[str]:
    names = set()
    for name, info in Settings.model_fields.items():
        alias = info.validation_alias
        names.add(alias if isinstance(alias, str) else f"TRADELANE_{name.upper()}")
    return names


def credential_env_names() -> set[str]:
    """The environment variables the partner directory reads its connections' credentials from."""
    return {variable for c in directory().connections.values() for variable in c.credentials.values()}


def test_the_production_services_are_there():
    assert {"postgresql", "temporal", "temporal-ui", "worker", "api", "sandbox"} <= set(SERVICES)


@pytest.mark.parametrize("service", TRADELANE_SERVICES)
def test_commands_are_real_cli_commands(service):
    command = SERVICES[service]["command"]
    assert command[0] == "tradelane"
    assert command[1] in get_command(app).commands, f"{service}: 'tradelane {command[1]}' does not exist"


@pytest.mark.parametrize("service", TRADELANE_SERVICES)
def test_environment_names_are_real_settings(service):
    env = SERVICES[service]["environment"]
    unknown = {k for k in env if k.startswith("TRADELANE_")} - settings_env_names() - credential_env_names()
    assert not unknown, f"{service}: not settings: {unknown}"


@pytest.mark.parametrize("service", ["worker", "api"])
def test_services_reach_temporal_and_postgres_by_service_name(service, monkeypatch):
    env = SERVICES[service]["environment"]
    assert env["TRADELANE_TEMPORAL_ADDRESS"].split(":")[0] in SERVICES
    assert env["TRADELANE_DATABASE_URL"].startswith("postgresql+psycopg://")
    assert "@postgresql:5432/" in env["TRADELANE_DATABASE_URL"]
    assert env["TRADELANE_PARTNERS_BASE_URL"] == "http://sandbox:8100"
    assert env["TRADELANE_ENVIRONMENT"] == "production"
    # The production settings accept these values (PostgreSQL, not SQLite) once the operator's secrets are set.
    for name, value in env.items():
        monkeypatch.setenv(name, _with_secrets(value))
    settings = Settings(_env_file=None)
    assert settings.environment == "production" and [k.role for k in settings.api_keys] == ["backend", "ops"]
    assert settings.payload_key_id == "2026-11"


OPERATOR_SECRETS = {
    # Production refuses HMAC secrets and API keys shorter than 32 bytes.
    "POSTGRES_PASSWORD": "pw", "TRADELANE_WEBHOOK_SECRET": "whsec-real-and-long-enough-0000000",
    "TRADELANE_TRACKING_SECRET": "track-real-and-long-enough-0000000",
    "TRADELANE_PARTNER_WEBHOOK_SECRETS": '{"roadlink": "p-real-and-long-enough-000000000000"}',
    "TRADELANE_API_KEYS": '[{"name":"shop","role":"backend","key":"k1-real-and-long-enough-0000000000",'
                          '"merchants":["shop"]},'
                          '{"name":"ops","role":"ops","key":"k2-real-and-long-enough-0000000000"}]',
    "TRADELANE_PAYLOAD_KEYS": '{"2026-11": "' + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVoxMjM0NTY=" + '"}',
    "TRADELANE_PAYLOAD_KEY_ID": "2026-11",
    **{variable: f"real-{variable.lower()}" for variable in sorted(credential_env_names())},
}


def _with_secrets(value: str) -> str:
    """Compose's `${NAME:?message}` replaced by the value an operator would set."""
    return re.sub(r"\$\{(\w+):\?[^}]*\}", lambda m: OPERATOR_SECRETS[m.group(1)], value)


def test_a_production_worker_is_given_every_partner_credential():
    env = {name: _with_secrets(value) for name, value in SERVICES["worker"]["environment"].items()}
    check_all("production", env)  # raises naming each missing variable
    missing = dict(env)
    del missing["TRADELANE_UPS_CLIENT_SECRET"]
    with pytest.raises(MissingCredentials, match="TRADELANE_UPS_CLIENT_SECRET"):
        check_all("production", missing)


def test_production_refuses_the_documented_development_secrets(monkeypatch):
    monkeypatch.setenv("TRADELANE_ENVIRONMENT", "production")
    monkeypatch.setenv("TRADELANE_DATABASE_URL", "postgresql+psycopg://t:pw@db/t")
    monkeypatch.setenv("TRADELANE_WEBHOOK_SECRET", "real")
    with pytest.raises(ValueError, match="TRADELANE_API_KEYS: key 'dev-backend' is a documented development key"):
        Settings(_env_file=None)
    monkeypatch.setenv("TRADELANE_API_KEYS", '[{"name": "ops", "role": "ops", "key": "real-key"}]')
    with pytest.raises(ValueError, match="TRADELANE_PARTNER_WEBHOOK_SECRETS: .* is a development secret"):
        Settings(_env_file=None)
    monkeypatch.setenv("TRADELANE_PARTNER_WEBHOOK_SECRETS", '{"roadlink": "real-partner-secret"}')
    with pytest.raises(ValueError, match="TRADELANE_PAYLOAD_KEYS must not contain the development key"):
        Settings(_env_file=None)


def test_temporal_is_the_server_version_the_dev_server_runs():
    assert SERVICES["temporal"]["image"] == f"temporalio/server:{TESTED_CLI.server}"
    for tool in ("temporal-schema", "temporal-namespace", "temporal-search-attributes"):
        assert SERVICES[tool]["image"] == f"temporalio/admin-tools:{TESTED_CLI.server}", tool
    assert SERVICES["temporal-ui"]["image"] == f"temporalio/ui:{TESTED_CLI.ui}"
    assert SERVICES["temporal"]["environment"]["DB"].startswith("postgres")
    assert SERVICES["temporal-ui"]["environment"]["TEMPORAL_ADDRESS"] == "temporal:7233"


def test_every_search_attribute_is_created():
    script = SERVICES["temporal-search-attributes"]["command"][0]
    declared = {item.split(":")[0]: item.split(":")[1] for item in script.split(";")[0].split() if ":" in item
                and item.startswith("Tradelane")}
    expected = {key.name: _CLI_TYPE_NAMES[key.indexed_value_type] for key in SEARCH_ATTRIBUTES}
    assert declared == expected


def test_no_secret_is_written_in_the_file_and_images_are_pinned():
    text = (ROOT / "docker-compose.yml").read_text()
    assert "POSTGRES_PASSWORD: ${POSTGRES_PASSWORD:?" in text
    for name, service in SERVICES.items():
        if "image" in service:
            assert ":" in service["image"] and not service["image"].endswith(":latest"), name
        else:
            assert service["build"] == ".", name
    assert (ROOT / "Dockerfile").is_file()


def test_the_env_example_lists_every_secret_the_compose_file_requires():
    required = set(re.findall(r"\$\{(\w+):\?", (ROOT / "docker-compose.yml").read_text()))
    example = {line.split("=", 1)[0] for line in (ROOT / "deploy" / "env.example").read_text().splitlines()
               if line and not line.startswith("#")}
    assert required == example == set(OPERATOR_SECRETS)


COMPOSE_SCHEMA = ROOT.parent / "shared" / "specs" / "compose" / "compose-spec.json"


def test_the_file_is_valid_against_the_published_compose_schema():
    import json

    import jsonschema_rs

    validator = jsonschema_rs.validator_for(json.loads(COMPOSE_SCHEMA.read_text()))
    errors = [f"{'/'.join(map(str, e.instance_path))}: {e.message}" for e in validator.iter_errors(COMPOSE)]
    assert errors == []


def test_temporal_starts_after_its_schema_and_tradelane_after_the_namespace():
    assert SERVICES["temporal"]["depends_on"]["temporal-schema"]["condition"] == "service_completed_successfully"
    assert SERVICES["temporal-search-attributes"]["depends_on"]["temporal-namespace"]["condition"] \
        == "service_completed_successfully"
    schema = SERVICES["temporal-schema"]["command"][0]
    assert "setup-schema" in schema and "update-schema" in schema and "temporal_visibility" in schema
