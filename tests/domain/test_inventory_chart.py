"""The demand and stock chart, read back as pixels."""

import io
import math
from datetime import date

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from matplotlib.colors import to_rgb
from matplotlib.image import imread

from tradelane.inventory.chart import (
    FORECAST_COLOUR,
    HISTORY_COLOUR,
    REORDER_COLOUR,
    SAFETY_COLOUR,
    STOCK_COLOUR,
    ForecastChart,
    render_png,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def chart(**changes) -> ForecastChart:
    """Four weeks sold, four weeks forecast; 1,400 on hand runs below the reorder point of 900 in week two."""
    fields = {
        "title": "CASE-IP15-BLK at WH-BER (DE)", "history_start": date(2026, 4, 3),
        "history": [20.0 + 8 * math.sin(day) for day in range(28)], "forecast_start": date(2026, 5, 1),
        "forecast": [40.0 + 5 * math.sin(day) for day in range(28)], "forecast_sigma": 4.0,
        "reorder_point": 900.0, "safety_stock": 150.0, "on_hand": 1400.0,
        "subtitle": "holt_winters · MASE 0.71 (seasonal-naive 1.00) · sea 38 d",
    }
    return ForecastChart(**(fields | changes))


def pixels(png: bytes) -> np.ndarray:
    return imread(io.BytesIO(png))


def count_colour(image: np.ndarray, colour: str) -> int:
    """Pixels of exactly this colour (within PNG's 8-bit rounding), fully opaque."""
    close = np.abs(image[..., :3] - np.array(to_rgb(colour))) <= 0.5 / 255
    return int(np.count_nonzero(close.all(axis=-1) & (image[..., 3] == 1.0)))


def test_png_of_the_requested_size():
    png = render_png(chart(), width_px=1000, height_px=600)
    assert png[:8] == PNG_SIGNATURE
    assert pixels(png).shape == (600, 1000, 4)


# Warnings are errors here: constrained layout warns when a size leaves the panels no room.
@pytest.mark.filterwarnings("error")
@settings(max_examples=8, deadline=None)
@given(width=st.integers(480, 1600), height=st.integers(320, 1000))
def test_any_size_is_exact(width, height):
    assert pixels(render_png(chart(), width_px=width, height_px=height)).shape[:2] == (height, width)


@pytest.mark.parametrize("field, colour", [
    ("reorder_point", REORDER_COLOUR), ("safety_stock", SAFETY_COLOUR), ("on_hand", STOCK_COLOUR),
], ids=["reorder_point_line", "safety_stock_line", "on_hand_marker_and_projection"])
def test_a_stock_level_is_drawn_only_when_given(field, colour):
    assert count_colour(pixels(render_png(chart())), colour) > 500
    assert count_colour(pixels(render_png(chart(**{field: None}))), colour) == 0


def test_empty_history_draws_only_the_forecast():
    image = pixels(render_png(chart(history=[]), width_px=800, height_px=500))
    assert image.shape == (500, 800, 4)
    assert count_colour(image, HISTORY_COLOUR) == 0
    assert count_colour(image, FORECAST_COLOUR) > 500
    assert count_colour(pixels(render_png(chart())), HISTORY_COLOUR) > 500


@pytest.mark.filterwarnings("error")
def test_one_day_forecast_without_history_renders():
    image = pixels(render_png(chart(history=[], forecast=[0.0], forecast_sigma=0.0, on_hand=3.0, reorder_point=5.0)))
    assert image.shape == (700, 1200, 4)
    assert count_colour(image, STOCK_COLOUR) > 100
    assert count_colour(image, REORDER_COLOUR) > 500


def test_no_stock_levels_still_renders():
    image = pixels(render_png(chart(reorder_point=None, safety_stock=None, on_hand=None)))
    assert [count_colour(image, c) for c in (REORDER_COLOUR, SAFETY_COLOUR, STOCK_COLOUR)] == [0, 0, 0]


@pytest.mark.parametrize("changes, message", [
    ({"history": [1.0, 2.0, math.nan]}, r"history\[2\]: nan is not a finite"),
    ({"forecast": [math.inf]}, r"forecast\[0\]: inf is not a finite"),
    ({"forecast": []}, r"forecast: empty"),
    ({"forecast_sigma": math.nan}, r"forecast_sigma: nan is not a finite"),
    ({"forecast_sigma": -1.0}, r"forecast_sigma: -1.0 is negative"),
    ({"reorder_point": math.inf}, r"reorder_point: inf is not a finite"),
    ({"safety_stock": -math.inf}, r"safety_stock: -inf is not a finite"),
    ({"on_hand": math.nan}, r"on_hand: nan is not a finite"),
], ids=["history_must_be_finite", "forecast_must_be_finite", "forecast_must_not_be_empty",
        "sigma_must_be_finite", "sigma_must_not_be_negative", "reorder_point_must_be_finite",
        "safety_stock_must_be_finite", "on_hand_must_be_finite"])
def test_invalid_chart_names_the_field(changes, message):
    with pytest.raises(ValueError, match=message):
        chart(**changes)


@pytest.mark.parametrize("size, message", [
    ({"width_px": 0}, r"width_px: 0 is too small"), ({"height_px": 319}, r"height_px: 319 is too small"),
], ids=["width_too_small", "height_too_small"])
def test_too_small_size_names_the_argument(size, message):
    with pytest.raises(ValueError, match=message):
        render_png(chart(), **size)


def test_same_chart_same_bytes():
    assert render_png(chart()) == render_png(chart())
    assert render_png(chart()) != render_png(chart(reorder_point=800.0))


def test_png_carries_no_software_version():
    assert b"matplotlib" not in render_png(chart()).lower()


# --- Issue 19: what a reader saw in the demo's chart --------------------------------------------------------------

def rows_of(image: np.ndarray, colour: str) -> np.ndarray:
    """Row indices (top = 0) that have pixels of exactly this colour."""
    close = np.abs(image[..., :3] - np.array(to_rgb(colour))) <= 0.5 / 255
    return np.flatnonzero((close.all(axis=-1) & (image[..., 3] == 1.0)).any(axis=1))


def test_projected_stock_stops_at_zero_on_the_stock_out_day():
    """Finding (issue 19): the projection ran down to -2,000 units. Stock cannot go below zero: it stops there, on
    the stock-out day, which the chart marks."""
    from tradelane.inventory.chart import STOCKOUT_COLOUR, outlook, projected_stock

    running_out = chart(on_hand=500.0)  # about 40 a day: out in the second week of four
    projected = projected_stock(running_out)
    assert projected is not None and projected.min() == 0.0 and projected[0] == 500.0
    found = outlook(running_out)
    assert found is not None and found.stockout_on is not None
    day = (found.stockout_on - running_out.forecast_start).days
    assert projected[day] == 0.0 and projected[day - 1] > 0.0
    assert f"stock-out {found.stockout_on:%d %b %Y}" in found.text

    image = pixels(render_png(running_out))
    assert count_colour(image, STOCKOUT_COLOUR) > 50
    assert count_colour(pixels(render_png(chart())), STOCKOUT_COLOUR) == 0  # 1,400 lasts the four weeks
    # In the stock panel (the lower part), no projected stock is drawn below the zero line.
    lower = image[image.shape[0] // 2:]
    zero_line = rows_of(lower, "#808080")
    assert rows_of(lower, STOCK_COLOUR).max() <= zero_line.max() + 3


def wcag_contrast(colour: str, background: str = "white") -> float:
    def luminance(c: str) -> float:
        channels = [x / 12.92 if x <= 0.03928 else ((x + 0.055) / 1.055) ** 2.4 for x in to_rgb(c)]
        return 0.2126 * channels[0] + 0.7152 * channels[1] + 0.0722 * channels[2]

    high, low = sorted((luminance(colour), luminance(background)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_the_80_percent_band_is_legible():
    """Finding (issue 19): the band was the forecast's blue at 20 % opacity (contrast 1.3 against white) under a
    line as thick as the band, so it barely showed. It is an opaque tint with visible edges, around a thinner mean."""
    from tradelane.inventory.chart import BAND_COLOUR, BAND_EDGE_COLOUR

    assert wcag_contrast(BAND_COLOUR) >= 1.5 and wcag_contrast(BAND_EDGE_COLOUR) >= 2.5
    image = pixels(render_png(chart()))
    band = count_colour(image, BAND_COLOUR)
    assert band > 3 * count_colour(image, FORECAST_COLOUR) > 0, "the band shows more than the line inside it"
    # Without spread only the legend's swatch has the band's colour.
    assert count_colour(pixels(render_png(chart(forecast_sigma=0.0))), BAND_COLOUR) < band / 10


def test_the_subtitle_and_the_panel_tell_one_reorder_story():
    """Finding (issue 19): the subtitle said "no reorder" while the panel said "reorder by ...". The caption's
    outlook is the panel's: the same projection, read once."""
    from tradelane.inventory.chart import caption, outlook

    later = chart(on_hand=1400.0, reorder_point=900.0)
    assert outlook(later).reorder_by == date(2026, 5, 14)
    assert caption(later) == f"{later.subtitle} · reorder by 14 May 2026"
    assert caption(chart(on_hand=800.0)).endswith("reorder now; stock-out 21 May 2026")
    assert caption(chart(on_hand=5000.0)).endswith("no reorder within 28 days")
    assert caption(chart(reorder_point=None, safety_stock=None, on_hand=None)) == later.subtitle
