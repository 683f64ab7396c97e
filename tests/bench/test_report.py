"""The benchmark's closed loop and its report: pure, no Temporal and no clock in the assertions."""

import asyncio
import struct

import pytest

from bench.report import (
    BenchResult,
    SweepPoint,
    cpu_stack,
    highest_sustained,
    main_summary,
    plot_png,
    ratio_lines,
    ratios,
    summarise,
    sweep_point,
    table,
)
from bench.stack import ROLES
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


def test_throughput_and_cpu_are_pooled_over_repetitions():
    # Pooled: 40 workflows in 15 s, not the mean of 1/s and 6/s; CPU weighted by completions the same way.
    first = rep("A", 10, 10).model_copy(update={"cpu_ms": {"worker-A": 400.0}})
    second = rep("A", 30, 5).model_copy(update={"cpu_ms": {"worker-A": 200.0, "api": 40.0}})
    summary = summarise([first, second])
    assert summary.throughput == pytest.approx(40 / 15)
    assert summary.cpu_ms == {"api": pytest.approx(30.0), "worker-A": pytest.approx(250.0)}
    with pytest.raises(ValueError, match="no repetitions"):
        summarise([])


def test_ratios_are_a_over_m_a_over_b0_and_m_over_b0_and_the_headline_is_the_last_line():
    main = main_summary([rep("A", 9, 3), rep("M", 10, 2), rep("B0", 20, 2), rep("M", 10, 2), rep("A", 9, 3)])
    assert list(main) == ["B0", "M", "A"]
    found = ratios(main)
    assert found == {"A/M": pytest.approx(0.6), "A/B0": pytest.approx(0.3), "M/B0": pytest.approx(0.5)}
    assert ratio_lines(found) == ["ratios: A/B0=0.30, M/B0=0.50", "throughput_ratio=0.60"]
    without_m = ratios(main_summary([rep("A", 9, 3), rep("B0", 20, 2)]))
    assert without_m == {"A/B0": pytest.approx(0.3)}
    with pytest.raises(ValueError, match="no A/M ratio"):
        ratio_lines(without_m)


def point(rate: float, throughputs: dict[str, float]) -> SweepPoint:
    return sweep_point(rate, {w: rep(w, round(t * 100), 100.0) for w, t in throughputs.items()})


def test_the_headline_at_the_highest_rate_m_sustains():
    sweep = [point(1, {"M": 1.0, "A": 0.95}), point(2, {"M": 1.9, "A": 1.5}), point(4, {"M": 2.5, "A": 1.6})]
    assert [p.sustained["M"] for p in sweep] == [True, True, False]
    assert [p.sustained["A"] for p in sweep] == [True, False, False]
    assert highest_sustained(sweep) is sweep[1]
    assert highest_sustained(sweep[2:]) is None


def test_cpu_bars_put_the_systems_own_processes_below_those_reported_apart():
    main = {"B0": summarise([rep("B0", 10, 1).model_copy(update={"cpu_ms": {"devserver": 90.0, "driver": 9.0}})]),
            "A": summarise([rep("A", 10, 1).model_copy(update={"cpu_ms": {"devserver": 200.0, "worker-A": 350.0,
                                                                           "sandbox": 40.0}})])}
    processes, stack = cpu_stack(main, ROLES)
    assert processes == ["devserver", "worker-A", "driver", "sandbox"]
    assert stack["worker-A"] == [0.0, 350.0] and stack["devserver"] == [90.0, 200.0]


def result() -> BenchResult:
    reps = [rep(w, 10, s).model_copy(update={"cpu_ms": {"devserver": 100.0, f"worker-{w}": 50.0 * s,
                                                        "sandbox": 10.0}}) for w, s in (("B0", 1), ("M", 2), ("A", 3))]
    main = main_summary(reps)
    sweep = [point(r, {"B0": r, "M": r * 0.95, "A": r * 0.7}) for r in (0.5, 1, 2)]
    return BenchResult(machine={}, settings={}, shapes={}, reps=reps, main=main, ratios=ratios(main),
                       throughput_ratio=ratios(main)["A/M"], sweep=sweep, roles=ROLES, history_events={},
                       peak_rss_mib={}, decision_ms_per_shipment=None)


def test_plot_is_a_png_of_the_requested_size():
    png = plot_png(result(), width_px=900, height_px=300)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])
    assert (width, height) == (900, 300)
    assert plot_png(result(), width_px=900, height_px=300) == png  # no timestamp: same figures, same bytes


def test_the_table_shows_cpu_per_process_and_the_sweep():
    lines = table(result())
    assert any(line.split()[:4] == ["worker-A", "0.0", "0.0", "150.0"] for line in lines), lines
    assert any(line.strip().startswith("sandbox*") for line in lines)
    assert any(line.strip().startswith("own total") for line in lines)
    assert any(line.strip().startswith("0.50:") and "A 0.35!" in line for line in lines), lines
