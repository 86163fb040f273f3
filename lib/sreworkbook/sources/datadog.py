"""Datadog (metrics query API) as a dashboard metrics backend: the panels, in panel units.

``GET {site_url}/api/v1/query?from=&to=&query=`` with ``DD-API-KEY`` and
``DD-APPLICATION-KEY``. Scope ``{scope}`` is ``service:{service}`` plus ``env:{env_tag}``
when set. The metrics read, and what becomes of them::

    latency_p50/95/99  pNN:trace.express.request{scope}.rollup(step)           s → ms
    error_rate         sum:trace.express.request.errors{scope}.as_count()
                       ÷ sum:trace.express.request.hits{scope}.as_count()      0–1
    rpm                sum:trace.express.request.hits{scope}.as_count() ÷ minutes per point
    db_p95             p95:trace.mongodb.query{service:{db_service}}           s → ms
    mem_pct            avg:system.mem.pct_usable{scope}                        100·(1 − v)
    cpu_pct            avg:system.cpu.user{scope} + avg:system.cpu.system{scope}
    active_users       avg:tradeai.active_users{scope}    the API's own gauge via OpenMetrics
    lcp_p75            p75:rum.view.largest_contentful_paint{rum}             ns → ms
    inp_p75            p75:rum.view.interaction_to_next_paint{rum}            ns → ms
    cls_p75            p75:rum.view.cumulative_layout_shift{rum}
    route_p95          p95:trace.express.request{scope} by {resource_name}     s → ms
    route_errors       sum:trace.express.request.errors{scope} by {resource_name}.as_count()
                       ÷ minutes per point                                     errors/min

``trace.express.*`` are the APM trace metrics dd-trace emits for Express (the latency one a
distribution, seconds; ``errors`` are 5xx for web spans). ``trace.mongodb.query`` is the
MongoDB integration's span (service ``{service}-mongodb`` unless ``db_service``). ``rum.view.*``
are the custom distribution metrics we suggest generating from RUM view events (Datadog
makes none by default; their values are the events' nanoseconds); ``rum`` is
``service:{rum_service}`` or the env tag. ``system.*`` come from the Agent on the service's
hosts. Any query can be replaced with ``queries={panel: template}``. A time-valued series
that declares its unit (``unit[0].family == "time"``) is converted by that unit's
``scale_factor``; one that does not is taken in the unit above.

Limits: Datadog returns at most 1,500 points per series and rolls up coarser by itself
beyond that, so every query carries an explicit ``.rollup(..., step)`` and a window is cut
into requests of at most 1,500 points, aligned on the step because rollup buckets are aligned
to Unix time; past ``max_requests`` requests per panel the step grows (to whole minutes).
The step Datadog actually used (a series' ``interval``) is in ``frame.attrs["step_s"]``.
Points are stamped at the end of their bucket (timestamp + interval), as Prometheus stamps
``rate(x[step])``; null points are left out. Datadog cannot count requests under a latency
threshold through this API, so :meth:`DatadogBackend.counts` leaves ``fast`` as None.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

import pandas as pd

from sreworkbook.config import DatadogConfig
from sreworkbook.edges.http import Auth, Reply
from sreworkbook.exceptions import SourceError
from sreworkbook.secrets import Scrubber, resolve
from sreworkbook.sources.panels import (
    ROUTE_PANELS,
    WindowCounts,
    check_panel,
    tidy_frame,
)
from sreworkbook.sources.saas import HttpBackend, Transport, capped_step
from sreworkbook.timeutil import epoch

__all__ = ["DEFAULT_QUERIES", "MAX_POINTS", "DatadogBackend", "route_name"]

#: Datadog's cap on the points of one series in one answer.
MAX_POINTS = 1500
_HITS = "sum:trace.express.request.hits{{{scope}}}.as_count().rollup(sum, {step})"
_ERRORS = "sum:trace.express.request.errors{{{scope}}}.as_count().rollup(sum, {step})"
_LATENCY = "{q}:trace.express.request{{{scope}}}.rollup({step})"
_RUM = "p75:rum.view.{metric}{{{rum}}}.rollup({step})"

#: Query templates per panel; ``{scope}``, ``{db}``, ``{rum}``, ``{step}`` are filled in.
DEFAULT_QUERIES: dict[str, str] = {
    "latency_p50": _LATENCY.replace("{q}", "p50"),
    "latency_p95": _LATENCY.replace("{q}", "p95"),
    "latency_p99": _LATENCY.replace("{q}", "p99"),
    "error_rate": _ERRORS,  # divided by the hits: the "rpm" query
    "rpm": _HITS,
    "db_p95": "p95:trace.mongodb.query{{{db}}}.rollup({step})",
    "mem_pct": "avg:system.mem.pct_usable{{{scope}}}.rollup(avg, {step})",
    "cpu_pct": (
        "avg:system.cpu.user{{{scope}}}.rollup(avg, {step}) + "
        "avg:system.cpu.system{{{scope}}}.rollup(avg, {step})"
    ),
    "active_users": "avg:tradeai.active_users{{{scope}}}.rollup(avg, {step})",
    "lcp_p75": _RUM.replace("{metric}", "largest_contentful_paint"),
    "inp_p75": _RUM.replace("{metric}", "interaction_to_next_paint"),
    "cls_p75": _RUM.replace("{metric}", "cumulative_layout_shift"),
    "route_p95": "p95:trace.express.request{{{scope}}} by {{resource_name}}.rollup({step})",
    "route_errors": (
        "sum:trace.express.request.errors{{{scope}}} by {{resource_name}}"
        ".as_count().rollup(sum, {step})"
    ),
}
# Seconds per unit assumed when a series does not say (absent: not a time; no conversion).
_ASSUMED_SECONDS = {
    **dict.fromkeys(("latency_p50", "latency_p95", "latency_p99", "db_p95", "route_p95"), "1"),
    **dict.fromkeys(("lcp_p75", "inp_p75"), "1e-9"),
}
_COUNTED = {"rpm", "route_errors"}  # per-bucket counts, turned into per-minute rates
_RESOURCE = re.compile(r"^([a-z]+)_(/.*)$")


def route_name(resource: str) -> str:
    """A route from a ``resource_name`` tag value: ``get_/api/trades`` → ``GET /api/trades``."""
    match = _RESOURCE.match(resource)
    return f"{match.group(1).upper()} {match.group(2)}" if match else resource


class _Series:
    """One series of an answer: its route, bucket interval, points and unit."""

    def __init__(self, raw: Mapping[str, Any], step: float) -> None:
        tags = [str(t) for t in raw.get("tag_set") or []]
        resource = next((t.partition(":")[2] for t in tags if t.startswith("resource_name:")), "")
        self.series = route_name(resource) if resource else "all"
        self.interval = Decimal(str(raw.get("interval") or step))
        self.points = [
            (float(Decimal(str(ts)) / 1000 + self.interval), Decimal(str(value)))
            for ts, value in raw.get("pointlist") or []
            if value is not None
        ]
        unit = (raw.get("unit") or [None])[0]
        self.seconds_per_unit: Decimal | None = None
        if isinstance(unit, dict) and unit.get("family") == "time":
            self.seconds_per_unit = Decimal(str(unit.get("scale_factor") or 1))


class DatadogBackend(HttpBackend):
    """The dashboard's panels read from Datadog's metrics query API."""

    name = "datadog"

    def __init__(
        self,
        config: DatadogConfig,
        environ: Mapping[str, str],
        *,
        max_requests: int = 10,
        db_service: str | None = None,
        rum_service: str | None = None,
        queries: Mapping[str, str] | None = None,
        **transport: Any,
    ) -> None:
        """``transport``: see :class:`~sreworkbook.sources.saas.Transport`."""
        self._api_key = resolve(config.api_key, environ, key="metrics.datadog.api_key")
        self._app_key = resolve(config.app_key, environ, key="metrics.datadog.app_key")
        self._key_refs = f"{config.api_key} / {config.app_key}"
        self._scrubber = Scrubber([self._api_key, self._app_key])
        self.site_url = resolve(config.site_url, environ, key="metrics.datadog.site_url")
        self.site_url = self.site_url.rstrip("/")
        env = f",env:{config.env_tag}" if config.env_tag else ""
        self.scope = f"service:{config.service}{env}"
        self.db_scope = f"service:{db_service or config.service + '-mongodb'}{env}"
        self.rum_scope = f"service:{rum_service}{env}" if rum_service else (env[1:] or "*")
        unknown = set(queries or {}) - set(DEFAULT_QUERIES)
        if unknown:
            check_panel(sorted(unknown)[0])
        self.queries = {**DEFAULT_QUERIES, **(queries or {})}
        self.edge = Transport(**transport).edge(
            self.name,
            timeout_s=config.timeout_s,
            auth=Auth(headers={"DD-API-KEY": self._api_key, "DD-APPLICATION-KEY": self._app_key}),
            # Datadog's 429s tell when the window resets rather than when to come back.
            retry_after_headers=("Retry-After", "X-RateLimit-Reset"),
        )
        self.max_requests = max_requests

    def __repr__(self) -> str:
        return f"DatadogBackend(site_url={self.site_url!r}, scope={self.scope!r})"

    timeout_s = HttpBackend.request_timeout_s

    # -- the MetricsBackend protocol -----------------------------------------------------------
    def panel(self, panel: str, start: datetime, end: datetime, step_s: float) -> pd.DataFrame:
        """``panel`` over ``[start, end]`` every ``step_s`` (coarsened past the cap)."""
        check_panel(panel)
        step, spans = self.plan(epoch(start), epoch(end), step_s)
        rows: list[tuple[float, str, float]] = []
        used = float(step)
        for first, last in spans:
            points, used = self._points(panel, first, last, step)
            rows += points
        frame = tidy_frame(rows)
        frame.attrs.update(step_s=used, query=self.query_for(panel, step))
        return frame

    def overall(self, panel: str, start: datetime, end: datetime) -> float | None:
        """One number over the window, from one rollup bucket holding the whole window.

        Percentiles are Datadog's over the window; error rate and throughput are from the
        window's counts; gauges their mean. Route panels have none (None).
        """
        check_panel(panel)
        if panel in ROUTE_PANELS:
            return None
        first, last = epoch(start), epoch(end)
        if panel in ("error_rate", "rpm"):
            counts = self.counts(start, end, threshold_s=None)
            if panel == "rpm":
                return counts.total / ((last - first) / 60.0)
            return counts.failed / counts.total if counts.total else None
        points, _ = self._points(panel, first, last, self.window_rollup(first, last))
        values = [value for _, _, value in points]
        return sum(values) / len(values) if values else None

    def counts(self, start: datetime, end: datetime, *, threshold_s: float | None) -> WindowCounts:
        """Requests and 5xx over the window; ``fast`` is None (see the module notes)."""
        first, last = epoch(start), epoch(end)
        step = self.window_rollup(first, last)
        hits, errors = self.queries["rpm"], self.queries["error_rate"]
        total = sum(
            (p for s in self._series(hits, first, last, step) for _, p in s.points), Decimal(0)
        )
        failed = sum(
            (p for s in self._series(errors, first, last, step) for _, p in s.points), Decimal(0)
        )
        return WindowCounts(total=float(total), failed=float(failed), fast=None)

    # -- queries ---------------------------------------------------------------------------
    def plan(
        self, start: float, end: float, step_s: float
    ) -> tuple[int, list[tuple[float, float]]]:
        """The step used and the request spans: at most 1,500 points each, cut on multiples
        of the step, at most ``max_requests`` of them (past that the step grows)."""
        step = capped_step(start, end, step_s, budget=MAX_POINTS * self.max_requests)
        spans, first = [], start
        while first < end:
            boundary = (math.floor(first / step) + MAX_POINTS) * step
            spans.append((first, min(boundary, end)))
            first = boundary
        return step, spans

    @staticmethod
    def window_rollup(start: float, end: float) -> int:
        """A rollup interval whose one Unix-aligned bucket holds all of ``[start, end)``."""
        size = max(1, math.ceil(end - start))
        while math.floor(start / size) != math.floor((end - 1) / size):
            size *= 2
        return size

    def query_for(self, panel: str, step_s: int) -> str:
        """The Datadog query ``panel`` sends at ``step_s`` (error rate: errors, then hits)."""
        check_panel(panel)
        text = self._fill(self.queries[panel], step_s)
        if panel == "error_rate":
            text += "\n" + self._fill(self.queries["rpm"], step_s)
        return text

    def _fill(self, template: str, step: int) -> str:
        return template.format(scope=self.scope, db=self.db_scope, rum=self.rum_scope, step=step)

    def _points(
        self, panel: str, first: float, last: float, step: int
    ) -> tuple[list[tuple[float, str, float]], float]:
        """The panel's points over one span, in panel units, and the interval Datadog used."""
        series = self._series(self.queries[panel], first, last, step)
        used = float(series[0].interval) if series else float(step)
        if panel == "error_rate":
            errors = {ts: v for s in series for ts, v in s.points}
            hits = self._series(self.queries["rpm"], first, last, step)
            used = float(hits[0].interval) if hits else used
            rate = [
                (ts, float(errors.get(ts, 0)) / float(v)) for s in hits for ts, v in s.points if v
            ]
            return [(ts, "all", value) for ts, value in rate], used
        rows = []
        for one in series:
            for ts, value in one.points:
                rows.append((ts, one.series, self._convert(panel, one, value)))
        return rows, used

    @staticmethod
    def _convert(panel: str, series: _Series, value: Decimal) -> float:
        """``value`` in the panel unit, computed on the decimal Datadog sent (0.412 s → 412)."""
        if panel == "mem_pct":
            return float(100 * (1 - value))
        if panel in _COUNTED:
            return float(value * 60 / series.interval)
        assumed = _ASSUMED_SECONDS.get(panel)
        if assumed is None:
            return float(value)
        return float(value * (series.seconds_per_unit or Decimal(assumed)) * 1000)

    def _series(self, template: str, first: float, last: float, step: int) -> list[_Series]:
        query = self._fill(template, step)
        body = self._get(query, {"from": str(math.floor(first)), "to": str(math.ceil(last) - 1)})
        return [_Series(raw, step) for raw in body.get("series") or [] if isinstance(raw, dict)]

    # -- transport -------------------------------------------------------------------------
    def _get(self, query: str, window: dict[str, str]) -> dict[str, Any]:
        reply = self.edge.get(
            f"{self.site_url}/api/v1/query",
            params={**window, "query": query},
            headers={"Accept": "application/json"},
            query=query,
        )
        return self._answer(reply, query)

    def _answer(self, reply: Reply, query: str) -> dict[str, Any]:
        """The answer's body, or the error it carries (a refused key, a bad query)."""
        status = reply.status
        body = reply.json_object(parse_float=Decimal)
        if status == 200 and isinstance(body, dict) and body.get("status") != "error":
            return body
        said: Any = (body.get("errors") or body.get("error")) if isinstance(body, dict) else None
        if isinstance(said, list):
            said = "; ".join(str(item) for item in said)
        detail = self._scrubber.scrub(str(said or reply.reason or "not a Datadog answer"))
        if status in (401, 403):
            message = (
                f"the keys were refused (HTTP {status}: {detail}); check the API and "
                f"application keys that {self._key_refs} hold"
            )
        else:
            message = f"query failed (HTTP {status}): {detail} — query: {query}"
        raise SourceError(message, source=self.name, query=query, status=status)
