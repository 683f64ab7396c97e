"""Open-loop arrivals of `make bench`: shipments offered at a rate, whatever the system's speed.

A closed loop starts a workflow when another finishes, so a slow system is offered less work and its latency hides
the queue. An open loop starts the i-th workflow at its scheduled time whether or not earlier ones are done: fixed
intervals (`1/rate` apart) or a Poisson process (exponential gaps of mean `1/rate`, from a seeded generator so a
run is repeatable). Throughput is completions over the time from the first arrival to the last completion; a
system that cannot keep up shows a throughput below the offered rate and a growing latency.
"""

import asyncio
import random
import time
from collections.abc import Awaitable, Callable

from bench.workloads import Outcome, Rep, percentiles

SUSTAINED = 0.9
"""A rate is sustained when at least this share of it comes out as completions, none failed."""


def schedule(rate: float, count: int, poisson: bool = False, seed: int = 20) -> list[float]:
    """Seconds after the start at which each of `count` arrivals is offered; the first at 0.

    Raises:
        ValueError: A rate that is not positive, or a negative count.
    """
    if rate <= 0 or count < 0:
        raise ValueError(f"rate must be > 0 and count >= 0, got rate={rate}, count={count}")
    if not poisson:
        return [i / rate for i in range(count)]
    draw, at, times = random.Random(seed), 0.0, []
    for _ in range(count):
        times.append(at)
        at += draw.expovariate(rate)
    return times


def sustained(offered: float, rep: Rep) -> bool:
    """Whether `rep`, run at `offered` shipments per second, kept up with it."""
    return rep.failed == 0 and rep.throughput >= SUSTAINED * offered


async def open_loop(workload: str, one: Callable[[int], Awaitable[Outcome]], times: list[float],
                    clock: Callable[[], float] = time.perf_counter) -> Rep:
    """Start workflow i at `times[i]` seconds after now, each on its own task; returns when all have ended."""
    started = clock()

    async def arrive(index: int, at: float) -> Outcome:
        await asyncio.sleep(max(0.0, at - (clock() - started)))
        return await one(index)

    outcomes = await asyncio.gather(*(arrive(i, at) for i, at in enumerate(times)))
    elapsed = clock() - started
    good = [o for o in outcomes if o.ok]
    offered = (len(times) - 1) / times[-1] if len(times) > 1 and times[-1] > 0 else 0.0
    return Rep(workload=workload, in_flight=0, offered_rate=round(offered, 3), started=len(times),
               completed=len(good), failed=len(outcomes) - len(good), elapsed_s=elapsed,
               latency_ms=percentiles([o.latency_s * 1000 for o in good]),
               notes=sorted({o.note for o in outcomes if o.note})[:5], workflow_ids=[o.workflow_id for o in outcomes])
