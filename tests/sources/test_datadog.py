"""Datadog backend against recorded metrics-query payloads served on loopback (never the SaaS)."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from sreworkbook.config import DatadogConfig
from sreworkbook.exceptions import SecretError, SourceError, SourceTimeout
from sreworkbook.sources.datadog import MAX_POINTS, DatadogBackend, route_name
from sreworkbook.sources.panels import WindowCounts
from support.http import Request, canned_server
from support.recorded import RecordedApi, build, reply

FIXTURES = Path(__file__).parents[1] / "fixtures" / "apm"
API_KEY = "3f9c2e7a1b5d4c8e9f0a1b2c3d4e5f60"
APP_KEY = "9a8b7c6d5e4f30211e2d3c4b5a69788766554433"
ENVIRON = {"DD_API_KEY": API_KEY, "DD_APP_KEY": APP_KEY}
START = datetime(2026, 11, 3, 10, 0, tzinfo=UTC)
END = START + timedelta(minutes=5)
T0 = 1_793_700_000
SCOPE = "service:tradeai-backend,env:prod"


@pytest.fixture
def datadog() -> Iterator[tuple[str, RecordedApi]]:
    with canned_server() as server:
        recorded = RecordedApi(
            server, lambda r: r.param("query"), reply(400, "datadog_400_query.json")
        )
        yield server.url, recorded


def make(url: str, **options: Any) -> tuple[DatadogBackend, list[float]]:
    config = DatadogConfig(
        api_key="${DD_API_KEY}",
        app_key="${DD_APP_KEY}",
        site_url=url,
        service="tradeai-backend",
        env_tag="prod",
        timeout_s=2.0,
    )
    return build(DatadogBackend, config, ENVIRON, **options)  # type: ignore[no-any-return]


def stamps(*indexes: int) -> list[pd.Timestamp]:
    """Bucket ends of the recorded points: a point at 10:00 covers 10:00–10:01."""
    return [pd.Timestamp(T0 + 60 * (i + 1), unit="s", tz="UTC") for i in indexes]


# -- parsing and units -----------------------------------------------------------------------
def test_latency_p95_in_ms_with_a_null_point_left_out(datadog: tuple[str, RecordedApi]) -> None:
    url, recorded = datadog
    recorded.on("p95:trace.express.request{", "datadog_latency_p95.json")
    backend, _ = make(url)
    frame = backend.panel("latency_p95", START, END, 60)
    assert frame["value"].tolist() == [412.0, 437.0, 2315.0, 398.0]  # exact: 0.412 s → 412 ms
    assert frame["timestamp"].tolist() == stamps(0, 1, 3, 4)
    assert frame["series"].tolist() == ["all"] * 4
    assert str(frame["timestamp"].dtype) == "datetime64[ns, UTC]"
    assert frame.attrs["step_s"] == 60.0


def test_the_request_datadog_receives(datadog: tuple[str, RecordedApi]) -> None:
    url, recorded = datadog
    recorded.on("p95:", "datadog_latency_p95.json")
    backend, _ = make(url)
    backend.panel("latency_p95", START, END, 60)
    seen = recorded.seen[0]
    assert seen.path == "/api/v1/query"
    assert seen.header("DD-API-KEY") == API_KEY
    assert seen.header("DD-APPLICATION-KEY") == APP_KEY
    assert {k: v[0] for k, v in seen.query.items()} == {
        "from": str(T0),
        "to": str(T0 + 299),
        "query": f"p95:trace.express.request{{{SCOPE}}}.rollup(60)",
    }


def test_error_rate_is_errors_over_hits(datadog: tuple[str, RecordedApi]) -> None:
    url, recorded = datadog
    recorded.on("trace.express.request.errors", "datadog_errors.json")
    recorded.on("trace.express.request.hits", "datadog_hits.json")
    backend, _ = make(url)
    frame = backend.panel("error_rate", START, END, 60)
    # errors 5, 15, (none), 75, 0 over hits 1214, 1250, 1198, 1302, 1221
    assert frame["value"].tolist() == [5 / 1214, 15 / 1250, 0.0, 75 / 1302, 0.0]
    assert frame["timestamp"].tolist() == stamps(0, 1, 2, 3, 4)
    assert recorded.asked(0) == (
        f"sum:trace.express.request.errors{{{SCOPE}}}.as_count().rollup(sum, 60)"
    )
    assert (
        recorded.asked(1) == f"sum:trace.express.request.hits{{{SCOPE}}}.as_count().rollup(sum, 60)"
    )


def test_rpm_is_hits_per_minute_of_the_interval(datadog: tuple[str, RecordedApi]) -> None:
    url, recorded = datadog
    recorded.on("hits", "datadog_hits.json")
    backend, _ = make(url)
    frame = backend.panel("rpm", START, END, 60)
    assert frame["value"].tolist() == [1214.0, 1250.0, 1198.0, 1302.0, 1221.0]

    def two_minute_buckets(request: Request) -> Any:
        body = json.loads((FIXTURES / "datadog_hits.json").read_text())
        body["series"][0]["interval"] = 120  # Datadog rolled up coarser than asked
        return body

    recorded.on("hits", two_minute_buckets, first=True)
    frame = backend.panel("rpm", START, START + timedelta(minutes=10), 60)
    assert frame["value"].tolist() == [607.0, 625.0, 599.0, 651.0, 610.5]
    assert frame.attrs["step_s"] == 120.0


def test_memory_is_100_times_the_unusable_fraction(datadog: tuple[str, RecordedApi]) -> None:
    url, recorded = datadog
    recorded.on("system.mem.pct_usable", "datadog_mem.json")
    backend, _ = make(url)
    frame = backend.panel("mem_pct", START, END, 60)
    assert frame["value"].tolist() == [71.84, 72.06, 72.31, 91.2, 72.4]
    assert recorded.asked() == f"avg:system.mem.pct_usable{{{SCOPE}}}.rollup(avg, 60)"


def test_cpu_is_user_plus_system(datadog: tuple[str, RecordedApi]) -> None:
    url, recorded = datadog
    recorded.on("system.cpu.user", "datadog_cpu.json")
    backend, _ = make(url)
    assert backend.panel("cpu_pct", START, END, 60)["value"].tolist() == [
        23.5, 24.125, 22.75, 61.0, 25.25
    ]  # fmt: skip
    assert recorded.asked() == (
        f"avg:system.cpu.user{{{SCOPE}}}.rollup(avg, 60) + "
        f"avg:system.cpu.system{{{SCOPE}}}.rollup(avg, 60)"
    )


def test_rum_vitals_follow_the_declared_unit(datadog: tuple[str, RecordedApi]) -> None:
    url, recorded = datadog
    recorded.on("rum.view.largest_contentful_paint", "datadog_rum_lcp.json")
    backend, _ = make(url)
    frame = backend.panel("lcp_p75", START, END, 60)
    assert frame["value"].tolist() == [2310.0, 2284.0, 2450.0, 4125.0, 2300.0]  # ns → ms
    assert recorded.asked() == "p75:rum.view.largest_contentful_paint{env:prod}.rollup(60)"

    def no_unit(request: Request) -> Any:
        body = json.loads((FIXTURES / "datadog_rum_lcp.json").read_text())
        body["series"][0]["unit"] = None  # a custom metric without metadata: RUM's ns assumed
        return body

    recorded.on("largest_contentful_paint", no_unit, first=True)
    frame = backend.panel("lcp_p75", START, START + timedelta(minutes=6), 60)
    assert frame["value"].iloc[0] == 2310.0


def test_routes_by_resource_name(datadog: tuple[str, RecordedApi]) -> None:
    url, recorded = datadog
    recorded.on("by {resource_name}", "datadog_route_p95.json")
    backend, _ = make(url)
    frame = backend.panel("route_p95", START, END, 60)
    assert recorded.asked() == (
        f"p95:trace.express.request{{{SCOPE}}} by {{resource_name}}.rollup(60)"
    )
    assert sorted(set(frame["series"])) == ["GET /api/trades", "POST /api/ai/forecast"]
    forecast = frame[frame["series"] == "POST /api/ai/forecast"]
    assert forecast["value"].tolist() == [1874.0, 1912.0, 2406.0]


def test_overall_uses_one_bucket_for_the_window(datadog: tuple[str, RecordedApi]) -> None:
    url, recorded = datadog

    def one_point(request: Request) -> Any:
        body = json.loads((FIXTURES / "datadog_latency_p95.json").read_text())
        body["series"][0]["pointlist"] = [[float(T0 * 1000), 0.612]]
        return body

    recorded.on("p95:", one_point)
    backend, _ = make(url)
    assert backend.overall("latency_p95", START, END) == 612.0
    size = backend.window_rollup(T0, T0 + 300)
    assert recorded.asked().endswith(f".rollup({size})")
    assert T0 // size == (T0 + 299) // size  # one Unix-aligned bucket holds the window
    assert backend.overall("route_p95", START, END) is None


def test_overall_rates_come_from_counts(datadog: tuple[str, RecordedApi]) -> None:
    url, recorded = datadog
    recorded.on("errors", "datadog_errors.json")
    recorded.on("hits", "datadog_hits.json")
    backend, _ = make(url)
    assert backend.overall("error_rate", START, END) == 95 / 6185
    assert backend.overall("rpm", START, END) == 6185 / 5


def test_counts_sum_hits_and_errors_and_cannot_count_fast(datadog: tuple[str, RecordedApi]) -> None:
    url, recorded = datadog
    recorded.on("errors", "datadog_errors.json")
    recorded.on("hits", "datadog_hits.json")
    backend, _ = make(url)
    counts = backend.counts(START, END, threshold_s=2.0)
    assert counts == WindowCounts(total=6185.0, failed=95.0, fast=None)


def test_queries_can_be_replaced(datadog: tuple[str, RecordedApi]) -> None:
    url, recorded = datadog
    recorded.on("tradeai.sessions", "datadog_cpu.json")
    backend, _ = make(
        url, queries={"active_users": "max:tradeai.sessions{{{scope}}}.rollup(max, {step})"}
    )
    backend.panel("active_users", START, END, 60)
    assert recorded.asked() == f"max:tradeai.sessions{{{SCOPE}}}.rollup(max, 60)"
    with pytest.raises(ValueError, match="unknown panel 'users'"):
        make(url, queries={"users": "x"})


def test_db_and_rum_scopes() -> None:
    backend, _ = make("http://unused", db_service="tradeai-mongo", rum_service="tradeai-web")
    assert "{service:tradeai-mongo,env:prod}" in backend.query_for("db_p95", 60)
    assert "{service:tradeai-web,env:prod}" in backend.query_for("inp_p75", 60)
    default, _ = make("http://unused")
    assert "{service:tradeai-backend-mongodb,env:prod}" in default.query_for("db_p95", 60)


# -- the 1,500-point cap --------------------------------------------------------------------
def test_plan_cuts_on_step_multiples_then_coarsens() -> None:
    backend, _ = make("http://unused")
    step, spans = backend.plan(T0 + 30, T0 + 30 + 86400, 60)  # 1,440 points: one request
    assert (step, spans) == (60, [(T0 + 30, T0 + 30 + 86400)])
    step, spans = backend.plan(T0, T0 + 3 * 86400, 60)  # 4,320 points: three requests
    assert step == 60 and len(spans) == 3
    assert all(b % 60 == 0 and (b - a) / 60 <= MAX_POINTS for a, b in spans)
    assert all(x[1] == y[0] for x, y in itertools.pairwise(spans))
    step, spans = backend.plan(T0, T0 + 30 * 86400, 60)  # 43,200 points: coarsened
    assert step == 180 and len(spans) <= 10 and spans[-1][1] == T0 + 30 * 86400


def test_long_window_requests_do_not_overlap(datadog: tuple[str, RecordedApi]) -> None:
    url, recorded = datadog
    recorded.on("hits", "datadog_hits.json")
    backend, _ = make(url)
    backend.panel("rpm", START, START + timedelta(days=2), 60)
    windows = [(int(s.param("from")), int(s.param("to"))) for s in recorded.seen]
    assert windows == [(T0, T0 + 90000 - 1), (T0 + 90000, T0 + 172800 - 1)]


# -- errors ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("status", "fixture"), [(401, "datadog_401.json"), (403, "datadog_403.json")]
)
def test_refused_keys_are_not_shown(
    datadog: tuple[str, RecordedApi], status: int, fixture: str
) -> None:
    url, recorded = datadog
    recorded.queue = [reply(status, fixture)]
    backend, slept = make(url)
    with pytest.raises(SourceError, match="keys were refused") as info:
        backend.panel("rpm", START, END, 60)
    message = str(info.value)
    assert API_KEY not in message and APP_KEY not in message
    assert API_KEY not in repr(backend) and APP_KEY not in repr(backend)
    assert "${DD_API_KEY}" in message and info.value.status == status
    assert ("Unauthorized" if status == 401 else "Forbidden") in message
    assert len(recorded.seen) == 1 and slept == []


def test_429_waits_retry_after_then_succeeds(datadog: tuple[str, RecordedApi]) -> None:
    url, recorded = datadog
    recorded.queue = [reply(429, "datadog_429.json", {"Retry-After": "4"})]
    recorded.on("hits", "datadog_hits.json")
    backend, slept = make(url)
    assert len(backend.panel("rpm", START, END, 60)) == 5
    assert len(recorded.seen) == 2 and slept == [4.0]


def test_429_without_retry_after_waits_for_the_rate_limit_reset(
    datadog: tuple[str, RecordedApi],
) -> None:
    url, recorded = datadog
    limits = {"X-RateLimit-Limit": "100", "X-RateLimit-Period": "60", "X-RateLimit-Reset": "9"}
    recorded.queue = [reply(429, "datadog_429.json", {**limits, "X-RateLimit-Remaining": "0"})]
    recorded.on("hits", "datadog_hits.json")
    backend, slept = make(url)
    backend.panel("rpm", START, END, 60)
    assert slept == [9.0]


def test_5xx_exhausted(datadog: tuple[str, RecordedApi]) -> None:
    url, recorded = datadog
    recorded.queue = [reply(500, "datadog_500.json") for _ in range(3)]
    backend, slept = make(url, retries=2)
    with pytest.raises(SourceError, match="HTTP 500: .*; gave up after 3 attempts") as info:
        backend.panel("rpm", START, END, 60)
    assert "sum:trace.express.request.hits" in str(info.value.query)
    assert slept == [0.5, 1.0]


def test_bad_query_is_reported_not_retried(datadog: tuple[str, RecordedApi]) -> None:
    url, recorded = datadog
    recorded.queue = [reply(400, "datadog_400_query.json")]
    backend, slept = make(url)
    with pytest.raises(SourceError, match="Error parsing query") as info:
        backend.panel("latency_p95", START, END, 60)
    assert info.value.status == 400 and info.value.query == recorded.asked()
    assert len(recorded.seen) == 1 and slept == []


def test_error_status_in_a_200_answer(datadog: tuple[str, RecordedApi]) -> None:
    url, recorded = datadog
    recorded.queue = [
        reply(fixture=lambda request: {"status": "error", "error": "Query timed out"})
    ]
    backend, _ = make(url)
    with pytest.raises(SourceError, match="Query timed out"):
        backend.panel("latency_p95", START, END, 60)


def test_slow_answer_times_out(datadog: tuple[str, RecordedApi]) -> None:
    url, recorded = datadog
    recorded.queue = [reply(fixture="datadog_hits.json", delay_s=1.0)]
    backend, _ = make(url, retries=0)
    backend.timeout_s = 0.2
    with pytest.raises(SourceTimeout, match="no answer from 127.0.0.1:[0-9]+ within 0.2 s"):
        backend.panel("rpm", START, END, 60)


def test_missing_key_reference_names_the_variable() -> None:
    config = DatadogConfig(api_key="${DD_API_KEY}", app_key="${DD_APP_KEY}")
    with pytest.raises(SecretError, match="DD_APP_KEY is not set"):
        DatadogBackend(config, {"DD_API_KEY": API_KEY})


@pytest.mark.parametrize(
    ("resource", "route"),
    [("get_/api/trades", "GET /api/trades"), ("post_/api/auth/login", "POST /api/auth/login")],
)
def test_route_name(resource: str, route: str) -> None:
    assert route_name(resource) == route
