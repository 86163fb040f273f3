"""The incident explorer's tables and charts, from an :class:`Exploration` and a :class:`LineUp`."""

from __future__ import annotations

import html
from collections.abc import Sequence
from datetime import datetime

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from sreworkbook import plots
from sreworkbook.config import Thresholds
from sreworkbook.incidents.errors import ErrorGroup
from sreworkbook.incidents.exploration import Exploration
from sreworkbook.incidents.lineup import LineUp
from sreworkbook.incidents.trace import Trace
from sreworkbook.known_incidents import Incident, overlapping
from sreworkbook.timeutil import human_time

__all__ = [
    "error_groups_table",
    "lines_figure",
    "lineup_figure",
    "requests_table",
    "search_figure",
    "search_table",
    "top_routes_table",
    "top_users_table",
    "trace_table",
]

_LEVEL_COLOURS = {"error": "#cf222e", "warn": "#b58100", "info": "#0969da", "http": "#8250df"}
_NOTE = "<p><i>{}</i></p>"
#: Tables of long messages and stack frames wrap inside the page instead of widening it.
_FIT = "width:100%;table-layout:auto;overflow-wrap:anywhere;word-break:break-word"


def _when(moment: datetime) -> str:
    """A time as people read it in the tables: ``2026-12-06 14:20:15 UTC``."""
    return human_time(moment, seconds=True)


def lineup_figure(
    lineup: LineUp, *, thresholds: Thresholds, incidents: Sequence[Incident] = ()
) -> go.Figure:
    """Error rate (top) and p95 (bottom) from the logs and from the metrics, one time axis."""
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08,
                        subplot_titles=("Error rate (5xx share)", "Response time p95"))  # fmt: skip
    sources = ["logs", *([lineup.metrics_source] if lineup.metrics_source else [])]
    styles = {
        "logs": {"color": "#0969da"},
        lineup.metrics_source: {"color": "#cf222e", "dash": "dot"},
    }
    for row, (signal, scale, unit) in enumerate(
        (("error_rate", 100.0, "%"), ("p95_ms", 1.0, "ms")), 1
    ):
        for source in sources:
            series = lineup.series(source, signal)
            fig.add_trace(
                go.Scatter(
                    x=series.index, y=series.to_numpy() * scale, mode="lines+markers",
                    name=f"{source}: {signal.replace('_', ' ')}", line=styles[source],
                    hovertemplate="%{x}<br>%{y:,.2f} " + unit + f"<extra>{source}</extra>",
                ),
                row=row, col=1,
            )  # fmt: skip
        fig.update_yaxes(title_text=unit, rangemode="tozero", row=row, col=1)
    fig.add_hline(y=thresholds.error_rate_crit * 100, line_dash="dash", line_color="#cf222e",
                  annotation_text="error-rate threshold", row=1, col=1)  # fmt: skip
    fig.add_hline(y=thresholds.p95_latency_warn_s * 1000, line_dash="dash", line_color="#b58100",
                  annotation_text="p95 threshold", row=2, col=1)  # fmt: skip
    plots.shade_incidents(fig, overlapping(incidents, lineup.start, lineup.end))
    if lineup.note:
        fig.add_annotation(text=lineup.note[:120], showarrow=False, x=0.5, y=1.12, xref="paper",
                           yref="paper", font={"size": 12, "color": "#6e40c9"})  # fmt: skip
    return plots.apply_theme(fig, height=560)


def _group_row(group: ErrorGroup) -> str:
    stack = (
        f"<details><summary>stack</summary><pre>{html.escape(group.example_stack)}</pre></details>"
        if group.example_stack
        else ""
    )
    routes = ", ".join(f"{r} ({n})" for r, n in group.routes[:3])
    where = html.escape(group.frame.removeprefix("at ")) if group.frame else "—"
    return (
        f"<tr><td>{group.count:,}</td><td>{group.requests:,}</td><td>{_when(group.first_seen)}"
        f"</td><td>{_when(group.last_seen)}</td><td>{html.escape(group.example)}{stack}</td>"
        f"<td><code>{where}</code></td><td>{html.escape(routes)}</td></tr>"
    )


def error_groups_table(found: Exploration, top: int = 10) -> str:
    """The largest error groups: count, requests, first and last seen, example, stack (folded)."""
    groups = found.summary.groups if found.summary is not None else ()
    if not groups:
        return _NOTE.format("No error lines in the window.")
    head = "".join(
        f"<th>{h}</th>"
        for h in ("lines", "requests", "first seen", "last seen", "error", "thrown at", "routes")
    )
    rows = "".join(_group_row(g) for g in groups[:top])
    more = f"<p>{len(groups) - top} smaller groups not shown.</p>" if len(groups) > top else ""
    return f'<table class="error-groups" style="{_FIT}"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>{more}'


def _ranked_table(pairs: Sequence[tuple[str, int]], name: str, total: int) -> pd.DataFrame:
    table = pd.DataFrame(pairs[:10], columns=[name, "failed requests"])
    table["% of failed"] = (100 * table["failed requests"] / total).round(1) if total else 0.0
    return table.set_index(name)


def top_routes_table(found: Exploration) -> pd.DataFrame:
    """Routes by failed requests (distinct correlation IDs), most first, with the statuses
    their completion lines carried (``500 ×37``)."""
    s = found.summary
    table = _ranked_table(s.affected_routes if s else (), "route", s.failed_requests if s else 0)
    statuses = s.route_statuses if s else {}
    table["statuses"] = [
        ", ".join(f"{code} ×{n:,}" for code, n in statuses.get(str(route), ())) or "—"
        for route in table.index
    ]
    return table


def top_users_table(found: Exploration) -> pd.DataFrame:
    """Users by failed requests, most first (how many users were hit in all, in the heading)."""
    s = found.summary
    return _ranked_table(s.top_users if s else (), "user", s.failed_requests if s else 0)


def trace_table(trace: Trace | None) -> str:
    """Every line of the traced request in time order, with the time since the line before."""
    if trace is None:
        return _NOTE.format("No failing request to trace in the window.")
    if not trace.lines:
        return _NOTE.format(f"No lines for correlation ID {html.escape(trace.correlation_id)}.")
    rows = "".join(
        f"<tr><td>{_when(r['ts'])}</td><td>+{r['step_ms']:,.0f} ms</td>"
        f"<td>{r['elapsed_ms']:,.0f} ms</td><td>{html.escape(str(r['level']))}</td>"
        f"<td>{html.escape(str(r['message']))}</td><td>{_text(r['url'])}</td>"
        f"<td>{_text(r['statusCode'])}</td><td>{_text(r['duration_ms'], ' ms')}</td>"
        f"<td>{html.escape(str(r['file']))}</td></tr>"
        for r in trace.frame.to_dict("records")
    )
    head = "".join(
        f"<th>{h}</th>"
        for h in ("time", "step", "elapsed", "level", "message", "url", "status", "took", "file")
    )
    status = trace.status if trace.status is not None else "—"
    return (
        f"<p>Request <code>{html.escape(trace.correlation_id)}</code>: {trace.lines} lines, "
        f"{trace.duration_ms:,.0f} ms, status {status}, services "
        f"{html.escape(', '.join(trace.services))}.</p>"
        f'<table class="trace" style="{_FIT}" data-correlation-id="{html.escape(trace.correlation_id)}">'
        f"<thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"
    )


def _text(value: object, unit: str = "") -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and value != value):
        return ""
    if isinstance(value, float):
        return f"{value:,.0f}{unit}"
    return html.escape(str(value)) + unit


def requests_table(found: Exploration, which: str = "slowest") -> pd.DataFrame:
    """The ``slowest`` or ``failing`` requests around the moment in focus."""
    around = found.around
    if around is None:
        return pd.DataFrame()
    frame = around.slowest if which == "slowest" else around.failing
    table = pd.DataFrame(
        {
            "time": frame["ts"].map(_when),
            "correlation ID": frame["correlationId"],
            "request": frame["method"].astype(str) + " " + frame["route"].astype(str),
            "status": frame["statusCode"],
            "took (ms)": frame["duration_ms"].round(0),
            "user": frame["userId"],
        }
    )
    return table.set_index("time")


def search_table(found: Exploration) -> pd.DataFrame:
    """The lines the search matched (the first few hundred), times as RFC 3339."""
    frame = found.search
    if frame.empty:
        return frame
    return frame.assign(ts=frame["ts"].map(_when)).set_index("ts")


def search_figure(found: Exploration) -> go.Figure:
    """Matching lines per minute, one bar colour per level."""
    return lines_figure(found.search_counts, f"Lines matching {found.search_label}")


def lines_figure(counts: pd.DataFrame, title: str) -> go.Figure:
    """Lines per minute (``minute``, ``level``, ``lines``), one bar colour per level."""
    fig = go.Figure()
    for level, part in counts.groupby("level", sort=False) if len(counts) else ():
        fig.add_trace(
            go.Bar(x=part["minute"], y=part["lines"], name=str(level),
                   marker_color=_LEVEL_COLOURS.get(str(level), "#6e7781"))
        )  # fmt: skip
    fig.update_layout(barmode="stack")
    fig.update_yaxes(title_text="lines per minute")
    if counts.empty:
        fig.add_annotation(text="no matching lines", showarrow=False, x=0.5, y=0.5,
                           xref="paper", yref="paper")  # fmt: skip
        fig.update_xaxes(visible=False)
    else:  # a minute's bar spans its minute: a one-minute search gets seconds, not ms, ticks
        first, last = pd.Timestamp(counts["minute"].min()), pd.Timestamp(counts["minute"].max())
        plots.time_axis(fig, first, last + pd.Timedelta(minutes=1))
    return plots.apply_theme(fig, title=title, height=300)
