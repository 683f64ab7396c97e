"""Worker memory against open shipments (issue 20, must hold: the worker's RSS flat, within 10 %, from 100 to 1,000
open shipments).

    python -m devstack.rss                       # 100, then 1,000 open shipments
    python -m devstack.rss --counts 100 500      # or any rising counts
    python -m devstack.rss --max-cached-workflows 200

A private stack on free ports: a dev server (history in memory), the carrier sandbox with tracking played slowly
(`--seconds-per-day`, an hour per virtual day by default, so every shipment stays open), a debugging SMTP server and
the API in this process, and one worker as its own process (`tradelane worker`, as production runs it). Shipments
are opened through the API up to each count; once every open one is in transit (nothing left to book, label or
file) and the worker's RSS (`VmRSS` from `/proc`) has settled, its RSS is recorded. It prints one line per
plateau and ends with `rss_ratio=<last/first>` and whether that is within the 10 %.

A count that would not fit the time budget (`--budget-s`, from the rate the first plateau was reached at) is
lowered to what fits, and the output says so.
"""

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
from temporalio.client import Client

from devstack.devserver import start_dev_server
from devstack.mailserver import DevMailServer
from devstack.ports import free_port
from devstack.up import WORKER_READY_TIMEOUT_S, WorkerProcess, sandbox_config, stop_worker
from infra.persistence.db import make_engine, migrate
from infra.platform.http_server import ServedApp
from infra.platform.logging import configure_logging
from infra.platform.settings import DEV_API_KEYS, Settings
from infra.platform.temporal import converter_for
from sandbox.app import create_app as create_sandbox_app
from starter.api import create_app

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "basic-cn-de.json"
FLAT_WITHIN = 0.10
"""The issue's bound: RSS at the highest count at most 10 % above RSS at the lowest."""
WAVE = 100
"""Shipments opened together before waiting for them to reach transit."""
WAVE_TIMEOUT_S = 150.0
SETTLE_MARGIN_S = 60.0
"""Time kept back from the budget for the last plateau to settle."""
SETTLED_WITHIN = 0.02
"""A plateau: the last few samples of RSS within 2 % of each other."""


# --- pure parts (tests/devstack/test_rss.py) ---------------------------------------------------------------------

def rss_bytes(status: str) -> int:
    """Resident set size from the text of `/proc/<pid>/status` (its `VmRSS:  123456 kB` line).

    Raises:
        ValueError: the text has no VmRSS line (a kernel thread, or a process that has exited).
    """
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            value, unit = line.split()[1:3]
            if unit != "kB":
                raise ValueError(f"VmRSS in {unit!r}, expected kB: {line!r}")
            return int(value) * 1024
    raise ValueError("no VmRSS line in /proc/<pid>/status: has the process exited?")


def read_rss(pid: int) -> int:
    return rss_bytes(Path(f"/proc/{pid}/status").read_text())


def settled(samples: Sequence[int], window: int = 5, within: float = SETTLED_WITHIN) -> bool:
    """Whether the last `window` samples lie within `within` (a fraction) of their smallest."""
    if len(samples) < window:
        return False
    last = samples[-window:]
    return max(last) <= min(last) * (1 + within)


@dataclass(frozen=True)
class Plateau:
    """RSS of the worker with `open_shipments` open, once settled."""

    target: int
    open_shipments: int
    rss: int
    """The median of the settled samples, in bytes."""
    seconds: float
    """How long opening this plateau's shipments and settling took."""


def fitting_count(target: int, opened: int, seconds_per_shipment: float, seconds_left: float) -> int:
    """The largest count up to `target` that the time left allows, at the rate shipments were opened so far
    (a round hundred when it must be lowered, and never below what is open already)."""
    if seconds_per_shipment <= 0:
        return target
    affordable = opened + int(seconds_left / seconds_per_shipment)
    if affordable >= target:
        return target
    return max(opened, affordable // 100 * 100)


def report(plateaus: Sequence[Plateau], within: float = FLAT_WITHIN) -> list[str]:
    """One line per plateau, then `rss_ratio=<last/first>` and the verdict against the issue's bound."""
    lines = []
    for p in plateaus:
        lowered = f" (lowered from {p.target} to fit the time budget)" if p.open_shipments < p.target else ""
        lines.append(f"open_shipments={p.open_shipments} worker_rss_mib={p.rss / 2**20:.1f} "
                     f"reached_in_s={p.seconds:.0f}{lowered}")
    if len(plateaus) >= 2:
        first, last = plateaus[0], plateaus[-1]
        ratio = last.rss / first.rss
        verdict = "flat" if ratio <= 1 + within else "NOT flat"
        lines.append(f"rss_ratio={ratio:.3f} ({verdict}: {first.open_shipments} -> {last.open_shipments} open, "
                     f"bound {1 + within:.2f})")
    return lines


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m devstack.rss", description=__doc__.split("\n\n")[0])
    parser.add_argument("--counts", type=int, nargs="+", default=[100, 1000],
                        help="open shipments at each plateau, rising (default: 100 1000)")
    parser.add_argument("--seconds-per-day", type=float, default=3600.0,
                        help="the sandbox's clock: real seconds per virtual day (default 3600, so shipments stay "
                             "open)")
    parser.add_argument("--in-flight", type=int, default=16, help="shipments being opened at once (default 16)")
    parser.add_argument("--budget-s", type=float, default=420.0,
                        help="time for the whole run; a count that would not fit is lowered (default 420)")
    parser.add_argument("--max-cached-workflows", type=int, default=None,
                        help="the worker's sticky cache (TRADELANE_MAX_CACHED_WORKFLOWS; default: the setting's)")
    parser.add_argument("--max-concurrent-activities", type=int, default=None,
                        help="the worker's activity slots (default: the highest count + 200, since every polled "
                             "shipment in transit holds one for as long as it is polled)")
    parser.add_argument("--database-url", default=None,
                        help="the read model (default: a SQLite file in a temporary directory)")
    args = parser.parse_args(argv)
    if args.counts != sorted(set(args.counts)) or args.counts[0] < 1:
        parser.error("--counts must be positive and rising, e.g. --counts 100 1000")
    return args


# --- the run ----------------------------------------------------------------------------------------------------

@dataclass
class Stack:
    settings: Settings
    client: Client
    api: httpx.AsyncClient
    worker_pid: int


async def open_shipments(api: httpx.AsyncClient, first: int, count: int, in_flight: int, run: str) -> None:
    """Open shipments `first` .. `first + count - 1` through the API, `in_flight` at a time."""
    body = json.loads(EXAMPLE.read_text())
    gate = asyncio.Semaphore(in_flight)

    async def one(n: int) -> None:
        async with gate:
            response = await api.post("/v1/shipments", json={**body, "shipment_id": f"rss-{run}-{n:05d}",
                                                            "order_ref": f"RSS-{n:05d}"})
            if response.status_code != 201:
                raise RuntimeError(f"shipment {n}: {response.status_code} {response.text[:300]}")

    await asyncio.gather(*(one(n) for n in range(first, first + count)))


async def count(client: Client, query: str) -> int:
    return (await client.count_workflows(query)).count


async def until_in_transit(stack: Stack, opened: int, timeout_s: float) -> int:
    """Wait until every shipment opened has started and none still open is being booked, labelled or filed;
    returns how many are open (one that failed and was compensated meanwhile is not)."""
    queue = f'TaskQueue = "{stack.settings.task_queue}"'
    running = f'{queue} AND ExecutionStatus = "Running"'
    deadline = time.monotonic() + timeout_s
    while True:
        started, still_open = await count(stack.client, queue), await count(stack.client, running)
        moving = await count(stack.client, f'{running} AND TradelaneStage IN ("transit", "last_mile")')
        if started >= opened and moving >= still_open:
            if still_open < started:
                print(f"  ({started - still_open} of {started} shipments closed early)", flush=True)
            return still_open
        if time.monotonic() > deadline:
            print(f"  (after {timeout_s:.0f} s: {still_open} open, {moving} in transit; measuring anyway)",
                  flush=True)
            return still_open
        await asyncio.sleep(2)


async def settled_rss(pid: int, every_s: float = 2.0, max_s: float = 90.0) -> int:
    samples: list[int] = []
    deadline = time.monotonic() + max_s
    while not settled(samples) and time.monotonic() < deadline:
        samples.append(read_rss(pid))
        await asyncio.sleep(every_s)
    return int(statistics.median(samples[-5:]))


async def measure(stack: Stack, counts: Sequence[int], in_flight: int, budget_s: float) -> list[Plateau]:
    started, opened = time.monotonic(), 0
    plateaus: list[Plateau] = []
    run = os.urandom(3).hex()
    for target in counts:
        began = time.monotonic()
        goal = target
        if plateaus:
            spent = time.monotonic() - started
            goal = fitting_count(target, opened, spent / opened, budget_s - spent - SETTLE_MARGIN_S)
        print(f"opening shipments up to {goal} ...", flush=True)
        # In waves that each reach transit before the next starts: a burst of hundreds of assessments at once
        # times out and retries (start-to-close) on a small machine instead of measuring anything.
        open_now = opened
        while opened < goal:
            wave = min(WAVE, goal - opened)
            await open_shipments(stack.api, opened, wave, in_flight, run)
            opened += wave
            open_now = await until_in_transit(stack, opened, timeout_s=WAVE_TIMEOUT_S)
        rss = await settled_rss(stack.worker_pid)
        plateau = Plateau(target=target, open_shipments=open_now, rss=rss, seconds=time.monotonic() - began)
        print("  " + report([plateau])[0], flush=True)
        plateaus.append(plateau)
    return plateaus


def worker_plan(settings: Settings, address: str, sandbox_url: str, health_port: int, max_cached: int | None,
                activity_slots: int) -> WorkerProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRADELANE_")}
    env.update({f"TRADELANE_{k.upper()}": v for k, v in {
        "environment": settings.environment, "temporal_address": address, "task_queue": settings.task_queue,
        "database_url": settings.database_url, "partners_base_url": sandbox_url,
        "public_url": settings.public_url or "", "smtp_port": str(settings.smtp_port), "quiet_hours": "",
        "poll_interval_s": str(settings.poll_interval_s), "worker_health_port": str(health_port),
        "metrics_port": "", "log_format": "json", "log_level": "WARNING",
        "max_concurrent_activities": str(activity_slots),
    }.items()})
    if max_cached is not None:
        env["TRADELANE_MAX_CACHED_WORKFLOWS"] = str(max_cached)
    env["PYTHONPATH"] = str(ROOT)
    return WorkerProcess(argv=[sys.executable, "-m", "devstack.cli", "worker"], env=env,
                         health_url=f"http://127.0.0.1:{health_port}/readyz", metrics_url=None)


async def run(args: argparse.Namespace) -> list[Plateau]:
    directory = Path(tempfile.mkdtemp(prefix="tradelane-rss-"))
    database_url = args.database_url or f"sqlite:///{directory / 'read_model.db'}"
    api_port = free_port()
    settings = Settings(_env_file=None, environment="test", task_queue=f"rss-{os.urandom(4).hex()}",
                        database_url=database_url, public_url=f"http://127.0.0.1:{api_port}", smtp_port=free_port(),
                        quiet_hours="", poll_interval_s=900.0, log_level="WARNING")
    server = await start_dev_server(converter=converter_for(settings))
    migrate(database_url)
    engine = make_engine(database_url)
    mail = await asyncio.to_thread(DevMailServer(directory / "mail", port=settings.smtp_port).start)
    config = sandbox_config(settings).model_copy(update={"seconds_per_day": args.seconds_per_day})
    sandbox = await ServedApp(create_sandbox_app(config)).start()
    settings = settings.model_copy(update={"partners_base_url": sandbox.url})
    api = await ServedApp(create_app(settings, client=server.client, engine=engine), port=api_port).start()
    worker = None
    try:
        slots = args.max_concurrent_activities or max(args.counts) + 200
        plan = worker_plan(settings, server.address, sandbox.url, free_port(), args.max_cached_workflows, slots)
        worker = await start_logged_worker(plan, directory / "worker.log")
        print(f"worker pid {worker.pid}, log {directory / 'worker.log'}, {slots} activity slots, sticky cache "
              f"{args.max_cached_workflows or settings.max_cached_workflows}, initial rss "
              f"{read_rss(worker.pid) / 2**20:.1f} MiB", flush=True)
        headers = {"Authorization": f"Bearer {DEV_API_KEYS['backend']}"}
        async with httpx.AsyncClient(base_url=api.url, headers=headers, timeout=60) as http:
            stack = Stack(settings, server.client, http, worker.pid)
            return await measure(stack, args.counts, args.in_flight, args.budget_s)
    finally:
        if worker is not None:
            await stop_worker(worker, timedelta(seconds=5))
        await api.stop()
        await sandbox.stop()
        await asyncio.to_thread(mail.stop)
        engine.dispose()
        await server.stop()


async def start_logged_worker(plan: WorkerProcess, log: Path) -> asyncio.subprocess.Process:
    """The worker with its output in `log`, once its `/readyz` answers 200."""
    with log.open("wb") as out:
        process = await asyncio.create_subprocess_exec(*plan.argv, env=plan.env, stdout=out, stderr=out)
    async with httpx.AsyncClient(timeout=2.0) as http:
        for _ in range(int(WORKER_READY_TIMEOUT_S * 4)):
            if process.returncode is not None:
                raise RuntimeError(f"the worker exited with code {process.returncode}; see {log}")
            with contextlib.suppress(httpx.TransportError):
                if (await http.get(str(plan.health_url))).status_code == 200:
                    return process
            await asyncio.sleep(0.25)
    await stop_worker(process, timedelta(seconds=5))
    raise RuntimeError(f"the worker was not ready within {WORKER_READY_TIMEOUT_S:.0f} s; see {log}")


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    configure_logging("console", "WARNING")  # the API and sandbox run here: their lines would drown the figures
    plateaus = asyncio.run(run(args))
    print("\n".join(report(plateaus)))


if __name__ == "__main__":
    main()
