"""The dashboard's figures and tables, from loaded :class:`DashboardData`."""

from __future__ import annotations

import html
from collections.abc import Sequence

import pandas as pd
import plotly.graph_objects as go

from sreworkbook import plots
from sreworkbook.config import Thresholds
from sreworkbook.dashboard.compute import DashboardData
from sreworkbook.known_incidents import Incident, overlapping
from sreworkbook.sources.panels import empty_frame

__all__ = ["comparison_table", "panel_figure", "slo_table", "top_routes_table"]

#: Chart name → (title, unit).
PANEL_TITLES: dict[str, tuple[str, str]] = {
    "latency": ("API response time (p50 / p95 / p99)", "ms"),
    "error_rate": ("Error rate (5xx)", "%"),
    "rpm": ("Throughput", "req/min"),
    "db_p95": ("Database query time (p95)", "ms"),
    "mem_pct": ("Memory use", "%"),
    "cpu_pct": ("CPU use", "%"),
    "active_users": ("Active users", "users"),
    "route_p95": ("p95 per route", "ms"),
    "route_errors": ("5xx per minute by route", "errors/min"),
}


def _threshold(name: str, thresholds: Thresholds) -> float | None:
    return {
        "latency": thresholds.p95_latency_warn_s * 1000,
        "error_rate": thresholds.error_rate_crit * 100,
        "mem_pct": thresholds.memory_crit_pct,
        "cpu_pct": thresholds.cpu_crit_pct,
    }.get(name)


def panel_figure(
    data: DashboardData,
    name: str,
    *,
    thresholds: Thresholds,
    incidents: Sequence[Incident] = (),
    route: str | None = None,
) -> go.Figure:
    """One chart: ``latency`` combines p50/p95/p99; others are single panels."""
    title, unit = PANEL_TITLES[name]
    shift = data.window.start - data.previous.start
    shaded = overlapping(incidents, data.window.start, data.window.end)
    previous: pd.DataFrame | None
    if name == "latency":
        parts = []
        for q in ("p50", "p95", "p99"):
            frame = data.panels.get(f"latency_{q}", empty_frame())
            parts.append(frame.assign(series=q))
        frame = pd.concat(parts, ignore_index=True)
        previous = data.previous_panels.get("latency_p95", empty_frame()).assign(series="p95")
    else:
        frame = data.panels.get(name, empty_frame())
        previous = data.previous_panels.get(name)
        if route and name.startswith("route_") and "series" in frame:
            frame = frame[frame["series"] == route]
            previous = previous[previous["series"] == route] if previous is not None else None
            title = f"{title.replace(' per route', '').replace(' by route', '')} — {route}"
    if name == "error_rate":
        frame = frame.assign(value=frame["value"] * 100)
        previous = previous.assign(value=previous["value"] * 100) if previous is not None else None
    return plots.timeseries(
        frame,
        title=title,
        unit=unit,
        previous=previous,
        shift=shift,
        threshold=_threshold(name, thresholds),
        incidents=shaded,
        empty_note=f"no data from {data.backend} for {name}",
    )


def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    if unit == "%":
        return f"{value:.2%}"
    return f"{value:,.1f} {unit}".strip()


_COMPARED = (
    ("latency_p50", "p50 latency", "ms"),
    ("latency_p95", "p95 latency", "ms"),
    ("latency_p99", "p99 latency", "ms"),
    ("error_rate", "Error rate", "%"),
    ("rpm", "Throughput", "req/min"),
    ("db_p95", "DB query p95", "ms"),
    ("mem_pct", "Memory (peak)", "% "),
    ("cpu_pct", "CPU (avg)", "% "),
    ("active_users", "Active users (avg)", ""),
)


def comparison_table(data: DashboardData) -> pd.DataFrame:
    """This window against the previous period: value, previous value, change."""
    rows = []
    for panel, label, unit in _COMPARED:
        now, then = data.overall.get(panel), data.previous_overall.get(panel)
        change = (now - then) / then if now is not None and then not in (None, 0) else None
        rows.append(
            {
                "metric": label,
                "this period": _fmt(now, unit),
                "previous period": _fmt(then, unit),
                "change": f"{change:+.1%}" if change is not None else "—",
            }
        )
    return pd.DataFrame(rows).set_index("metric")


def slo_table(data: DashboardData) -> str:
    """The SLOs as an HTML table coloured by status."""
    if not data.slos:
        return "<p>No SLOs are set for this environment (parameter file, <code>slos:</code>).</p>"
    rows = "".join(
        f"<tr><td><span class='swb-badge' style='background:{s.status.colour}'>{s.status.value}"
        f"</span></td><td>{html.escape(s.name)}</td><td>{s.objective:.2%}</td>"
        f"<td>{_fmt(s.compliance, '%')}</td><td>{_fmt(s.budget_left, '%')}</td>"
        f"<td>{'—' if s.burn_rate_now is None else f'{s.burn_rate_now:.2f}×'}</td>"
        f"<td>{s.total:,.0f}</td><td>{s.bad:,.0f}</td><td>{html.escape(s.note)}</td></tr>"
        for s in data.slos
    )
    return (
        "<table><thead><tr><th>Status</th><th>SLO</th><th>Objective</th><th>Compliance</th>"
        "<th>Error budget left</th><th>Burn rate (last hour)</th><th>Requests</th><th>Bad</th>"
        f"<th></th></tr></thead><tbody>{rows}</tbody></table>"
    )


def top_routes_table(data: DashboardData, n: int = 5) -> pd.DataFrame:
    """Top routes by 5xx count, then by p95."""
    return data.top_routes(n).rename(columns={"errors": "5xx errors", "p95_ms": "p95 (ms)"})
