"""The PNG chart of one SKU's demand history, forecast and reorder point (`tradelane inventory plot`).

Two panels share the date axis because their units differ: the top one shows daily demand (units/day), the
bottom one stock levels (units): on hand, the reorder point and safety stock, and the stock projected by
taking the forecast off what is on hand, so a reader sees the day it crosses the reorder point.

Pure and thread-safe: each call builds its own `matplotlib.figure.Figure` on the Agg canvas and never touches
pyplot or the global rcParams, so a server can render charts from several threads at once.
"""

from __future__ import annotations

import io
import math
from datetime import date
from statistics import NormalDist

import numpy as np
import numpy.typing as npt
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter, date2num
from matplotlib.figure import Figure
from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator

BAND_Z = NormalDist().inv_cdf(0.90)
"""The band spans the 10th to the 90th percentile of a normal error: mean ± 1.28 sigma."""

DPI = 100
MIN_SIZE_PX = {"width_px": 480, "height_px": 320}
"""Below these the legends and axis labels leave the panels no room."""

HISTORY_COLOUR = "#9aa5b1"
FORECAST_COLOUR = "#1f77b4"
STOCK_COLOUR = "#2ca02c"
REORDER_COLOUR = "#d62728"
SAFETY_COLOUR = "#ff7f0e"
LINE_WIDTH = 2.5
"""In points (3.5 px at 100 dpi): wide enough that every line has pixels of its exact colour."""
MIN_SPAN_DAYS = 7
"""The shortest date axis: shorter spans of daily data would get hourly ticks."""
TICK_PX = 110
"""About one date label per this many pixels of width."""
LEGEND = {"loc": "upper left", "bbox_to_anchor": (1.01, 1.0), "fontsize": 8}
"""Legends sit right of the panels, where no line can run under them."""


class ForecastChart(BaseModel):
    """What the chart shows: one SKU at one warehouse."""

    model_config = ConfigDict(frozen=True)

    title: str
    """e.g. `CASE-IP15-BLK at WH-BER (DE)`."""
    history_start: date
    """The date of `history[0]`."""
    history: list[float]
    """Units sold per day from `history_start`; may be empty (then only the forecast shows)."""
    forecast_start: date
    """The date of `forecast[0]`; also where `on_hand` is drawn and the projection starts."""
    forecast: list[float]
    """Mean demand per day (units/day), at least one day."""
    forecast_sigma: float
    """Standard deviation of one day's forecast error (units/day); the band is mean ± 1.28 sigma, clipped at 0."""
    reorder_point: float | None
    """Stock level (units over the lead time) at which to reorder."""
    safety_stock: float | None
    """Stock level (units) kept against forecast error over the lead time."""
    on_hand: float | None
    """Stock (units) on `forecast_start`."""
    subtitle: str = ""
    """Method, MASE and lead time, e.g. `holt_winters · MASE 0.71 (seasonal-naive 1.00) · sea 38 d`."""

    @field_validator("history", "forecast")
    @classmethod
    def _finite_series(cls, values: list[float], info: ValidationInfo) -> list[float]:
        if info.field_name == "forecast" and not values:
            raise ValueError("forecast: empty; at least one day of forecast is needed")
        for i, value in enumerate(values):
            if not math.isfinite(value):
                raise ValueError(f"{info.field_name}[{i}]: {value} is not a finite number of units/day")
        return values

    @field_validator("forecast_sigma", "reorder_point", "safety_stock", "on_hand")
    @classmethod
    def _finite_level(cls, value: float | None, info: ValidationInfo) -> float | None:
        if value is not None and not math.isfinite(value):
            raise ValueError(f"{info.field_name}: {value} is not a finite number of units")
        if info.field_name == "forecast_sigma" and value is not None and value < 0:
            raise ValueError(f"forecast_sigma: {value} is negative; expected a standard deviation >= 0")
        return value


def render_png(chart: ForecastChart, *, width_px: int = 1200, height_px: int = 700) -> bytes:
    """The chart as PNG bytes of exactly `width_px` x `height_px`, identical for identical input.

    Args:
        chart: What to draw (validated when built).
        width_px: Image width in pixels, at least 480.
        height_px: Image height in pixels, at least 320.

    Raises:
        ValueError: A size below `MIN_SIZE_PX`.
    """
    for name, size in (("width_px", width_px), ("height_px", height_px)):
        if size < MIN_SIZE_PX[name]:
            raise ValueError(f"{name}: {size} is too small; expected at least {MIN_SIZE_PX[name]} pixels")
    fig = Figure(figsize=(width_px / DPI, height_px / DPI), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    demand, stock = fig.subplots(2, 1, sharex=True, height_ratios=[3, 2])
    fig.suptitle(chart.title, fontsize=13, fontweight="bold")
    demand.set_title(chart.subtitle, fontsize=9, loc="left")
    _draw_demand(demand, chart)
    _draw_stock(stock, chart)
    # Daily data: a span of a few days would otherwise get hourly ticks.
    first = np.datetime64(chart.history_start if chart.history else chart.forecast_start, "D")
    if np.datetime64(chart.forecast_start, "D") + len(chart.forecast) - first < MIN_SPAN_DAYS:
        stock.set_xlim(first - 1, first + MIN_SPAN_DAYS)
    # About one date label per TICK_PX, so narrow charts do not overprint them.
    locator = AutoDateLocator(minticks=3, maxticks=max(4, width_px // TICK_PX))
    stock.xaxis.set_major_locator(locator)
    stock.xaxis.set_major_formatter(ConciseDateFormatter(locator))
    out = io.BytesIO()
    # No Software key: the PNG then carries nothing about the matplotlib version, only the pixels.
    fig.savefig(out, format="png", dpi=DPI, metadata={"Software": None})
    return out.getvalue()


def _days(start: date, count: int) -> np.ndarray:
    return np.datetime64(start, "D") + np.arange(count)


def _draw_demand(ax: Axes, chart: ForecastChart) -> None:
    if chart.history:
        ax.bar(_days(chart.history_start, len(chart.history)), chart.history, width=1.0,
               color=HISTORY_COLOUR, label="units sold")
    days, mean = _days(chart.forecast_start, len(chart.forecast)), np.asarray(chart.forecast)
    spread = BAND_Z * chart.forecast_sigma
    ax.fill_between(days, np.clip(mean - spread, 0, None), np.clip(mean + spread, 0, None),
                    color=FORECAST_COLOUR, alpha=0.2, linewidth=0, label="80% band")
    ax.plot(days, mean, color=FORECAST_COLOUR, linewidth=LINE_WIDTH, label="forecast (mean)")
    ax.axvline(days[0], color="0.4", linewidth=0.8, linestyle=":")
    ax.set_ylabel("demand (units/day)")
    ax.set_ylim(bottom=0)
    ax.legend(**LEGEND)
    ax.grid(axis="y", alpha=0.3)


def _draw_stock(ax: Axes, chart: ForecastChart) -> None:
    if chart.on_hand is not None:
        # Stock at the start of each day, then after the last forecast day.
        days = _days(chart.forecast_start, len(chart.forecast) + 1)
        projected = chart.on_hand - np.concatenate(([0.0], np.cumsum(chart.forecast)))
        ax.plot(days, projected, color=STOCK_COLOUR, linewidth=LINE_WIDTH, label="projected stock")
        ax.plot(days[:1], [chart.on_hand], "o", color=STOCK_COLOUR, markersize=8,
                label=f"on hand ({chart.on_hand:,.0f} units)")
        crossed: npt.NDArray[np.intp] | list[int] = (
            np.flatnonzero(projected <= chart.reorder_point) if chart.reorder_point is not None else [])
        if len(crossed):
            # The line runs from top left to bottom right, so the bottom left of the crossing is free, unless it
            # is the first day: then the panel may start there.
            day = crossed[0]
            note = f"reorder by {days[day].item():%d %b %Y}" if day else "at or below the reorder point"
            ax.annotate(note, (days[day], projected[day]), xytext=(-8, -16) if day else (8, 6),
                        textcoords="offset points", ha="right" if day else "left", fontsize=8)
    for level, label, colour, style in ((chart.reorder_point, "reorder point", REORDER_COLOUR, "-"),
                                        (chart.safety_stock, "safety stock", SAFETY_COLOUR, "--")):
        if level is not None:
            ax.axhline(level, color=colour, linewidth=LINE_WIDTH, linestyle=style,
                       label=f"{label} ({level:,.0f} units)")
    ax.axhline(0, color="0.5", linewidth=0.8)
    ax.axvline(date2num(np.datetime64(chart.forecast_start, "D")), color="0.4", linewidth=0.8, linestyle=":")
    ax.set_ylabel("stock (units)")
    ax.set_xlabel("date")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(**LEGEND)
    else:
        ax.set_yticks([])
        ax.text(0.5, 0.5, "no stock levels given", transform=ax.transAxes, ha="center", va="center", color="0.4")
    ax.grid(axis="y", alpha=0.3)
