"""New Relic (NerdGraph NRQL) as a dashboard metrics backend: the panels, in panel units.

One NRQL query per panel, sent as ``POST {endpoint}`` with an ``API-Key`` header and the
GraphQL ``actor { account(id) { nrql(query, timeout) { results } } }`` (the NRQL travels as a
GraphQL variable, so no quoting of it is needed)::

    latency_p50/95/99  percentile(duration, 50, 95, 99)     FROM Transaction   s → ms
    error_rate         percentage(count(*), WHERE error IS true)  FROM Transaction   % → 0–1
    rpm                rate(count(*), 1 minute)             FROM Transaction
    db_p95             percentile(databaseDuration, 95)     FROM Transaction   s → ms
    mem_pct            average(memoryUsedPercent)           FROM SystemSample
    cpu_pct            average(cpuPercent)                  FROM SystemSample
    active_users       uniqueCount(session)                 FROM PageView, BrowserInteraction
    lcp_p75            percentile(largestContentfulPaint, 75)   FROM PageViewTiming  s → ms
    inp_p75            percentile(interactionToNextPaint, 75)   FROM PageViewTiming  ms
    cls_p75            percentile(cumulativeLayoutShift, 75)    FROM PageViewTiming
    route_p95          percentile(duration, 95) ... FACET name                   s → ms
    route_errors       rate(count(*), 1 minute) ... AND error IS true FACET name

Transaction queries keep to ``appName`` and ``transactionType = 'Web'``; browser queries to
the browser app (``browser_app``, default the APM app name). SystemSample is host-wide: the
seed's alert reads it for the whole account, and so do we unless ``host_where`` narrows it
(e.g. ``"hostname LIKE 'tradeai-%'"``). The seed writes ``memoryUsagePercent``; the
attribute New Relic records is ``memoryUsedPercent``. ``error IS true`` follows the agent's
error rules (by default every 5xx, and 4xx other than 404 too): pass ``error_condition``,
e.g. ``"http.statusCode >= 500"``, to count 5xx only. ``databaseDuration`` is a
transaction's total database time, not one query's. Routes are transaction names
(``WebTransaction/Expressjs/GET//api/trades`` → ``GET /api/trades``), the top
``route_limit`` of them. Active users are distinct browser sessions seen in each bucket.

Limits: a TIMESERIES query returns at most 366 buckets, so a window is cut into queries of
366 buckets each; past ``max_queries`` queries per panel the step is coarsened instead
(to whole minutes), and the step used is in ``frame.attrs["step_s"]``. A bucket is stamped
at its end (``endTimeSeconds``), as Prometheus stamps ``rate(x[step])``; empty buckets
(null) are left out. GraphQL errors arrive with HTTP 200 and an ``errors`` array: they are
raised as :class:`SourceError` naming the NRQL; calls go through the HTTP edge, which retries
429 (``Retry-After`` honoured up to ``max_retry_after_s``) and 5xx with backoff; 401/403 say
the key was refused and never show it. Units are converted
on the decimal numbers NerdGraph sends, so 0.0398 s is exactly 39.8 ms.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import pandas as pd

from sreworkbook.config import NewRelicConfig
from sreworkbook.edges.http import Auth, Reply
from sreworkbook.exceptions import SourceError, SourceTimeout
from sreworkbook.secrets import Scrubber, resolve
from sreworkbook.sources.panels import (
    ROUTE_PANELS,
    WindowCounts,
    check_panel,
    tidy_frame,
)
from sreworkbook.sources.saas import HttpBackend, Transport, capped_step
from sreworkbook.timeutil import epoch

__all__ = ["MAX_BUCKETS", "NewRelicBackend", "route_name"]

#: NRQL's cap on the buckets of one TIMESERIES query.
MAX_BUCKETS = 366
_META = {"beginTimeSeconds", "endTimeSeconds", "facet", "inspectedCount", "comparison"}
_GRAPHQL = (
    "query($accountId: Int!, $nrql: Nrql!, $timeout: Seconds) { actor { "
    "account(id: $accountId) { nrql(query: $nrql, timeout: $timeout) { results } } } }"
)
_TRANSACTION = re.compile(r"^(?:WebTransaction|OtherTransaction)/[^/]+/(.+)$")


@dataclass(frozen=True)
class _Spec:
    select: str  # the aggregate; ``{error}`` stands for the error condition
    event: str  # FROM
    key: str  # the result key NerdGraph answers with
    sub: str | None = None  # a percentile's key inside it
    scale: int = 1  # times this, to the panel unit
    per: int = 1  # divided by this (percent → fraction)

    def convert(self, value: Decimal) -> float:
        """``value`` in the panel unit, computed on the decimal NerdGraph sent: 0.0398 s → 39.8."""
        return float(value * self.scale / self.per)

    @property
    def scope(self) -> str:
        """Which WHERE clause applies: the APM app, the hosts or the browser app."""
        return {"Transaction": "apm", "SystemSample": "host"}.get(self.event, "browser")


def _pct(attr: str, q: str, event: str, scale: int = 1) -> _Spec:
    return _Spec(f"percentile({attr}, {q})", event, f"percentile.{attr}", q, scale)


_TX, _HOST, _TIMING = "Transaction", "SystemSample", "PageViewTiming"
_LATENCY = "percentile(duration, 50, 95, 99)"  # one query serves the three latency panels
_SPECS: dict[str, _Spec] = {
    "latency_p50": _Spec(_LATENCY, _TX, "percentile.duration", "50", 1000),
    "latency_p95": _Spec(_LATENCY, _TX, "percentile.duration", "95", 1000),
    "latency_p99": _Spec(_LATENCY, _TX, "percentile.duration", "99", 1000),
    "error_rate": _Spec("percentage(count(*), WHERE {error})", _TX, "percentage", per=100),
    "rpm": _Spec("rate(count(*), 1 minute)", _TX, "rate"),
    "db_p95": _pct("databaseDuration", "95", _TX, 1000),
    "mem_pct": _Spec("average(memoryUsedPercent)", _HOST, "average.memoryUsedPercent"),
    "cpu_pct": _Spec("average(cpuPercent)", _HOST, "average.cpuPercent"),
    "active_users": _Spec(
        "uniqueCount(session)", "PageView, BrowserInteraction", "uniqueCount.session"
    ),
    "lcp_p75": _pct("largestContentfulPaint", "75", _TIMING, 1000),
    "inp_p75": _pct("interactionToNextPaint", "75", _TIMING),
    "cls_p75": _pct("cumulativeLayoutShift", "75", _TIMING),
    "route_p95": _pct("duration", "95", _TX, 1000),
    "route_errors": _Spec("rate(count(*), 1 minute)", _TX, "rate"),  # WHERE the error condition
}


def route_name(transaction: str) -> str:
    """A route from a transaction name: ``WebTransaction/Expressjs/GET//api/x`` → ``GET /api/x``."""
    match = _TRANSACTION.match(transaction)
    rest = match.group(1) if match else transaction
    method, sep, path = rest.partition("//")
    if sep and method.isalpha() and method.isupper():
        return f"{method} /{path}"
    return rest


def _quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _check_panel(panel: str) -> _Spec:
    check_panel(panel)
    return _SPECS[panel]


def _value(row: Mapping[str, Any], key: str, sub: str | None) -> Decimal | None:
    """The number under ``key`` (and ``sub``) in one NRQL result row, or None for null."""
    if key in row:
        raw = row[key]
    else:  # an unexpected name: take the row's only aggregate, if it has exactly one
        found = [
            v
            for k, v in row.items()
            if k not in _META and isinstance(v, int | float | dict) and not isinstance(v, bool)
        ]
        raw = found[0] if len(found) == 1 else None
    if isinstance(raw, dict):
        raw = raw.get(sub) if sub else None
    if raw is None or isinstance(raw, bool):
        return None
    try:
        return Decimal(str(raw))
    except InvalidOperation:
        return None


def _facet(row: Mapping[str, Any]) -> str:
    facet = row.get("facet", "all")
    text = ", ".join(str(f) for f in facet) if isinstance(facet, list) else str(facet)
    return route_name(text)


class NewRelicBackend(HttpBackend):
    """The dashboard's panels read from one New Relic account through NerdGraph.

    Answers are kept per NRQL text (the last 64; the text holds the window's epoch
    milliseconds), so the three latency panels of one window cost one query.
    """

    name = "newrelic"

    def __init__(
        self,
        config: NewRelicConfig,
        environ: Mapping[str, str],
        *,
        max_queries: int = 10,
        route_limit: int = 20,
        error_condition: str = "error IS true",
        browser_app: str | None = None,
        host_where: str | None = None,
        **transport: Any,
    ) -> None:
        """``transport``: see :class:`~sreworkbook.sources.saas.Transport`."""
        self._api_key = resolve(config.api_key, environ, key="metrics.newrelic.api_key")
        self._key_ref = config.api_key
        self._scrubber = Scrubber([self._api_key])
        self.endpoint = resolve(config.endpoint, environ, key="metrics.newrelic.endpoint")
        self.account_id = config.account_id
        self.app_name = config.app_name
        self.timeout_s = config.timeout_s  # NRQL's own limit, sent with each query
        self.edge = Transport(**transport).edge(
            self.name,
            timeout_s=config.timeout_s + 5.0,  # grace for NerdGraph to report it
            auth=Auth(headers={"API-Key": self._api_key}),
        )
        self.max_queries = max_queries
        self.route_limit = route_limit
        self.error_condition = error_condition
        self.browser_app = browser_app or config.app_name
        self.host_where = host_where

    def __repr__(self) -> str:
        return f"NewRelicBackend(account_id={self.account_id}, app_name={self.app_name!r})"

    #: Each request's timeout: the NRQL timeout and 5 s for NerdGraph to report it.
    http_timeout_s = HttpBackend.request_timeout_s

    # -- the MetricsBackend protocol -----------------------------------------------------------
    def panel(self, panel: str, start: datetime, end: datetime, step_s: float) -> pd.DataFrame:
        """``panel`` over ``[start, end]`` in buckets of ``step_s`` (coarsened past the cap)."""
        spec = _check_panel(panel)
        first, last = epoch(start), epoch(end)
        step, spans = self.plan(first, last, step_s)
        rows: list[tuple[float, str, float]] = []
        queries = []
        for since, until in spans:
            nrql = self.nrql_for(panel, since, until, step)
            queries.append(nrql)
            for row in self._results(nrql):
                value = _value(row, spec.key, spec.sub)
                if value is None:
                    continue
                stamp = row.get("endTimeSeconds") or float(row.get("beginTimeSeconds", 0)) + step
                series = _facet(row) if panel in ROUTE_PANELS else "all"
                rows.append((float(stamp), series, spec.convert(value)))
        frame = tidy_frame(rows)
        frame.attrs.update(step_s=float(step), query="\n".join(queries))
        return frame

    def overall(self, panel: str, start: datetime, end: datetime) -> float | None:
        """One number over the window: the window's percentile, rate or average from NRQL.

        Route panels have none (None). Active users are the mean of 5-minute distinct-session
        counts (a distinct count over a long window would be every session of the window).
        """
        spec = _check_panel(panel)
        if panel in ROUTE_PANELS:
            return None
        first, last = epoch(start), epoch(end)
        if panel == "active_users":
            frame = self.panel(panel, start, end, 300.0)
            return float(frame["value"].mean()) if not frame.empty else None
        results = self._results(self.nrql_for(panel, first, last))
        value = _value(results[0], spec.key, spec.sub) if results else None
        return None if value is None else spec.convert(value)

    def counts(self, start: datetime, end: datetime, *, threshold_s: float | None) -> WindowCounts:
        """Web transactions, failed ones and those within ``threshold_s``, over the window."""
        selects = [
            "count(*) AS 'total'",
            f"filter(count(*), WHERE {self.error_condition}) AS 'failed'",
        ]
        if threshold_s is not None:
            selects.append(f"filter(count(*), WHERE duration <= {threshold_s:g}) AS 'fast'")
        nrql = (
            f"SELECT {', '.join(selects)} FROM Transaction{self._where('apm')} "
            f"SINCE {self._ms(epoch(start))} UNTIL {self._ms(epoch(end))}"
        )
        row = (self._results(nrql) or [{}])[0]
        total, failed, fast = (_value(row, key, None) for key in ("total", "failed", "fast"))
        return WindowCounts(
            total=float(total or 0),
            failed=float(failed or 0),
            fast=float(fast) if fast is not None and threshold_s is not None else None,
        )

    # -- queries ---------------------------------------------------------------------------
    def plan(
        self, start: float, end: float, step_s: float
    ) -> tuple[int, list[tuple[float, float]]]:
        """The step used and the ``(since, until)`` spans: at most 366 buckets each, at most
        ``max_queries`` spans (past that the step grows to whole minutes)."""
        step = capped_step(start, end, step_s, budget=MAX_BUCKETS * self.max_queries)
        width = step * MAX_BUCKETS
        spans, since = [], start
        while since < end:
            spans.append((since, min(since + width, end)))
            since += width
        return step, spans

    def nrql_for(self, panel: str, start: float, end: float, step_s: int | None = None) -> str:
        """The NRQL that ``panel`` runs for ``[start, end)`` (a TIMESERIES when ``step_s``)."""
        spec = _check_panel(panel)
        select = spec.select.format(error=self.error_condition)
        extra = f"({self.error_condition})" if panel == "route_errors" else None
        nrql = (
            f"SELECT {select} FROM {spec.event}{self._where(spec.scope, extra)} "
            f"SINCE {self._ms(start)} UNTIL {self._ms(end)}"
        )
        if panel in ROUTE_PANELS:
            nrql += f" FACET name LIMIT {self.route_limit}"
        if step_s is not None:
            nrql += f" TIMESERIES {step_s} seconds"
        return nrql

    def nrql(self, query: str) -> list[dict[str, Any]]:
        """The ``results`` of any NRQL query, as NerdGraph returns them."""
        return [dict(row) for row in self._results(query)]

    @staticmethod
    def _ms(epoch_s: float) -> int:
        return round(epoch_s * 1000)

    def _where(self, scope: str, extra: str | None = None) -> str:
        clauses = []
        if scope == "apm":
            clauses += [f"appName = {_quote(self.app_name)}", "transactionType = 'Web'"]
        elif scope == "browser":
            clauses.append(f"appName = {_quote(self.browser_app)}")
        elif self.host_where:
            clauses.append(f"({self.host_where})")
        if extra:
            clauses.append(extra)
        return f" WHERE {' AND '.join(clauses)}" if clauses else ""

    # -- transport -------------------------------------------------------------------------
    def _results(self, nrql: str) -> list[dict[str, Any]]:
        return self._cached(nrql, lambda: self._post(nrql))

    def _post(self, nrql: str) -> list[dict[str, Any]]:
        timeout = max(1, min(120, math.ceil(self.timeout_s)))
        payload = {
            "query": _GRAPHQL,
            "variables": {"accountId": self.account_id, "nrql": nrql, "timeout": timeout},
        }
        return self._answer(self.edge.post(self.endpoint, json_body=payload, query=nrql), nrql)

    def _answer(self, reply: Reply, nrql: str) -> list[dict[str, Any]]:
        """The results of an answer, or the error it carries (GraphQL's come with HTTP 200)."""
        status = reply.status
        body = reply.json_object(parse_float=Decimal)
        errors = body.get("errors") if isinstance(body, dict) else None
        if status == 200 and isinstance(body, dict) and not errors:
            try:
                results = body["data"]["actor"]["account"]["nrql"]["results"]
                return [row for row in results or [] if isinstance(row, dict)]
            except (KeyError, TypeError):
                errors = [{"message": "an answer without results"}]
        said = [e if isinstance(e, dict) else {"message": str(e)} for e in errors or []]
        detail = "; ".join(str(e.get("message", "")) for e in said)
        detail = self._scrubber.scrub(detail or f"HTTP {status}: not a NerdGraph answer")
        extensions = [e.get("extensions") for e in said]
        codes = {str(v) for ext in extensions if isinstance(ext, dict) for v in ext.values()}
        if status in (401, 403) or "BAD_API_KEY" in codes:
            raise SourceError(
                f"the API key was refused (HTTP {status}: {detail}); check the user key that "
                f"{self._key_ref} holds and its access to account {self.account_id}",
                source=self.name,
                query=nrql,
                status=status,
            )
        timed_out = "TIMEOUT" in codes or "timed out" in detail.lower()
        raise (SourceTimeout if timed_out else SourceError)(
            f"NRQL failed: {detail} — query: {nrql}", source=self.name, query=nrql, status=status
        )
