"""The metrics dashboard: panels from any metrics backend, SLOs, period comparison."""

from __future__ import annotations

from collections.abc import Mapping

import requests

from sreworkbook.config import Environment
from sreworkbook.dashboard.compute import (
    DashboardData,
    Window,
    assess,
    compare_offset,
    load_dashboard,
    resolve_window,
)
from sreworkbook.dashboard.panels import PANELS, ROUTE_PANELS, MetricsBackend, WindowCounts
from sreworkbook.dashboard.prometheus_backend import PrometheusBackend
from sreworkbook.dashboard.slo import SLOResult, evaluate_slo
from sreworkbook.exceptions import ParameterError

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


def backend_for(
    env: Environment, environ: Mapping[str, str], *, session: requests.Session | None = None
) -> MetricsBackend:
    """The metrics backend ``env.metrics.source`` names, its credentials resolved now."""
    source = env.metrics.source
    where = env.source_file or env.name
    if source == "prometheus":
        if env.prometheus is None:
            raise ParameterError(
                "metrics.source is prometheus but there is no prometheus: section",
                source=where,
                key="prometheus",
            )
        from sreworkbook.sources.prometheus import PrometheusSource

        client = PrometheusSource.from_config(env.prometheus, environ, session=session)
        return PrometheusBackend(client, job=env.prometheus.job)
    if source == "newrelic":
        if env.metrics.newrelic is None:
            raise ParameterError(
                "source newrelic needs a newrelic: section", source=where, key="metrics.newrelic"
            )
        from sreworkbook.sources.newrelic import NewRelicBackend

        return NewRelicBackend.from_config(env.metrics.newrelic, environ, session=session)
    if source == "datadog":
        if env.metrics.datadog is None:
            raise ParameterError(
                "source datadog needs a datadog: section", source=where, key="metrics.datadog"
            )
        from sreworkbook.sources.datadog import DatadogBackend

        return DatadogBackend.from_config(env.metrics.datadog, environ, session=session)
    if env.metrics.files is None:
        raise ParameterError(
            "source files needs a files: section", source=where, key="metrics.files"
        )
    from sreworkbook.sources.files import FilesBackend

    return FilesBackend(env.metrics.files.path)
