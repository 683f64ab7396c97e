"""A service that cannot start says why in one line naming what to do, not in a traceback: a refused setting, a port
something else listens on (the worker's metrics and health ports, the relay's, the API's, `tradelane up`'s). The
services run as their commands run them, in processes of their own; the ports are taken by real listeners."""

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI

from devstack.ports import FREE_PORT_RANGE, free_port, free_port_run, free_ports
from infra.platform.http_server import ServedApp
from infra.platform.settings import get_settings
from infra.platform.startup import (
    PortUse,
    StartupError,
    binding,
    check_ports_free,
    load_settings,
    refused_setting,
)
from infra.platform.telemetry import make_runtime

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def listener() -> Iterator[int]:
    """A port something listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", free_port()))
        sock.listen()
        yield sock.getsockname()[1]


def taken_line(port: int, what: str, setting: str) -> str:
    return (f"error: port {port} ({what}) is already in use on 127.0.0.1: stop what listens there, or set {setting} "
            f"to move it")


def run_command(args: list[str], tmp_path: Path, **variables: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRADELANE_")}
    env.update({"TRADELANE_ENVIRONMENT": "development", "TRADELANE_DATABASE_URL": f"sqlite:///{tmp_path / 'db'}",
                "TRADELANE_MAIL_DIR": str(tmp_path / "mail"), "PYTHONPATH": str(ROOT), **variables})
    return subprocess.run([sys.executable, "-m", "devstack.cli", *args], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=120)


def assert_one_line(result: subprocess.CompletedProcess[str], line: str) -> None:
    assert result.returncode == 1, result.stderr[-3000:]
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    assert result.stderr.strip().splitlines()[-1] == line


# --- the pieces ---------------------------------------------------------------------------------------------------

def test_the_metrics_exporters_taken_port_is_named_with_its_setting(listener):
    """The Temporal runtime's Prometheus exporter says only "Address already in use (os error 98)"."""
    with pytest.raises(StartupError) as err, binding(PortUse(listener, "worker metrics", "TRADELANE_METRICS_PORT")):
        make_runtime(f"127.0.0.1:{listener}")
    assert f"error: {err.value}" == taken_line(listener, "worker metrics", "TRADELANE_METRICS_PORT")


async def test_a_served_apps_taken_port_is_named_with_its_setting(listener):
    health = PortUse(listener, "worker health", "TRADELANE_WORKER_HEALTH_PORT")
    with pytest.raises(StartupError) as err, binding(health):
        await ServedApp(FastAPI(), "127.0.0.1", listener).start()
    assert f"error: {err.value}" == taken_line(listener, "worker health", "TRADELANE_WORKER_HEALTH_PORT")


def test_other_errors_pass_through_binding():
    use = PortUse(1, "Tradelane API", "TRADELANE_API_PORT")
    with pytest.raises(ValueError, match="not a port problem"), binding(use):
        raise ValueError("not a port problem")
    with pytest.raises(PermissionError), binding(use):
        raise PermissionError(13, "Permission denied")
    with pytest.raises(OSError, match="in use"), binding(None):  # a port turned off: nothing to name
        raise OSError(98, "Address already in use")


def test_a_free_port_passes_the_check_and_a_taken_one_is_refused(listener):
    check_ports_free([PortUse(free_port(), "Tradelane API", "TRADELANE_API_PORT")])
    with pytest.raises(StartupError, match=f"port {listener} \\(Tradelane API\\).*TRADELANE_API_PORT"):
        check_ports_free([PortUse(free_port(), "carrier sandbox", "TRADELANE_SANDBOX_PORT"),
                          PortUse(listener, "Tradelane API", "TRADELANE_API_PORT")])


def test_a_refused_setting_is_one_line_naming_its_variable(monkeypatch):
    monkeypatch.setenv("TRADELANE_API_PORT", "abc")
    get_settings.cache_clear()
    try:
        with pytest.raises(StartupError) as err:
            load_settings()
    finally:
        get_settings.cache_clear()
    assert str(err.value) == ("TRADELANE_API_PORT=abc: Input should be a valid integer, unable to parse string as an "
                              "integer (fix it or unset it)")


def test_a_check_across_settings_has_no_variable_to_name():
    from pydantic import BaseModel, ValidationError, model_validator

    class Both(BaseModel):
        @model_validator(mode="after")
        def refuse(self) -> "Both":
            raise ValueError("set both or neither")

    with pytest.raises(ValidationError) as err:
        Both()
    assert refused_setting(err.value) == "Value error, set both or neither (fix the settings it names)"


def test_a_port_chosen_once_is_not_chosen_again_before_anything_binds_it(monkeypatch):
    """A stack picks its API and worker ports, then starts them: the second choice must not be the first."""
    monkeypatch.setattr("devstack.ports.random.randrange", lambda _: 0)  # every search starts at the same place
    ports = [free_port() for _ in range(5)] + free_ports(3) + [free_port_run(2)]
    assert len(set(ports)) == len(ports)


def test_free_ports_are_below_the_ports_outgoing_connections_take():
    low, _ = (int(n) for n in Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    ports = free_ports(20)
    assert len(set(ports)) == 20
    assert all(port in FREE_PORT_RANGE and port < low for port in ports)
    first = free_port_run(7)
    assert first + 6 in FREE_PORT_RANGE
    check_ports_free([PortUse(port, "Tradelane API", "TRADELANE_API_PORT") for port in range(first, first + 7)])


# --- the commands, as a user runs them --------------------------------------------------------------------------

@pytest.mark.parametrize(("command", "what", "setting"), [
    ("worker", "worker metrics", "TRADELANE_METRICS_PORT"),
    ("relay", "worker health", "TRADELANE_WORKER_HEALTH_PORT"),
    ("api", "Tradelane API", "TRADELANE_API_PORT"),
    ("sandbox", "carrier sandbox", "TRADELANE_SANDBOX_PORT"),
])
def test_a_service_with_its_port_taken_says_so_in_one_line(command, what, setting, listener, tmp_path):
    result = run_command([command], tmp_path, **{setting: str(listener)})
    assert_one_line(result, taken_line(listener, what, setting))


def test_up_with_a_workers_port_taken_says_so_before_starting_anything(listener, tmp_path):
    result = run_command(["up"], tmp_path, TRADELANE_METRICS_PORT=str(listener))
    assert_one_line(result, taken_line(listener, "worker metrics", "TRADELANE_METRICS_PORT"))
    assert not (tmp_path / "db").exists()  # nothing started: not even the read model was created


@pytest.mark.parametrize("command", ["worker", "api", "relay"])
def test_a_refused_setting_ends_a_service_in_one_line(command, tmp_path):
    result = run_command([command], tmp_path, TRADELANE_API_PORT="abc")
    assert_one_line(result, "error: TRADELANE_API_PORT=abc: Input should be a valid integer, unable to parse string "
                            "as an integer (fix it or unset it)")
