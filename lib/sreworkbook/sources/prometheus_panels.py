"""The dashboard's panels as PromQL over the backend's request histograms and gauges.

Expected metric names (prom-client style, as the sandbox's demo service exposes them):
``http_request_duration_seconds`` (histogram; labels ``route``, ``status_code``),
``db_query_duration_seconds`` (histogram), ``system_memory_usage_percent``,
``system_cpu_usage_percent``, ``active_users`` (gauges), and the Core Web Vitals histograms
``web_vitals_lcp_seconds``, ``web_vitals_inp_seconds``, ``web_vitals_cls``.
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd

from sreworkbook.sources.panels import PANELS, ROUTE_PANELS, WindowCounts, empty_frame
from sreworkbook.sources.prometheus import PrometheusSource
from sreworkbook.timeutil import format_duration, parse_duration

__all__ = ["PrometheusBackend"]

_HTTP = "http_request_duration_seconds"
_FAILED = 'status_code=~"5.."'


def _quantile(q: float, buckets: str, by: str, scale: str) -> str:
    """``histogram_quantile`` of ``q`` over the summed ``buckets`` (a rate or an increase)."""
    return f"histogram_quantile({q}, sum by ({by}) ({buckets})){scale}"


#: The panels read from a histogram: the quantile, the histogram, what turns it into the unit.
_HISTOGRAM_PANELS = {
    "latency_p50": (0.5, _HTTP, " * 1000"),
    "latency_p95": (0.95, _HTTP, " * 1000"),
    "latency_p99": (0.99, _HTTP, " * 1000"),
    "db_p95": (0.95, "db_query_duration_seconds", " * 1000"),
    "lcp_p75": (0.75, "web_vitals_lcp_seconds", " * 1000"),
    "inp_p75": (0.75, "web_vitals_inp_seconds", " * 1000"),
    "cls_p75": (0.75, "web_vitals_cls", ""),
}


def _quantiles(function: str, sel: str, window: str) -> dict[str, str]:
    """The histogram panels over ``function`` (``rate`` or ``increase``) of their buckets."""
    return {
        panel: _quantile(q, f"{function}({metric}_bucket{{{sel}}}[{window}])", "le", scale)
        for panel, (q, metric, scale) in _HISTOGRAM_PANELS.items()
    }


class PrometheusBackend:
    """A :class:`~sreworkbook.sources.panels.MetricsBackend` over a Prometheus API."""

    name = "prometheus"

    def __init__(
        self, source: PrometheusSource, *, job: str, scrape_interval_s: float = 60.0
    ) -> None:
        self.source = source
        self.job = job
        self.scrape_interval_s = scrape_interval_s

    # -- the queries ----------------------------------------------------------------------------
    def rate_window(self, step_s: float) -> str:
        """Grafana's ``$__rate_interval``: at least four scrapes, and at least one step."""
        return format_duration(max(4 * self.scrape_interval_s, step_s + self.scrape_interval_s))

    def expressions(self, window: str) -> dict[str, str]:
        """PromQL per panel, with ``window`` as the range of each ``rate``/``increase``."""
        sel = f'job="{self.job}"'
        requests = f"sum(rate({_HTTP}_count{{{sel}}}[{window}]))"
        route_buckets = f"rate({_HTTP}_bucket{{{sel}}}[{window}])"
        return {
            **_quantiles("rate", sel, window),
            # A 5xx series exists only after the first 5xx (a restarted service has none):
            # where requests were served and none failed, the rate is 0, not "no data".
            "error_rate": (
                f"(sum(rate({_HTTP}_count{{{sel},{_FAILED}}}[{window}])) or 0 * {requests})"
                f" / {requests}"
            ),
            "rpm": f"{requests} * 60",
            "mem_pct": f"max(system_memory_usage_percent{{{sel}}})",
            "cpu_pct": f"max(system_cpu_usage_percent{{{sel}}})",
            "active_users": f"sum(active_users{{{sel}}})",
            "route_p95": _quantile(0.95, route_buckets, "le, route", " * 1000"),
            "route_errors": (
                f"sum by (route) (rate({_HTTP}_count{{{sel},{_FAILED}}}[{window}])) * 60"
                f" or 0 * sum by (route) (rate({_HTTP}_count{{{sel}}}[{window}]))"
            ),
        }

    def overall_expressions(self, window: str) -> dict[str, str]:
        """PromQL for one number per panel over the whole window, evaluated at its end."""
        sel = f'job="{self.job}"'
        total = f"sum(increase({_HTTP}_count{{{sel}}}[{window}]))"
        minutes = f"{parse_duration(window) / 60:g}"
        return {
            **_quantiles("increase", sel, window),
            "error_rate": (
                f"(sum(increase({_HTTP}_count{{{sel},{_FAILED}}}[{window}])) or 0 * {total})"
                f" / {total}"
            ),
            "rpm": f"{total} / {minutes}",
            "mem_pct": f"max(max_over_time(system_memory_usage_percent{{{sel}}}[{window}]))",
            "cpu_pct": f"max(avg_over_time(system_cpu_usage_percent{{{sel}}}[{window}]))",
            "active_users": f"sum(avg_over_time(active_users{{{sel}}}[{window}]))",
        }

    # -- the MetricsBackend contract ------------------------------------------------------------
    def panel(self, panel: str, start: datetime, end: datetime, step_s: float) -> pd.DataFrame:
        if panel not in PANELS + ROUTE_PANELS:
            raise ValueError(f"unknown panel {panel!r}; valid: {', '.join(PANELS + ROUTE_PANELS)}")
        expr = self.expressions(self.rate_window(step_s))[panel]
        frame = self.source.query_range(expr, start, end, step_s)
        if frame.empty:
            return empty_frame()
        series = frame["route"].astype(str) if "route" in frame.columns else "all"
        tidy = pd.DataFrame(
            {"timestamp": frame["timestamp"], "series": series, "value": frame["value"]}
        )
        return tidy.dropna(subset=["value"]).reset_index(drop=True)

    def overall(self, panel: str, start: datetime, end: datetime) -> float | None:
        window = format_duration((end - start).total_seconds())
        expr = self.overall_expressions(window).get(panel)
        if expr is None:
            raise ValueError(f"no overall value for panel {panel!r}")
        frame = self.source.query(expr, at=end)
        values = frame["value"].dropna() if not frame.empty else frame["value"]
        return float(values.iloc[0]) if len(values) else None

    def counts(self, start: datetime, end: datetime, *, threshold_s: float | None) -> WindowCounts:
        window = format_duration((end - start).total_seconds())
        sel = f'job="{self.job}"'

        def scalar(expr: str) -> float:
            frame = self.source.query(expr, at=end)
            return float(frame["value"].sum()) if not frame.empty else 0.0

        total = scalar(f"sum(increase({_HTTP}_count{{{sel}}}[{window}]))")
        failed = scalar(f"sum(increase({_HTTP}_count{{{sel},{_FAILED}}}[{window}]))")
        fast = None
        if threshold_s is not None:
            le = repr(float(threshold_s))
            fast_frame = self.source.query(
                f'sum(increase({_HTTP}_bucket{{{sel},le="{le}"}}[{window}]))', at=end
            )
            fast = float(fast_frame["value"].sum()) if not fast_frame.empty else None
        return WindowCounts(total=total, failed=failed, fast=fast)
