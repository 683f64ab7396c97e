"""`make cluster` as a user runs it (`tradelane cluster`, in the foreground): Ctrl-C stops every process it started
and leaves nothing listening, and a second start reuses what the first built (issue 23, must hold). The cluster gets
a directory and ports of its own; the binaries are those `make cluster-binaries` built."""

import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from devstack.cluster.config import ClusterError, ClusterPorts, ClusterSettings, check_ports_free, scratch_dir
from devstack.ports import FREE_PORT_RANGE, free_port
from tests.cluster.conftest import TRADELANE_PORT_RUN, tradelane_ports

pytestmark = pytest.mark.temporal

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 240
READY_LINE = "Ctrl-C stops everything."


def free_temporal_layout(avoid: set[int]) -> tuple[int, int]:
    """A frontend port whose whole standard layout (F-300 to F+21) is free, and a free PostgreSQL port outside it; all
    below the ports outgoing connections take (`devstack.ports.FREE_PORT_RANGE`), none of them in `avoid`."""
    for _ in range(200):
        frontend, postgres = random.randrange(FREE_PORT_RANGE.start + 300, FREE_PORT_RANGE.stop - 21), free_port()
        uses = ClusterPorts.standard(frontend, postgres).uses()
        if len({use.port for use in uses}) < len(uses) or {use.port for use in uses} & avoid:
            continue
        try:
            check_ports_free(uses)
        except ClusterError:
            continue
        return frontend, postgres
    raise AssertionError("no free port layout for a cluster")


def process_alive(pid: int) -> bool:
    """Running, not a zombie waiting for its parent to be reaped."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "\nState:\tZ" not in status


def processes_using(folder: Path) -> list[tuple[int, str]]:
    """Every live process (pid, command line) whose command line or working directory is in `folder`
    (PostgreSQL's, the Temporal servers', which run in the cluster's directory)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            cwd = os.readlink(entry / "cwd")
        except OSError:
            continue
        if (str(folder) in cmdline or cwd.startswith(str(folder))) and process_alive(int(entry.name)):
            found.append((int(entry.name), cmdline[:200]))
    return found


def descendants(pid: int) -> set[int]:
    """Every process under `pid` now (by parent pid)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


@pytest.fixture(scope="module")
def command_env() -> Iterator[tuple[dict[str, str], Path, ClusterPorts]]:
    folder = scratch_dir("tradelane-test-make-cluster-")
    tradelane = tradelane_ports()
    first = tradelane["api_port"]
    frontend, postgres = free_temporal_layout(avoid=set(range(first, first + TRADELANE_PORT_RUN)))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TRADELANE_", "TEMPORAL_"))}
    env.update({
        "TRADELANE_CLUSTER_DIR": str(folder / "cluster"),
        "TRADELANE_CLUSTER_BIN_DIR": str(ClusterSettings(_env_file=None).bin_dir.resolve()),
        "TRADELANE_CLUSTER_TEMPORAL_PORT": str(frontend),
        "TRADELANE_CLUSTER_POSTGRES_PORT": str(postgres),
        **{f"TRADELANE_{name.upper()}": str(port) for name, port in tradelane.items()},
        "TRADELANE_MAIL_DIR": str(folder / "mail"),
        "PYTHONPATH": str(ROOT),
    })
    yield env, folder, ClusterPorts.standard(frontend, postgres)
    shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def make_cluster(env: dict[str, str], folder: Path, name: str) -> Iterator[tuple[subprocess.Popen[bytes], Path]]:
    log = folder / f"{name}.log"
    with log.open("wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "devstack.cli", "cluster"], cwd=folder, env=env,
                                   stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        yield process, log
    finally:
        if process.poll() is None:  # a failed assertion: leave nothing behind for the next test
            process.kill()
            process.wait()
            for pid, _ in processes_using(folder):
                os.kill(pid, signal.SIGKILL)


def wait_until_up(process: subprocess.Popen[bytes], log: Path, api_port: str) -> str:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"`tradelane cluster` exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        text = log.read_text()
        if READY_LINE in text:
            assert httpx.get(f"http://127.0.0.1:{api_port}/healthz", timeout=5).status_code == 200
            return text
        time.sleep(0.5)
    raise AssertionError(f"not up within {START_TIMEOUT_S} s:\n{log.read_text()[-3000:]}")


def started_pids(banner: str, folder: Path) -> list[int]:
    """The pids the banner prints (each Temporal service, each Tradelane worker) and PostgreSQL's postmaster."""
    pids = [int(pid) for pid in re.findall(r"pid (\d+)", banner)]
    postmaster = folder / "cluster" / "pgdata" / "postmaster.pid"
    pids.append(int(postmaster.read_text().split()[0]))
    return pids


def test_ctrl_c_stops_everything_and_a_second_start_reuses_what_was_built(command_env):
    env, folder, ports = command_env
    with make_cluster(env, folder, "first") as (process, log):
        banner = wait_until_up(process, log, env["TRADELANE_API_PORT"])
        pids = started_pids(banner, folder)
        assert len(pids) == 5 + 2 + 1, banner  # 5 Temporal processes, 2 Tradelane workers, PostgreSQL
        assert all(process_alive(pid) for pid in pids)
        assert len(processes_using(folder)) >= 6  # PostgreSQL and the 5 Temporal servers: the check below sees them
        pids += sorted(descendants(process.pid))  # the Tradelane workers, and anything else it started
        started = time.monotonic()
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=90) == 0, log.read_text()[-3000:]
        stop_s = time.monotonic() - started
    assert [pid for pid in pids if process_alive(pid)] == []
    assert processes_using(folder) == []
    check_ports_free(ports.uses())  # raises, naming the port, if anything still listens
    first = log.read_text()
    assert "PostgreSQL cluster created" in first
    assert "upgrading the Temporal schema" in first
    assert "namespace registered" in first and "search attributes registered" in first
    assert stop_s < 60

    with make_cluster(env, folder, "second") as (process, log):
        wait_until_up(process, log, env["TRADELANE_API_PORT"])
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=90) == 0, log.read_text()[-3000:]
    second = log.read_text()
    for first_time_only in ("building Temporal Server", "PostgreSQL cluster created", "upgrading the Temporal schema",
                            "namespace registered", "search attributes registered"):
        assert first_time_only not in second, first_time_only
    assert processes_using(folder) == []


def test_a_refused_setting_is_one_line_naming_its_variable(command_env):
    env, folder, _ = command_env
    for command in (["cluster"], ["cluster", "--binaries-only"]):
        done = subprocess.run([sys.executable, "-m", "devstack.cli", *command], cwd=folder,
                              env={**env, "TRADELANE_CLUSTER_TEMPORAL_PORT": "35339"}, capture_output=True, text=True,
                              timeout=120, check=False)
        assert done.returncode == 1, done.stderr[-2000:]
        assert done.stderr == ("error: TRADELANE_CLUSTER_TEMPORAL_PORT=35339: Input should be less than or equal to "
                               "32000 (fix it or unset it)\n"), done.stderr[-2000:]
