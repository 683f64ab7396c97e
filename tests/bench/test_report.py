"""The benchmark's closed loop and its report: pure, no Temporal and no clock in the assertions."""

import asyncio
import struct

import pytest

from bench.report import SweepPoint, main_summary, plot_png, summarise
from bench.workloads import Outcome, Rep, closed_loop, percentiles


def rep(workload: str, completed: int, elapsed_s: float, p95: float = 100.0) -> Rep:
    return Rep(workload=workload, in_flight=1, started=completed, completed=completed, failed=0, elapsed_s=elapsed_s,
               latency_ms={"p50": p95 / 2, "p95": p95, "p99": p95 * 1.1}, notes=[], workflow_ids=[])


async def test_closed_loop_keeps_the_in_flight_count_and_runs_each_index_once():
    running, peak, seen = 0, 0, []

    async def one(index: int) -> Outcome:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        for _ in range(index % 3 + 1):
            await asyncio.sleep(0)  # let the other lanes run: finishing order differs from starting order
        running -= 1
        seen.append(index)
        return Outcome(workflow_id=f"w-{index}", example="x", latency_s=index / 1000, ok=index != 7,
                       note="ended compensated" if index == 7 else "")

    result = await closed_loop("A", one, 25, 4)
    assert peak == 4
    assert sorted(seen) == list(range(25))
    assert (result.started, result.completed, result.failed) == (25, 24, 1)
    assert result.notes == ["ended compensated"]
    assert result.latency_ms["p99"] <= 24 and result.latency_ms["p50"] == pytest.approx(12.5)  # failed one excluded


def test_percentiles_of_known_samples():
    samples = [float(v) for v in range(1, 101)]
    cut = percentiles(samples)
    assert cut["p50"] == pytest.approx(50.5)
    assert cut["p95"] == pytest.approx(95.05)
    assert cut["p99"] == pytest.approx(99.01)
    assert percentiles([7.0]) == {"p50": 7.0, "p95": 7.0, "p99": 7.0}


def test_throughput_is_pooled_over_repetitions_and_the_ratio_is_a_over_b():
    # Pooled: 40 workflows in 15 s, not the mean of 1/s and 6/s.
    assert summarise([rep("A", 10, 10), rep("A", 30, 5)]).throughput == pytest.approx(40 / 15)
    main, ratio = main_summary([rep("A", 9, 3), rep("B", 10, 2), rep("B", 10, 2), rep("A", 9, 3)])
    assert main["A"].throughput == pytest.approx(3.0) and main["B"].throughput == pytest.approx(5.0)
    assert ratio == pytest.approx(0.6)
    with pytest.raises(ValueError, match="no repetitions"):
        summarise([])


def test_plot_is_a_png_of_the_requested_size():
    sweep = [SweepPoint(in_flight=n, A=summarise([rep("A", n, 2, 100 * n)]), B=summarise([rep("B", n, 1, 50 * n)]))
             for n in (1, 10, 50)]
    assert sweep[1].ratio == pytest.approx(0.5)
    png = plot_png(sweep, 0.5, width_px=800, height_px=300)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])
    assert (width, height) == (800, 300)
    assert plot_png(sweep, 0.5, width_px=800, height_px=300) == png  # no timestamp: same figures, same bytes
