"""The dashboard's panels (the seed's Task 5.2) and the contract every metrics backend meets.

A backend answers in panel names and common units, whatever its query language:

===============  ==========================================  ==============
panel            meaning                                      unit
===============  ==========================================  ==============
latency_p50/95/99  API response time percentiles                ms
error_rate       share of requests answered 5xx               fraction 0–1
rpm              throughput                                   requests/min
db_p95           database query time, p95                     ms
mem_pct          memory use                                   %
cpu_pct          CPU use                                      %
active_users     active users                                 users
lcp_p75          Largest Contentful Paint, p75                ms
inp_p75          Interaction to Next Paint, p75               ms
cls_p75          Cumulative Layout Shift, p75                 unitless
route_p95        p95 per route (``series`` = route)           ms
route_errors     5xx per minute per route (``series`` = route)  errors/min
===============  ==========================================  ==============

Frames are tidy: ``timestamp`` (UTC), ``series`` (``"all"`` or a route), ``value``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import pandas as pd

__all__ = [
    "PANELS",
    "ROUTE_PANELS",
    "MetricsBackend",
    "WindowCounts",
    "check_panel",
    "empty_frame",
    "tidy_frame",
]

PANELS = (
    "latency_p50",
    "latency_p95",
    "latency_p99",
    "error_rate",
    "rpm",
    "db_p95",
    "mem_pct",
    "cpu_pct",
    "active_users",
    "lcp_p75",
    "inp_p75",
    "cls_p75",
)
ROUTE_PANELS = ("route_p95", "route_errors")


@dataclass(frozen=True)
class WindowCounts:
    """Request counts over a window, for SLOs: all, failed (5xx), and answered within the
    latency SLO's threshold (``None`` when the backend cannot count it)."""

    total: float
    failed: float
    fast: float | None = None


class MetricsBackend(Protocol):
    """What the dashboard needs from a metrics store (Prometheus, New Relic, Datadog, files)."""

    name: str

    def panel(self, panel: str, start: datetime, end: datetime, step_s: float) -> pd.DataFrame:
        """``panel`` over ``[start, end]`` every ``step_s``: columns timestamp, series, value."""
        ...

    def overall(self, panel: str, start: datetime, end: datetime) -> float | None:
        """One number for ``panel`` over the whole window (e.g. the window's p95), or None."""
        ...

    def counts(self, start: datetime, end: datetime, *, threshold_s: float | None) -> WindowCounts:
        """Requests, failures and fast requests over the window."""
        ...


def empty_frame() -> pd.DataFrame:
    """A panel frame without rows (the right columns and types)."""
    return pd.DataFrame(
        {
            "timestamp": pd.Series([], dtype="datetime64[ns, UTC]"),
            "series": pd.Series([], dtype="object"),
            "value": pd.Series([], dtype="float64"),
        }
    )


def check_panel(panel: str) -> None:
    """A ``ValueError`` listing the valid panels, unless ``panel`` is one."""
    if panel not in (*PANELS, *ROUTE_PANELS):
        valid = ", ".join((*PANELS, *ROUTE_PANELS))
        raise ValueError(f"unknown panel {panel!r}; valid panels: {valid}")


def tidy_frame(rows: list[tuple[float, str, float]]) -> pd.DataFrame:
    """A panel frame from ``(epoch seconds, series, value)`` rows: sorted, one row per point."""
    if not rows:
        return empty_frame()
    stamps, series, values = zip(*rows, strict=True)
    frame = pd.DataFrame(
        {
            "timestamp": pd.to_datetime(list(stamps), unit="s", utc=True).astype(
                "datetime64[ns, UTC]"
            ),
            "series": pd.Series(series, dtype="object"),
            "value": pd.Series(values, dtype="float64"),
        }
    )
    frame = frame.drop_duplicates(subset=["series", "timestamp"], keep="first")
    return frame.sort_values(["series", "timestamp"], ignore_index=True)
