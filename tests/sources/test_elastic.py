"""Elastic APM backend against Elasticsearch answers in their documented shapes, served on
loopback (never a real cluster)."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import pytest

from sreworkbook.config import ElasticConfig, Environment
from sreworkbook.exceptions import ParameterError, SecretError, SourceError
from sreworkbook.sources.elastic import ElasticBackend
from sreworkbook.sources.panels import WindowCounts
from sreworkbook.sources.registry import MetricsRegistry, backend_for, default_metrics_registry
from support.http import Request, canned_server
from support.recorded import RecordedApi, build, reply

API_KEY = "VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw=="
ENVIRON = {"ELASTIC_API_KEY": API_KEY}
START = datetime(2026, 11, 3, 10, 0, tzinfo=UTC)
END = START + timedelta(minutes=5)
T0 = 1_793_700_000


def body_of(request: Request) -> str:
    return request.body.decode()


@pytest.fixture
def elastic() -> Iterator[tuple[str, RecordedApi]]:
    with canned_server() as server:
        yield server.url, RecordedApi(server, body_of, reply(400, "elastic_400_query.json"))


def make(url: str, **options: Any) -> tuple[ElasticBackend, list[float]]:
    config = ElasticConfig(
        url=url, api_key="${ELASTIC_API_KEY}", environment="prod", rum_service="tradeai-web",
        timeout_s=2.0,
    )  # fmt: skip
    return build(ElasticBackend, config, ENVIRON, **options)  # type: ignore[no-any-return]


def stamps(count: int) -> list[pd.Timestamp]:
    """Bucket ends: 10:01, 10:02, ... UTC (Elasticsearch keys a bucket by its start)."""
    return [pd.Timestamp(T0 + 60 * (i + 1), unit="s", tz="UTC") for i in range(count)]


PERCENTS = '"percents": [50, 95, 99]'


def test_latency_percentiles_in_ms_from_one_search(elastic: tuple[str, RecordedApi]) -> None:
    url, recorded = elastic
    recorded.on(PERCENTS, "elastic_latency.json")
    backend, _ = make(url)
    p95 = backend.panel("latency_p95", START, END, 60)
    assert p95["value"].tolist() == [412.0, 437.0, 398.0, 2315.0]  # the null bucket left out
    assert p95["timestamp"].tolist() == stamps(4)
    assert list(p95.columns) == ["timestamp", "series", "value"] and p95.attrs["step_s"] == 60
    assert backend.panel("latency_p50", START, END, 60)["value"].tolist() == [87, 91, 89, 95]
    assert backend.panel("latency_p99", START, END, 60)["value"].iloc[3] == 3874.0
    assert len(recorded.seen) == 1  # p50, p95 and p99 share one search


def test_the_search_elasticsearch_receives(elastic: tuple[str, RecordedApi]) -> None:
    url, recorded = elastic
    recorded.on(PERCENTS, "elastic_latency.json")
    backend, _ = make(url)
    backend.panel("latency_p95", START, END, 60)
    (seen,) = recorded.seen
    assert (seen.method, seen.path) == ("POST", "/traces-apm*/_search")
    assert seen.header("Authorization") == f"ApiKey {API_KEY}"
    assert seen.header("Content-Type") == "application/json"
    body = seen.json()
    assert body["size"] == 0
    assert body["query"]["bool"]["filter"] == [
        {"term": {"service.name": "tradeai-backend"}},
        {"range": {"@timestamp": {"gte": T0 * 1000, "lt": (T0 + 300) * 1000, "format": "epoch_millis"}}},
        {"term": {"service.environment": "prod"}},
        {"term": {"processor.event": "transaction"}},
        {"term": {"transaction.type": "request"}},
    ]  # fmt: skip
    histogram = body["aggs"]["over_time"]
    assert histogram["date_histogram"] == {
        "field": "@timestamp", "fixed_interval": "60s", "min_doc_count": 1,
    }  # fmt: skip
    assert histogram["aggs"] == {
        "latency": {"percentiles": {"field": "transaction.duration.us", "percents": [50, 95, 99]}}
    }


@pytest.mark.parametrize(
    ("panel", "needle", "fixture", "expected"),
    [
        ("error_rate", '"field": "event.outcome"', "elastic_error_rate.json", [0.01, 0.02, 0.02, 0.12]),
        ("rpm", '"aggs": {}', "elastic_rpm.json", [1214.0, 1250.0, 1198.0, 1302.0, 1221.0]),
        ("db_p95", "span.duration.us", "elastic_db.json", [38.0, 41.0, 1512.0]),
        ("mem_pct", "system.memory.actual.free", "elastic_memory.json", [75.0, 91.0]),
        ("cpu_pct", "system.cpu.total.norm.pct", "elastic_cpu.json", [42.5, 91.25]),
        ("active_users", "cardinality", "elastic_users.json", [17.0, 19.0]),
        ("lcp_p75", "largestContentfulPaint", "elastic_lcp.json", [2310.0, 4125.0]),
        ("inp_p75", "transaction.experience.inp", "elastic_inp.json", [184.0, 212.0]),
        ("cls_p75", "transaction.experience.cls", "elastic_cls.json", [0.04, 0.12]),
    ],
)  # fmt: skip
def test_each_panel_in_panel_units(
    elastic: tuple[str, RecordedApi], panel: str, needle: str, fixture: str, expected: list[float]
) -> None:
    url, recorded = elastic
    recorded.on(needle, fixture)
    backend, _ = make(url)
    frame = backend.panel(panel, START, END, 60)
    assert frame["value"].tolist() == pytest.approx(expected, rel=1e-12)
    assert set(frame["series"]) == {"all"}
    assert frame["timestamp"].tolist() == stamps(len(expected))


def test_system_metrics_and_rum_read_their_own_documents(elastic: tuple[str, RecordedApi]) -> None:
    url, recorded = elastic
    recorded.on("system.memory.actual.free", "elastic_memory.json")
    recorded.on("largestContentfulPaint", "elastic_lcp.json")
    backend, _ = make(url)
    backend.panel("mem_pct", START, END, 60)
    backend.panel("lcp_p75", START, END, 60)
    memory, lcp = recorded.seen
    assert memory.path == "/metrics-apm*/_search"
    assert {"exists": {"field": "system.memory.total"}} in memory.json()["query"]["bool"]["filter"]
    assert lcp.path == "/traces-apm*/_search"
    assert {"term": {"service.name": "tradeai-web"}} in lcp.json()["query"]["bool"]["filter"]


def test_routes_are_transaction_names(elastic: tuple[str, RecordedApi]) -> None:
    url, recorded = elastic
    recorded.on('"p95": {"percentiles"', "elastic_route_p95.json")
    recorded.on('"failed": {"filter"', "elastic_route_errors.json")
    backend, _ = make(url, route_limit=5)
    p95 = backend.panel("route_p95", START, END, 60)
    assert p95.to_dict("list")["series"] == [
        "GET /api/trades",
        "GET /api/trades",
        "POST /api/auth/login",
    ]
    assert p95["value"].tolist() == [455.0, 3502.0, 212.0]  # the null p95 left out
    errors = backend.panel("route_errors", START, END, 60)
    assert dict(zip(errors["series"], errors["value"], strict=True)) == {
        "GET /api/trades": 12.0, "POST /api/auth/login": 0.0,
    }  # fmt: skip
    assert '"size": 5' in recorded.asked(0)


def test_overall_counts_and_sparse_windows(elastic: tuple[str, RecordedApi]) -> None:
    url, recorded = elastic
    recorded.on('"fast": {"filter"', "elastic_counts.json")
    recorded.on(PERCENTS, "elastic_latency_overall.json")
    backend, _ = make(url)
    assert backend.overall("latency_p95", START, END) == 1874.0
    assert '"over_time"' not in recorded.asked() and '"track_total_hits": true' in recorded.asked()
    assert backend.overall("route_p95", START, END) is None
    counts = backend.counts(START, END, threshold_s=2.0)
    assert counts == WindowCounts(total=182_340, failed=4512, fast=179_000)
    fast = json.loads(recorded.asked())["aggs"]["fast"]["filter"]
    assert fast == {"range": {"transaction.duration.us": {"lte": 2_000_000.0}}}


def test_long_windows_are_cut_on_step_boundaries() -> None:
    backend, _ = make("http://unused", max_buckets=100)
    spans = backend.spans(T0 + 30, T0 + 30 + 250 * 60, 60, "rpm")
    assert [round((b - a) / 60, 1) for a, b in spans] == [99.5, 100.0, 50.5]
    assert spans[0][0] == T0 + 30 and spans[-1][1] == T0 + 30 + 250 * 60
    assert len(backend.spans(T0, T0 + 250 * 60, 60, "route_p95")) == 50  # 100 ÷ 20 routes


def test_a_bad_query_names_elasticsearchs_reason(elastic: tuple[str, RecordedApi]) -> None:
    url, recorded = elastic
    backend, slept = make(url)
    with pytest.raises(SourceError, match=r"parsing_exception: unknown query \[ter\]") as caught:
        backend.panel("rpm", START, END, 60)
    assert caught.value.status == 400 and slept == [] and len(recorded.seen) == 1


def test_refused_credentials_are_named_never_shown(elastic: tuple[str, RecordedApi]) -> None:
    url, recorded = elastic
    recorded.queue = [reply(401, "elastic_401.json")]
    backend, _ = make(url)
    with pytest.raises(SourceError, match="credentials were refused") as caught:
        backend.panel("rpm", START, END, 60)
    assert "${ELASTIC_API_KEY}" in str(caught.value) and API_KEY not in str(caught.value)
    assert API_KEY not in repr(backend)


def test_basic_auth_and_a_missing_reference() -> None:
    config = ElasticConfig(url="http://unused", username="${U}", password="${P}")
    backend = ElasticBackend(config, {"U": "reader", "P": "s3cret"})
    assert backend.edge.auth.username == "reader"
    with pytest.raises(SecretError, match="ELASTIC_API_KEY"):
        ElasticBackend(ElasticConfig(url="http://unused", api_key="${ELASTIC_API_KEY}"), {})


def test_429_is_retried_by_the_edge(elastic: tuple[str, RecordedApi]) -> None:
    url, recorded = elastic
    recorded.queue = [reply(429, "elastic_429.json", {"Retry-After": "2"})]
    recorded.on('"aggs": {}', "elastic_rpm.json")
    backend, slept = make(url)
    assert len(backend.panel("rpm", START, END, 60)) == 5
    assert slept == [2.0]


def test_the_registry_builds_elastic_and_names_what_it_does_not_know() -> None:
    env = Environment.model_validate(
        {
            "name": "prod",
            "metrics": {
                "source": "elastic",
                "elastic": {"url": "http://127.0.0.1:9200", "api_key": "${ELASTIC_API_KEY}"},
            },
        }
    )
    assert isinstance(backend_for(env, ENVIRON), ElasticBackend)
    assert sorted(default_metrics_registry().names) == [
        "datadog", "elastic", "files", "newrelic", "prometheus",
    ]  # fmt: skip
    with pytest.raises(
        ParameterError, match="unknown metrics source 'elastic', did you mean one of: none"
    ):
        backend_for(env, ENVIRON, registry=MetricsRegistry())
    without = env.model_copy(update={"metrics": env.metrics.model_copy(update={"elastic": None})})
    with pytest.raises(ParameterError, match="no elastic: section") as caught:
        backend_for(without, ENVIRON)
    assert caught.value.key == "metrics.elastic"
    assert base64.b64decode(API_KEY)  # the key is in Elasticsearch's own encoding
