"""docker-compose.yml cannot run here (no Docker engine); this checks it matches the real entry points."""

import importlib.util
import json
import re
import tomllib
from pathlib import Path

import jsonschema
import pytest
import yaml
from typer.main import get_command

from devstack.cli import app
from devstack.cluster.config import CONFIG_TEMPLATE
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


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_environment_names_are_real_settings(service):
    env = SERVICES[service].get("environment") or {}
    unknown = {k for k in env if k.startswith("TRADELANE_")} - settings_env_names() - credential_env_names()
    assert not unknown, f"{service}: not settings: {unknown}"


def test_every_tradelane_variable_the_file_sets_is_a_setting():
    """Every TRADELANE_* key in the file, the shared block's too: pydantic ignores a misspelt name silently."""
    text = (ROOT / "docker-compose.yml").read_text()
    set_here = set(re.findall(r"^\s+(TRADELANE_\w+):", text, re.M))
    assert set_here and not set_here - settings_env_names() - credential_env_names()


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
    "TRADELANE_MERCHANT_WEBHOOK_SECRETS": '{"acme-store": ["m-real-and-long-enough-000000000000"]}',
    "TRADELANE_API_KEYS": '[{"name":"shop","role":"backend","key":"k1-real-and-long-enough-0000000000",'
                          '"merchants":["shop"]},'
                          '{"name":"ops","role":"ops","key":"k2-real-and-long-enough-0000000000"}]',
    "TRADELANE_PAYLOAD_KEYS": '{"2026-11": "' + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVoxMjM0NTY=" + '"}',
    "TRADELANE_PAYLOAD_KEY_ID": "2026-11",
    "POSTGRES_TEMPORAL_PASSWORD": "temporal-pw", "POSTGRES_TRADELANE_PASSWORD": "tradelane-pw",
    "TRADELANE_PUBLIC_URL": "https://track.example.com",
    "TEMPORAL_UI_CODEC_KEY": "k2-real-and-long-enough-0000000000",
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


OPS_OVERRIDE = ROOT / "deploy" / "compose.ops.yml"


@pytest.mark.parametrize("path", [ROOT / "docker-compose.yml", OPS_OVERRIDE], ids=["compose", "ops-override"])
def test_the_file_is_valid_against_the_published_compose_schema(path):
    validator = jsonschema.Draft7Validator(json.loads(COMPOSE_SCHEMA.read_text()))
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
              for e in validator.iter_errors(yaml.safe_load(path.read_text()))]
    assert errors == []


def test_the_schema_check_can_fail():
    """The validator really reads the schema: a misspelt key and a restart policy that does not exist are refused."""
    validator = jsonschema.Draft7Validator(json.loads(COMPOSE_SCHEMA.read_text()))
    broken = {**COMPOSE, "services": {**SERVICES, "api": {**SERVICES["api"], "helthcheck": {}}}}
    assert any("helthcheck" in e.message for e in validator.iter_errors(broken))
    broken = {**COMPOSE, "services": {**SERVICES, "api": {**SERVICES["api"], "restart": 3}}}
    assert list(validator.iter_errors(broken))


def test_temporal_starts_after_its_schema_and_tradelane_after_the_namespace():
    assert SERVICES["temporal"]["depends_on"]["temporal-schema"]["condition"] == "service_completed_successfully"
    assert SERVICES["temporal-search-attributes"]["depends_on"]["temporal-namespace"]["condition"] \
        == "service_completed_successfully"
    schema = SERVICES["temporal-schema"]["command"][0]
    assert "setup-schema" in schema and "update-schema" in schema and "temporal_visibility" in schema


# --- Temporal access: mTLS on the compose network, nothing on a public interface ----------------------------------

TEMPORAL_CALLERS = {"worker": "tradelane-worker", "api": "tradelane-api"}
"""Tradelane's services that talk to Temporal, and the client certificate each presents."""


def published(service: dict) -> list[tuple[str, str]]:
    """(host address, container port) of each published port; an address left out means every interface."""
    found = []
    for port in service.get("ports", []):
        if isinstance(port, dict):
            found.append((port.get("host_ip", "0.0.0.0"), str(port["target"])))
        else:
            parts = str(port).split(":")
            found.append((parts[0] if len(parts) == 3 else "0.0.0.0", parts[-1]))
    return found


def test_only_the_api_and_its_tracking_page_are_published():
    """Findings (issue 18, issue 19): the compose file published the frontend (7233) and the Web UI on every
    interface, then the sandbox, Mailpit and the worker's metrics. Only the API (with the public tracking page) is;
    ops' override publishes the UI gateway and Mailpit on the host's loopback only."""
    assert {name: published(service) for name, service in SERVICES.items() if published(service)} == {
        "api": [("0.0.0.0", "8000")]}
    override = yaml.safe_load(OPS_OVERRIDE.read_text())["services"]
    assert set(override) <= set(SERVICES)
    assert {name: published(service) for name, service in override.items()} == {
        "temporal-ui-gateway": [("127.0.0.1", "8233")], "mailpit": [("127.0.0.1", "8025")]}


def secret_path(service: dict, path: str) -> str:
    """The secret a `/run/secrets/<name>` path names, checked to be mounted in the service."""
    assert path.startswith("/run/secrets/"), path
    name = path.removeprefix("/run/secrets/")
    assert name in service.get("secrets", []), f"{name} is not mounted"
    assert name in COMPOSE["secrets"], f"{name} is not a declared secret"
    return name


def test_the_frontend_requires_client_certificates_from_the_ca():
    env = SERVICES["temporal"]["environment"]
    assert env["TEMPORAL_TLS_REQUIRE_CLIENT_AUTH"] == "true"
    for variable in ("TEMPORAL_TLS_SERVER_CA_CERT", "TEMPORAL_TLS_SERVER_CERT", "TEMPORAL_TLS_SERVER_KEY",
                     "TEMPORAL_TLS_FRONTEND_CERT", "TEMPORAL_TLS_FRONTEND_KEY", "TEMPORAL_TLS_CLIENT1_CA_CERT"):
        secret_path(SERVICES["temporal"], env[variable])
    assert env["TEMPORAL_TLS_CLIENT1_CA_CERT"] == env["TEMPORAL_TLS_SERVER_CA_CERT"] == "/run/secrets/temporal-ca"


@pytest.mark.parametrize("service", sorted(TEMPORAL_CALLERS))
def test_tradelane_services_reach_temporal_over_mtls_with_their_own_certificate(service, monkeypatch):
    env = SERVICES[service]["environment"]
    assert env["TRADELANE_TEMPORAL_TLS"] == "true"
    assert env["TRADELANE_TEMPORAL_TLS_SERVER_NAME"] == "temporal"
    names = {variable: secret_path(SERVICES[service], env[f"TRADELANE_TEMPORAL_TLS_{variable}"])
             for variable in ("CA_CERT", "CLIENT_CERT", "CLIENT_KEY")}
    assert names == {"CA_CERT": "temporal-ca", "CLIENT_CERT": f"{TEMPORAL_CALLERS[service]}-cert",
                     "CLIENT_KEY": f"{TEMPORAL_CALLERS[service]}-key"}
    for name, value in env.items():
        monkeypatch.setenv(name, _with_secrets(value))
    settings = Settings(_env_file=None)
    assert settings.temporal_uses_tls
    assert settings.temporal_tls_client_key == Path(env["TRADELANE_TEMPORAL_TLS_CLIENT_KEY"])
    # Without the TLS settings, the same production environment does not start.
    for name in [n for n in env if n.startswith("TRADELANE_TEMPORAL_TLS")]:
        monkeypatch.delenv(name)
    with pytest.raises(ValueError, match="TRADELANE_TEMPORAL_ADDRESS 'temporal:7233' is not on this host"):
        Settings(_env_file=None)


@pytest.mark.parametrize(("service", "variables"), [
    ("temporal-ui", ("TEMPORAL_TLS_CA", "TEMPORAL_TLS_CERT", "TEMPORAL_TLS_KEY")),
    ("temporal-namespace", ("TEMPORAL_TLS_SERVER_CA_CERT_PATH", "TEMPORAL_TLS_CLIENT_CERT_PATH",
                            "TEMPORAL_TLS_CLIENT_KEY_PATH")),
    ("temporal-search-attributes", ("TEMPORAL_TLS_SERVER_CA_CERT_PATH", "TEMPORAL_TLS_CLIENT_CERT_PATH",
                                    "TEMPORAL_TLS_CLIENT_KEY_PATH")),
])
def test_the_ui_and_the_admin_jobs_present_client_certificates(service, variables):
    env = SERVICES[service]["environment"]
    assert [secret_path(SERVICES[service], env[v]) for v in variables][0] == "temporal-ca"
    assert env.get("TEMPORAL_TLS_SERVER_NAME") == "temporal"


def test_the_certificate_tool_writes_every_secret_the_compose_file_mounts(tmp_path):
    """`python -m devstack.certs deploy/certs` makes the files the secrets name, each client certificate signed by
    the CA the frontend trusts, and the frontend's certificate valid for the name the clients check."""
    from cryptography import x509

    from devstack.certs import write_compose_set

    written = {path.name: path for path in write_compose_set(tmp_path / "certs")}
    files = {name: secret["file"] for name, secret in COMPOSE["secrets"].items() if name != "temporal-ui-htpasswd"}
    assert {f.removeprefix("./deploy/certs/") for f in files.values()} == set(written)
    ca = x509.load_pem_x509_certificate(written[files["temporal-ca"].rsplit("/", 1)[1]].read_bytes())
    for name, file in files.items():
        if name.endswith("-cert"):
            x509.load_pem_x509_certificate(written[file.rsplit("/", 1)[1]].read_bytes()).verify_directly_issued_by(ca)
    server = x509.load_pem_x509_certificate(written["temporal.pem"].read_bytes())
    names = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
        x509.DNSName)
    assert names == [SERVICES["worker"]["environment"]["TRADELANE_TEMPORAL_TLS_SERVER_NAME"]]
    assert (tmp_path / "certs").stat().st_mode & 0o777 == 0o700
    assert "deploy/certs/" in (ROOT / ".gitignore").read_text().splitlines()


def test_the_env_example_explains_every_temporal_access_setting():
    text = (ROOT / "deploy" / "env.example").read_text()
    settings = {f"TRADELANE_{name.upper()}" for name in Settings.model_fields
                if name.startswith(("temporal_tls", "temporal_api_key"))}
    assert len(settings) == 6 and [s for s in sorted(settings) if s not in text] == []


# --- Issue 19: a compose file that runs in production ------------------------------------------------------------

ONE_SHOT = {"temporal-schema", "temporal-namespace", "temporal-search-attributes"}
"""Jobs that run to completion; everything else keeps running."""


def test_every_long_running_service_restarts_and_reports_its_health():
    """Finding (issue 19): no service had a restart policy, and the UI, the sandbox and Mailpit no health check."""
    for name, service in SERVICES.items():
        if name in ONE_SHOT:
            assert re.fullmatch(r"no|on-failure(:\d+)?", service.get("restart", "")), name
            continue
        assert service.get("restart") == "unless-stopped", name
        test = service.get("healthcheck", {}).get("test")
        assert isinstance(test, list) and test[0] in ("CMD", "CMD-SHELL") and len(test) > 1, name


def test_whoever_waits_for_a_one_shot_job_waits_for_its_success():
    for name, service in SERVICES.items():
        for dependency, condition in (service.get("depends_on") or {}).items():
            expected = "service_completed_successfully" if dependency in ONE_SHOT else "service_healthy"
            if dependency == "sandbox":
                expected = "service_started"  # the worker only needs it reachable; its calls retry
            assert condition["condition"] == expected, (name, dependency)


def test_the_server_image_runs_on_a_schema_the_admin_tools_set_up():
    """Finding (issue 19): temporalio/auto-setup is deprecated; the schema tool sets up both stores instead."""
    assert not any(s.get("image", "").startswith("temporalio/auto-setup") for s in SERVICES.values())
    script = SERVICES["temporal-schema"]["command"][0]
    for step in ("create", "setup-schema -v 0.0", "update-schema -d"):
        assert f'--db "$${{db%%:*}}" {step}' in script.replace("\n", " "), step
    assert "temporal:temporal temporal_visibility:visibility" in script
    assert "/etc/temporal/schema/postgresql/v12/$${db##*:}/versioned" in script
    # Only the database's existence may be tolerated; a failed schema step fails the job.
    assert script.count("|| true") == 1 and "create || true" in script and script.startswith("set -e;")


def test_temporal_and_tradelane_have_their_own_database_users():
    """Finding (issue 19): Temporal and Tradelane shared one database user (the cluster's superuser)."""
    superuser = SERVICES["postgresql"]["environment"]["POSTGRES_USER"]
    temporal = SERVICES["temporal"]["environment"]
    assert temporal["POSTGRES_USER"] == "temporal"
    assert temporal["POSTGRES_PWD"] == "${POSTGRES_TEMPORAL_PASSWORD:?set POSTGRES_TEMPORAL_PASSWORD}"
    assert "-u temporal " in SERVICES["temporal-schema"]["command"][0]
    assert SERVICES["temporal-schema"]["environment"]["SQL_PASSWORD"] == temporal["POSTGRES_PWD"]
    for service in ("worker", "api"):
        url = SERVICES[service]["environment"]["TRADELANE_DATABASE_URL"]
        assert url.startswith("postgresql+psycopg://tradelane:${POSTGRES_TRADELANE_PASSWORD:?"), service
    assert superuser not in {"temporal", "tradelane"}
    passwords = {SERVICES["postgresql"]["environment"][f"POSTGRES_{who}PASSWORD"] for who in ("", "TEMPORAL_",
                                                                                             "TRADELANE_")}
    assert len(passwords) == 3


def test_the_database_init_script_makes_users_that_can_only_reach_their_own_data(tmp_path):
    """deploy/postgres-init.sql on a real PostgreSQL, as the image runs it (psql, as the superuser, with the
    passwords in the environment): `temporal` logs in with its password and may create its databases; `tradelane`
    owns its database and can neither create databases nor read Temporal's tables."""
    import psycopg

    from tests.postgres import _bin

    cluster = _scram_cluster(tmp_path)
    env = {"POSTGRES_TEMPORAL_PASSWORD": "temporal-secret", "POSTGRES_TRADELANE_PASSWORD": "tradelane-secret"}
    try:
        import os
        import subprocess

        subprocess.run([_bin("psql"), "-v", "ON_ERROR_STOP=1", "--no-psqlrc", "-h", str(cluster["socket"]),
                        "-p", str(cluster["port"]), "-U", "postgres", "-d", "postgres",
                        "-f", str(ROOT / "deploy" / "postgres-init.sql")],
                       check=True, capture_output=True, env={**os.environ, **env}, user=cluster["user"])

        def connect(user: str, password: str, dbname: str) -> psycopg.Connection:
            return psycopg.connect(host="127.0.0.1", port=cluster["port"], user=user, password=password,
                                   dbname=dbname, autocommit=True)

        with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
            connect("temporal", "wrong", "postgres").close()
        with connect("temporal", "temporal-secret", "postgres") as temporal:
            temporal.execute("CREATE DATABASE temporal")
        with connect("temporal", "temporal-secret", "temporal") as temporal:
            temporal.execute("CREATE TABLE executions (id int)")
        with connect("tradelane", "tradelane-secret", "tradelane") as tradelane:
            tradelane.execute("CREATE TABLE shipments (id int)")
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                tradelane.execute("CREATE DATABASE other")
        with connect("tradelane", "tradelane-secret", "temporal") as tradelane:
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                tradelane.execute("SELECT * FROM executions")
        with pytest.raises(psycopg.OperationalError, match="permission denied for database"):
            connect("temporal", "temporal-secret", "tradelane").close()
    finally:
        cluster["stop"]()


def _scram_cluster(tmp_path: Path) -> dict:
    """A private cluster whose superuser is `postgres` (as in the image) and whose TCP logins need a password."""
    import os
    import shutil
    import subprocess

    from devstack.ports import free_port
    from tests.postgres import _bin

    directory = Path(__import__("tempfile").mkdtemp(prefix="tradelane-pginit-"))
    data = directory / "pgdata"
    data.mkdir()
    user = None
    if os.geteuid() == 0:
        shutil.chown(directory, "postgres")
        shutil.chown(data, "postgres")
        user = "postgres"
    subprocess.run([_bin("initdb"), "-D", str(data), "-U", "postgres", "--auth-local=trust",
                    "--auth-host=scram-sha-256", "-E", "UTF8"], check=True, capture_output=True, user=user)
    port = free_port()
    ctl = [_bin("pg_ctl"), "-D", str(data)]
    subprocess.run([*ctl, "-o", f"-p {port} -k {directory} -c listen_addresses=127.0.0.1 -c fsync=off", "-w",
                    "-l", str(directory / "log"), "start"], check=True, capture_output=True, user=user)

    def stop() -> None:
        subprocess.run([*ctl, "-m", "fast", "-w", "stop"], capture_output=True, user=user)
        shutil.rmtree(directory, ignore_errors=True)

    return {"port": port, "socket": directory, "user": user, "stop": stop}


def test_customers_links_use_the_public_url_and_partners_call_back_inside(monkeypatch):
    """Finding (issue 19): TRADELANE_PUBLIC_URL was http://api:8000, so customers' tracking links pointed at a name
    only the compose network resolves. The operator sets the public URL; partners call back on the network."""
    env = SERVICES["api"]["environment"]
    assert env["TRADELANE_PUBLIC_URL"] == "${TRADELANE_PUBLIC_URL:?set TRADELANE_PUBLIC_URL}"
    for name, value in env.items():
        monkeypatch.setenv(name, _with_secrets(value))
    settings = Settings(_env_file=None)
    assert settings.tracking_url == "https://track.example.com/track"
    assert settings.notice_config().tracking_url == "https://track.example.com/track"
    assert settings.events_url == "http://api:8000/v1/carrier-events"
    assert SERVICES["worker"]["environment"]["TRADELANE_PARTNER_CALLBACK_URL"] == "http://api:8000"


def test_the_partner_callback_url_defaults_to_the_public_url():
    settings = Settings(_env_file=None, environment="test", public_url="https://t.example/")
    assert (settings.events_url, settings.tracking_url) == ("https://t.example/v1/carrier-events",
                                                            "https://t.example/track")
    inside = Settings(_env_file=None, environment="test", public_url="https://t.example",
                      partner_callback_url="http://api:8000")
    assert (inside.events_url, inside.tracking_url) == ("http://api:8000/v1/carrier-events",
                                                        "https://t.example/track")


GATEWAY = ROOT / "deploy" / "ui-gateway.conf.template"


def test_the_web_ui_decodes_through_a_codec_endpoint_behind_its_login():
    """Finding (issue 19): the UI was told to pass its user's access token to the codec server, but it has no login,
    so it sent none and showed ciphertext. Its codec endpoint is now the gateway's /codec, on the UI's own origin
    and behind the gateway's login; the gateway forwards to the API with an ops key from the environment."""
    conf = GATEWAY.read_text()
    ui = SERVICES["temporal-ui"]["environment"]
    origin = ui["TEMPORAL_CORS_ORIGINS"]
    assert ui["TEMPORAL_CODEC_ENDPOINT"] == f"{origin}/codec"
    assert ui["TEMPORAL_CODEC_PASS_ACCESS_TOKEN"] == "false"
    gateway = SERVICES["temporal-ui-gateway"]
    assert gateway["environment"]["TEMPORAL_UI_CODEC_KEY"].startswith("${TEMPORAL_UI_CODEC_KEY:?")
    assert "./deploy/ui-gateway.conf.template:/etc/nginx/templates/default.conf.template:ro" in gateway["volumes"]
    # The login guards the whole server (UI and codec); only the probe is open.
    server = conf.split("location", 1)[0] + conf.split("location = /gateway-healthz", 1)[1].split("}", 1)[1]
    assert 'auth_basic "Temporal Web UI";' in server
    assert "auth_basic_user_file /run/secrets/temporal-ui-htpasswd;" in server
    assert secret_path(gateway, "/run/secrets/temporal-ui-htpasswd") == "temporal-ui-htpasswd"
    assert COMPOSE["secrets"]["temporal-ui-htpasswd"]["file"].startswith("./deploy/certs/")  # out of git
    codec = re.search(r"location /codec/ \{(.*?)\n    \}", conf, re.S).group(1)
    assert "proxy_pass http://api:8000/codec/;" in codec
    assert 'proxy_set_header Authorization "Bearer ${TEMPORAL_UI_CODEC_KEY}";' in codec
    ui_port = re.search(r"listen (\d+);", conf).group(1)
    assert origin.rsplit(":", 1)[1].rstrip("}") == ui_port
    for setting_origin in json.loads(SERVICES["api"]["environment"]["TRADELANE_CODEC_CORS_ORIGINS"]):
        assert setting_origin == "http://localhost:8233"


def test_every_command_is_an_installed_entry_point_whose_module_exists():
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    dockerfile_cmd = json.loads(re.search(r"^CMD (.+)$", (ROOT / "Dockerfile").read_text(), re.M).group(1))
    for command in [SERVICES[name]["command"] for name in TRADELANE_SERVICES] + [dockerfile_cmd]:
        module = scripts[command[0]].split(":")[0]
        assert importlib.util.find_spec(module) is not None, module
    for name, service in SERVICES.items():
        entry = service.get("entrypoint")
        if entry is not None:
            assert entry == ["/bin/sh", "-c"], name


# --- Issue 23: Temporal as a cluster, from the template make cluster runs --------------------------------------------

TEMPORAL_SERVICES = {"temporal": "frontend", "temporal-history": "history", "temporal-matching": "matching",
                     "temporal-worker": "worker"}


def test_temporal_runs_as_a_cluster_of_services_from_the_make_cluster_template():
    """Each Temporal service is its own container, started from the configuration template that `make cluster`
    renders for its processes on loopback, with at least two history hosts."""
    assert CONFIG_TEMPLATE.read_text().startswith("# enable-template")
    for name, role in TEMPORAL_SERVICES.items():
        service = SERVICES[name]
        assert service["image"] == f"temporalio/server:{TESTED_CLI.server}", name
        assert service["environment"]["TEMPORAL_SERVICE"] == role, name
        assert service["volumes"] == ["./deploy/temporal:/etc/temporal/tradelane:ro"], name
        command = service["command"][0]
        assert "--config-file /etc/temporal/tradelane/config.yaml.template start" in command, name
        assert "TEMPORAL_BROADCAST_ADDRESS=$$(hostname -i)" in command, name  # membership reaches each container
        env = service["environment"]
        assert env["DYNAMIC_CONFIG_FILE_PATH"] == "/etc/temporal/tradelane/dynamicconfig.yaml"
        assert env["TEMPORAL_TLS_REQUIRE_CLIENT_AUTH"] == "true"  # internode and clients: mTLS
        assert env["NUM_HISTORY_SHARDS"] == "8"
    assert SERVICES["temporal-history"]["deploy"]["replicas"] >= 2
    # Every process reads the same variables: the secrets each needs are mounted in each.
    for name in TEMPORAL_SERVICES:
        for variable in ("TEMPORAL_TLS_SERVER_CA_CERT", "TEMPORAL_TLS_SERVER_CERT", "TEMPORAL_TLS_SERVER_KEY"):
            secret_path(SERVICES[name], SERVICES[name]["environment"][variable])


def test_the_template_names_every_variable_the_compose_file_sets_for_the_servers():
    used = set(re.findall(r'env "([A-Z0-9_]+)"', CONFIG_TEMPLATE.read_text()))
    image_only = {"DB", "TEMPORAL_SERVICE"}  # the image's own (which store plugin), and the command's
    assert set(SERVICES["temporal"]["environment"]) - image_only <= used
