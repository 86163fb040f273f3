"""Plotly figure builders with the workbook's one theme."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta

import pandas as pd
import plotly.graph_objects as go

from sreworkbook.known_incidents import Incident
from sreworkbook.results import Status

__all__ = [
    "STATUS_COLOURS",
    "WEB_VITALS",
    "apply_theme",
    "shade_incidents",
    "status_bar",
    "timeseries",
    "web_vitals",
    "web_vitals_rating",
]

STATUS_COLOURS = {status.value: status.colour for status in Status}

_FONT = "system-ui, -apple-system, Segoe UI, Roboto, sans-serif"


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
            go.Scattergl(
                x=part["timestamp"],
                y=part["value"],
                mode="lines",
                name=str(name),
                hovertemplate="%{x}<br>%{y:,.2f} " + unit + "<extra>" + str(name) + "</extra>",
            )
        )
    if previous is not None and not previous.empty and shift is not None:
        for name, part in previous.groupby("series", sort=True):
            fig.add_trace(
                go.Scattergl(
                    x=part["timestamp"] + shift,
                    y=part["value"],
                    mode="lines",
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
