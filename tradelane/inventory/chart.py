"""The PNG chart of one SKU's demand history, forecast and reorder point (`tradelane inventory plot`).

Two panels share the date axis because their units differ: the top one shows daily demand (units/day), the
bottom one stock levels (units): on hand, the reorder point and safety stock, and the stock projected by
taking the forecast off what is on hand, so a reader sees the day it crosses the reorder point. Stock cannot go
below zero: the projection stops at zero on the stock-out day, which is marked.

What the chart says about reordering (`outlook`) is worked out once, from the same projection the panel draws, and
both the subtitle and the panel's notes read it, so the two cannot disagree.

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
BAND_COLOUR = "#a6c8e6"
"""The 80 % band, opaque: a light tint of the forecast's blue, dark enough to read against white and the grid."""
BAND_EDGE_COLOUR = "#5b9bd0"
STOCKOUT_COLOUR = "#7f0000"
STOCK_COLOUR = "#2ca02c"
REORDER_COLOUR = "#d62728"
SAFETY_COLOUR = "#ff7f0e"
LINE_WIDTH = 2.5
"""In points (3.5 px at 100 dpi): wide enough that every line has pixels of its exact colour."""
FORECAST_WIDTH = 1.5
"""The forecast's mean is thinner than the other lines, so the band around it stays visible."""
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


class StockOutlook(BaseModel):
    """What the projected stock says: when to reorder and when stock runs out, within the forecast's days."""

    model_config = ConfigDict(frozen=True)

    reorder_by: date | None
    """The first day the projection is at or below the reorder point (the forecast's first day: reorder now)."""
    stockout_on: date | None
    """The first day the projection reaches zero."""
    text: str
    """e.g. `reorder now`, `reorder by 09 Dec 2026; stock-out 14 Feb 2027`, `no reorder within 120 days`."""


def projected_stock(chart: ForecastChart) -> npt.NDArray[np.float64] | None:
    """Stock at the start of each forecast day and after the last one: on hand less the forecast, never below 0."""
    if chart.on_hand is None:
        return None
    return np.clip(chart.on_hand - np.concatenate(([0.0], np.cumsum(chart.forecast))), 0.0, None)


def outlook(chart: ForecastChart) -> StockOutlook | None:
    """The reorder and stock-out days of the projection; None when no stock is given."""
    projected = projected_stock(chart)
    if projected is None:
        return None
    days = _days(chart.forecast_start, len(projected))
    reorder = (np.flatnonzero(projected <= chart.reorder_point) if chart.reorder_point is not None
               else np.array([], dtype=np.intp))
    empty = np.flatnonzero(projected <= 0)
    reorder_by = days[reorder[0]].item() if len(reorder) else None
    stockout_on = days[empty[0]].item() if len(empty) else None
    parts = []
    if chart.reorder_point is None:
        parts.append("no reorder point (not replenished)")
    elif reorder_by is None:
        parts.append(f"no reorder within {len(chart.forecast)} days")
    elif reorder_by == chart.forecast_start:
        parts.append("reorder now")
    else:
        parts.append(f"reorder by {reorder_by:%d %b %Y}")
    if stockout_on is not None:
        parts.append("out of stock now" if stockout_on == chart.forecast_start else f"stock-out {stockout_on:%d %b %Y}")
    return StockOutlook(reorder_by=reorder_by, stockout_on=stockout_on, text="; ".join(parts))


def caption(chart: ForecastChart) -> str:
    """The chart's subtitle: the caller's (method, error, lead time) and the outlook."""
    found = outlook(chart)
    return " · ".join(part for part in (chart.subtitle, found.text if found else "") if part)


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
    demand.set_title(caption(chart), fontsize=9, loc="left")
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
    low, high = np.clip(mean - spread, 0, None), np.clip(mean + spread, 0, None)
    ax.fill_between(days, low, high, color=BAND_COLOUR, linewidth=0, label="80% band")
    for edge in (low, high):
        ax.plot(days, edge, color=BAND_EDGE_COLOUR, linewidth=0.6)
    ax.plot(days, mean, color=FORECAST_COLOUR, linewidth=FORECAST_WIDTH, label="forecast (mean)")
    ax.axvline(days[0], color="0.4", linewidth=0.8, linestyle=":")
    ax.set_ylabel("demand (units/day)")
    ax.set_ylim(bottom=0)
    ax.legend(**LEGEND)
    ax.grid(axis="y", alpha=0.3)


def _draw_stock(ax: Axes, chart: ForecastChart) -> None:
    projected, found = projected_stock(chart), outlook(chart)
    if projected is not None and found is not None:
        # Stock at the start of each day, then after the last forecast day.
        days = _days(chart.forecast_start, len(chart.forecast) + 1)
        ax.plot(days, projected, color=STOCK_COLOUR, linewidth=LINE_WIDTH, label="projected stock")
        ax.plot(days[:1], [projected[0]], "o", color=STOCK_COLOUR, markersize=8,
                label=f"on hand ({chart.on_hand:,.0f} units)")
        if found.reorder_by is not None:
            # The line runs from top left to bottom right, so the bottom left of the crossing is free, unless it
            # is the first day: then the panel may start there.
            day = int((np.datetime64(found.reorder_by, "D") - days[0]).astype(int))
            note = f"reorder by {found.reorder_by:%d %b %Y}" if day else "reorder now: at or below the reorder point"
            ax.annotate(note, (days[day], projected[day]), xytext=(-8, -16) if day else (8, 6),
                        textcoords="offset points", ha="right" if day else "left", fontsize=8)
        if found.stockout_on is not None:
            day = int((np.datetime64(found.stockout_on, "D") - days[0]).astype(int))
            ax.plot(days[day:day + 1], [0.0], "X", color=STOCKOUT_COLOUR, markersize=10, zorder=5,
                    label=f"stock-out ({found.stockout_on:%d %b %Y})")
            # Above the marker, clear of the line that comes down to it from the left.
            ax.annotate(f"stock-out {found.stockout_on:%d %b %Y}", (days[day], 0.0), xytext=(6, 12),
                        textcoords="offset points", ha="left", fontsize=8, color=STOCKOUT_COLOUR, zorder=6,
                        bbox={"boxstyle": "round,pad=0.2", "facecolor": "white", "edgecolor": "none"})
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
