"""The cluster's child processes: each in a process group of its own, its output in a log file, with the handles a
test needs to lose one (SIGKILL), stop it (SIGTERM) and bring it back.

A group of its own keeps Ctrl-C in the terminal away from the children: the stack stops them itself, in reverse
order, and a signal to the group reaches anything a child started.
"""

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx

from devstack.cluster.config import LOOPBACK, ClusterError, last_line
from infra.platform.logging import get_logger

log = get_logger(__name__)

ReadyCheck = Callable[[], Awaitable[bool]]
"""True once the process serves (its port accepts connections, its `/readyz` says 200)."""


def port_open(port: int, host: str = LOOPBACK) -> ReadyCheck:
    async def check() -> bool:
        try:
            _, writer = await asyncio.open_connection(host, port)
        except OSError:
            return False
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        return True

    return check


def answers_200(url: str) -> ReadyCheck:
    async def check() -> bool:
        async with httpx.AsyncClient(timeout=2.0) as http:
            try:
                return (await http.get(url)).status_code == 200
            except httpx.TransportError:
                return False

    return check


class ManagedProcess:
    """One child process that can be started, lost, stopped and started again under the same name and log.

    Args:
        name: Its name in logs and errors (`history-2`, `tradelane-worker-1`).
        argv: The command.
        env: Its whole environment.
        log_path: Where its stdout and stderr go; every start appends, after a line saying which start it is.
        ready: When it counts as started.
        start_timeout_s: How long `start()` waits for `ready`.
        stop_grace_s: How long `stop()` waits after SIGTERM before SIGKILL.
        cwd: Its working directory.
    """

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log_path: Path, ready: ReadyCheck, *,
                 start_timeout_s: float, stop_grace_s: float, cwd: Path | None = None) -> None:
        self.name, self.argv, self.env, self.log_path = name, argv, env, log_path
        self._ready, self._cwd = ready, cwd
        self.start_timeout_s, self.stop_grace_s = start_timeout_s, stop_grace_s
        self._proc: asyncio.subprocess.Process | None = None
        self.starts = 0

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.returncode is None

    async def start(self) -> None:
        """Start it and wait until it is ready; a running one is left alone.

        Raises:
            ClusterError: It exited while starting (with its log's last line) or was not ready in time.
        """
        if self.running:
            return
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as out:
            out.write(f"--- start {self.starts + 1} of {self.name} at {time.strftime('%Y-%m-%d %H:%M:%S')}\n".encode())
            out.flush()
            self._proc = await asyncio.create_subprocess_exec(*self.argv, env=self.env, cwd=self._cwd, stdout=out,
                                                              stderr=asyncio.subprocess.STDOUT,
                                                              start_new_session=True)
        self.starts += 1
        log.info("process started", process=self.name, pid=self._proc.pid, log=str(self.log_path))
        await self.wait_ready()

    async def wait_ready(self) -> None:
        deadline = time.monotonic() + self.start_timeout_s
        while not await self._ready():
            if self._proc is None or self._proc.returncode is not None:
                code = None if self._proc is None else self._proc.returncode
                raise ClusterError(f"{self.name} exited with code {code} while starting: "
                                   f"{last_line(self.log_path.read_text(errors='replace'))} (its log: {self.log_path})")
            if time.monotonic() > deadline:
                await self.stop()
                raise ClusterError(f"{self.name} was not ready within {self.start_timeout_s:.0f} s (its log: "
                                   f"{self.log_path})")
            await asyncio.sleep(0.25)

    async def kill(self) -> int | None:
        """SIGKILL to its group: nothing runs on the way out, as when a host is lost. Returns the exit code."""
        return await self._signal(signal.SIGKILL, grace_s=10.0)

    async def stop(self) -> int | None:
        """SIGTERM to its group, SIGKILL after `stop_grace_s`: how an orchestrator stops a service. Returns the exit
        code (None when it was not running)."""
        return await self._signal(signal.SIGTERM, grace_s=self.stop_grace_s)

    async def restart(self, *, kill: bool = False) -> None:
        """Stop it (or lose it, `kill=True`) and start it again, waiting until it is ready."""
        await (self.kill() if kill else self.stop())
        await self.start()

    async def exited(self) -> int:
        """Wait for the current run to end; its exit code."""
        if self._proc is None:
            raise RuntimeError(f"{self.name} was never started")
        return await self._proc.wait()

    async def _signal(self, sig: signal.Signals, grace_s: float) -> int | None:
        proc = self._proc
        if proc is None or proc.returncode is not None:
            return None if proc is None else proc.returncode
        _signal_group(proc.pid, sig)
        try:
            await asyncio.wait_for(proc.wait(), grace_s)
        except TimeoutError:
            log.warning("process did not stop in time; killing it", process=self.name, pid=proc.pid)
        # Whatever it started goes with it (its group outlives the leader until each member is gone). Only now,
        # right after it exited: later its id could name another process's group.
        _signal_group(proc.pid, signal.SIGKILL)
        return await proc.wait()


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):  # the whole group is gone already
        os.killpg(pgid, sig)
