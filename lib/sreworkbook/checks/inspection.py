"""One environment's whole health inspection: build every check, run them, report.

:func:`inspect` is what the health notebook calls; :class:`HealthReport` is what it shows
(``_repr_html_``, a latency chart) and what it emits (status, headline, metrics, findings).
A component the environment does not configure is reported SKIPPED ("not configured"), so
the report shows what was not looked at.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import requests

from sreworkbook.checks._common import not_configured
from sreworkbook.checks.host import host_checks
from sreworkbook.checks.http import ai_service_check, service_checks
from sreworkbook.checks.metrics import metrics_check
from sreworkbook.checks.mongo import mongo_check
from sreworkbook.checks.redis import redis_check
from sreworkbook.checks.runner import Check, run_checks
from sreworkbook.checks.tls import tls_checks
from sreworkbook.config import Environment
from sreworkbook.results import CheckResult, Finding, Status, worst

if TYPE_CHECKING:
    import pandas as pd
    import plotly.graph_objects as go

__all__ = ["HealthReport", "build_health_checks", "inspect"]

#: Statuses in the order reports list them.
_ORDER = (Status.OK, Status.WARN, Status.CRIT, Status.UNKNOWN, Status.SKIPPED)
#: Headline metrics lifted from individual results: name → (component, result metric).
_LIFTED = {
    "mongo_ping_ms": ("mongodb", "ping_ms"),
    "redis_ping_ms": ("redis", "ping_ms"),
    "memory_pct": ("host", "memory_pct"),
    "cpu_pct": ("host", "cpu_pct"),
}


def _skipped(name: str, component: str, timeout_s: float) -> Check:
    return Check(name, component, "", timeout_s, not_configured(name, component))


def build_health_checks(
    env: Environment,
    *,
    environ: Mapping[str, str],
    session: requests.Session | None = None,
) -> list[Check]:
    """Every check ``env`` calls for; unconfigured components as SKIPPED checks.

    Nothing is resolved or contacted here: secrets are resolved by each probe when it runs.
    ``session``, if given, is shared by the HTTP probes, which run at the same time; without
    one each probe opens and closes its own.
    """
    timeout = env.check_timeout_s
    checks: list[Check] = []
    if env.service is None:
        checks.append(_skipped("health", "service", timeout))
    else:
        checks.extend(service_checks(env, environ=environ, session=session))
        metrics = metrics_check(env, environ=environ, session=session)
        if metrics is not None:
            checks.append(metrics)
        checks.extend(tls_checks(env, environ=environ))
    ai = ai_service_check(env, environ=environ, session=session)
    checks.append(ai or _skipped("health", "ai_service", timeout))
    checks.append(mongo_check(env, environ=environ) or _skipped("ping", "mongodb", timeout))
    checks.append(redis_check(env, environ=environ) or _skipped("ping", "redis", timeout))
    host = host_checks(env, environ=environ, session=session)
    checks.extend(host or [_skipped("memory", "host", timeout), _skipped("cpu", "host", timeout)])
    return checks


#: A status in words, where a check's detail says nothing.
_WORDS = {
    Status.WARN: "a warning",
    Status.CRIT: "failing",
    Status.UNKNOWN: "could not be checked",
}


def _short(detail: str, limit: int = 60) -> str:
    first = detail.split(";")[0].split(", ")[0].strip()
    return first if len(first) <= limit else first[: limit - 1] + "…"


@dataclass(frozen=True)
class HealthReport:
    """The results of one inspection, with what a report and a run summary need from them."""

    results: tuple[CheckResult, ...]

    @property
    def status(self) -> Status:
        """The worst status; SKIPPED rows never degrade it (all skipped → OK)."""
        return worst(r.status for r in self.results)

    @property
    def counts(self) -> dict[str, int]:
        """How many results have each status, in the order OK, WARN, CRIT, UNKNOWN, SKIPPED."""
        return {s.value: sum(1 for r in self.results if r.status is s) for s in _ORDER}

    def headline(self) -> str:
        """One sentence: "2 of 14 health checks need attention — mongodb: connection refused."."""
        total = len(self.results)
        if not total:
            return "No health checks ran."
        counts = self.counts
        skipped = counts[Status.SKIPPED.value]
        if skipped == total:
            return f"All {total} health checks were skipped."
        if counts[Status.OK.value] == total - skipped:
            tail = f" ({skipped} skipped)" if skipped else ""
            ran = total - skipped
            passed = f"All {ran} health checks" if ran > 1 else "The one health check"
            return f"{passed} passed{tail}."
        status = self.status
        # The worst rows, components that failed the same way named together.
        causes: dict[str, list[str]] = {}
        for r in self.results:
            if r.status is status:
                names = causes.setdefault(_short(r.detail) or _WORDS.get(status, "failing"), [])
                if r.component not in names:
                    names.append(r.component)
        listed = list(causes.items())
        named = "; ".join(f"{', '.join(names)}: {cause}" for cause, names in listed[:2])
        more = f" and {len(listed) - 2} more" if len(listed) > 2 else ""
        flagged = total - skipped - counts[Status.OK.value]
        verb = "needs" if flagged == 1 else "need"
        return f"{flagged} of {total - skipped} health checks {verb} attention — {named}{more}."

    def findings(self) -> tuple[Finding, ...]:
        """One finding per result that is neither OK nor SKIPPED, the most severe first."""
        flagged = [r for r in self.results if r.status not in (Status.OK, Status.SKIPPED)]
        flagged.sort(key=lambda r: -r.status.rank)  # stable: input order within a status
        return tuple(Finding(r.status, f"{r.component}: {r.name}", r.detail) for r in flagged)

    def metrics(self) -> dict[str, float]:
        """Flat name → number: counts, the slowest check, and key numbers when measured."""
        counts = self.counts
        found: dict[str, float] = {"checks_total": float(len(self.results))}
        for status in _ORDER:
            found[f"checks_{status.value.lower()}"] = float(counts[status.value])
        latencies = [r.latency_ms for r in self.results if r.latency_ms is not None]
        if latencies:
            found["max_latency_ms"] = max(latencies)
        for name, (component, key) in _LIFTED.items():
            for result in self.results:
                if result.component == component and key in result.metrics:
                    found[name] = float(result.metrics[key])
                    break
        return found

    def to_frame(self) -> pd.DataFrame:
        """One row per result: status, component, check, latency_ms, detail, target, metrics."""
        import pandas as pd

        return pd.DataFrame(
            [
                {
                    "status": r.status.value,
                    "component": r.component,
                    "check": r.name,
                    "latency_ms": r.latency_ms,
                    "detail": r.detail,
                    "target": r.target,
                    "metrics": dict(r.metrics),
                }
                for r in self.results
            ],
            columns=["status", "component", "check", "latency_ms", "detail", "target", "metrics"],
        )

    def latency_figure(self) -> go.Figure:
        """Latency per check as horizontal bars coloured by status."""
        from sreworkbook.plots import status_bar

        return status_bar(
            [f"{r.component}: {r.name}" for r in self.results],
            [r.latency_ms for r in self.results],
            [r.status for r in self.results],
            title="Check latency",
            unit="ms",
        )

    def display_order(self) -> tuple[CheckResult, ...]:
        """Results grouped by component (first appearance first), worst first in a group."""
        groups: dict[str, list[CheckResult]] = {}
        for result in self.results:
            groups.setdefault(result.component, []).append(result)
        return tuple(
            result
            for group in groups.values()
            for result in sorted(group, key=lambda r: -r.status.rank)
        )

    def _repr_html_(self) -> str:
        cell = "padding:4px 8px;border-bottom:1px solid #d0d7de;text-align:left"
        head = "".join(
            f'<th style="{cell}">{title}</th>'
            for title in ("status", "component", "check", "latency ms", "detail", "target")
        )
        rows = []
        for r in self.display_order():
            colour = r.status.colour
            latency = f"{r.latency_ms:,.0f}" if r.latency_ms is not None else "—"
            rows.append(
                f'<tr class="swb-check swb-{r.status.value.lower()}" '
                f'style="border-left:4px solid {colour}">'
                f'<td style="{cell}"><span class="swb-badge" style="background:{colour};'
                f'color:#fff;padding:1px 8px;border-radius:4px;font-weight:700">'
                f"{r.status.value}</span></td>"
                f'<td style="{cell}">{html.escape(r.component)}</td>'
                f'<td style="{cell}">{html.escape(r.name)}</td>'
                f'<td style="{cell};text-align:right">{latency}</td>'
                f'<td style="{cell}">{html.escape(r.detail)}</td>'
                f'<td style="{cell};font-family:monospace">{html.escape(r.target)}</td></tr>'
            )
        return (
            '<table class="swb-health" style="border-collapse:collapse;'
            'font-family:system-ui,sans-serif;font-size:13px">'
            f'<caption style="text-align:left;padding:4px 0;font-weight:600">'
            f"{html.escape(self.headline())}</caption>"
            f"<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
        )


def inspect(
    env: Environment,
    *,
    environ: Mapping[str, str],
    session: requests.Session | None = None,
) -> HealthReport:
    """Build every health check for ``env``, run them concurrently, and report."""
    return HealthReport(run_checks(build_health_checks(env, environ=environ, session=session)))
