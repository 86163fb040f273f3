"""New Relic backend against recorded NerdGraph payloads served on loopback (never the SaaS)."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from sreworkbook.config import NewRelicConfig
from sreworkbook.exceptions import SecretError, SourceError, SourceTimeout
from sreworkbook.sources.newrelic import MAX_BUCKETS, NewRelicBackend, route_name
from sreworkbook.sources.panels import WindowCounts
from support.http import Request, canned_server
from support.recorded import RecordedApi, build, reply

FIXTURES = Path(__file__).parents[1] / "fixtures" / "apm"
KEY = "NRAK-7Q2XTESTKEY4F9D1C0B8A6E5"
ENVIRON = {"NEW_RELIC_USER_KEY": KEY}
START = datetime(2026, 11, 3, 10, 0, tzinfo=UTC)
END = START + timedelta(minutes=5)
T0 = 1_793_700_000


def nrql_of(request: Request) -> str:
    return str(request.json().get("variables", {}).get("nrql", ""))


@pytest.fixture
def nerdgraph() -> Iterator[tuple[str, RecordedApi]]:
    with canned_server() as server:
        recorded = RecordedApi(server, nrql_of, reply(404, "newrelic_graphql_error.json"))
        yield server.url, recorded


def make(url: str, **options: Any) -> tuple[NewRelicBackend, list[float]]:
    config = NewRelicConfig(
        account_id=3141592,
        api_key="${NEW_RELIC_USER_KEY}",
        endpoint=f"{url}/graphql",
        app_name="tradeai-backend",
        timeout_s=2.0,
    )
    return build(NewRelicBackend, config, ENVIRON, **options)  # type: ignore[no-any-return]


def stamps(count: int) -> list[pd.Timestamp]:
    """Bucket ends of the recorded payloads: 10:01, 10:02, ... UTC."""
    return [pd.Timestamp(T0 + 60 * (i + 1), unit="s", tz="UTC") for i in range(count)]


# -- parsing and units -----------------------------------------------------------------------
def test_latency_percentiles_in_ms_from_one_query(nerdgraph: tuple[str, RecordedApi]) -> None:
    url, recorded = nerdgraph
    recorded.on("percentile(duration, 50, 95, 99)", "newrelic_latency_timeseries.json")
    backend, _ = make(url)
    p95 = backend.panel("latency_p95", START, END, 60)
    assert p95["value"].tolist() == [412.0, 437.0, 398.0, 2315.0]  # the null bucket is left out
    assert p95["timestamp"].tolist() == stamps(4)
    assert p95["series"].tolist() == ["all"] * 4
    assert list(p95.columns) == ["timestamp", "series", "value"]
    assert str(p95["timestamp"].dtype) == "datetime64[ns, UTC]"
    assert p95.attrs["step_s"] == 60.0
    assert backend.panel("latency_p50", START, END, 60)["value"].tolist() == [
        87.0,
        91.0,
        89.0,
        95.0,
    ]
    assert backend.panel("latency_p99", START, END, 60)["value"].iloc[3] == 3874.0
    assert len(recorded.seen) == 1  # p50, p95 and p99 share one NRQL query


def test_the_request_nerdgraph_receives(nerdgraph: tuple[str, RecordedApi]) -> None:
    url, recorded = nerdgraph
    recorded.on("percentile(duration", "newrelic_latency_timeseries.json")
    backend, _ = make(url)
    backend.panel("latency_p95", START, END, 60)
    seen = recorded.seen[0]
    assert seen.path == "/graphql"
    assert seen.header("API-Key") == KEY
    assert "nrql(query: $nrql, timeout: $timeout) { results }" in seen.json()["query"]
    assert seen.json()["variables"]["accountId"] == 3141592
    assert seen.json()["variables"]["timeout"] == 2
    assert recorded.asked() == (
        "SELECT percentile(duration, 50, 95, 99) FROM Transaction WHERE appName = "
        "'tradeai-backend' AND transactionType = 'Web' SINCE 1793700000000 UNTIL 1793700300000 "
        "TIMESERIES 60 seconds"
    )


@pytest.mark.parametrize(
    ("panel", "needle", "fixture", "expected"),
    [
        (
            "error_rate",
            "percentage(count(*), WHERE error IS true)",
            "newrelic_error_rate_timeseries.json",
            [0.004, 0.0125, 0.035, 0.0575, 0.0],
        ),
        (
            "rpm",
            "rate(count(*), 1 minute)",
            "newrelic_rpm_timeseries.json",
            [1214.0, 1250.5, 1198.0, 1302.0, 1221.0],
        ),
        (
            "db_p95",
            "percentile(databaseDuration, 95)",
            "newrelic_db_timeseries.json",
            [41.2, 39.8, 247.5, 43.1, 40.5],
        ),
        (
            "mem_pct",
            "average(memoryUsedPercent) FROM SystemSample",
            "newrelic_memory_timeseries.json",
            [71.84, 72.06, 72.31, 91.2, 72.4],
        ),
        (
            "cpu_pct",
            "average(cpuPercent) FROM SystemSample",
            "newrelic_cpu_timeseries.json",
            [23.5, 24.125, 22.75, 61.0, 25.25],
        ),
        (
            "active_users",
            "uniqueCount(session) FROM PageView, BrowserInteraction",
            "newrelic_active_users_timeseries.json",
            [182.0, 190.0, 187.0, 201.0, 195.0],
        ),
        (
            "lcp_p75",
            "percentile(largestContentfulPaint, 75) FROM PageViewTiming",
            "newrelic_lcp_timeseries.json",
            [2310.0, 2284.0, 2450.0, 4125.0, 2300.0],
        ),
        (
            "inp_p75",
            "percentile(interactionToNextPaint, 75) FROM PageViewTiming",
            "newrelic_inp_timeseries.json",
            [168.0, 176.0, 184.0, 520.0, 172.0],
        ),
        (
            "cls_p75",
            "percentile(cumulativeLayoutShift, 75) FROM PageViewTiming",
            "newrelic_cls_timeseries.json",
            [0.05, 0.06, 0.05, 0.21, 0.04],
        ),
    ],
)
def test_every_panel_in_its_unit(
    nerdgraph: tuple[str, RecordedApi], panel: str, needle: str, fixture: str, expected: list[float]
) -> None:
    url, recorded = nerdgraph
    recorded.on(needle, fixture)
    backend, _ = make(url)
    frame = backend.panel(panel, START, END, 60)
    assert frame["value"].tolist() == expected  # exact: 3.5 % is 0.035, 2.31 s is 2310 ms
    assert frame["timestamp"].tolist() == stamps(5)
    assert needle in recorded.asked()


def test_browser_and_host_filters(nerdgraph: tuple[str, RecordedApi]) -> None:
    url, recorded = nerdgraph
    recorded.on("PageViewTiming", "newrelic_lcp_timeseries.json")
    recorded.on("SystemSample", "newrelic_memory_timeseries.json")
    backend, _ = make(url, browser_app="TradeAI Web", host_where="hostname LIKE 'tradeai-%'")
    backend.panel("lcp_p75", START, END, 60)
    assert "FROM PageViewTiming WHERE appName = 'TradeAI Web' SINCE" in recorded.asked()
    backend.panel("mem_pct", START, END, 60)
    assert "FROM SystemSample WHERE (hostname LIKE 'tradeai-%') SINCE" in recorded.asked()


def test_routes_are_facets_named_like_routes(nerdgraph: tuple[str, RecordedApi]) -> None:
    url, recorded = nerdgraph
    recorded.on("percentile(duration, 95)", "newrelic_route_p95_faceted.json")
    recorded.on("rate(count(*), 1 minute)", "newrelic_route_errors_faceted.json")
    backend, _ = make(url, route_limit=15)
    p95 = backend.panel("route_p95", START, END, 60)
    assert recorded.asked().endswith("FACET name LIMIT 15 TIMESERIES 60 seconds")
    forecast = p95[p95["series"] == "POST /api/ai/forecast"]
    assert forecast["value"].tolist() == [1874.0, 1912.0, 2406.0]
    assert sorted(set(p95["series"])) == ["GET /api/trades", "POST /api/ai/forecast"]
    errors = backend.panel("route_errors", START, END, 60)
    assert "AND (error IS true) SINCE" in recorded.asked()
    trades = errors[errors["series"] == "GET /api/trades"]
    assert trades["value"].tolist() == [2.0, 3.0, 1.0]
    assert trades["timestamp"].tolist() == stamps(3)


def test_error_condition_can_count_5xx_only(nerdgraph: tuple[str, RecordedApi]) -> None:
    url, recorded = nerdgraph
    recorded.on("percentage(", "newrelic_error_rate_timeseries.json")
    backend, _ = make(url, error_condition="http.statusCode >= 500")
    backend.panel("error_rate", START, END, 60)
    assert "percentage(count(*), WHERE http.statusCode >= 500)" in recorded.asked()


def test_overall_is_the_window_percentile(nerdgraph: tuple[str, RecordedApi]) -> None:
    url, recorded = nerdgraph
    recorded.on("percentile(duration, 50, 95, 99)", "newrelic_latency_overall.json")
    backend, _ = make(url)
    assert backend.overall("latency_p95", START, END) == 612.0
    assert backend.overall("latency_p99", START, END) == 2875.0
    assert "TIMESERIES" not in recorded.asked()
    assert backend.overall("route_p95", START, END) is None
    assert len(recorded.seen) == 1


def test_overall_active_users_is_the_mean_of_5_minute_counts(
    nerdgraph: tuple[str, RecordedApi],
) -> None:
    url, recorded = nerdgraph
    recorded.on("uniqueCount(session)", "newrelic_active_users_timeseries.json")
    backend, _ = make(url)
    assert backend.overall("active_users", START, END) == 191.0
    assert recorded.asked().endswith("TIMESERIES 300 seconds")


def test_counts_use_aliases(nerdgraph: tuple[str, RecordedApi]) -> None:
    url, recorded = nerdgraph
    recorded.on("count(*) AS 'total'", "newrelic_counts.json")
    backend, _ = make(url)
    counts = backend.counts(START, END, threshold_s=2.0)
    assert counts == WindowCounts(total=184320.0, failed=1290.0, fast=182977.0)
    assert recorded.asked() == (
        "SELECT count(*) AS 'total', filter(count(*), WHERE error IS true) AS 'failed', "
        "filter(count(*), WHERE duration <= 2) AS 'fast' FROM Transaction WHERE appName = "
        "'tradeai-backend' AND transactionType = 'Web' SINCE 1793700000000 UNTIL 1793700300000"
    )
    assert backend.counts(START, END, threshold_s=None).fast is None
    assert "AS 'fast'" not in recorded.asked()


def test_empty_results_give_an_empty_frame(nerdgraph: tuple[str, RecordedApi]) -> None:
    url, recorded = nerdgraph
    recorded.queue = [
        reply(fixture=lambda request: {"data": {"actor": {"account": {"nrql": {"results": []}}}}})
    ]
    backend, _ = make(url)
    frame = backend.panel("rpm", START, END, 60)
    assert frame.empty and list(frame.columns) == ["timestamp", "series", "value"]
    assert "rate(count(*), 1 minute)" in frame.attrs["query"]


# -- the 366-bucket cap ---------------------------------------------------------------------
def test_plan_chunks_under_366_buckets_then_coarsens() -> None:
    backend, _ = make("http://unused")
    step, spans = backend.plan(T0, T0 + 6 * 3600, 60)  # 360 buckets: one query
    assert (step, len(spans)) == (60, 1)
    step, spans = backend.plan(T0, T0 + 12 * 3600, 60)  # 720 buckets: two queries
    assert step == 60 and spans == [(T0, T0 + 366 * 60), (T0 + 366 * 60, T0 + 12 * 3600)]
    step, spans = backend.plan(T0, T0 + 30 * 86400, 60)  # 43,200 buckets: coarsened
    assert step == 720 and len(spans) <= 10
    assert all((b - a) / step <= MAX_BUCKETS for a, b in spans)
    assert spans[0][0] == T0 and spans[-1][1] == T0 + 30 * 86400
    assert all(a_end == b_start for (_, a_end), (b_start, _) in itertools.pairwise(spans))
    with pytest.raises(ValueError, match="before"):
        backend.plan(T0, T0, 60)


def test_long_window_is_queried_in_contiguous_chunks(nerdgraph: tuple[str, RecordedApi]) -> None:
    url, recorded = nerdgraph

    def one_bucket(request: Request) -> Any:
        nrql = nrql_of(request)
        match = re.search(r"UNTIL (\d+)", nrql)
        assert match
        until = int(match.group(1)) // 1000
        row = {"beginTimeSeconds": until - 60, "endTimeSeconds": until, "rate": 1000.0}
        return {"data": {"actor": {"account": {"nrql": {"results": [row]}}}}}

    recorded.on("rate(count(*)", one_bucket)
    backend, _ = make(url)
    frame = backend.panel("rpm", START, START + timedelta(hours=12), 60)
    assert len(recorded.seen) == 2
    assert "SINCE 1793700000000 UNTIL 1793721960000" in recorded.asked(0)
    assert "SINCE 1793721960000 UNTIL 1793743200000" in recorded.asked(1)
    assert len(frame) == 2 and frame.attrs["step_s"] == 60.0


# -- errors ---------------------------------------------------------------------------------
def test_graphql_error_names_the_nrql(nerdgraph: tuple[str, RecordedApi]) -> None:
    url, recorded = nerdgraph
    recorded.on("percentile(duration", "newrelic_graphql_error.json")
    backend, _ = make(url)
    with pytest.raises(SourceError, match="NRQL Syntax Error") as info:
        backend.panel("latency_p95", START, END, 60)
    assert info.value.query == recorded.asked()
    assert recorded.asked() in str(info.value)
    assert info.value.status == 200 and not isinstance(info.value, SourceTimeout)
    assert len(recorded.seen) == 1  # a rejected query is not retried


def test_nrql_timeout_is_a_source_timeout(nerdgraph: tuple[str, RecordedApi]) -> None:
    url, recorded = nerdgraph
    recorded.on("rate(", "newrelic_graphql_timeout.json")
    backend, _ = make(url)
    with pytest.raises(SourceTimeout, match="timed out"):
        backend.panel("rpm", START, END, 60)


@pytest.mark.parametrize("status", [401, 403])
def test_refused_key_is_not_shown(nerdgraph: tuple[str, RecordedApi], status: int) -> None:
    url, recorded = nerdgraph
    recorded.queue = [reply(status, "newrelic_401.json")]
    backend, slept = make(url)
    with pytest.raises(SourceError, match="API key was refused") as info:
        backend.panel("rpm", START, END, 60)
    message = str(info.value)
    assert KEY not in message and KEY not in repr(backend)
    assert "Bad API Key" in message and "${NEW_RELIC_USER_KEY}" in message
    assert info.value.status == status
    assert len(recorded.seen) == 1 and slept == []


def test_bad_key_error_with_http_200_is_a_refusal(nerdgraph: tuple[str, RecordedApi]) -> None:
    url, recorded = nerdgraph
    recorded.queue = [reply(200, "newrelic_401.json")]
    backend, _ = make(url)
    with pytest.raises(SourceError, match="API key was refused"):
        backend.panel("rpm", START, END, 60)


def test_429_waits_retry_after_then_succeeds(nerdgraph: tuple[str, RecordedApi]) -> None:
    url, recorded = nerdgraph
    recorded.queue = [reply(429, "newrelic_429.json", {"Retry-After": "7"})]
    recorded.on("rate(count(*)", "newrelic_rpm_timeseries.json")
    backend, slept = make(url)
    frame = backend.panel("rpm", START, END, 60)
    assert frame["value"].iloc[0] == 1214.0
    assert len(recorded.seen) == 2 and slept == [7.0]


def test_retry_after_is_capped(nerdgraph: tuple[str, RecordedApi]) -> None:
    url, recorded = nerdgraph
    recorded.queue = [reply(429, "newrelic_429.json", {"Retry-After": "3600"})]
    recorded.on("rate(count(*)", "newrelic_rpm_timeseries.json")
    backend, slept = make(url, max_retry_after_s=30)
    with pytest.raises(SourceError, match="Retry-After 3600 s is longer than the 30 s newrelic"):
        backend.panel("rpm", START, END, 60)
    assert slept == [] and len(recorded.seen) == 1


def test_5xx_backs_off_then_gives_up(nerdgraph: tuple[str, RecordedApi]) -> None:
    url, recorded = nerdgraph
    recorded.queue = [reply(502, "newrelic_502.html") for _ in range(4)]
    backend, slept = make(url)
    with pytest.raises(SourceError, match="HTTP 502; gave up after 4 attempts") as info:
        backend.panel("rpm", START, END, 60)
    assert not isinstance(info.value, SourceTimeout)
    assert slept == [0.5, 1.0, 2.0] and len(recorded.seen) == 4


def test_one_5xx_then_success(nerdgraph: tuple[str, RecordedApi]) -> None:
    url, recorded = nerdgraph
    recorded.queue = [reply(503, "newrelic_502.html")]
    recorded.on("rate(count(*)", "newrelic_rpm_timeseries.json")
    backend, slept = make(url)
    assert len(backend.panel("rpm", START, END, 60)) == 5
    assert slept == [0.5]


def test_slow_answer_times_out(nerdgraph: tuple[str, RecordedApi]) -> None:
    url, recorded = nerdgraph
    recorded.queue = [reply(fixture="newrelic_rpm_timeseries.json", delay_s=1.0)]
    backend, _ = make(url, retries=0)
    assert backend.http_timeout_s == 7.0  # the NRQL timeout and 5 s for NerdGraph to say so
    backend.http_timeout_s = 0.2
    with pytest.raises(
        SourceTimeout,
        match="no answer from 127.0.0.1:[0-9]+ within 0.2 s; gave up after 1 attempt$",
    ):
        backend.panel("rpm", START, END, 60)


def test_unreachable_endpoint() -> None:
    backend, slept = make("http://127.0.0.1:9", retries=1)
    with pytest.raises(SourceError, match="cannot connect to 127.0.0.1:9"):
        backend.panel("rpm", START, END, 60)
    assert slept == [0.5]


def test_missing_key_reference_names_the_variable() -> None:
    config = NewRelicConfig(account_id=1, api_key="${NEW_RELIC_USER_KEY}")
    with pytest.raises(SecretError, match="NEW_RELIC_USER_KEY is not set"):
        NewRelicBackend(config, {})


def test_app_name_is_quoted_in_nrql() -> None:
    config = NewRelicConfig(account_id=1, api_key="${K}", app_name="it's-api")
    backend = NewRelicBackend(config, {"K": "secret-value"})
    assert "appName = 'it\\'s-api'" in backend.nrql_for("rpm", T0, T0 + 60, 60)


@pytest.mark.parametrize(
    ("name", "route"),
    [
        ("WebTransaction/Expressjs/GET//api/trades", "GET /api/trades"),
        ("WebTransaction/Expressjs/POST//api/auth/login", "POST /api/auth/login"),
        ("WebTransaction/Expressjs/GET//", "GET /"),
        ("WebTransaction/NormalizedUri/*", "*"),
        ("OtherTransaction/Nodejs/cron/backup", "cron/backup"),
        ("/api/plain", "/api/plain"),
    ],
)
def test_route_name(name: str, route: str) -> None:
    assert route_name(name) == route
