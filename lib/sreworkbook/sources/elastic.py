"""Elastic APM as a dashboard metrics backend: the panels, read from the APM data streams.

``POST {url}/{index}/_search`` with ``size: 0`` and aggregations, authenticated with an API key
(``Authorization: ApiKey …``) or basic auth. Every query keeps to ``service.name`` (and
``service.environment`` when set) and ``@timestamp`` in the window; a chart is a
``date_histogram`` with ``fixed_interval`` the step. What each panel reads::

    latency_p50/95/99  percentiles of transaction.duration.us, request transactions  µs → ms
    error_rate         event.outcome failure ÷ (success + failure), as Elastic counts it
    rpm                request transactions per bucket ÷ minutes per bucket
    db_p95             95th percentile of span.duration.us, spans of span.type db      µs → ms
    mem_pct            100 × (1 − system.memory.actual.free ÷ system.memory.total)   (metrics)
    cpu_pct            100 × system.cpu.total.norm.pct                                (metrics)
    active_users       distinct user.id among request transactions
    lcp_p75            transaction.marks.agent.largestContentfulPaint, page loads     ms
    inp_p75            transaction.experience.inp, RUM transactions                   ms
    cls_p75            transaction.experience.cls, page loads
    route_p95          per transaction.name (``GET /api/trades``), top ``route_limit``   µs → ms
    route_errors       failed transactions per minute per transaction.name

Transactions, spans and RUM page loads are in ``traces-apm*`` (``processor.event``
transaction or span); the agent's system metrics in ``metrics-apm*``. RUM data is that of
``rum_service`` (default: the service itself). Any field can be replaced with
``fields={name: field}``.

Limits: a ``date_histogram`` bucket is stamped at its start; here at its end, as Prometheus
stamps ``rate(x[step])``, and buckets without data are left out. A request holds at most
``max_buckets`` buckets (route panels: divided by ``route_limit``), so longer windows are cut
into requests on step boundaries. Numbers are read as decimals, so 412000 µs is exactly 412 ms.
Errors: 400 answers carry Elasticsearch's ``error.type: reason`` and the query; 401/403 say the
credentials were refused and never show them; 429 and 5xx are retried by the HTTP edge.
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

import pandas as pd

from sreworkbook.config import ElasticConfig
from sreworkbook.edges.http import Auth, Reply
from sreworkbook.exceptions import SourceError
from sreworkbook.secrets import Scrubber, resolve
from sreworkbook.sources.panels import ROUTE_PANELS, WindowCounts, check_panel, tidy_frame
from sreworkbook.sources.saas import HttpBackend, Transport
from sreworkbook.timeutil import epoch

__all__ = ["DEFAULT_FIELDS", "MAX_BUCKETS", "ElasticBackend"]

#: Buckets per request (Elasticsearch refuses more than ``search.max_buckets``, 65,536).
MAX_BUCKETS = 10_000
#: The fields each panel reads (Elastic APM's names; ``fields=`` overrides any).
DEFAULT_FIELDS: dict[str, str] = {
    "duration": "transaction.duration.us",
    "span_duration": "span.duration.us",
    "outcome": "event.outcome",
    "route": "transaction.name",
    "user": "user.id",
    "memory_free": "system.memory.actual.free",
    "memory_total": "system.memory.total",
    "cpu": "system.cpu.total.norm.pct",
    "lcp": "transaction.marks.agent.largestContentfulPaint",
    "inp": "transaction.experience.inp",
    "cls": "transaction.experience.cls",
}
_LATENCY = {"latency_p50": "50.0", "latency_p95": "95.0", "latency_p99": "99.0"}
_WEB = {"lcp_p75": "lcp", "inp_p75": "inp", "cls_p75": "cls"}


def _total(body: Mapping[str, Any]) -> int:
    """``hits.total`` of an answer (an object since Elasticsearch 7, a number before)."""
    total = body.get("hits", {}).get("total", 0)
    return int(total.get("value", 0) if isinstance(total, dict) else total)


def _number(value: Any) -> Decimal | None:
    """A JSON number as read (a Decimal), or None for null, NaN and anything else."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, Decimal):
        return value if value.is_finite() else None
    if isinstance(value, int | float):
        return Decimal(str(value)) if math.isfinite(value) else None
    return None


class ElasticBackend(HttpBackend):
    """The dashboard's panels read from Elastic APM's data streams in Elasticsearch."""

    name = "elastic"

    def __init__(
        self,
        config: ElasticConfig,
        environ: Mapping[str, str],
        *,
        route_limit: int = 20,
        max_buckets: int = MAX_BUCKETS,
        fields: Mapping[str, str] | None = None,
        **transport: Any,
    ) -> None:
        """``transport``: see :class:`~sreworkbook.sources.saas.Transport`."""
        self.url = resolve(config.url, environ, key="metrics.elastic.url").rstrip("/")
        secrets: list[str] = []
        if config.api_key:
            key = resolve(config.api_key, environ, key="metrics.elastic.api_key")
            auth = Auth(headers={"Authorization": f"ApiKey {key}"})
            secrets.append(key)
        elif config.username:
            user = resolve(config.username, environ, key="metrics.elastic.username")
            password = resolve(config.password or "", environ, key="metrics.elastic.password")
            auth = Auth(username=user, password=password)
            secrets += [password, base64.b64encode(f"{user}:{password}".encode()).decode()]
        else:
            auth = Auth()
        self._refs = config.api_key or config.username or "no credentials"
        self._scrubber = Scrubber(secrets)
        self.config = config
        self.route_limit = route_limit
        self.max_buckets = max_buckets
        unknown = set(fields or {}) - set(DEFAULT_FIELDS)
        if unknown:
            raise ValueError(f"unknown field name {sorted(unknown)[0]!r}; known: {DEFAULT_FIELDS}")
        self.fields = {**DEFAULT_FIELDS, **(fields or {})}
        self.edge = Transport(**transport).edge(self.name, timeout_s=config.timeout_s, auth=auth)

    def __repr__(self) -> str:
        return f"ElasticBackend(url={self.url!r}, service={self.config.service!r})"

    # -- the MetricsBackend protocol -----------------------------------------------------------
    def panel(self, panel: str, start: datetime, end: datetime, step_s: float) -> pd.DataFrame:
        """``panel`` over ``[start, end)`` in buckets of ``step_s`` (whole seconds)."""
        check_panel(panel)
        step = max(1, math.ceil(step_s))
        rows: list[tuple[float, str, float]] = []
        for first, last in self.spans(epoch(start), epoch(end), step, panel):
            body = self.search(panel, first, last, step)
            for bucket in body.get("aggregations", {}).get("over_time", {}).get("buckets", []):
                stamp = float(Decimal(str(bucket["key"])) / 1000) + step
                for series, value in self._read(panel, bucket, Decimal(step)):
                    rows.append((stamp, series, value))
        frame = tidy_frame(rows)
        frame.attrs.update(step_s=float(step))
        return frame

    def overall(self, panel: str, start: datetime, end: datetime) -> float | None:
        """One number over the window from one query without buckets (route panels: None).

        Active users are the mean of 5-minute distinct counts (a distinct count over a long
        window would be every user of the window), as for New Relic.
        """
        check_panel(panel)
        if panel in ROUTE_PANELS:
            return None
        if panel == "active_users":
            frame = self.panel(panel, start, end, 300.0)
            return float(frame["value"].mean()) if not frame.empty else None
        first, last = epoch(start), epoch(end)
        body = self.search(panel, first, last, None)
        whole = {**body.get("aggregations", {}), "doc_count": _total(body)}
        values = self._read(panel, whole, Decimal(str(last - first)))
        return values[0][1] if values else None

    def counts(self, start: datetime, end: datetime, *, threshold_s: float | None) -> WindowCounts:
        """Request transactions, failed ones and those within ``threshold_s``, over the window."""
        aggs: dict[str, Any] = {"failed": {"filter": self._term("outcome", "failure")}}
        if threshold_s is not None:
            within = {"lte": threshold_s * 1_000_000}
            aggs["fast"] = {"filter": {"range": {self.fields["duration"]: within}}}
        query = self._body("transactions", epoch(start), epoch(end), aggs)
        query["track_total_hits"] = True
        body = self._search(self.config.traces_index, query)
        found = body.get("aggregations", {})
        fast = found.get("fast", {}).get("doc_count") if threshold_s is not None else None
        return WindowCounts(
            total=float(_total(body)),
            failed=float(found.get("failed", {}).get("doc_count", 0)),
            fast=float(fast) if fast is not None else None,
        )

    # -- queries ---------------------------------------------------------------------------
    def spans(self, start: float, end: float, step: int, panel: str) -> list[tuple[float, float]]:
        """``[start, end)`` cut on multiples of ``step`` into requests of few enough buckets."""
        if end <= start:
            raise ValueError("start must be before end")
        per = self.max_buckets // (self.route_limit if panel in ROUTE_PANELS else 1)
        width = max(1, per) * step
        spans, first = [], start
        while first < end:
            boundary = (math.floor(first / step) * step) + width
            spans.append((first, min(boundary, end)))
            first = boundary
        return spans

    def search(self, panel: str, start: float, end: float, step: int | None) -> dict[str, Any]:
        """The ``_search`` answer for ``panel`` over ``[start, end)`` (cached per query)."""
        kind, aggs = self._aggs(panel)
        if step is not None:
            aggs = {
                "over_time": {
                    "date_histogram": {
                        "field": "@timestamp",
                        "fixed_interval": f"{step}s",
                        "min_doc_count": 1,
                    },
                    "aggs": aggs,
                }
            }
        index = self.config.metrics_index if kind == "metrics" else self.config.traces_index
        query = self._body(kind, start, end, aggs)
        if step is None:
            query["track_total_hits"] = True
        return self._search(index, query)

    def query_for(self, panel: str, start: float, end: float) -> str:
        """The JSON body ``panel`` sends, without its buckets (for reports and tests)."""
        kind, aggs = self._aggs(panel)
        return json.dumps(self._body(kind, start, end, aggs), default=str, sort_keys=True)

    def _term(self, field: str, value: str) -> dict[str, Any]:
        return {"term": {self.fields.get(field, field): value}}

    def _body(self, kind: str, start: float, end: float, aggs: Mapping[str, Any]) -> dict[str, Any]:
        service = self.config.rum_service or self.config.service
        where: list[dict[str, Any]] = [
            {"term": {"service.name": service if kind == "rum" else self.config.service}},
            {
                "range": {
                    "@timestamp": {
                        "gte": round(start * 1000),
                        "lt": round(end * 1000),
                        "format": "epoch_millis",
                    }
                }
            },
        ]
        if self.config.environment:
            where.append({"term": {"service.environment": self.config.environment}})
        where += {
            "transactions": [
                {"term": {"processor.event": "transaction"}},
                {"term": {"transaction.type": "request"}},
            ],
            "spans": [{"term": {"processor.event": "span"}}, {"term": {"span.type": "db"}}],
            "rum": [{"term": {"processor.event": "transaction"}}],
            "metrics": [{"exists": {"field": self.fields["memory_total"]}}],
        }[kind]
        return {"size": 0, "query": {"bool": {"filter": where}}, "aggs": dict(aggs)}

    def _aggs(self, panel: str) -> tuple[str, dict[str, Any]]:
        """Which documents ``panel`` reads and the aggregations over one bucket of them."""
        f = self.fields
        if panel in _LATENCY:
            pct = {"percentiles": {"field": f["duration"], "percents": [50, 95, 99]}}
            return "transactions", {"latency": pct}
        if panel == "error_rate":
            outcomes = {"terms": {"field": f["outcome"], "size": 3}}
            return "transactions", {"outcomes": outcomes}
        if panel == "rpm":
            return "transactions", {}
        if panel == "db_p95":
            return "spans", {"db": {"percentiles": {"field": f["span_duration"], "percents": [95]}}}
        if panel == "mem_pct":
            return "metrics", {
                "free": {"avg": {"field": f["memory_free"]}},
                "total": {"avg": {"field": f["memory_total"]}},
            }
        if panel == "cpu_pct":
            return "metrics", {"cpu": {"avg": {"field": f["cpu"]}}}
        if panel == "active_users":
            return "transactions", {"users": {"cardinality": {"field": f["user"]}}}
        if panel in _WEB:
            vital = {"percentiles": {"field": f[_WEB[panel]], "percents": [75]}}
            return "rum", {"vital": vital}
        routes: dict[str, Any] = {"terms": {"field": f["route"], "size": self.route_limit}}
        if panel == "route_p95":
            routes["aggs"] = {"p95": {"percentiles": {"field": f["duration"], "percents": [95]}}}
        else:
            routes["aggs"] = {"failed": {"filter": self._term("outcome", "failure")}}
        return "transactions", {"routes": routes}

    def _read(
        self, panel: str, bucket: Mapping[str, Any], seconds: Decimal
    ) -> list[tuple[str, float]]:
        """``(series, value)`` pairs in panel units from one bucket (or a whole-window answer)."""
        minutes = seconds / 60
        if panel in _LATENCY:
            value = _number(bucket.get("latency", {}).get("values", {}).get(_LATENCY[panel]))
            return [] if value is None else [("all", float(value / 1000))]
        if panel == "error_rate":
            said = {b["key"]: b["doc_count"] for b in bucket.get("outcomes", {}).get("buckets", [])}
            judged = said.get("success", 0) + said.get("failure", 0)
            return [("all", said.get("failure", 0) / judged)] if judged else []
        if panel == "rpm":
            count = _number(bucket.get("doc_count"))
            return [] if count is None else [("all", float(count / minutes))]
        if panel == "db_p95":
            value = _number(bucket.get("db", {}).get("values", {}).get("95.0"))
            return [] if value is None else [("all", float(value / 1000))]
        if panel == "mem_pct":
            free = _number(bucket.get("free", {}).get("value"))
            total = _number(bucket.get("total", {}).get("value"))
            return [] if not free or not total else [("all", float(100 * (1 - free / total)))]
        if panel == "cpu_pct":
            value = _number(bucket.get("cpu", {}).get("value"))
            return [] if value is None else [("all", float(value * 100))]
        if panel == "active_users":
            value = _number(bucket.get("users", {}).get("value"))
            return [] if value is None else [("all", float(value))]
        if panel in _WEB:
            value = _number(bucket.get("vital", {}).get("values", {}).get("75.0"))
            return [] if value is None else [("all", float(value))]
        pairs = []
        for route in bucket.get("routes", {}).get("buckets", []):
            if panel == "route_p95":
                value = _number(route.get("p95", {}).get("values", {}).get("95.0"))
                if value is not None:
                    pairs.append((str(route["key"]), float(value / 1000)))
            else:
                failed = Decimal(route.get("failed", {}).get("doc_count", 0))
                pairs.append((str(route["key"]), float(failed / minutes)))
        return pairs

    # -- transport -------------------------------------------------------------------------
    def _search(self, index: str, body: dict[str, Any]) -> dict[str, Any]:
        text = json.dumps(body, default=str, sort_keys=True)

        def fetch() -> dict[str, Any]:
            reply = self.edge.post(
                f"{self.url}/{index}/_search",
                data=text.encode(),
                headers={"Content-Type": "application/json"},
                query=text,
            )
            return self._answer(reply, text)

        return self._cached(f"{index} {text}", fetch)

    def _answer(self, reply: Reply, query: str) -> dict[str, Any]:
        """The answer's body, or the error it carries (refused credentials, a bad query)."""
        body = reply.json_object(parse_float=Decimal)
        if reply.status == 200 and isinstance(body, dict) and "error" not in body:
            if body.get("timed_out"):
                raise SourceError(
                    "Elasticsearch timed out before every shard answered", source=self.name,
                    query=query,
                )  # fmt: skip
            return body
        said = body.get("error") if isinstance(body, dict) else None
        if isinstance(said, dict):
            cause = (said.get("root_cause") or [said])[0]
            detail = f"{cause.get('type', 'error')}: {cause.get('reason', '')}"
        else:
            detail = str(said or reply.reason or "not an Elasticsearch answer")
        detail = self._scrubber.scrub(detail)
        if reply.status in (401, 403):
            message = (
                f"the credentials were refused (HTTP {reply.status}: {detail}); check what "
                f"{self._refs} holds and its read access to the APM indices"
            )
        else:
            message = f"search failed (HTTP {reply.status}): {detail} — query: {query}"
        raise SourceError(message, source=self.name, query=query, status=reply.status)
