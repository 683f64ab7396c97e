"""`make bench`: shipment throughput and latency against bare Temporal, measured side by side in one run.

    python -m bench [--in-flight 20] [--shipments 60] [--reps 3] [--sweep 1,10,50,200] [--profile]
                    [--run-dir .tradelane/bench]

One dev server and one worker configuration (bench/stack.py). Warm-up: each example shipment once through
Tradelane (workload A); its fetched history gives the shape workload B runs (bench/shape.py), and each shape once
through the bare worker. Then A and B alternate A, B, B, A, ... (`--reps` of each) in a closed loop of
`--in-flight` workflows, and a sweep runs A then B at each in-flight count. Prints a table, writes
`bench.json` and `bench.png` into the run directory, and ends with exactly one line `throughput_ratio=<A/B>`.
Timings are never asserted: the ratio is the result.
"""

import argparse
import asyncio
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
from pathlib import Path
from statistics import mean
from typing import Any, TextIO

import httpx
from prometheus_client.parser import text_string_to_metric_families
from temporalio.client import Client

from activities.decisions import DECISION_METRIC
from bench.bare import BareInput, bare_input, encoded_size
from bench.report import BenchResult, SweepPoint, main_summary, plot_png, summarise, table
from bench.shape import Shape, shape_of
from bench.stack import HOST, QUEUE_B, BenchStack, peak_rss_mib
from bench.workloads import BareWorkload, Rep, ShipmentWorkload, closed_loop
from devstack.devserver import find_cli, version_of
from infra.platform.logging import configure_logging
from infra.platform.temporal import connect

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ["basic-cn-de", "high-value-us-jp", "lithium-powerbank-cn-us", "pallet-cn-au"]
"""Happy-path requests (each ends delivered; high-value-us-jp waits for one ops approval), run in rotation."""
DEFAULT_RUN_DIR = Path(".tradelane/bench")
HISTORY_SAMPLE = 12
"""Histories fetched per repetition to count events (after its clock stopped)."""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--in-flight", type=int, default=20, help="workflows in flight in the main run (20)")
    parser.add_argument("--shipments", type=int, default=80, help="workflows per main repetition (80)")
    parser.add_argument("--reps", type=int, default=3, help="repetitions of each workload, at least 3 (3)")
    parser.add_argument("--sweep", default="1,10,50,200", help="in-flight counts of the sweep (1,10,50,200)")
    parser.add_argument("--sweep-rounds", type=float, default=2.0,
                        help="workflows per sweep point as a multiple of the in-flight count, at least 10 (2)")
    parser.add_argument("--profile", action="store_true",
                        help="record the Tradelane worker with py-spy during the first A repetition")
    parser.add_argument("--run-dir", type=Path, default=DEFAULT_RUN_DIR,
                        help=f"wiped at start: logs, read model, bench.json, bench.png (default {DEFAULT_RUN_DIR})")
    args = parser.parse_args(argv)
    if args.reps < 3:
        parser.error("--reps: at least 3")
    if args.in_flight < 1 or args.shipments < args.in_flight:
        parser.error("--in-flight: at least 1, and --shipments at least --in-flight")
    try:
        args.sweep = sorted({int(n) for n in args.sweep.split(",") if n.strip()})
    except ValueError:
        parser.error(f"--sweep: comma-separated counts expected, got {args.sweep!r}")
    if not args.sweep or min(args.sweep) < 1:
        parser.error("--sweep: at least one count, each at least 1")
    return args


def machine() -> dict[str, str | int | float]:
    memory = next((int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                   if line.startswith("MemTotal:")), 0)
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor())
    return {"cpus": os.cpu_count() or 0, "cpu_model": model, "memory_gib": round(memory / 2**20, 1),
            "python": platform.python_version(), "system": platform.platform(),
            "temporal_cli": str(version_of(cli) if (cli := find_cli(build=False)) else "none")}


class Bench:
    """One run: the stack, the two workloads, the measurements."""

    def __init__(self, args: argparse.Namespace, stack: BenchStack, client: Client, out: TextIO) -> None:
        self.args, self.stack, self.client, self.out = args, stack, client, out
        self.shapes: dict[str, Shape] = {}
        self.reps: list[Rep] = []
        self.events: dict[str, dict[str, list[int]]] = {"A": defaultdict(list), "B": defaultdict(list)}
        self._round = 0
        self._http: dict[str, httpx.AsyncClient] = {}
        self._bodies: dict[str, dict[str, Any]] = {}
        self._inputs: dict[str, BareInput] = {}
        self._overhead = 0

    def say(self, line: str) -> None:
        print(line, file=self.out, flush=True)

    async def run(self, http: dict[str, httpx.AsyncClient]) -> BenchResult:
        self._http = http
        self._bodies = {name: json.loads((ROOT / "examples" / f"{name}.json").read_text()) for name in EXAMPLES}
        await self._take_shapes()
        await self._warm_up()
        await self._repetitions()
        return await self._result(await self._sweep())

    def _tag(self) -> str:
        self._round += 1
        return f"R{self._round:02d}"

    def _shipments(self) -> ShipmentWorkload:
        """Workload A, with its own shipment ids."""
        return ShipmentWorkload(self.client, self._http["backend"], self._http["ops"], self._bodies,
                                {n for n, s in self.shapes.items() if s.update_bytes}, self._tag())

    def _bare(self) -> BareWorkload:
        """Workload B, with its own workflow ids (once the shapes are taken)."""
        return BareWorkload(self.client, self.shapes, self._inputs, self._overhead, QUEUE_B, self._tag())

    async def _take_shapes(self) -> None:
        """Every example once through Tradelane, alone, watching for gates since none is known yet; the fetched
        history of each is its shape."""
        warm = self._shipments()
        for index, name in enumerate(EXAMPLES):
            outcome = await warm.one(index, watch_gate=True)
            if not outcome.ok:
                raise RuntimeError(f"warm-up shipment {name} did not deliver: {outcome.note}")
            self.shapes[name] = shape_of(await self.client.get_workflow_handle(outcome.workflow_id).fetch_history(),
                                         name)
        converter = self.client.data_converter
        self._inputs = {name: await bare_input(shape, converter) for name, shape in self.shapes.items()}
        self._overhead = await encoded_size(converter, "")
        for name, shape in self.shapes.items():
            self.say(f"shape of {name}: {shape.history_events} events, {shape.activities} activities in "
                     f"{len(shape.waves)} waves, {len(shape.signal_bytes)} signals, {len(shape.update_bytes)} updates")

    async def _warm_up(self) -> None:
        """Each shape once through the bare worker, then both workloads at the main load (caches, connection
        pools)."""
        k = self.args.in_flight
        await closed_loop("B", self._bare().one, len(EXAMPLES), 1)
        await closed_loop("A", self._shipments().one, k, k)
        await closed_loop("B", self._bare().one, k, k)

    async def _repetitions(self) -> None:
        """The main run: A and B alternating A, B, B, A, ... at `--in-flight`."""
        order = [w for r in range(self.args.reps) for w in (("A", "B") if r % 2 == 0 else ("B", "A"))]
        for number, workload in enumerate(order):
            profile = self.args.profile and workload == "A" and "A" not in [r.workload for r in self.reps]
            rep = await self._rep(workload, self.args.shipments, self.args.in_flight, profile)
            self.reps.append(rep)
            self.say(f"rep {number + 1}/{len(order)} {workload}: {rep.throughput:.2f} wf/s, "
                     f"p95 {rep.latency_ms['p95']:.0f} ms, failed {rep.failed}")
            await self._count_events(rep)

    async def _sweep(self) -> list[SweepPoint]:
        """A then B at each in-flight count of `--sweep`."""
        sweep = []
        for count in self.args.sweep:
            n = max(int(count * self.args.sweep_rounds), 10)
            a = await self._rep("A", n, count)
            b = await self._rep("B", n, count)
            sweep.append(SweepPoint(in_flight=count, A=summarise([a]), B=summarise([b])))
            self.say(f"sweep {count:>4} in flight: A {a.throughput:.2f} wf/s, B {b.throughput:.2f} wf/s, "
                     f"ratio {a.throughput / b.throughput:.2f}")
        return sweep

    async def _result(self, sweep: list[SweepPoint]) -> BenchResult:
        main, ratio = main_summary(self.reps)
        workers = self.stack.workers
        return BenchResult(
            machine=machine(), settings={"in_flight": self.args.in_flight, "shipments_per_rep": self.args.shipments,
                                         "reps": self.args.reps, "examples": ",".join(EXAMPLES),
                                         "sandbox_seconds_per_day": 0.0},
            shapes={n: {"history_events": s.history_events, "activities": s.activities, "waves": len(s.waves),
                        "signals": len(s.signal_bytes), "updates": len(s.update_bytes)}
                    for n, s in self.shapes.items()},
            reps=self.reps, main=main, throughput_ratio=ratio, sweep=sweep,
            history_events={w: {**{n: mean(v) for n, v in per.items()},
                                "max": max(max(v) for v in per.values())}
                            for w, per in self.events.items() if per},
            peak_rss_mib={"A (tradelane worker)": peak_rss_mib(workers.shipment),
                          "B (bare worker)": peak_rss_mib(workers.bare)},
            decision_ms_per_shipment=await self._decision_ms())

    async def _rep(self, workload: str, count: int, in_flight: int, profile: bool = False) -> Rep:
        one = self._shipments().one if workload == "A" else self._bare().one
        recorder = self._start_profiler() if profile else None
        try:
            return await closed_loop(workload, one, count, in_flight)
        finally:
            if recorder is not None:
                recorder.send_signal(signal.SIGINT)
                await asyncio.to_thread(recorder.wait, 60)

    def _start_profiler(self) -> subprocess.Popen[bytes]:
        spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
        target = self.args.run_dir / "profile-worker.svg"
        self.say(f"profiling the Tradelane worker with py-spy into {target}")
        return subprocess.Popen([spy, "record", "--pid", str(self.stack.workers.shipment), "--output", str(target),
                                 "--rate", "200", "--nonblocking"],
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
        """Mean decision-layer time per assessment, from the Tradelane worker's own histogram."""
        url = f"http://{HOST}:{self.stack.metrics_ports['shipment']}/metrics"
        async with httpx.AsyncClient(timeout=5) as http:
            text = (await http.get(url)).text
        totals: dict[str, float] = defaultdict(float)
        for family in text_string_to_metric_families(text):
            if family.name.startswith(DECISION_METRIC):
                for sample in family.samples:
                    totals[sample.name.rsplit("_", 1)[1]] += sample.value
        return totals["sum"] / totals["count"] * 1000 if totals.get("count") else None


def _own_stdout() -> TextIO:
    # A duplicate of the original stdout: starting the dev server points fd 1 at its log for a moment.
    return os.fdopen(os.dup(sys.stdout.fileno()), "w", buffering=1, encoding="utf-8")


async def _run(args: argparse.Namespace, out: TextIO) -> BenchResult:
    stack = BenchStack(args.run_dir)
    started = time.monotonic()
    try:
        await stack.start()
        print(f"stack up in {time.monotonic() - started:.1f} s (logs in {args.run_dir})", file=out, flush=True)
        settings = stack.settings
        client = await connect(settings, address=stack.urls.temporal)
        limits = httpx.Limits(max_connections=max([args.in_flight, *args.sweep]) * 2)
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
    result = asyncio.run(_run(args, out))
    (args.run_dir / "bench.json").write_text(result.model_dump_json(indent=1), encoding="utf-8")
    (args.run_dir / "bench.png").write_bytes(plot_png(result.sweep, result.throughput_ratio))
    for line in table(result):
        print(line, file=out)
    print(f"wrote {args.run_dir / 'bench.json'} and {args.run_dir / 'bench.png'}", file=out)
    print(f"throughput_ratio={result.throughput_ratio:.2f}", file=out, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
