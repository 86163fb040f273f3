"""Plotly figure builders with the workbook's one theme."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from sreworkbook.known_incidents import Incident
from sreworkbook.results import Status

__all__ = [
    "MAX_POINTS",
    "STATUS_COLOURS",
    "TIME_TICKS",
    "WEB_VITALS",
    "apply_theme",
    "line_points",
    "shade_incidents",
    "status_bar",
    "time_axis",
    "timeseries",
    "web_vitals",
    "web_vitals_rating",
]

STATUS_COLOURS = {status.value: status.colour for status in Status}

_FONT = "system-ui, -apple-system, Segoe UI, Roboto, sans-serif"


#: The most points one line is drawn with: a chart is at most ~1,200 px wide, and the lowest
#: and highest value of each pixel column keep every spike a longer series has.
MAX_POINTS = 2400

#: Time-axis labels by tick spacing, from a minute (seconds) to 90 days (months), never
#: fractions of a second.
TIME_TICKS = [
    {"dtickrange": [None, 60_000], "value": "%H:%M:%S"},
    {"dtickrange": [60_000, 86_400_000], "value": "%H:%M<br>%b %-d"},
    {"dtickrange": [86_400_000, "M1"], "value": "%b %-d"},
    {"dtickrange": ["M1", None], "value": "%b %Y"},
]


def line_points(
    timestamps: pd.Series | Sequence[datetime],
    values: pd.Series | Sequence[float],
    *,
    points: int = MAX_POINTS,
) -> tuple[list[str], list[float | None]]:
    """A line's x (UTC times, ``2026-11-01 00:00:00``) and y as plotly draws them: no NaN (missing or non-finite values are left
    out), a ``None`` where the data has a gap (a step over twice the usual one) so the line
    breaks there instead of joining across it, and at most about ``points`` points — the
    lowest and highest of each time bucket, in time order, so no spike is lost. Values keep
    six significant digits (the report stays as small as with binary arrays)."""
    t = pd.to_datetime(pd.Series(timestamps), utc=True).to_numpy(dtype="datetime64[ns]")
    v = pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(dtype=np.float64)
    timed = ~np.isnat(t)
    t, v = t[timed].astype(np.int64), v[timed]
    order = np.argsort(t, kind="stable")
    t, v = t[order], v[order]
    steps = np.diff(t)
    usual = float(np.median(steps)) if len(steps) else 0.0
    kept = np.flatnonzero(np.isfinite(v))  # a missing or non-finite value is a gap
    t, v = t[kept], v[kept]
    if len(t) == 0:
        return [], []
    holes = (
        (np.diff(t).astype(np.float64) > 2 * usual)
        if usual > 0
        else np.zeros(len(t) - 1, dtype=bool)
    )
    breaks = np.flatnonzero(holes | (np.diff(kept) > 1)) + 1
    span = max(int(t[-1] - t[0]), 1)
    xs: list[str] = []
    ys: list[float | None] = []
    last = 0
    for part_t, part_v in zip(np.split(t, breaks), np.split(v, breaks), strict=True):
        if xs:  # the break, half-way across the hole
            xs.append(_ns_time((last + int(part_t[0])) // 2))
            ys.append(None)
        last = int(part_t[-1])
        budget = max(2, int(points * max(int(part_t[-1] - part_t[0]), 1) / span))
        chosen = _extremes(part_t, part_v, budget) if len(part_t) > budget else slice(None)
        xs += [_ns_time(int(x)) for x in part_t[chosen]]
        ys += [float(f"{y:.6g}") for y in part_v[chosen]]  # what a chart shows, not 17 digits
    return xs, ys


def _gapped_line(times: pd.Series, values: pd.Series, **style: Any) -> go.Scatter:
    """One series as a line (thinned by :func:`line_points`) that breaks where samples stop."""
    xs, ys = line_points(times, values)
    return go.Scatter(x=xs, y=ys, mode="lines", connectgaps=False, **style)


def _ns_time(ns: int) -> str:
    """A UTC time as plotly reads it, to the second (shorter than ISO with an offset)."""
    return f"{pd.Timestamp(ns, tz='UTC'):%Y-%m-%d %H:%M:%S}"


def _extremes(t: np.ndarray, v: np.ndarray, budget: int) -> np.ndarray:
    """Indices of the lowest and highest value of each of ``budget // 2`` time buckets."""
    buckets = max(1, budget // 2)
    width = max(int(t[-1] - t[0]) + 1, 1)
    index = np.minimum(
        ((t - t[0]).astype(np.float64) * buckets / width).astype(np.int64), buckets - 1
    )
    frame = pd.DataFrame({"bucket": index, "v": v})
    grouped = frame.groupby("bucket")["v"]
    chosen = np.union1d(grouped.idxmin().to_numpy(), grouped.idxmax().to_numpy())
    return chosen.astype(np.int64)


def time_axis(
    fig: go.Figure,
    start: datetime | pd.Timestamp | None = None,
    end: datetime | pd.Timestamp | None = None,
) -> None:
    """Date ticks that suit any window from a minute to 90 days; the axis spans at least a
    minute (one point alone would otherwise get ticks a millisecond apart)."""
    fig.update_xaxes(type="date", tickformatstops=TIME_TICKS)
    if start is not None and end is not None:
        first, last = pd.Timestamp(start), pd.Timestamp(end)
        if last - first < pd.Timedelta(minutes=1):
            middle = first + (last - first) / 2
            first, last = middle - pd.Timedelta(seconds=30), middle + pd.Timedelta(seconds=30)
        fig.update_xaxes(range=[first.to_pydatetime(warn=False), last.to_pydatetime(warn=False)])


def apply_theme(fig: go.Figure, *, title: str | None = None, height: int = 360) -> go.Figure:
    """``fig`` styled like every other workbook chart (changed in place and returned)."""
    fig.update_layout(
        template="plotly_white",
        title={"text": title, "x": 0.01} if title else None,
        font={"family": _FONT, "size": 13},
        height=height,
        margin={"l": 60, "r": 20, "t": 50 if title else 20, "b": 40},
        legend={"orientation": "h", "y": -0.2},
        hoverlabel={"font": {"family": _FONT}},
    )
    return fig


def status_bar(
    labels: Sequence[str],
    values: Sequence[float | None],
    statuses: Sequence[Status],
    *,
    title: str,
    unit: str,
) -> go.Figure:
    """A horizontal bar per item, coloured by its status (e.g. latency per check)."""
    fig = go.Figure(
        go.Bar(
            x=[v if v is not None else 0 for v in values],
            y=list(labels),
            orientation="h",
            marker={"color": [s.colour for s in statuses]},
            text=[f"{v:,.0f} {unit}" if v is not None else "—" for v in values],
            textposition="auto",
            hovertemplate="%{y}: %{x:,.1f} " + unit + "<extra></extra>",
        )
    )
    fig.update_yaxes(autorange="reversed")
    fig.update_xaxes(title_text=unit)
    return apply_theme(fig, title=title, height=max(240, 26 * len(labels) + 90))


def shade_incidents(fig: go.Figure, incidents: Sequence[Incident]) -> go.Figure:
    """Shade each incident's window on ``fig`` and label it (changed in place)."""
    for incident in incidents:
        fig.add_vrect(
            x0=incident.start,
            x1=incident.end,
            fillcolor="#cf222e",
            opacity=0.10,
            line_width=0,
            annotation_text=incident.name,
            annotation_position="top left",
            annotation_font_size=10,
        )
    return fig


def timeseries(
    frame: pd.DataFrame,
    *,
    title: str,
    unit: str,
    previous: pd.DataFrame | None = None,
    shift: timedelta | None = None,
    threshold: float | None = None,
    incidents: Sequence[Incident] = (),
    empty_note: str = "",
) -> go.Figure:
    """Lines per ``series`` of a tidy frame; the previous period dotted, shifted onto this one."""
    fig = go.Figure()
    for name, part in frame.groupby("series", sort=True):
        fig.add_trace(
            _gapped_line(
                part["timestamp"],
                part["value"],
                name=str(name),
                hovertemplate="%{x}<br>%{y:,.2f} " + unit + "<extra>" + str(name) + "</extra>",
            )
        )
    if previous is not None and not previous.empty and shift is not None:
        for name, part in previous.groupby("series", sort=True):
            fig.add_trace(
                _gapped_line(
                    part["timestamp"] + shift,
                    part["value"],
                    name=f"{name} (previous period)",
                    line={"dash": "dot", "color": "#8c959f"},
                )
            )
    if threshold is not None:
        fig.add_hline(
            y=threshold,
            line_dash="dash",
            line_color="#cf222e",
            annotation_text=f"threshold {threshold:g} {unit}",
        )
    if frame.empty:
        fig.add_annotation(
            text=empty_note or "no data",
            showarrow=False,
            x=0.5,
            y=0.5,
            xref="paper",
            yref="paper",
            font={"size": 14, "color": "#6e40c9"},
        )
    shade_incidents(fig, incidents)
    fig.update_yaxes(title_text=unit, rangemode="tozero")
    if frame.empty:
        fig.update_yaxes(range=[0, max(threshold or 0.0, 1.0) * 1.2])
        fig.update_xaxes(visible=False)
    else:
        time_axis(fig, frame["timestamp"].min(), frame["timestamp"].max())
    return apply_theme(fig, title=title)


#: Google's Core Web Vitals thresholds at p75: (good up to, poor above), in panel units.
WEB_VITALS = {
    "lcp_p75": ("LCP", "ms", 2500.0, 4000.0),
    "inp_p75": ("INP", "ms", 200.0, 500.0),
    "cls_p75": ("CLS", "", 0.1, 0.25),
}


def web_vitals_rating(panel: str, value: float) -> tuple[str, str]:
    """Google's rating of a p75 web vital and its colour."""
    _, _, good, poor = WEB_VITALS[panel]
    if value <= good:
        return "good", "#1a7f37"
    if value <= poor:
        return "needs improvement", "#b58100"
    return "poor", "#cf222e"


def web_vitals(values: Mapping[str, float | None]) -> go.Figure:
    """One indicator per Core Web Vital at p75, coloured good / needs improvement / poor."""
    fig = go.Figure()
    for column, (panel, (label, unit, good, poor)) in enumerate(WEB_VITALS.items()):
        value = values.get(panel)
        rating, colour = (
            web_vitals_rating(panel, value) if value is not None else ("no data", "#6e7781")
        )
        fig.add_trace(
            go.Indicator(
                mode="number+gauge",
                value=value if value is not None else 0,
                number={
                    "suffix": f" {unit}" if unit else "",
                    "valueformat": ",.3~f" if not unit else ",.0f",
                },
                title={
                    "text": f"{label} p75<br><span style='font-size:0.8em;color:{colour}'>{rating}</span>"
                },
                gauge={
                    "axis": {"range": [0, poor * 1.5]},
                    "bar": {"color": colour},
                    "steps": [
                        {"range": [0, good], "color": "#dafbe1"},
                        {"range": [good, poor], "color": "#fff8c5"},
                        {"range": [poor, poor * 1.5], "color": "#ffebe9"},
                    ],
                },
                domain={"row": 0, "column": column},
            )
        )
    fig.update_layout(grid={"rows": 1, "columns": 3, "pattern": "independent"})
    return apply_theme(fig, height=260)
