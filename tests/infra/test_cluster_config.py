"""The cluster's server configuration (deploy/temporal/config.yaml.template) and the environment each server process
renders it with (devstack/cluster): what one reads, the other sets; two history hosts differ only by their ports.

Pure, but for the last test, which renders the template with the real server binary when one is built."""

import re
import socket
import subprocess

import pytest
import yaml

from devstack.cluster.binaries import SERVER, find
from devstack.cluster.config import (
    CONFIG_TEMPLATE,
    DYNAMIC_CONFIG,
    HISTORY_SHARDS,
    ClusterError,
    ClusterPorts,
    ClusterSettings,
    PortUse,
    Role,
    check_ports_free,
    load_cluster_settings,
    server_argv,
    server_env,
)
from devstack.cluster.postgres import Credentials, bootstrap_sql

TEMPLATE = CONFIG_TEMPLATE.read_text()
READ = set(re.findall(r'env "(\w+)"', TEMPLATE))
PRODUCTION_ONLY = {
    # mTLS between the services and for clients, the database over TLS, metrics, pprof, a broadcast address:
    # production's image sets them (docker-compose.yml); on loopback they stay unset.
    "TEMPORAL_TLS_REQUIRE_CLIENT_AUTH", "TEMPORAL_TLS_SERVER_CERT", "TEMPORAL_TLS_SERVER_KEY",
    "TEMPORAL_TLS_SERVER_CA_CERT", "TEMPORAL_TLS_INTERNODE_SERVER_NAME", "TEMPORAL_TLS_FRONTEND_CERT",
    "TEMPORAL_TLS_FRONTEND_KEY", "TEMPORAL_TLS_CLIENT1_CA_CERT", "TEMPORAL_TLS_FRONTEND_SERVER_NAME",
    "SQL_TLS_ENABLED", "SQL_CA", "SQL_HOST_VERIFICATION", "SQL_HOST_NAME", "SQL_MAX_CONNS", "SQL_MAX_IDLE_CONNS",
    "SQL_VIS_MAX_CONNS", "SQL_VIS_MAX_IDLE_CONNS", "PROMETHEUS_ENDPOINT", "PPROF_PORT", "TEMPORAL_BROADCAST_ADDRESS",
}
PORTS = ClusterPorts.standard()


def env_of(name: str, ports: ClusterPorts = PORTS) -> dict[str, str]:
    spec = next(spec for spec in ports.servers if spec.name == name)
    return server_env(spec, ports, "secret-password")


def test_every_variable_the_template_reads_is_set_for_each_process_or_is_production_only():
    for spec in PORTS.servers:
        set_here = set(server_env(spec, PORTS, "pw")) - {"PATH", "HOME"}
        assert READ - PRODUCTION_ONLY == set_here, spec.name
    assert PRODUCTION_ONLY <= READ, "a production-only name the template no longer reads"


def test_the_template_is_a_server_side_template_of_postgres_with_sql_visibility():
    assert TEMPLATE.splitlines()[0] == "# enable-template"  # the server renders it itself (first 1 KB)
    assert TEMPLATE.count("pluginName: postgres12") == 2
    assert "visibilityStore: visibility" in TEMPLATE and "defaultStore: default" in TEMPLATE
    assert "password:" in TEMPLATE and "POSTGRES_PWD" in TEMPLATE  # the password from the environment only


def test_two_history_hosts_differ_only_by_their_own_ports():
    first, second = env_of("history-1"), env_of("history-2")
    differ = {name for name in first if first[name] != second[name]}
    assert differ == {"HISTORY_GRPC_PORT", "HISTORY_MEMBERSHIP_PORT"}
    # Every other process renders the same configuration (the first history host's ports are only defaults there).
    assert env_of("frontend") == env_of("matching") == env_of("worker") == first


def test_the_standard_layout_is_temporals_usual_ports_and_8_shards():
    assert {spec.name: (spec.grpc_port, spec.membership_port) for spec in PORTS.servers} == {
        "history-1": (7234, 6934), "history-2": (7244, 6944), "matching": (7235, 6935), "frontend": (7233, 6933),
        "worker": (7239, 6939)}
    assert PORTS.frontend.http_port == 7243 and PORTS.postgres == 15432
    assert [spec.role for spec in PORTS.servers][-2:] == [Role.FRONTEND, Role.WORKER]  # the worker calls the frontend
    assert env_of("frontend")["NUM_HISTORY_SHARDS"] == str(HISTORY_SHARDS) == "8"
    assert env_of("frontend")["DYNAMIC_CONFIG_FILE_PATH"] == str(DYNAMIC_CONFIG)


@pytest.mark.parametrize("ports", [ClusterPorts.standard(), ClusterPorts.standard(9233, 25432, 3),
                                   ClusterPorts.free()], ids=["standard", "moved-3-hosts", "free"])
def test_no_two_uses_share_a_port(ports):
    used = [use.port for use in ports.uses()]
    assert len(used) == len(set(used)) == 1 + 2 * len(ports.servers) + 1


def test_the_settings_move_every_temporal_port_together(monkeypatch):
    monkeypatch.setenv("TRADELANE_CLUSTER_TEMPORAL_PORT", "9233")
    monkeypatch.setenv("TRADELANE_CLUSTER_HISTORY_HOSTS", "3")
    ports = ClusterPorts.from_settings(ClusterSettings(_env_file=None))
    assert ports.frontend.address == "127.0.0.1:9233"
    assert [spec.grpc_port for spec in ports.by_role(Role.HISTORY)] == [9234, 9244, 9254]


def test_each_process_runs_one_service_from_the_shared_template(tmp_path):
    argv = server_argv(tmp_path / "temporal-server", PORTS.servers[1])
    assert argv[1:] == ["--config-file", str(CONFIG_TEMPLATE), "--allow-no-auth", "start", "--service", "history"]


def test_a_taken_port_is_one_line_naming_it_and_its_setting():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ClusterError) as err:
            check_ports_free([PortUse(port, "Temporal history-2 gRPC", "TRADELANE_CLUSTER_TEMPORAL_PORT")])
    assert str(err.value) == (f"port {port} (Temporal history-2 gRPC) is already in use on 127.0.0.1: stop what "
                              f"listens there, or set TRADELANE_CLUSTER_TEMPORAL_PORT to move it")


def test_the_database_bootstrap_can_run_again():
    script = bootstrap_sql(Credentials(temporal="t0ps3cret", tradelane="r3ad"))
    assert "\\set ON_ERROR_STOP on" in script
    # Creations only when missing (\gexec runs the statement the query returns, if any); passwords set every time.
    assert all("WHERE NOT EXISTS" in line for line in script.splitlines() if "CREATE ROLE" in line
               or "CREATE DATABASE" in line)
    assert "CREATE DATABASE temporal OWNER temporal" in script
    assert "CREATE DATABASE temporal_visibility OWNER temporal" in script
    assert "CREATE DATABASE tradelane OWNER tradelane" in script
    assert "ALTER ROLE temporal PASSWORD 't0ps3cret';" in script and "ALTER ROLE tradelane PASSWORD 'r3ad';" in script
    assert "CREATE EXTENSION IF NOT EXISTS btree_gin;" in script


def test_credentials_are_made_once_and_private(tmp_path):
    path = tmp_path / "credentials.json"
    made = Credentials.load_or_create(path)
    assert Credentials.load_or_create(path) == made
    assert path.stat().st_mode & 0o777 == 0o600


def test_the_server_renders_the_template_for_the_second_history_host(tmp_path):
    """The real server's renderer (`render-config` reads <dir>/<env>.yaml), when a binary is at hand."""
    server = find(SERVER, None, ClusterSettings(_env_file=None).bin_dir)
    if server is None:
        pytest.skip("no temporal-server binary built (make cluster builds one)")
    (tmp_path / "cluster.yaml").write_text(TEMPLATE)
    out = subprocess.run([str(server), "--config", str(tmp_path), "--env", "cluster", "render-config"],
                         env=env_of("history-2"), capture_output=True, text=True, check=True).stdout
    config = yaml.safe_load(out)
    assert config["persistence"]["numHistoryShards"] == 8
    stores = config["persistence"]["datastores"]
    assert {stores[name]["sql"]["databaseName"] for name in ("default", "visibility")} == {"temporal",
                                                                                          "temporal_visibility"}
    assert stores["default"]["sql"]["connectAddr"] == "127.0.0.1:15432"
    assert stores["default"]["sql"]["password"] != "secret-password"  # masked in the rendering, never printed
    assert config["services"]["history"]["rpc"]["grpcPort"] == 7244
    assert config["services"]["frontend"]["rpc"]["grpcPort"] == 7233
    assert config["clusterMetadata"]["clusterInformation"]["active"]["rpcAddress"] == "127.0.0.1:7233"


@pytest.mark.parametrize(("variable", "value", "reason"), [
    ("TRADELANE_CLUSTER_TEMPORAL_PORT", "35339", "Input should be less than or equal to 32000"),
    ("TRADELANE_CLUSTER_HISTORY_HOSTS", "0", "Input should be greater than or equal to 1"),
    ("TRADELANE_CLUSTER_POSTGRES_PORT", "five",
     "Input should be a valid integer, unable to parse string as an integer"),
])
def test_a_refused_cluster_setting_is_one_line_naming_its_variable(monkeypatch, variable, value, reason):
    monkeypatch.setenv(variable, value)
    with pytest.raises(ClusterError) as err:
        load_cluster_settings()
    assert str(err.value) == f"{variable}={value}: {reason} (fix it or unset it)"


def test_a_private_cluster_keeps_the_environments_binaries(monkeypatch, tmp_path):
    """`reliability --cluster` and `bench --cluster` give their cluster its own directory and quiet logs; where the
    binaries are (TRADELANE_CLUSTER_BIN_DIR, TEMPORAL_SERVER_PATH) still comes from the environment."""
    monkeypatch.setenv("TRADELANE_CLUSTER_BIN_DIR", str(tmp_path / "bin"))
    monkeypatch.setenv("TEMPORAL_SERVER_PATH", str(tmp_path / "bin" / "temporal-server"))
    settings = load_cluster_settings(dir=tmp_path / "run", server_log_level="warn")
    assert (settings.dir, settings.server_log_level) == (tmp_path / "run", "warn")
    assert settings.bin_dir == tmp_path / "bin"
    assert settings.server_path == tmp_path / "bin" / "temporal-server"
