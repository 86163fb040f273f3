"""The metrics dashboard: panels from any metrics backend, SLOs, period comparison.

Backends live in :mod:`sreworkbook.sources` (the contract is
:class:`~sreworkbook.sources.panels.MetricsBackend`, the registry
:mod:`~sreworkbook.sources.registry`); their names are re-exported here for notebooks.
"""

from __future__ import annotations

from sreworkbook.dashboard.compute import (
    DashboardData,
    Window,
    assess,
    compare_offset,
    load_dashboard,
    resolve_window,
)
from sreworkbook.dashboard.slo import SLOResult, evaluate_slo
from sreworkbook.sources.panels import PANELS, ROUTE_PANELS, MetricsBackend, WindowCounts
from sreworkbook.sources.prometheus_panels import PrometheusBackend
from sreworkbook.sources.registry import backend_for

__all__ = [
    "PANELS",
    "ROUTE_PANELS",
    "DashboardData",
    "MetricsBackend",
    "PrometheusBackend",
    "SLOResult",
    "Window",
    "WindowCounts",
    "assess",
    "backend_for",
    "compare_offset",
    "evaluate_slo",
    "load_dashboard",
    "resolve_window",
]
