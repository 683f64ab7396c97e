"""`make reliability`: the fault matrix with crashes, ending with one line

    shipments=N faults=F terminal=T duplicates=D orphans=O lost=L dead_letters=X reconciled=Y

and exit code 0 only when every shipment ended as its faults imply, with nothing duplicated, orphaned or lost, and
every dead letter and reconciliation item explained by the fault that calls for it (see `reliability` for what each
fault proves).

    python -m reliability [--shipments 300] [--in-flight 40] [--seed 2026] [--no-crashes]
                          [--temporal-down 60] [--run-dir .tradelane/reliability] [--json report.json]
"""

import argparse
import asyncio
import json
import logging
import os
import shutil
import sys
import time
from pathlib import Path
from typing import TextIO

from rich.console import Console

from infra.platform.logging import configure_logging
from infra.platform.startup import ended_by_startup_errors
from reliability.audit import AuditResult, Evidence, audit
from reliability.config import TIMINGS
from reliability.driver import DriverOptions, run_batch
from reliability.plan import build_plan
from reliability.processes import ReliabilityStack
from reliability.report import disruption_table, kind_table, ledger_table, mismatch_table, mix_table, retry_table

DEFAULT_RUN_DIR = Path(".tradelane/reliability")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m reliability", description=__doc__.splitlines()[0])
    parser.add_argument("--shipments", type=int, default=300, help="shipments in the batch (default 300)")
    parser.add_argument("--in-flight", type=int, default=40, help="shipments running at once (default 40)")
    parser.add_argument("--seed", type=int, default=2026, help="plan seed: same seed, same batch (default 2026)")
    parser.add_argument("--no-crashes", action="store_true",
                        help="no worker kills or server and API restarts (partner outages still happen)")
    parser.add_argument("--run-dir", type=Path, default=DEFAULT_RUN_DIR,
                        help=f"wiped at start; history, read model, mail and logs (default {DEFAULT_RUN_DIR})")
    parser.add_argument("--temporal-down", type=float, default=TIMINGS.temporal_down_s,
                        help=f"seconds the dev server stays down mid-batch (default {TIMINGS.temporal_down_s:g})")
    parser.add_argument("--database-lock", type=float, default=TIMINGS.database_lock_s,
                        help=f"seconds the read model's write lock is held mid-batch (default "
                             f"{TIMINGS.database_lock_s:g}, longer than its 30 s busy timeout)")
    parser.add_argument("--only", default=None,
                        help="comma-separated scenario names to draw the batch from (default: the whole catalogue)")
    parser.add_argument("--deadline", type=float, default=420.0,
                        help="seconds a shipment may run after it was acknowledged (default 420)")
    parser.add_argument("--json", type=Path, default=None, help="also write the full report as JSON here")
    parser.add_argument("--cluster", action="store_true",
                        help="on a multi-service Temporal cluster on PostgreSQL (make cluster's), with its faults: a "
                             "history host, a Tradelane worker and the frontend lost or restarted, a rolling restart")
    args = parser.parse_args(argv)
    if args.shipments < 1:
        parser.error("--shipments: at least 1")
    if args.in_flight < 1:
        parser.error("--in-flight: at least 1")
    if args.temporal_down < 0 or args.database_lock < 0:
        parser.error("--temporal-down, --database-lock: not negative")
    return args


def _own_stdout() -> TextIO:
    # A duplicate of the original stdout: starting the dev server points fd 1 at its log for a moment, and the
    # report must not follow it there.
    return os.fdopen(os.dup(sys.stdout.fileno()), "w", buffering=1, encoding="utf-8")


def _log_to_file(path: Path) -> None:
    """Logs of the in-process services (sandbox, dev-server launcher) go to a file, not between the tables."""
    configure_logging("json", "WARNING")
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(path.open("a", encoding="utf-8"))


async def _run(args: argparse.Namespace, console: Console) -> tuple[Evidence, AuditResult, float]:
    only = frozenset(args.only.split(",")) if args.only else None
    plan = build_plan(args.shipments, args.seed, only=only)
    timings = TIMINGS.model_copy(update={"temporal_down_s": args.temporal_down, "database_lock_s": args.database_lock})
    if args.cluster:
        from reliability.cluster import ClusterReliabilityStack

        stack: ReliabilityStack = ClusterReliabilityStack(args.run_dir, timings)
    else:
        stack = ReliabilityStack(args.run_dir, timings)
    console.print(mix_table(plan, stack.disruptions(not args.no_crashes)))
    started = time.monotonic()
    try:
        await stack.start()
        console.print(f"stack up in {time.monotonic() - started:.1f} s: temporal {stack.urls.temporal}, "
                      f"api {stack.urls.api}, sandbox {stack.urls.sandbox}; logs in {args.run_dir}")
        options = DriverOptions(seed=args.seed, in_flight=args.in_flight, crashes=not args.no_crashes,
                                deadline_s=args.deadline)
        evidence = await run_batch(stack, plan, options, progress=lambda line: console.print(f"  {line}"))
    finally:
        await stack.stop()
    return evidence, audit(evidence), time.monotonic() - started


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    out = _own_stdout()
    console = Console(file=out, width=200 if not out.isatty() else None)
    shutil.rmtree(args.run_dir, ignore_errors=True)
    args.run_dir.mkdir(parents=True)
    _log_to_file(args.run_dir / "driver.log")
    with ended_by_startup_errors():  # a cluster that cannot start (--cluster) says why in one line
        evidence, result, took = asyncio.run(_run(args, console))
    console.print(kind_table(evidence, result))
    if evidence.disruptions:
        console.print(disruption_table(evidence))
    console.print(retry_table(evidence))
    console.print(ledger_table(result))
    if result.missing_ledgers:
        console.print(f"[red]error: could not read {', '.join(result.missing_ledgers)}: the run cannot tell what "
                      "was dead-lettered or reconciled (infra/persistence/dead_letters.py, reconciliation.py)[/red]")
    mismatches = mismatch_table(result)
    if mismatches is not None:
        console.print(mismatches)
    console.print(f"took {took:.0f} s")
    if args.json is not None:
        args.json.write_text(json.dumps({"result": result.model_dump(mode="json"),
                                         "evidence": evidence.model_dump(mode="json", exclude={"shipments": {
                                             "__all__": {"final": {"assessment", "eta_basis"}}}})},
                                        indent=1), encoding="utf-8")
    out.flush()
    print(result.line(), file=out, flush=True)
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
