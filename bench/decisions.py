"""Benchmark: planner + compliance + landed cost + the ETA basis (the whole decision layer) for one shipment.

    make bench-decisions        # or: python -m bench.decisions [--rounds N]

Runs `assess()` on every example request with warm rule tables (loaded once per process, as in the worker) and
prints the median and 95th percentile per shipment, plus the ratio against a baseline measured in the same run:
parsing the same request JSON into the pydantic contract, which every shipment pays anyway. The budget is a median
under 2 ms; the exit code is 1 when it is missed. Not a test: timings belong to a benchmark, not to CI asserts.
"""

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

from tradelane.decisions.assess import assess
from tradelane.eta.basis import eta_basis
from tradelane.models import ShipmentRequest
from tradelane.rules import RuleBook, default_book

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
BUDGET_MS = 2.0


def timings_ms(fn: Callable[[], object], rounds: int) -> list[float]:
    samples = []
    for _ in range(rounds):
        start = time.perf_counter_ns()
        fn()
        samples.append((time.perf_counter_ns() - start) / 1e6)
    return samples


def decide_one(request: ShipmentRequest, book: RuleBook) -> object:
    """What the worker's `decisions.assess` times (`tradelane_decision_duration`): the assessment and its ETA basis."""
    result = assess(request, book)
    if result.plan is not None:
        eta_basis(result.plan, result.last_mile.chosen, request, book)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=300)
    args = parser.parse_args(argv)
    book = default_book()
    texts = {path.stem: path.read_text() for path in sorted(EXAMPLES.glob("*.json"))}
    requests = {name: ShipmentRequest.model_validate_json(text) for name, text in texts.items()}
    for request in requests.values():  # warm-up: load and index every table once
        assess(request, book)

    print(f"{'example':<28}{'median ms':>10}{'p95 ms':>10}{'baseline ms':>13}{'ratio':>8}  plan")
    medians, baselines = [], []
    for name, request in requests.items():
        decide = timings_ms(lambda request=request: decide_one(request, book), args.rounds)
        parse = timings_ms(lambda text=texts[name]: ShipmentRequest.model_validate_json(text), args.rounds)
        median, base = statistics.median(decide), statistics.median(parse)
        p95 = statistics.quantiles(decide, n=20)[-1]
        plan = assess(request, book).plan
        medians.append(median)
        baselines.append(base)
        print(f"{name:<28}{median:>10.3f}{p95:>10.3f}{base:>13.3f}{median / base:>8.1f}  "
              f"{plan.plan_id if plan else '-'}")
    overall, base = statistics.median(medians), statistics.median(baselines)
    verdict = "within" if overall < BUDGET_MS else "OVER"
    print(f"decisions_median_ms={overall:.3f} baseline_parse_median_ms={base:.3f} ratio={overall / base:.1f} "
          f"budget_ms={BUDGET_MS} {verdict} budget")
    return 0 if overall < BUDGET_MS else 1


if __name__ == "__main__":
    sys.exit(main())
