"""Open-loop arrivals of the benchmark: schedules, the loop itself and what counts as sustained. No Temporal."""

import asyncio
import statistics

import pytest

from bench.arrivals import open_loop, schedule, sustained
from bench.workloads import Outcome, Rep


def test_fixed_intervals_are_one_over_the_rate_apart():
    assert schedule(4, 5) == pytest.approx([0, 0.25, 0.5, 0.75, 1.0])
    assert schedule(2, 0) == []


def test_poisson_arrivals_are_repeatable_and_have_the_rate_as_mean():
    times = schedule(5, 4000, poisson=True, seed=3)
    assert times == schedule(5, 4000, poisson=True, seed=3)
    assert times != schedule(5, 4000, poisson=True, seed=4)
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    assert times[0] == 0 and all(g >= 0 for g in gaps)
    assert statistics.mean(gaps) == pytest.approx(0.2, rel=0.05)
    assert statistics.stdev(gaps) == pytest.approx(0.2, rel=0.1)  # exponential: deviation equals the mean


@pytest.mark.parametrize(("rate", "count"), [(0, 3), (-1, 3), (1, -1)])
def test_a_rate_that_is_not_positive_is_refused(rate, count):
    with pytest.raises(ValueError, match="rate must be > 0"):
        schedule(rate, count)


async def test_the_open_loop_starts_on_schedule_while_earlier_workflows_still_run():
    """Open, not closed: the 4th arrival starts at its time although the 1st has not finished (it finishes only
    once the 4th has started; a closed loop of one would wait forever)."""
    started: dict[int, float] = {}
    fourth = asyncio.Event()
    loop = asyncio.get_running_loop()

    async def one(index: int) -> Outcome:
        started[index] = loop.time()
        if index == 3:
            fourth.set()
        if index == 0:
            await fourth.wait()
        return Outcome(workflow_id=f"w-{index}", example="x", latency_s=0.1 * (index + 1), ok=index != 2,
                       note="ended compensated" if index == 2 else "")

    rep = await asyncio.wait_for(open_loop("M", one, [0.0, 0.02, 0.04, 0.06]), 5)
    assert sorted(started) == [0, 1, 2, 3]
    assert started[3] - started[0] >= 0.05  # on schedule, not all at once
    assert (rep.workload, rep.started, rep.completed, rep.failed) == ("M", 4, 3, 1)
    assert rep.offered_rate == pytest.approx(50.0) and rep.in_flight == 0
    assert rep.notes == ["ended compensated"]
    assert rep.latency_ms["p50"] == pytest.approx(200.0)  # failed one excluded


def rep(completed: int, failed: int, elapsed_s: float) -> Rep:
    return Rep(workload="A", in_flight=0, started=completed + failed, completed=completed, failed=failed,
               elapsed_s=elapsed_s, latency_ms={"p50": 1, "p95": 1, "p99": 1}, notes=[], workflow_ids=[])


def test_a_rate_is_sustained_when_nine_tenths_come_out_and_none_fails():
    assert sustained(2.0, rep(20, 0, 10.5))  # 1.90/s of 2 offered
    assert not sustained(2.0, rep(20, 0, 12.0))  # 1.67/s: a queue grows
    assert not sustained(2.0, rep(19, 1, 10.0))  # fast, but one failed
