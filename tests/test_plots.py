"""Line charts: no NaN reaches a trace, gaps stay gaps, long series are drawn with the points
the pixels can show (every spike kept), SVG traces only, time ticks for any window."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from sreworkbook import plots

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def frame(values: list[float], *, step_s: int = 60, series: str = "all") -> pd.DataFrame:
    return pd.DataFrame(
        {
            "timestamp": [T0 + timedelta(seconds=step_s * i) for i in range(len(values))],
            "series": series,
            "value": values,
        }
    )


def test_missing_values_and_holes_are_gaps_not_nan() -> None:
    data = frame([1.0, 2.0, math.nan, 4.0, math.inf, 6.0])
    data = data.drop(index=[3])  # a hole in the timestamps: nothing scraped for 2 minutes
    xs, ys = plots.line_points(data["timestamp"], data["value"])
    assert all(y is None or math.isfinite(y) for y in ys)
    # 1, 2 | (NaN, hole, inf) | 6 — the line breaks across the hole.
    assert ys == [1.0, 2.0, None, 6.0]
    assert xs[0] == "2026-11-01 00:00:00" and xs[-1] == "2026-11-01 00:05:00"
    assert xs[2] == "2026-11-01 00:03:00"  # the break sits half-way across the hole
    assert plots.line_points([], []) == ([], [])


def test_a_month_of_minutes_is_drawn_with_what_the_pixels_show() -> None:
    n = 30 * 24 * 60
    values = np.sin(np.arange(n) / 500.0) * 10 + 50
    values[20_000] = 999.0  # one spike among 43,200 points
    xs, ys = plots.line_points(frame(list(values))["timestamp"], values)
    assert len(xs) == len(ys) <= plots.MAX_POINTS + 2
    assert 999.0 in ys and min(y for y in ys if y is not None) == pytest.approx(values.min())
    assert xs == sorted(xs)


def test_timeseries_is_svg_and_a_reasonable_size() -> None:
    n = 30 * 24 * 60
    data = frame(list(np.arange(n, dtype=float) % 97))
    fig = plots.timeseries(data, title="Throughput", unit="req/min")
    assert [t.type for t in fig.data] == ["scatter"]  # never one WebGL context per figure
    assert fig.data[0].connectgaps is False
    assert len(fig.to_json()) < 120_000  # 43,200 points would be over a megabyte
    assert "NaN" not in json.dumps(fig.to_plotly_json()["data"], default=str)


def test_time_ticks_for_a_minute_and_for_ninety_days() -> None:
    one = plots.timeseries(frame([1.0]), title="x", unit="")
    axis = one.layout.xaxis
    assert axis.type == "date"
    low, high = (pd.Timestamp(v) for v in axis.range)
    assert high - low == pd.Timedelta(minutes=1)  # not a single instant with 1 ms ticks
    assert axis.tickformatstops[0].value == "%H:%M:%S"  # never fractions
    long = plots.timeseries(frame([1.0, 2.0], step_s=90 * 86400), title="x", unit="")
    assert long.layout.xaxis.tickformatstops[-1].value == "%b %Y"


def test_an_empty_chart_says_so_without_a_broken_axis() -> None:
    empty = plots.timeseries(
        frame([]).astype({"value": float}), title="x", unit="%", threshold=5, empty_note="none"
    )
    assert empty.layout.annotations[-1].text == "none"
    assert list(empty.layout.yaxis.range) == [0, 6.0]


def test_a_one_minute_search_gets_a_minute_wide_axis() -> None:
    from sreworkbook.incidents.view import lines_figure

    counts = pd.DataFrame({"minute": [pd.Timestamp(T0)], "level": ["error"], "lines": [3]})
    axis = lines_figure(counts, "Lines matching x").layout.xaxis
    low, high = (pd.Timestamp(v) for v in axis.range)
    assert (low, high - low) == (pd.Timestamp(T0), pd.Timedelta(minutes=1))
    assert axis.tickformatstops[0].value == "%H:%M:%S"
