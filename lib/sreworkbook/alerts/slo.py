"""SLO burn-rate alerts: the SRE Workbook's multi-window, multi-burn-rate rules.

For an objective ``o`` the error budget is ``1 - o``; a burn rate ``b`` means the budget is
being spent ``b`` times faster than the SLO allows. The Workbook's table (chapter 5, for a
99.9 % SLO over 30 days):

=========  ===========  ============  =========
severity   long window  short window  burn rate
=========  ===========  ============  =========
page       1 h          5 m           14.4
page       6 h          30 m          6
ticket     3 d          6 h           1
=========  ===========  ============  =========

An alert fires when both windows burn faster than the rate (the short one makes it reset
soon after the burn stops). The alert expressions are self-contained, so they can be
backtested on history that has no recorded series; recording rules for the ratios are
generated too, for dashboards. With low traffic a single failed request can exceed a burn
rate on its own: :func:`burn_warnings` says when.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sreworkbook.alerts.durations import format_duration_ms
from sreworkbook.alerts.expr import format_number
from sreworkbook.alerts.rules import AlertRule, RecordingRule
from sreworkbook.config import SLOConfig
from sreworkbook.exceptions import ParameterError

__all__ = [
    "WORKBOOK_WINDOWS",
    "BurnWindow",
    "SLOSpec",
    "burn_rate_rules",
    "burn_warnings",
    "single_failure_burn",
    "slo_spec",
]

_H, _M, _D = 3_600_000, 60_000, 86_400_000


@dataclass(frozen=True)
class BurnWindow:
    """One row of the table: alert when both windows burn faster than ``factor``."""

    long_ms: int
    short_ms: int
    factor: float
    severity: str


WORKBOOK_WINDOWS = (
    BurnWindow(1 * _H, 5 * _M, 14.4, "critical"),
    BurnWindow(6 * _H, 30 * _M, 6.0, "critical"),
    BurnWindow(3 * _D, 6 * _H, 1.0, "warning"),
)


@dataclass(frozen=True)
class SLOSpec:
    """An SLO as PromQL: ``bad_ratio`` holds ``$window`` where the rate window goes."""

    name: str
    objective: float
    bad_ratio: str
    total_rate: str
    by: tuple[str, ...] = ("job",)

    def ratio(self, window_ms: int) -> str:
        return self.bad_ratio.replace("$window", format_duration_ms(window_ms))


def slo_spec(
    slo: SLOConfig,
    *,
    job: str,
    metric: str = "http_request_duration_seconds",
) -> SLOSpec:
    """The PromQL of an environment's SLO over the request histogram ``metric``.

    Availability: the share of 5xx answers. Latency: the share slower than ``threshold_s``
    (which must be one of the histogram's bucket bounds).
    """
    sel = f'job="{job}"'
    total = f"sum by (job) (rate({metric}_count{{{sel}}}[$window]))"
    if slo.kind == "availability":
        bad = f'sum by (job) (rate({metric}_count{{{sel},status_code=~"5.."}}[$window]))'
        ratio = f"(\n  {bad}\n/\n  {total}\n)"
    else:
        if slo.threshold_s is None:
            raise ParameterError("a latency SLO needs threshold_s", key=f"slos.{slo.name}")
        le = repr(float(slo.threshold_s))
        good = f'sum by (job) (rate({metric}_bucket{{{sel},le="{le}"}}[$window]))'
        ratio = f"(\n  1 - {good}\n/\n  {total}\n)"
    return SLOSpec(slo.name, slo.objective, ratio, total)


def _name(slo: SLOSpec) -> str:
    return "".join(part.capitalize() for part in slo.name.replace("-", "_").split("_"))


def burn_rate_rules(
    slo: SLOSpec,
    *,
    windows: Sequence[BurnWindow] = WORKBOOK_WINDOWS,
    interval_ms: int = 60_000,
    labels: dict[str, str] | None = None,
) -> tuple[list[RecordingRule], list[AlertRule]]:
    """Recording rules for every window's ratio, and one alert per severity.

    Rows of one severity are joined with ``or``, as in the Workbook, so a page is one alert.
    """
    budget = 1.0 - slo.objective
    used = sorted({w.long_ms for w in windows} | {w.short_ms for w in windows})
    recording = [
        RecordingRule(
            f"slo:{slo.name}_errors:ratio_rate{format_duration_ms(w)}",
            slo.ratio(w),
            {"slo": slo.name},
        )
        for w in used
    ]
    alerts = []
    for severity in dict.fromkeys(w.severity for w in windows):
        rows = [w for w in windows if w.severity == severity]
        parts = []
        for w in rows:
            limit = format_number(round(w.factor * budget, 12))
            parts.append(
                f"(\n{slo.ratio(w.long_ms)} > {limit}\nand\n{slo.ratio(w.short_ms)} > {limit}\n)"
            )
        expr = "\nor\n".join(parts)
        kind = "Page" if severity == "critical" else "Ticket"
        described = ", ".join(
            f"{w.factor:g}x over {format_duration_ms(w.long_ms)} and {format_duration_ms(w.short_ms)}"
            for w in rows
        )
        alerts.append(
            AlertRule(
                name=f"SLO{_name(slo)}BurnRate{kind}",
                expr=expr,
                interval_ms=interval_ms,
                labels={"severity": severity, "slo": slo.name, **(labels or {})},
                annotations={
                    "summary": f"{slo.name} SLO ({slo.objective:.3%}) error budget burning fast",
                    "description": f"Error budget burn rate above {described}.",
                },
            )
        )
    return recording, alerts


def single_failure_burn(requests_per_s: float, window_ms: int, objective: float) -> float:
    """The burn rate one failed request causes in a window of ``requests_per_s`` traffic."""
    requests = requests_per_s * window_ms / 1000
    if requests <= 0:
        return float("inf")
    return (1.0 / requests) / (1.0 - objective)


def burn_warnings(
    slo: SLOSpec,
    requests_per_s: float,
    *,
    windows: Sequence[BurnWindow] = WORKBOOK_WINDOWS,
) -> list[str]:
    """Why an SLO's alerts would be impossible or trivially noisy at this traffic."""
    out = []
    if requests_per_s <= 0:
        return [f"{slo.name}: no traffic, so the burn-rate alerts can never fire"]
    for w in windows:
        burn = single_failure_burn(requests_per_s, w.short_ms, slo.objective)
        if burn >= w.factor:
            out.append(
                f"{slo.name}: at {requests_per_s:.3g} req/s one failed request burns "
                f"{burn:.1f}x over {format_duration_ms(w.short_ms)} (alert at {w.factor:g}x): "
                "the alert would fire on single errors"
            )
    if 1.0 - slo.objective < 1.0 / (requests_per_s * 30 * 86_400):
        out.append(
            f"{slo.name}: the error budget is smaller than one request a month at this traffic"
        )
    return out
