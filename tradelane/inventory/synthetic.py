"""Seeded synthetic daily sales, for tests and the demo.

Every series comes from its own `numpy.random.default_rng(seed)`: the same arguments give the same series, and
nothing touches global random state.
"""

import math
from collections.abc import Sequence
from datetime import date, timedelta

import numpy as np

_DAYS_PER_YEAR = 365.25


def seasonal_sales(
    days: int,
    *,
    base: float,
    trend_per_day: float = 0.0,
    weekly: Sequence[float] = (1.0,) * 7,
    annual_amplitude: float = 0.0,
    noise_sd: float = 0.0,
    start: date,
    seed: int,
) -> list[int]:
    """Daily unit sales with a trend, a weekly pattern, a yearly wave and noise.

    Day `i` (the date `start + i`) expects `(base + trend_per_day * i) * weekly[weekday] * annual`, where
    `weekday` is that date's weekday (Monday = 0) and `annual = 1 + annual_amplitude * sin(2 pi t)`, with `t` the
    fraction of the calendar year gone by. Sales are then Poisson around that expectation when `noise_sd` is 0 (the
    natural noise of counts), else the expectation plus normal noise of `noise_sd`, rounded; never negative.

    Args:
        days: How many days to generate (0 gives an empty list).
        base: Expected sales on day 0 before the weekly and yearly multipliers.
        trend_per_day: Added to the expected level each day (may be negative; the level floors at 0).
        weekly: Seven multipliers, Monday first.
        annual_amplitude: Relative height of the yearly wave, 0 for none (0.3 = +-30 %).
        noise_sd: Standard deviation of normal noise in units; 0 gives Poisson noise instead.
        start: Date of day 0.
        seed: Seed of the random generator.

    Raises:
        ValueError: On a negative count, base or noise, or a weekly pattern that is not seven non-negative numbers.
    """
    if days < 0:
        raise ValueError(f"days: {days} is negative")
    if base < 0:
        raise ValueError(f"base: {base} is negative")
    if noise_sd < 0:
        raise ValueError(f"noise_sd: {noise_sd} is negative")
    if len(weekly) != 7 or any(m < 0 for m in weekly):
        raise ValueError(f"weekly: {list(weekly)} is not seven non-negative multipliers, Monday first")
    rng = np.random.default_rng(seed)
    expected = np.empty(days)
    for i in range(days):
        day = start + timedelta(days=i)
        level = max(0.0, base + trend_per_day * i)
        year_fraction = (day.timetuple().tm_yday - 1) / _DAYS_PER_YEAR
        annual = max(0.0, 1.0 + annual_amplitude * math.sin(2 * math.pi * year_fraction))
        expected[i] = level * weekly[day.weekday()] * annual
    if noise_sd == 0:
        sales = rng.poisson(expected)
    else:
        sales = np.rint(expected + rng.normal(0.0, noise_sd, days))
    return [int(x) for x in np.maximum(sales, 0)]


def intermittent_sales(days: int, *, probability: float, mean_size: float, seed: int) -> list[int]:
    """Daily sales that are mostly zero: a sale happens on a day with `probability`, of `mean_size` units on average.

    A sale's size is `1 + Poisson(mean_size - 1)`, so every sale is at least one unit and sizes average `mean_size`.

    Args:
        days: How many days to generate.
        probability: Chance of a sale on any day (0..1).
        mean_size: Mean units of one sale (at least 1).
        seed: Seed of the random generator.

    Raises:
        ValueError: On a negative count, a probability outside 0..1 or a mean size below 1.
    """
    if days < 0:
        raise ValueError(f"days: {days} is negative")
    if not 0.0 <= probability <= 1.0:
        raise ValueError(f"probability: {probability} is not between 0 and 1")
    if mean_size < 1:
        raise ValueError(f"mean_size: {mean_size} is below 1 unit")
    rng = np.random.default_rng(seed)
    occurs = rng.random(days) < probability
    sizes = 1 + rng.poisson(mean_size - 1.0, days)
    return [int(x) for x in np.where(occurs, sizes, 0)]
