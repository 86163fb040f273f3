"""Load every panel for a window and its comparison period, then judge it against thresholds."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pandas as pd

from sreworkbook import timeutil
from sreworkbook.config import SLOConfig, Thresholds
from sreworkbook.dashboard.slo import SLOResult, evaluate_slo
from sreworkbook.exceptions import ParameterError, SourceError
from sreworkbook.results import Conclusion, Finding, Status, worst
from sreworkbook.sources.panels import PANELS, ROUTE_PANELS, MetricsBackend, empty_frame
from sreworkbook.timeutil import human_span, parse_duration

__all__ = [
    "MAX_POINTS_PER_PANEL",
    "DashboardData",
    "Window",
    "assess",
    "compare_offset",
    "load_dashboard",
    "resolve_window",
]

#: A panel over more points than this is refused (a step too small for the window).
MAX_POINTS_PER_PANEL = 200_000
#: The detail of a panel whose query worked but matched nothing (not a failure to read).
NO_SERIES = "the query returned no series"

#: The summary's metric names, from the panels' overall values.
SUMMARY_METRICS = {
    "p50_ms": "latency_p50",
    "p95_ms": "latency_p95",
    "p99_ms": "latency_p99",
    "error_rate": "error_rate",
    "rpm": "rpm",
    "db_p95_ms": "db_p95",
    "mem_pct": "mem_pct",
    "cpu_pct": "cpu_pct",
    "active_users": "active_users",
}


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime
    step_s: float

    @property
    def seconds(self) -> float:
        return (self.end - self.start).total_seconds()

    def shifted(self, by: timedelta) -> Window:
        return Window(self.start - by, self.end - by, self.step_s)

    def label(self) -> str:
        """The window as a person reads it: ``2026-12-07 03:53 – 04:53 UTC``."""
        return human_span(self.start, self.end)


def resolve_window(*, start: str, end: str, window: str, step: str, now: datetime) -> Window:
    """The window the parameters describe; bad values raise naming the parameter.

    ``start``/``end`` win over ``window`` (``end`` defaults to now, ``start`` to end − window);
    ``step`` is a duration or ``auto`` (about 300 points per chart, at least 60 s).
    """
    start_at, end_at = timeutil.window(start=start, end=end, length=window, now=now)
    span = (end_at - start_at).total_seconds()
    if step in ("", "auto"):
        step_s = max(60.0, round(span / 300 / 60) * 60)
    else:
        step_s = parse_duration(step, name="step")
    if step_s <= 0:
        raise ParameterError("must be positive", key="step")
    if span / step_s > MAX_POINTS_PER_PANEL:
        raise ParameterError(
            f"{span / step_s:,.0f} points per panel is more than {MAX_POINTS_PER_PANEL:,}; "
            "use a larger step",
            key="step",
        )
    return Window(start_at, end_at, step_s)


@dataclass(frozen=True)
class DashboardData:
    """Everything the dashboard shows, fetched once."""

    backend: str
    window: Window
    previous: Window
    panels: Mapping[str, pd.DataFrame]
    previous_panels: Mapping[str, pd.DataFrame]
    overall: Mapping[str, float | None]
    previous_overall: Mapping[str, float | None]
    slos: tuple[SLOResult, ...]
    problems: tuple[Finding, ...] = field(default_factory=tuple)

    def top_routes(self, n: int = 5) -> pd.DataFrame:
        """Routes by error count and by p95 over the window."""
        errors = self.panels.get("route_errors", empty_frame())
        p95 = self.panels.get("route_p95", empty_frame())
        minutes = self.window.step_s / 60
        by_errors = (errors.groupby("series")["value"].sum() * minutes).rename("errors")
        by_p95 = p95.groupby("series")["value"].quantile(0.95).rename("p95_ms")
        table = pd.concat([by_errors, by_p95], axis=1).fillna(0.0)
        table.index.name = "route"
        return table.sort_values(["errors", "p95_ms"], ascending=False).head(n).round(1)


def load_dashboard(
    backend: MetricsBackend,
    window: Window,
    *,
    slos: Sequence[SLOConfig] = (),
    compare: timedelta = timedelta(days=7),
    workers: int = 6,
) -> DashboardData:
    """Fetch every panel and overall value for ``window`` and ``window - compare``, in parallel.

    A failing query costs its panel, not the dashboard: the panel is left empty and the
    failure becomes a finding (the status turns UNKNOWN).
    """
    previous = window.shifted(compare)
    problems: list[Finding] = []

    def panel(task: tuple[str, Window]) -> pd.DataFrame:
        name, span = task
        try:
            return backend.panel(name, span.start, span.end, span.step_s)
        except SourceError as exc:
            problems.append(Finding(Status.UNKNOWN, f"No data for {name}", str(exc)))
            return empty_frame()

    def overall(task: tuple[str, Window]) -> float | None:
        name, span = task
        try:
            return backend.overall(name, span.start, span.end)
        except SourceError as exc:
            problems.append(Finding(Status.UNKNOWN, f"No overall value for {name}", str(exc)))
            return None

    names = PANELS + ROUTE_PANELS
    last_hour_start = max(window.start, window.end - timedelta(hours=1))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        current = pool.map(panel, [(n, window) for n in names])
        before = pool.map(panel, [(n, previous) for n in PANELS])
        now_overall = pool.map(overall, [(n, window) for n in PANELS])
        then_overall = pool.map(overall, [(n, previous) for n in PANELS])
        counted = []
        for slo in slos:
            counted.append(
                (
                    slo,
                    pool.submit(
                        backend.counts, window.start, window.end, threshold_s=slo.threshold_s
                    ),
                    pool.submit(
                        backend.counts, last_hour_start, window.end, threshold_s=slo.threshold_s
                    ),
                )
            )
        panels = dict(zip(names, current, strict=True))
        previous_panels = dict(zip(PANELS, before, strict=True))
        overall_now = dict(zip(PANELS, now_overall, strict=True))
        overall_then = dict(zip(PANELS, then_overall, strict=True))
        results = []
        for slo, whole, recent in counted:
            try:
                results.append(evaluate_slo(slo, whole.result(), recent.result()))
            except SourceError as exc:
                problems.append(Finding(Status.UNKNOWN, f"SLO {slo.name} not computed", str(exc)))
    for name in PANELS:
        if panels[name].empty and not any(name in f.title for f in problems):
            problems.append(Finding(Status.UNKNOWN, f"No data for {name}", NO_SERIES))
    return DashboardData(
        backend=backend.name,
        window=window,
        previous=previous,
        panels=panels,
        previous_panels=previous_panels,
        overall=overall_now,
        previous_overall=overall_then,
        slos=tuple(results),
        problems=tuple(sorted(problems, key=lambda f: f.title)),
    )


def assess(data: DashboardData, thresholds: Thresholds) -> Conclusion:
    """Status, headline, summary metrics and findings from the seed's thresholds.

    Error rate over the window above ``error_rate_crit`` is CRIT, p95 above
    ``p95_latency_warn_s`` WARN, memory above ``memory_crit_pct`` CRIT (``memory_warn_pct``
    WARN), an SLO's own status, and UNKNOWN for panels without data.
    """
    o = data.overall
    findings: list[Finding] = []

    def check(value: float | None, limit: float, status: Status, title: str, shown: str) -> None:
        if value is not None and value > limit:
            findings.append(Finding(status, title, shown))

    check(
        o.get("error_rate"),
        thresholds.error_rate_crit,
        Status.CRIT,
        "Error rate above threshold",
        f"{(o.get('error_rate') or 0):.2%} of requests failed (threshold {thresholds.error_rate_crit:.0%})",
    )
    check(
        o.get("latency_p95"),
        thresholds.p95_latency_warn_s * 1000,
        Status.WARN,
        "p95 latency above threshold",
        f"p95 {(o.get('latency_p95') or 0):,.0f} ms (threshold {thresholds.p95_latency_warn_s * 1000:,.0f} ms)",
    )
    memory = o.get("mem_pct")
    if memory is not None and memory > thresholds.memory_crit_pct:
        findings.append(Finding(Status.CRIT, "Memory above threshold", f"peak {memory:.1f} %"))
    elif memory is not None and memory > thresholds.memory_warn_pct:
        findings.append(Finding(Status.WARN, "Memory high", f"peak {memory:.1f} %"))
    for slo in data.slos:
        if slo.status is not Status.OK:
            detail = slo.note or (
                f"compliance {slo.compliance:.3%}, budget left {slo.budget_left:.0%}, "
                f"burn rate now {slo.burn_rate_now or 0:.1f}×"
            )
            findings.append(Finding(slo.status, f"SLO {slo.name} ({slo.objective:.2%})", detail))
    findings.extend(_by_cause(data.problems))
    status = worst((f.severity for f in findings), default=Status.OK)
    metrics: dict[str, float] = {}
    for name, panel in SUMMARY_METRICS.items():
        value = o.get(panel)
        if value is not None:
            metrics[name] = float(value)
    availability = next((s for s in data.slos if s.kind == "availability"), None)
    if availability is not None and availability.compliance is not None:
        metrics["availability"] = availability.compliance
        metrics["budget_left"] = availability.budget_left or 0.0
    headline = _headline(status, metrics, data)
    return Conclusion(status, headline, metrics, tuple(findings))


#: Panels failing for one cause beyond this many are one finding (a dead server is one problem).
_GROUPED_FROM = 3


def _by_cause(problems: Sequence[Finding]) -> list[Finding]:
    """The panels' problems, those of many panels with one cause as one finding naming them."""
    panels: dict[tuple[Status, str], set[str]] = {}

    def about_a_panel(f: Finding) -> bool:
        return f.title.startswith(("No data for ", "No overall value for "))

    for f in filter(about_a_panel, problems):
        panels.setdefault((f.severity, f.detail), set()).add(f.title.rsplit(" ", 1)[1])
    kept = [
        f
        for f in problems
        if not about_a_panel(f) or len(panels[(f.severity, f.detail)]) < _GROUPED_FROM
    ]
    for (severity, detail), names in panels.items():
        if len(names) >= _GROUPED_FROM:
            shown = ", ".join(sorted(names)[:6]) + (", …" if len(names) > 6 else "")
            kept.append(Finding(severity, f"No data for {len(names)} panels ({shown})", detail))
    return kept


def _headline(status: Status, metrics: Mapping[str, float], data: DashboardData) -> str:
    span = _span(data.window.seconds)
    if "p95_ms" not in metrics and "error_rate" not in metrics:
        unread = [f.detail for f in data.problems if f.detail != NO_SERIES]
        if unread:
            drawn = sum(not frame.empty for frame in data.panels.values())
            return (
                f"Could not read request metrics from {data.backend} "
                f"({drawn} of {len(data.panels)} panels drawn): "
                + unread[0].removeprefix(f"{data.backend}: ")
            )
        return f"No request metrics from {data.backend} for the last {span}."
    parts = []
    if "availability" in metrics:
        parts.append(f"availability {metrics['availability']:.3%}")
    if "error_rate" in metrics:
        parts.append(f"errors {metrics['error_rate']:.2%}")
    if "p95_ms" in metrics:
        parts.append(f"p95 {metrics['p95_ms']:,.0f} ms")
    if "rpm" in metrics:
        parts.append(f"{metrics['rpm']:,.0f} req/min")
    verdict = {
        Status.OK: "within thresholds",
        Status.WARN: "needs a look",
        Status.CRIT: "breached thresholds",
        Status.UNKNOWN: "incomplete data",
    }.get(status, "")
    return f"Last {span}: " + ", ".join(parts) + f" — {verdict}."


def _span(seconds: float) -> str:
    if seconds % 86400 == 0:
        days = int(seconds // 86400)
        return f"{days} day{'s' if days > 1 else ''}" if days != 1 else "24 h"
    if seconds >= 3600:
        return f"{seconds / 3600:g} h"
    return f"{seconds / 60:g} min"


def compare_offset(text: str, window: Window) -> timedelta:
    """How far back the comparison period lies: ``auto`` is a week, or the window if longer."""
    if text in ("", "auto"):
        return timedelta(seconds=max(7 * 86400.0, window.seconds))
    return timedelta(seconds=parse_duration(text, name="compare"))
