"""Daily demand forecasts for one SKU in one market: classify the demand, pick a method, forecast, backtest.

The demand pattern (Syntetos–Boylan) picks the method: smooth and erratic demand get Holt-Winters (additive damped
trend, additive weekly seasonality) once the history holds two full seasons, simple exponential smoothing before
that; intermittent and lumpy demand get TSB (Teunter–Syntetos–Babai), which forecasts a demand rate that decays
while no sales come. Each forecast carries the spread of its one-day-ahead error (for safety stock) and, when the
history is long enough, a holdout backtest against seasonal-naive (MASE, Hyndman & Koehler 2006).
"""

import math
import warnings
from collections.abc import Sequence
from datetime import date, timedelta
from enum import StrEnum
from typing import Annotated, TypeAlias

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, Field
from scipy.optimize import minimize
from statsmodels.tools.sm_exceptions import ModelWarning
from statsmodels.tsa.holtwinters import ExponentialSmoothing, SimpleExpSmoothing

Series: TypeAlias = Sequence[float] | npt.NDArray[np.float64]
"""A daily series: a sequence of floats, or the numpy array this module validates one into."""

ADI_CUTOFF = 1.32
"""Average inter-demand interval at and above which demand is intermittent (Syntetos, Boylan & Croston 2005)."""
CV2_CUTOFF = 0.49
"""Squared coefficient of variation of the non-zero sizes at and above which demand is erratic."""


class DemandPattern(StrEnum):
    """Syntetos–Boylan demand classes, by how often demand comes (ADI) and how much its sizes vary (CV²)."""

    SMOOTH = "smooth"
    ERRATIC = "erratic"
    INTERMITTENT = "intermittent"
    LUMPY = "lumpy"


class ForecastMethod(StrEnum):
    """How a forecast was made; the demand pattern and the history's length choose."""

    HOLT_WINTERS = "holt_winters"
    """Additive damped trend and additive seasonality (statsmodels `ExponentialSmoothing`)."""
    TSB = "tsb"
    """Teunter–Syntetos–Babai: smoothed demand probability x smoothed size, for intermittent and lumpy demand."""
    SIMPLE = "simple"
    """Simple exponential smoothing (statsmodels `SimpleExpSmoothing`), for histories shorter than two seasons."""
    NONE = "none"
    """No history: the forecast is zero."""


class Backtest(BaseModel):
    """A method forecasting the last `holdout` days from the days before them, against seasonal-naive."""

    method: ForecastMethod
    mase: float
    """MASE of the method on the holdout (below 1: better than in-sample seasonal-naive)."""
    naive_mase: float
    """MASE of seasonal-naive on the same holdout."""
    holdout: int


class DemandForecast(BaseModel):
    """A daily demand forecast, its error spread and how it was made."""

    method: ForecastMethod
    pattern: DemandPattern
    season_length: int = Field(ge=1)
    history_days: int = Field(ge=0)
    start: date
    """The first forecast day: the day after the last history day."""
    mean: list[Annotated[float, Field(ge=0)]] = Field(min_length=1)
    """Expected units per day, one per horizon day from `start`."""
    sigma: float = Field(ge=0)
    """Standard deviation of the one-day-ahead error (root mean square of the in-sample one-step residuals)."""
    mase: float | None = None
    """Holdout MASE of `method`; None when the history is too short to backtest."""
    naive_mase: float | None = None
    """Holdout MASE of seasonal-naive on the same days; None when not backtested."""
    notes: list[str] = Field(default_factory=list)

    @property
    def daily_mean(self) -> float:
        """Mean expected units per day over the horizon."""
        return float(np.mean(self.mean))

    def demand_over(self, days: float) -> float:
        """Expected units over the first `days` forecast days; a fractional last day counts pro rata.

        Beyond the horizon each further day expects the mean of the last season of the forecast.
        """
        if not math.isfinite(days) or days < 0:
            raise ValueError(f"days: {days} is not a finite number of days >= 0")
        whole, fraction = int(days), days - int(days)
        tail = float(np.mean(self.mean[-self.season_length:]))
        total = float(sum(self.mean[:whole])) + max(0, whole - len(self.mean)) * tail
        next_day = self.mean[whole] if whole < len(self.mean) else tail
        return total + fraction * next_day


def classify(demand: Series) -> DemandPattern:
    """Syntetos–Boylan class of a demand series.

    ADI is the number of periods per non-zero demand, CV² the squared coefficient of variation of the non-zero
    sizes. A series without any demand is intermittent (nothing has sold: the decaying TSB rate fits it best).
    """
    adi, cv2 = _adi_cv2(_validated(demand, "demand"))
    if adi >= ADI_CUTOFF:
        return DemandPattern.LUMPY if cv2 >= CV2_CUTOFF else DemandPattern.INTERMITTENT
    return DemandPattern.ERRATIC if cv2 >= CV2_CUTOFF else DemandPattern.SMOOTH


def forecast_demand(history: Sequence[float], *, start: date, horizon: int, season_length: int = 7,
                    holdout: int = 28) -> DemandForecast:
    """Forecast daily demand for the `horizon` days after `history` (units per day from `start`, 0 for no sales).

    The last `holdout` days are backtested when the days before them are enough to fit the chosen method.

    Raises:
        ValueError: On a negative or non-finite history value (naming its index), or a horizon, season length or
            holdout out of range.
    """
    y = _validated(history, "history")
    for name, value, least in (("horizon", horizon, 1), ("season_length", season_length, 2), ("holdout", holdout, 0)):
        if value < least:
            raise ValueError(f"{name}: {value} must be at least {least}")
    pattern = classify(y)
    method = _choose(pattern, len(y), season_length)
    mean, sigma = _fit(method, y, horizon, season_length)
    adi, cv2 = _adi_cv2(y)
    notes = [f"{len(y)} days of history, demand {pattern} (ADI {adi:.2f}, CV² {cv2:.2f}): {method}"]
    if method is ForecastMethod.SIMPLE:
        notes.append(f"fewer than two seasons ({2 * season_length} days): no trend or seasonality fitted")
    if np.any(mean < 0):
        notes.append(f"{int(np.sum(mean < 0))} negative forecast days clipped to 0")
    test = None
    if _can_backtest(method, len(y), holdout, season_length):
        test = _backtest(y, holdout, season_length, method)
    if method is ForecastMethod.NONE:
        notes.append("no history: zero forecast")
    elif test is None:
        notes.append(f"not backtested: {len(y)} days of history are too few for a {holdout}-day holdout")
    else:
        notes.append(f"backtest on the last {holdout} days: MASE {test.mase:.2f}, seasonal-naive {test.naive_mase:.2f}")
    return DemandForecast(
        method=method, pattern=pattern, season_length=season_length, history_days=len(y),
        start=start + timedelta(days=len(y)), mean=[max(0.0, float(v)) for v in mean], sigma=sigma,
        mase=test.mase if test else None, naive_mase=test.naive_mase if test else None, notes=notes)


def seasonal_naive(history: Series, horizon: int, season_length: int) -> list[float]:
    """Each forecast day repeats the same day of the last season of the history."""
    if season_length < 1 or horizon < 1:
        raise ValueError(f"season_length: {season_length} and horizon: {horizon} must both be at least 1")
    if len(history) < season_length:
        raise ValueError(f"history: {len(history)} days is shorter than one season ({season_length} days)")
    last = [float(v) for v in history[-season_length:]]
    return [last[h % season_length] for h in range(horizon)]


def mase(actual: Series, predicted: Series, insample: Series, season_length: int) -> float:
    """Mean absolute scaled error: the forecast's MAE over the in-sample MAE of seasonal-naive (Hyndman).

    When the seasonal-naive scale is 0 (a series repeating each season, or shorter than a season and one day), the
    scale is the non-seasonal naive one; when that is 0 too (a constant in-sample series), a perfect forecast scores
    0.0 and any other inf, because no finite scale exists.
    """
    if len(actual) != len(predicted) or len(actual) == 0:
        raise ValueError(f"actual: {len(actual)} days and predicted: {len(predicted)} days must match and be non-empty")
    if len(insample) < 2:
        raise ValueError(f"insample: {len(insample)} days is too short to scale the error (need 2)")
    error = float(np.mean(np.abs(np.asarray(actual, float) - np.asarray(predicted, float))))
    ins = np.asarray(insample, float)
    scale = float(np.mean(np.abs(ins[season_length:] - ins[:-season_length]))) if len(ins) > season_length else 0.0
    scale = scale or float(np.mean(np.abs(np.diff(ins))))
    if scale == 0:
        return 0.0 if error == 0 else math.inf
    return error / scale


def backtest(history: Sequence[float], *, holdout: int, season_length: int = 7) -> Backtest:
    """Forecast the last `holdout` days from the days before, with the method those days would choose.

    Raises:
        ValueError: When the days before the holdout cannot fit that method and a seasonal-naive scale.
    """
    y = _validated(history, "history")
    if holdout < 1 or season_length < 2:
        raise ValueError(f"holdout: {holdout} and season_length: {season_length} must be at least 1 and 2 days")
    train = y[:max(0, len(y) - holdout)]
    method = _choose(classify(train), len(train), season_length)
    if not _can_backtest(method, len(y), holdout, season_length):
        raise ValueError(f"history: {len(y)} days leave {len(train)} before the {holdout}-day holdout, "
                         f"too few to backtest {method}")
    return _backtest(y, holdout, season_length, method)


def _validated(values: Series, name: str) -> np.ndarray:
    y = np.asarray(values, dtype=float)
    bad = np.flatnonzero(~np.isfinite(y) | (y < 0))
    if bad.size:
        i = int(bad[0])
        raise ValueError(f"{name}[{i}]: {y[i]:g} " + ("is negative" if np.isfinite(y[i]) else "is not a finite number"))
    return y


def _adi_cv2(y: np.ndarray) -> tuple[float, float]:
    sizes = y[y > 0]
    if sizes.size == 0:
        return math.inf, 0.0
    return len(y) / sizes.size, float((sizes.std() / sizes.mean()) ** 2)


def _choose(pattern: DemandPattern, days: int, season_length: int) -> ForecastMethod:
    if days == 0:
        return ForecastMethod.NONE
    if pattern in (DemandPattern.INTERMITTENT, DemandPattern.LUMPY):
        return ForecastMethod.TSB
    return ForecastMethod.HOLT_WINTERS if days >= 2 * season_length else ForecastMethod.SIMPLE


def _can_backtest(method: ForecastMethod, days: int, holdout: int, season_length: int) -> bool:
    # Seasonal-naive needs a season and a day before the holdout to give MASE its scale; Holt-Winters two seasons.
    least = 2 * season_length if method is ForecastMethod.HOLT_WINTERS else season_length + 1
    return method is not ForecastMethod.NONE and holdout >= 1 and days - holdout >= least


def _backtest(y: np.ndarray, holdout: int, season_length: int, method: ForecastMethod) -> Backtest:
    train, test = y[:-holdout], y[-holdout:]
    predicted = np.maximum(_fit(method, train, holdout, season_length)[0], 0.0)
    naive = seasonal_naive(train, holdout, season_length)
    return Backtest(method=method, mase=mase(test, predicted, train, season_length),
                    naive_mase=mase(test, naive, train, season_length), holdout=holdout)


def _fit(method: ForecastMethod, y: np.ndarray, horizon: int, season_length: int) -> tuple[np.ndarray, float]:
    """Forecast means (not yet clipped at 0) and the RMS of the in-sample one-step residuals."""
    if method is ForecastMethod.NONE:
        return np.zeros(horizon), 0.0
    if method is ForecastMethod.TSB:
        return _tsb(y, horizon)
    if len(y) == 1:
        # One day cannot fit any smoothing weight; whatever the weight, the level is that day.
        return np.full(horizon, y[0]), 0.0
    with warnings.catch_warnings():
        # Short or flat series make the optimiser warn (no convergence, log of a zero error): the fit still stands.
        warnings.simplefilter("ignore", ModelWarning)
        warnings.filterwarnings("ignore", category=RuntimeWarning, module="statsmodels")
        if method is ForecastMethod.HOLT_WINTERS:
            model = ExponentialSmoothing(y, trend="add", damped_trend=True, seasonal="add",
                                         seasonal_periods=season_length, initialization_method="estimated")
        else:
            model = SimpleExpSmoothing(y, initialization_method="estimated")
        # No brute-force grid of starting values: it costs about six times the fit and, on daily sales, ends in
        # the same optimum as statsmodels' own starting values.
        fit = model.fit(optimized=True, use_brute=False)
        mean = np.asarray(fit.forecast(horizon), float)
    return mean, float(np.sqrt(np.mean(np.square(fit.resid))))


def _tsb(y: np.ndarray, horizon: int) -> tuple[np.ndarray, float]:
    # Hand-written: statsmodels (and scipy) offer no Croston-family method. The smoothing weights minimise the
    # in-sample one-step squared error with scipy, within the 0.01-0.5 range the TSB literature uses.
    sizes = y[y > 0]
    if sizes.size == 0:
        return np.zeros(horizon), 0.0
    occurs = (y > 0).astype(float)
    size0, prob0 = float(sizes.mean()), float(occurs.mean())

    def run(weights: np.ndarray) -> tuple[np.ndarray, float]:
        alpha, beta = weights
        size, prob = size0, prob0
        fitted = np.empty(len(y))
        for t, (demand, occurred) in enumerate(zip(y, occurs)):
            fitted[t] = prob * size
            if occurred:
                size += alpha * (demand - size)
            prob += beta * (occurred - prob)
        return fitted, prob * size

    best = minimize(lambda weights: float(np.sum(np.square(y - run(weights)[0]))), x0=np.array([0.1, 0.05]),
                    bounds=[(0.01, 0.5), (0.01, 0.5)], method="L-BFGS-B")
    fitted, rate = run(best.x)
    return np.full(horizon, rate), float(np.sqrt(np.mean(np.square(y - fitted))))
