"""`make bench`: Tradelane (A) against a minimal hand-written Temporal workflow (M) and bare Temporal (B0), measured
side by side in one run.

    python -m bench [--in-flight 20] [--shipments 40] [--reps 3] [--sweep 0.5,1,2,4] [--sweep-seconds 20]
                    [--poisson] [--workers 1,2] [--profile] [--run-dir .tradelane/bench]

One dev server and every process of the three workloads (bench/stack.py). Warm-up: each example shipment once
through Tradelane; its fetched history gives M its partner calls (bench/minimal.py) and B0 its signal count
(bench/ceiling.py). Then the main measurement: B0, M and A in a closed loop of `--in-flight` workflows, `--reps`
rounds in a rotating order, each repetition's CPU per shipment per process read from /proc (bench/cpu.py); A once
more with a second Tradelane worker process (`--workers 1,2`); then an open-loop sweep offering each rate of
`--sweep` shipments per second (bench/arrivals.py) to each workload. Prints a table, writes `bench.json` and
`bench.png` into the run directory, and ends with the ratios, the last line exactly `throughput_ratio=<A/M>`.
Timings are never asserted: the ratios are the result.
"""

import argparse
import asyncio
import functools
import json
import logging
import os
import platform
import shutil
import signal
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from pathlib import Path
from statistics import mean
from typing import Any, TextIO

import httpx
from prometheus_client.parser import text_string_to_metric_families
from temporalio.client import Client

from activities.decisions import DECISION_METRIC
from bench.arrivals import open_loop, schedule
from bench.bare import BareInput, bare_input, encoded_size
from bench.ceiling import ceiling_shape
from bench.cpu import growth, per_shipment_ms, rss_mib, sample
from bench.minimal import Step, partner_steps
from bench.report import (
    BenchResult,
    SweepPoint,
    highest_sustained,
    main_summary,
    plot_png,
    ratio_lines,
    ratios,
    summarise,
    sweep_point,
    table,
)
from bench.shape import Shape, shape_of
from bench.stack import HOST, QUEUE_B, QUEUE_M, ROLES, TIMINGS, BenchStack, peak_rss_mib
from bench.workloads import BareWorkload, MinimalWorkload, Outcome, Rep, ShipmentWorkload, closed_loop
from devstack.devserver import find_cli, version_of
from infra.platform.logging import configure_logging
from infra.platform.startup import ended_by_startup_errors
from infra.platform.temporal import connect
from tradelane.keys import shipment_id_of

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ["basic-cn-de", "high-value-us-jp", "lithium-powerbank-cn-us", "pallet-cn-au"]
"""Happy-path requests (each ends delivered; high-value-us-jp waits for one ops approval), run in rotation."""
DEFAULT_RUN_DIR = Path(".tradelane/bench")
HISTORY_SAMPLE = 12
"""Histories fetched per repetition to count events (after its clock stopped)."""
ORDERS = (("B0", "M", "A"), ("A", "B0", "M"), ("M", "A", "B0"))
"""The main measurement's rounds rotate through these, so each workload runs first, second and third alike."""
SWEEP_MIN_SHIPMENTS = 4

One = Callable[[int], Awaitable[Outcome]]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--in-flight", type=int, default=20, help="workflows in flight in the main run (20)")
    parser.add_argument("--shipments", type=int, default=40, help="workflows per main repetition (40)")
    parser.add_argument("--reps", type=int, default=3, help="repetitions of each workload, at least 3 (3)")
    parser.add_argument("--sweep", default="0.5,1,2,4",
                        help="offered rates of the open-loop sweep, shipments per second (0.5,1,2,4)")
    parser.add_argument("--sweep-seconds", type=float, default=20.0,
                        help=f"seconds of arrivals per sweep point, at least {SWEEP_MIN_SHIPMENTS} shipments (20)")
    parser.add_argument("--poisson", action="store_true", help="Poisson arrivals instead of fixed intervals")
    parser.add_argument("--workers", default="1,2", help="Tradelane worker processes to measure A with (1,2)")
    parser.add_argument("--open", default="100,1000",
                        help="open shipments (waiting at the approval gate) to measure worker A's RSS at (100,1000)")
    parser.add_argument("--profile", action="store_true",
                        help="record the Tradelane worker with py-spy during the first A repetition")
    parser.add_argument("--cluster", action="store_true",
                        help="on a multi-service Temporal cluster on PostgreSQL (make cluster's) instead of the dev "
                             "server; its server processes are measured each (PostgreSQL's are not counted)")
    parser.add_argument("--run-dir", type=Path, default=DEFAULT_RUN_DIR,
                        help=f"wiped at start: logs, read model, bench.json, bench.png (default {DEFAULT_RUN_DIR})")
    args = parser.parse_args(argv)
    if args.reps < 3:
        parser.error("--reps: at least 3")
    if args.in_flight < 1 or args.shipments < args.in_flight:
        parser.error("--in-flight: at least 1, and --shipments at least --in-flight")
    try:
        args.sweep = sorted({float(n) for n in args.sweep.split(",") if n.strip()})
        args.workers = sorted({int(n) for n in args.workers.split(",") if n.strip()})
        args.open = sorted({int(n) for n in args.open.split(",") if n.strip()})
    except ValueError:
        parser.error("--sweep, --workers, --open: comma-separated numbers expected")
    if args.open and (len(args.open) < 2 or args.open[0] < 1):
        parser.error("--open: at least two counts, each at least 1 (or empty to skip)")
    if any(rate <= 0 for rate in args.sweep):
        parser.error("--sweep: every rate above 0")
    if not set(args.workers) <= {1, 2} or 1 not in args.workers:
        parser.error("--workers: 1, or 1,2")
    return args


def sweep_count(rate: float, seconds: float) -> int:
    """Shipments offered at a sweep point: `seconds` of arrivals, at least `SWEEP_MIN_SHIPMENTS`."""
    return max(SWEEP_MIN_SHIPMENTS, round(rate * seconds))


async def settled(pid: int, quiet_ticks: int = 3, timeout_s: float = 120) -> bool:
    """Wait until process `pid` uses less than `quiet_ticks` of CPU in a second (its backlog done); False when it
    is still busy after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    last = sample({"p": pid})["p"]
    while time.monotonic() < deadline:
        await asyncio.sleep(1)
        now = sample({"p": pid})["p"]
        if now - last < quiet_ticks:
            return True
        last = now
    return False


def machine() -> dict[str, str | int | float]:
    memory = next((int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                   if line.startswith("MemTotal:")), 0)
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor())
    return {"cpus": os.cpu_count() or 0, "cpu_model": model, "memory_gib": round(memory / 2**20, 1),
            "python": platform.python_version(), "system": platform.platform(),
            "temporal_cli": str(version_of(cli) if (cli := find_cli(build=False)) else "none")}


class Bench:
    """One run: the stack, the three workloads, the measurements."""

    def __init__(self, args: argparse.Namespace, stack: BenchStack, client: Client, out: TextIO) -> None:
        self.args, self.stack, self.client, self.out = args, stack, client, out
        self.shapes: dict[str, Shape] = {}
        self.reps: list[Rep] = []
        self.events: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
        self._round = 0
        self._http: dict[str, httpx.AsyncClient] = {}
        self._bodies: dict[str, dict[str, Any]] = {}
        self._ceiling: dict[str, Shape] = {}
        self._ceiling_inputs: dict[str, BareInput] = {}
        self._steps: dict[str, tuple[str, list[Step]]] = {}
        self._overhead = 0
        self._workers = 1

    def say(self, line: str) -> None:
        print(line, file=self.out, flush=True)

    async def run(self, http: dict[str, httpx.AsyncClient]) -> BenchResult:
        self._http = http
        self._bodies = {name: json.loads((ROOT / "examples" / f"{name}.json").read_text()) for name in EXAMPLES}
        await self._take_shapes()
        await self._warm_up()
        await self._repetitions()
        workers = await self._two_workers()
        sweep = await self._sweep()
        return await self._result(sweep, workers, await self._open_shipments())

    def _tag(self) -> str:
        self._round += 1
        return f"R{self._round:02d}"

    def _one(self, workload: str) -> One:
        """A fresh workload (its own ids) and its `one`."""
        if workload == "A":
            return ShipmentWorkload(self.client, self._http["backend"], self._http["ops"], self._bodies,
                                    {n for n, s in self.shapes.items() if s.update_bytes}, self._tag()).one
        if workload == "M":
            return MinimalWorkload(self.client, self._steps, self.stack.ingress_url, QUEUE_M, TIMINGS.poll_interval_s,
                                   self._tag()).one
        return BareWorkload(self.client, self._ceiling, self._ceiling_inputs, self._overhead, QUEUE_B,
                            self._tag()).one

    async def _take_shapes(self) -> None:
        """Every example once through Tradelane, alone, watching for gates since none is known yet; its fetched
        history gives M its partner calls and B0 its signals."""
        warm = ShipmentWorkload(self.client, self._http["backend"], self._http["ops"], self._bodies, set(), self._tag())
        converter = self.client.data_converter
        for index, name in enumerate(EXAMPLES):
            outcome = await warm.one(index, watch_gate=True)
            if not outcome.ok:
                raise RuntimeError(f"warm-up shipment {name} did not deliver: {outcome.note}")
            history = await self.client.get_workflow_handle(outcome.workflow_id).fetch_history()
            self.shapes[name] = shape = shape_of(history, name)
            self._steps[name] = (shipment_id_of(outcome.workflow_id), await partner_steps(history, converter))
            self._ceiling[name] = ceiling_shape(name, len(shape.signal_bytes))
            self._ceiling_inputs[name] = await bare_input(self._ceiling[name], converter)
            self.say(f"warm-up {name}: {shape.history_events} events, {shape.activities} activities, "
                     f"{len(shape.signal_bytes)} signals, {len(shape.update_bytes)} updates; M makes "
                     + ", ".join(s.activity for s in self._steps[name][1]))
        self._overhead = await encoded_size(converter, "")

    async def _warm_up(self) -> None:
        """Each workload at the main load once (caches, connection pools)."""
        k = self.args.in_flight
        for workload in ("B0", "M", "A"):
            await closed_loop(workload, self._one(workload), k, k)

    async def _repetitions(self) -> None:
        """The main run: `--reps` rounds of B0, M and A at `--in-flight`, in rotating order."""
        order = [w for r in range(self.args.reps) for w in ORDERS[r % len(ORDERS)]]
        for number, workload in enumerate(order):
            profile = self.args.profile and workload == "A" and "A" not in [r.workload for r in self.reps]
            rep = await self._rep(workload, self.args.shipments, self.args.in_flight, profile)
            self.reps.append(rep)
            self.say(f"rep {number + 1}/{len(order)} {workload}: {rep.throughput:.2f} wf/s, "
                     f"p95 {rep.latency_ms['p95']:.0f} ms, CPU {sum(rep.cpu_ms.values()):.0f} ms/wf, "
                     f"failed {rep.failed}")
            await self._count_events(rep)

    async def _two_workers(self) -> dict[str, Any]:
        """A at the main load with a second Tradelane worker process (one repetition), beside the main A."""
        if 2 not in self.args.workers:
            return {}
        await self.stack.start_second_worker()
        self._workers = 2
        try:
            await closed_loop("A", self._one("A"), self.args.in_flight, self.args.in_flight)  # the new one warms up
            rep = await self._rep("A", self.args.shipments, self.args.in_flight)
        finally:
            self._workers = 1
            await self.stack.stop_second_worker()
        self.say(f"A with 2 worker processes: {rep.throughput:.2f} wf/s, p95 {rep.latency_ms['p95']:.0f} ms")
        return {"1": summarise([r for r in self.reps if r.workload == "A"]), "2": summarise([rep])}

    async def _sweep(self) -> list[SweepPoint]:
        """Each rate of `--sweep` offered to each workload, open loop."""
        points = []
        for number, rate in enumerate(self.args.sweep):
            times = schedule(rate, sweep_count(rate, self.args.sweep_seconds), self.args.poisson, seed=number)
            reps = {}
            for workload in ORDERS[number % len(ORDERS)]:
                reps[workload] = await self._measured(workload, functools.partial(self._open, workload, times))
            point = sweep_point(rate, {w: reps[w] for w in ("B0", "M", "A")})
            points.append(point)
            self.say(f"sweep {rate:g}/s offered: " + ", ".join(
                f"{w} {s.throughput:.2f} wf/s p95 {s.latency_ms['p95']:.0f} ms" for w, s in point.workloads.items()))
        return points

    async def _open_shipments(self) -> dict[int, float]:
        """Worker A's resident memory with `--open` shipments open: high-value shipments left waiting at the ops
        approval gate (started through the API, `--in-flight` at a time), measured once the worker is idle."""
        pid = self.stack.children["shipment"].pid
        if not self.args.open or pid is None:
            return {}
        body, tag, lanes = self._bodies["high-value-us-jp"], self._tag(), asyncio.Semaphore(self.args.in_flight)

        async def start(index: int) -> None:
            async with lanes:
                response = await self._http["backend"].post(
                    "/v1/shipments", json={**body, "shipment_id": f"OPEN-{tag}-{index:05d}"})
            if response.status_code != 201:
                raise RuntimeError(f"open shipment {index} refused: HTTP {response.status_code} {response.text[:120]}")

        rss, opened = {}, 0
        for level in self.args.open:
            await asyncio.gather(*(start(i) for i in range(opened, level)))
            opened = level
            idle = await settled(pid)
            rss[level] = rss_mib(pid)
            self.say(f"worker A with {level} open shipments: RSS {rss[level]:.0f} MiB"
                     + ("" if idle else " (read while still busy)"))
        return rss

    async def _open(self, workload: str, times: list[float]) -> Rep:
        return await open_loop(workload, self._one(workload), times)

    async def _result(self, sweep: list[SweepPoint], workers: dict[str, Any], open_rss: dict[int, float]
                      ) -> BenchResult:
        main = main_summary(self.reps)
        found = ratios(main)
        at = highest_sustained(sweep)
        pids = {"A (tradelane worker)": self.stack.children["shipment"].pid,
                "B0 (bare worker)": self.stack.children["bare"].pid, "M (minimal worker)": self.stack.children[
                    "minimal"].pid}
        return BenchResult(
            machine=machine(),
            settings={"in_flight": self.args.in_flight, "shipments_per_rep": self.args.shipments,
                      "reps": self.args.reps, "examples": ",".join(EXAMPLES), "sandbox_seconds_per_day": 0.0,
                      "sweep": ",".join(f"{r:g}" for r in self.args.sweep), "sweep_seconds": self.args.sweep_seconds,
                      "arrivals": "poisson" if self.args.poisson else "fixed interval",
                      "gate_approval": "describe with backoff 0.5 s doubling to 2 s"},
            shapes={n: {"history_events": s.history_events, "activities": s.activities,
                        "signals": len(s.signal_bytes), "updates": len(s.update_bytes)}
                    for n, s in self.shapes.items()},
            reps=self.reps, main=main, ratios=found, throughput_ratio=found.get("A/M"), sweep=sweep,
            ratio_at_highest_sustained=None if at is None or "A" not in at.workloads else {
                "offered_rate": at.offered_rate,
                "A/M": at.workloads["A"].throughput / at.workloads["M"].throughput},
            workers=workers, roles=ROLES, rss_open_mib={str(k): v for k, v in open_rss.items()},
            rss_growth=growth(open_rss) if open_rss else None,
            history_events={w: {**{n: mean(v) for n, v in per.items()}, "max": max(max(v) for v in per.values())}
                            for w, per in self.events.items() if per},
            peak_rss_mib={name: peak_rss_mib(pid) for name, pid in pids.items() if pid is not None},
            decision_ms_per_shipment=await self._decision_ms())

    async def _rep(self, workload: str, count: int, in_flight: int, profile: bool = False) -> Rep:
        one = self._one(workload)
        recorder = self._start_profiler() if profile else None
        try:
            return await self._measured(workload, lambda: closed_loop(workload, one, count, in_flight))
        finally:
            if recorder is not None:
                recorder.send_signal(signal.SIGINT)
                await asyncio.to_thread(recorder.wait, 60)

    async def _measured(self, workload: str, run: Callable[[], Awaitable[Rep]]) -> Rep:
        """`run`, with every process's CPU read before and after it, per completed workflow."""
        pids = self.stack.pids()
        before = sample(pids)
        rep = await run()
        cpu = per_shipment_ms(before, sample(pids), rep.completed) if rep.completed else {}
        return rep.model_copy(update={"cpu_ms": cpu, "workers": self._workers if workload == "A" else 1})

    def _start_profiler(self) -> subprocess.Popen[bytes]:
        spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
        target = self.args.run_dir / "profile-worker.svg"
        self.say(f"profiling the Tradelane worker with py-spy into {target}")
        return subprocess.Popen([spy, "record", "--pid", str(self.stack.children["shipment"].pid), "--output",
                                 str(target), "--rate", "200", "--nonblocking"],
                                stdout=subprocess.DEVNULL, stderr=(self.args.run_dir / "py-spy.log").open("ab"))

    async def _count_events(self, rep: Rep) -> None:
        """History events per workflow of a sample of the repetition, fetched after its clock stopped."""
        for workflow_id in rep.workflow_ids[:HISTORY_SAMPLE]:
            if not workflow_id:
                continue
            history = await self.client.get_workflow_handle(workflow_id).fetch_history()
            example = EXAMPLES[int(workflow_id.rsplit("-", 1)[1]) % len(EXAMPLES)]
            self.events[rep.workload][example].append(len(history.events))

    async def _decision_ms(self) -> float | None:
        """Mean decision-layer CPU time per assessment, from the Tradelane worker's own histogram."""
        url = f"http://{HOST}:{self.stack.metrics_ports['shipment']}/metrics"
        async with httpx.AsyncClient(timeout=5) as http:
            text = (await http.get(url)).text
        totals: dict[str, float] = defaultdict(float)
        for family in text_string_to_metric_families(text):
            if family.name.startswith(DECISION_METRIC):
                for sample_ in family.samples:
                    totals[sample_.name.rsplit("_", 1)[1]] += sample_.value
        return totals["sum"] / totals["count"] * 1000 if totals.get("count") else None


def _own_stdout() -> TextIO:
    # A duplicate of the original stdout: starting the dev server points fd 1 at its log for a moment.
    return os.fdopen(os.dup(sys.stdout.fileno()), "w", buffering=1, encoding="utf-8")


async def _run(args: argparse.Namespace, out: TextIO) -> BenchResult:
    stack = BenchStack(args.run_dir, cluster=args.cluster)
    started = time.monotonic()
    try:
        await stack.start()
        print(f"stack up in {time.monotonic() - started:.1f} s (logs in {args.run_dir})", file=out, flush=True)
        settings = stack.settings
        client = await connect(settings, address=stack.urls.temporal)
        limits = httpx.Limits(max_connections=max(args.in_flight, 50) * 2)
        async with (
            httpx.AsyncClient(base_url=stack.urls.api, timeout=60, limits=limits,
                              headers={"Authorization": f"Bearer {settings.api_key('backend')}"}) as backend,
            httpx.AsyncClient(base_url=stack.urls.api, timeout=60, limits=limits,
                              headers={"Authorization": f"Bearer {settings.api_key('ops')}"}) as ops,
        ):
            return await Bench(args, stack, client, out).run({"backend": backend, "ops": ops})
    finally:
        await stack.stop()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    out = _own_stdout()
    shutil.rmtree(args.run_dir, ignore_errors=True)
    args.run_dir.mkdir(parents=True)
    configure_logging("json", "WARNING")
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.setStream((args.run_dir / "bench.log").open("a", encoding="utf-8"))
    with ended_by_startup_errors():  # a cluster that cannot start (--cluster) says why in one line
        result = asyncio.run(_run(args, out))
    (args.run_dir / "bench.json").write_text(result.model_dump_json(indent=1), encoding="utf-8")
    (args.run_dir / "bench.png").write_bytes(plot_png(result))
    for line in table(result):
        print(line, file=out)
    print(f"wrote {args.run_dir / 'bench.json'} and {args.run_dir / 'bench.png'}", file=out)
    for line in ratio_lines(result.ratios):
        print(line, file=out, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
