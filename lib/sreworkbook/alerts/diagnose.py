"""The diagnosis each seed alert's runbook notebook runs.

* :func:`high_error_rate` — the error rate and the routes that failed most;
* :func:`slow_api_response` — p95 overall and per route, and the database's p95 beside it;
* :func:`high_memory_usage` — the memory trend, its slope and the time left until full;
* :func:`database_issues` — MongoDB and Redis as the health checks see them now, connection
  failures and the slowest database operations over the window.

Each reads the environment's metrics backend (the dashboard's panels) and returns a
:class:`~sreworkbook.alerts.runbook.Diagnosis`; a query that fails becomes an UNKNOWN finding.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

import numpy as np
import pandas as pd

from sreworkbook.alerts.runbook import AlertContext, Diagnosis, clean, highest, panel
from sreworkbook.checks import mongo_check, redis_check, run_checks
from sreworkbook.config import Environment
from sreworkbook.exceptions import SourceError
from sreworkbook.results import Finding, Status, worst
from sreworkbook.sources.panels import MetricsBackend
from sreworkbook.sources.prometheus_panels import PrometheusBackend
from sreworkbook.timeutil import human_time

__all__ = ["database_issues", "high_error_rate", "high_memory_usage", "slow_api_response"]


def _share(part: float, whole: float) -> str:
    """``45% of the 28 failed requests were``, or ``the one failed request was``."""
    if round(whole) == 1:
        return "the one failed request was"
    return f"{part / whole:.0%} of the {whole:,.0f} failed requests were"


def high_error_rate(env: Environment, ctx: AlertContext, backend: MetricsBackend) -> Diagnosis:
    """The error rate over the window and the routes whose requests failed."""
    problems: list[Finding] = []
    limit = env.thresholds.error_rate_crit
    rate = panel(backend, "error_rate", ctx.window, problems)
    routes = panel(backend, "route_errors", ctx.window, problems)
    rate_pct = rate.assign(value=rate["value"] * 100)
    peak, when = highest(rate)
    minutes = ctx.window.step_s / 60
    by_route = (routes.groupby("series")["value"].sum() * minutes).sort_values(ascending=False)
    failed = float(by_route.sum())
    table = pd.DataFrame(
        {
            "failed requests": by_route.fillna(0).round(0).astype("int64"),
            "share of failures": (by_route / failed * 100).round(1) if failed else by_route * 0,
            "peak errors/min": routes.groupby("series")["value"]
            .max()
            .reindex(by_route.index)
            .round(1),
        }
    )
    table.index.name = "route"
    findings = list(problems)
    top = str(by_route.index[0]) if failed else ""
    if peak is not None and peak > limit:
        findings.append(
            Finding(
                Status.CRIT,
                "Error rate above the alert threshold",
                f"peak {peak:.1%} at {human_time(when) if when else '?'} (threshold {limit:.0%})",
            )
        )
    elif peak is not None and peak > limit / 2:
        findings.append(
            Finding(Status.WARN, "Error rate close to the threshold", f"peak {peak:.1%}")
        )
    if failed and by_route.iloc[0] / failed >= 0.5:
        findings.append(
            Finding(
                Status.WARN if findings else Status.OK,
                f"Failures concentrated on {top}",
                f"{by_route.iloc[0] / failed:.0%} of {failed:,.0f} failed requests",
            )
        )
    status = worst((f.severity for f in findings), default=Status.OK)
    headline = (
        "No error-rate data for this window."
        if peak is None
        else f"No request failed in this window (the alert fires above {limit:.0%})."
        if peak == 0 and not failed
        else f"The error rate peaked at {peak:.1%}"
        + (f" at {human_time(when)}" if when else "")
        + f" (the alert fires above {limit:.0%})"
        + (f"; {_share(by_route.iloc[0], failed)} on {top}." if failed else "; no request failed.")
    )
    metrics = {"peak_error_rate": peak, "failed_requests": failed}
    if failed:
        metrics["top_route_failure_share"] = float(by_route.iloc[0] / failed)
    return Diagnosis(
        status,
        headline,
        clean(metrics),
        tuple(findings),
        panels={"error_rate": rate_pct, "route_errors": routes},
        tables={"routes": table},
    )


def slow_api_response(env: Environment, ctx: AlertContext, backend: MetricsBackend) -> Diagnosis:
    """p95 overall and per route, and whether the database was slow too."""
    problems: list[Finding] = []
    limit_ms = env.thresholds.p95_latency_warn_s * 1000
    p95 = panel(backend, "latency_p95", ctx.window, problems)
    routes = panel(backend, "route_p95", ctx.window, problems)
    db = panel(backend, "db_p95", ctx.window, problems)
    peak, when = highest(p95)
    db_peak, _ = highest(db)
    table = (
        pd.DataFrame(
            {
                "median p95 (ms)": routes.groupby("series")["value"].median(),
                "worst p95 (ms)": routes.groupby("series")["value"].max(),
                "minutes above threshold": routes[routes["value"] > limit_ms]
                .groupby("series")["value"]
                .count()
                * ctx.window.step_s
                / 60,
            }
        )
        .fillna(0.0)
        .sort_values("worst p95 (ms)", ascending=False)
        .round(0)
    )
    table.index.name = "route"
    findings = list(problems)
    if peak is not None and peak > limit_ms:
        slow = [str(r) for r, v in table["minutes above threshold"].items() if v > 0]
        findings.append(
            Finding(
                Status.WARN,
                "p95 latency above the alert threshold",
                f"peak {peak:,.0f} ms at {human_time(when) if when else '?'}; routes above: {', '.join(slow) or 'none alone'}",
            )
        )
        if db_peak is not None and db_peak > 0.25 * peak:
            findings.append(
                Finding(
                    Status.WARN,
                    "The database was slow too",
                    f"database p95 peaked at {db_peak:,.0f} ms",
                )
            )
        elif len(slow) == len(table) and len(table) > 1:
            findings.append(
                Finding(
                    Status.WARN,
                    "Every route is slow",
                    "an application-wide cause: a deploy, CPU, GC or a shared dependency",
                )
            )
    status = worst((f.severity for f in findings), default=Status.OK)
    headline = (
        "No latency data for this window."
        if peak is None
        else f"The slowest 5% of requests took up to {peak:,.0f} ms"
        + (f" at {human_time(when)}" if when else "")
        + f" (the alert fires above {limit_ms:,.0f} ms); "
        + (
            f"the database's p95 peaked at {db_peak:,.0f} ms."
            if db_peak is not None
            else "no database timing in this window."
        )
    )
    metrics = {"peak_p95_ms": peak, "peak_db_p95_ms": db_peak}
    if not table.empty:
        metrics["slowest_route_p95_ms"] = float(table["worst p95 (ms)"].iloc[0])
    return Diagnosis(
        status,
        headline,
        clean(metrics),
        tuple(findings),
        panels={"latency_p95": p95, "route_p95": routes, "db_p95": db},
        tables={"routes": table},
    )


def high_memory_usage(env: Environment, ctx: AlertContext, backend: MetricsBackend) -> Diagnosis:
    """The memory trend: now, peak, slope over the last hour and the time left until full."""
    problems: list[Finding] = []
    memory = panel(backend, "mem_pct", ctx.window, problems)
    crit, warn = env.thresholds.memory_crit_pct, env.thresholds.memory_warn_pct
    findings = list(problems)
    if memory.empty:
        return Diagnosis(
            Status.UNKNOWN,
            "No memory data for this window.",
            {},
            tuple(findings or [Finding(Status.UNKNOWN, "No memory data", "")]),
            panels={"mem_pct": memory},
        )
    series = memory.groupby("timestamp")["value"].max().sort_index()
    last, peak = float(series.iloc[-1]), float(series.max())
    recent = series[series.index >= series.index[-1] - pd.Timedelta(hours=1)]
    hours = (recent.index - recent.index[0]).total_seconds().to_numpy() / 3600
    slope = (
        float(np.polyfit(hours, recent.to_numpy(), 1)[0])
        if len(recent) >= 3 and hours[-1] > 0
        else 0.0
    )
    drops = int((series.diff() < -20).sum())
    to_full = (100 - last) / slope if slope > 0.5 else None  # %/h; flatter is noise
    if peak > crit:
        findings.append(
            Finding(
                Status.CRIT,
                "Memory above the alert threshold",
                f"peak {peak:.1f} % (threshold {crit:g} %)",
            )
        )
    elif peak > warn:
        findings.append(Finding(Status.WARN, "Memory high", f"peak {peak:.1f} %"))
    if to_full is not None and to_full < 24:
        findings.append(
            Finding(
                Status.WARN,
                "Memory is climbing",
                f"{slope:+.1f} %/h: full in about {to_full:.1f} h",
            )
        )
    if drops:
        findings.append(
            Finding(
                Status.WARN,
                "Memory dropped sharply",
                f"{drops} drop(s) of more than 20 points: a restart or an OOM kill",
            )
        )
    status = worst((f.severity for f in findings), default=Status.OK)
    trend = f"{slope:+.1f} %/h over the last hour" + (
        f", full in about {to_full:.1f} h" if to_full is not None else ""
    )
    headline = (
        f"Memory at {last:.1f} % at the end of the window, {peak:.1f} % at its peak; {trend}."
    )
    metrics = {
        "memory_pct": last,
        "peak_memory_pct": peak,
        "memory_slope_pct_per_h": slope,
        "restarts": float(drops),
    }
    if to_full is not None:
        metrics["hours_to_full"] = to_full
    return Diagnosis(status, headline, metrics, tuple(findings), panels={"mem_pct": memory})


def _scalar(backend: PrometheusBackend, expr: str, at: datetime) -> pd.DataFrame:
    return backend.source.query(expr, at=at)


def _short(detail: str, limit: int = 60) -> str:
    first = detail.splitlines()[0] if detail else "no answer"
    return first if len(first) <= limit else first[: limit - 1] + "…"


def database_issues(
    env: Environment, ctx: AlertContext, backend: MetricsBackend, *, environ: Mapping[str, str]
) -> Diagnosis:
    """MongoDB and Redis now; connection failures and the slowest operations over the window."""
    problems: list[Finding] = []
    checks = [
        c for c in (mongo_check(env, environ=environ), redis_check(env, environ=environ)) if c
    ]
    results = run_checks(checks) if checks else ()
    findings = list(problems)
    for result in results:
        if result.status is not Status.OK:
            findings.append(
                Finding(result.status, f"{result.component}: {result.status.value}", result.detail)
            )
    db = panel(backend, "db_p95", ctx.window, findings)
    db_peak, _ = highest(db)
    tables: dict[str, pd.DataFrame] = {}
    failures: float | None = None
    if isinstance(backend, PrometheusBackend):
        span = f"{max(int(ctx.window.seconds), 60)}s"
        sel = f'job="{backend.job}"'
        try:
            found = _scalar(
                backend,
                f"sum(increase(db_connection_failures_total{{{sel}}}[{span}]))",
                ctx.window.end,
            )
            failures = float(found["value"].sum()) if not found.empty else 0.0
            ops = _scalar(
                backend,
                f"histogram_quantile(0.95, sum by (le, operation, collection) "
                f"(increase(db_query_duration_seconds_bucket{{{sel}}}[{span}]))) * 1000",
                ctx.window.end,
            )
        except SourceError as exc:
            findings.append(Finding(Status.UNKNOWN, "Database metrics not read", str(exc)))
            ops = pd.DataFrame()
        if not ops.empty:
            cols = [c for c in ("operation", "collection") if c in ops.columns]
            tables["operations"] = (
                ops.set_index(cols)[["value"]]
                .rename(columns={"value": "p95 (ms)"})
                .sort_values("p95 (ms)", ascending=False)
                .round(1)
            )
    else:
        findings.append(
            Finding(
                Status.SKIPPED,
                "Connection failures not counted",
                f"the {backend.name} backend has no PromQL",
            )
        )
    limit = env.thresholds.db_connection_failures_crit
    if failures is not None and failures > limit:
        findings.append(
            Finding(
                Status.CRIT,
                "Database connections failed",
                f"{failures:,.0f} failures in the window (alert at {limit:g} in 5 min)",
            )
        )
    if db_peak is not None and db_peak > 500:
        findings.append(
            Finding(
                Status.WARN, "Slow database queries", f"database p95 peaked at {db_peak:,.0f} ms"
            )
        )
    status = worst((f.severity for f in findings), default=Status.OK)
    answering = [r.component for r in results if r.status is Status.OK]
    failing = [f"{r.component} ({_short(r.detail)})" for r in results if r.status is not Status.OK]
    states = "; ".join(
        part
        for part in (
            f"{' and '.join(answering)} answer{'s' if len(answering) == 1 else ''}"
            if answering
            else "",
            f"{' and '.join(failing)} do{'es' if len(failing) == 1 else ''} not" if failing else "",
        )
        if part
    )
    headline = (
        f"Now {states or 'no database is configured'}. In the window: "
        + (f"{failures:,.0f} connection failures, " if failures is not None else "")
        + (
            f"database p95 peaked at {db_peak:,.0f} ms."
            if db_peak is not None
            else "no query-time data."
        )
    )
    metrics: dict[str, float | None] = {
        "db_connection_failures": failures,
        "peak_db_p95_ms": db_peak,
    }
    for r in results:
        metrics.update({f"{r.component}_{k}": v for k, v in r.metrics.items() if k == "ping_ms"})
    return Diagnosis(
        status,
        headline,
        clean(metrics),
        tuple(findings),
        panels={"db_p95": db},
        tables=tables,
        checks=tuple(results),
    )
