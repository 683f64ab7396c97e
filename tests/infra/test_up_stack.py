"""`make up` runs the worker as its own process, as production does, so its metrics and health endpoints answer
(issue 19, point 13: the worker ran inside the API's process and its ports never opened).

The stack is started as `make up` starts it (`tradelane up`, a foreground process), on free ports and in a
temporary directory, and stopped with Ctrl-C's SIGINT.
"""

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from devstack.ports import free_port
from devstack.up import worker_process
from infra.platform.settings import Settings

pytestmark = pytest.mark.temporal

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 180




def answers(url: str) -> httpx.Response | None:
    try:
        return httpx.get(url, timeout=2)
    except httpx.TransportError:
        return None


def wait_for(url: str, process: subprocess.Popen[bytes], log: Path) -> httpx.Response:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"`tradelane up` exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        response = answers(url)
        if response is not None and response.status_code == 200:
            return response
        time.sleep(0.5)
    raise AssertionError(f"{url} did not answer within {START_TIMEOUT_S} s:\n{log.read_text()[-3000:]}")


@contextlib.contextmanager
def make_up(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], dict[str, int], Path]]:
    """`tradelane up` on free ports in `tmp_path`, its output in `stack.log`; killed if a test leaves it running."""
    ports = {name: free_port() for name in ("temporal", "ui", "api", "sandbox", "smtp", "metrics", "health")}
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRADELANE_")}
    env.update({
        "TRADELANE_TEMPORAL_ADDRESS": f"127.0.0.1:{ports['temporal']}",
        "TRADELANE_TEMPORAL_UI_PORT": str(ports["ui"]),
        "TRADELANE_TEMPORAL_DB_FILE": str(tmp_path / "temporal.db"),
        "TRADELANE_DATABASE_URL": f"sqlite:///{tmp_path / 'tradelane.db'}",
        "TRADELANE_API_PORT": str(ports["api"]),
        "TRADELANE_SANDBOX_PORT": str(ports["sandbox"]),
        "TRADELANE_SMTP_PORT": str(ports["smtp"]),
        "TRADELANE_MAIL_DIR": str(tmp_path / "mail"),
        "TRADELANE_METRICS_PORT": str(ports["metrics"]),
        "TRADELANE_WORKER_HEALTH_PORT": str(ports["health"]),
        "TRADELANE_LOG_FORMAT": "json",
        "PYTHONPATH": str(ROOT),  # this tree's code, whatever the working directory (a temporary one)
    })
    log = tmp_path / "stack.log"
    with log.open("wb") as out:
        stack = subprocess.Popen([sys.executable, "-m", "devstack.cli", "up"], cwd=tmp_path, env=env, stdout=out,
                                 stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        yield stack, ports, log
    finally:
        if stack.poll() is None:
            stack.kill()
            stack.wait()
            pid = worker_pid(log)
            if pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)


def printed_worker_pid(process: subprocess.Popen[bytes], log: Path) -> int | None:
    """The worker's pid once the stack has printed where everything is (after the worker is ready, so a little
    after its `/readyz` first answers)."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while (pid := worker_pid(log)) is None and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    return pid


def worker_pid(log: Path) -> int | None:
    found = re.search(r"Worker +pid (\d+)", log.read_text())
    return int(found[1]) if found else None


def test_the_worker_of_make_up_serves_its_health_and_metrics_endpoints(tmp_path):
    with make_up(tmp_path) as (stack, ports, log):
        wait_for(f"http://127.0.0.1:{ports['api']}/healthz", stack, log)
        assert wait_for(f"http://127.0.0.1:{ports['health']}/healthz", stack, log).json() == {"status": "ok"}
        ready = wait_for(f"http://127.0.0.1:{ports['health']}/readyz", stack, log).json()
        assert ready["ready"] and {c["name"] for c in ready["checks"]} >= {"temporal", "database", "worker"}
        metrics = wait_for(f"http://127.0.0.1:{ports['metrics']}/metrics", stack, log).text
        assert "temporal_" in metrics, metrics[:500]  # the SDK's own metrics: the worker's runtime exports them
        assert printed_worker_pid(stack, log) is not None, log.read_text()[-3000:]
        banner = log.read_text()
        assert f"health http://127.0.0.1:{ports['health']}/readyz" in banner
        assert f"metrics http://127.0.0.1:{ports['metrics']}/metrics" in banner
        assert worker_pid(log) not in (None, stack.pid)  # a process of its own

        stack.send_signal(signal.SIGINT)
        assert stack.wait(timeout=90) == 0, log.read_text()[-3000:]
    # Ctrl-C stopped the worker too: nothing is left listening on its ports.
    assert answers(f"http://127.0.0.1:{ports['health']}/healthz") is None
    assert answers(f"http://127.0.0.1:{ports['metrics']}/metrics") is None


def test_the_stack_stops_and_says_so_when_its_worker_dies(tmp_path):
    """Nobody would work the task queue: the stack does not run on as if it were up."""
    with make_up(tmp_path) as (stack, ports, log):
        wait_for(f"http://127.0.0.1:{ports['health']}/readyz", stack, log)
        pid = printed_worker_pid(stack, log)
        assert pid is not None, log.read_text()[-3000:]
        os.kill(pid, signal.SIGKILL)
        assert stack.wait(timeout=90) == 1
        assert f"the worker exited with code -{int(signal.SIGKILL)}, so the stack stopped" in log.read_text()
    assert answers(f"http://127.0.0.1:{ports['api']}/healthz") is None


def test_the_worker_process_is_pointed_at_the_stacks_dev_server_and_sandbox(monkeypatch):
    monkeypatch.setenv("TRADELANE_SANDBOX_PORT", "8123")
    plan = worker_process(Settings(_env_file=None, poll_interval_s=2.0, worker_health_port=8091, metrics_port=None),
                          "127.0.0.1:7299", "http://127.0.0.1:8123")
    assert plan.argv[-2:] == ["devstack.cli", "worker"]
    assert plan.env["TRADELANE_TEMPORAL_ADDRESS"] == "127.0.0.1:7299"
    assert plan.env["TRADELANE_PARTNERS_BASE_URL"] == "http://127.0.0.1:8123"
    assert plan.env["TRADELANE_POLL_INTERVAL_S"] == "2.0"
    assert plan.env["TRADELANE_SANDBOX_PORT"] == "8123"  # the rest of the environment is the stack's
    assert plan.health_url == "http://127.0.0.1:8091/readyz" and plan.metrics_url is None
