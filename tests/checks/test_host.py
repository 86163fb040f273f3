"""Host memory and CPU: from a real Prometheus, or from the service's /metrics."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import pytest

from sreworkbook.checks import host_checks, instant_value, run_checks
from sreworkbook.config import Environment
from sreworkbook.results import CheckResult, Status

from .conftest import PROMETHEUS_TEXT, CannedServer, PrometheusServer, Route, exposition

Serve = Callable[[dict[str, Route]], CannedServer]


def with_prometheus(url: str, *, job: str = "tradeai-backend", **thresholds: Any) -> Environment:
    prometheus: dict[str, Any] = {"url": url, "job": job}
    for key in ("bearer_token", "username", "password", "memory_pct_query"):
        if key in thresholds:
            prometheus[key] = thresholds.pop(key)
    return Environment.model_validate(
        {"name": "t", "prometheus": prometheus, "thresholds": thresholds, "check_timeout_s": 3}
    )


def run(env: Environment, environ: dict[str, str] | None = None) -> dict[str, CheckResult]:
    results = run_checks(host_checks(env, environ=environ or {}))
    return {r.name: r for r in results}


def test_memory_and_cpu_from_a_real_prometheus(prometheus_server: PrometheusServer) -> None:
    results = run(with_prometheus(prometheus_server.url))
    memory, cpu = results["memory"], results["cpu"]
    assert memory.component == cpu.component == "host"
    assert memory.metrics == {"memory_pct": prometheus_server.memory_pct}  # exactly 80.0
    assert cpu.metrics == {"cpu_pct": prometheus_server.cpu_pct}  # exactly 42.5
    assert memory.status is Status.OK  # 80 is not above the default warn of 80
    assert cpu.status is Status.OK
    assert 'max(system_memory_usage_percent{job="tradeai-backend"})' in memory.detail
    assert memory.target == f"{prometheus_server.url}/api/v1/query"


@pytest.mark.parametrize(
    ("warn", "crit", "status"),
    [
        (80.0, 90.0, Status.OK),  # 80 at warn: not above
        (79.9, 90.0, Status.WARN),
        (70.0, 80.0, Status.WARN),  # 80 at crit: not above
        (70.0, 79.9, Status.CRIT),
    ],
)
def test_memory_thresholds_at_the_boundary(
    prometheus_server: PrometheusServer, warn: float, crit: float, status: Status
) -> None:
    env = with_prometheus(prometheus_server.url, memory_warn_pct=warn, memory_crit_pct=crit)
    assert run(env)["memory"].status is status


def test_cpu_thresholds(prometheus_server: PrometheusServer) -> None:
    env = with_prometheus(prometheus_server.url, cpu_warn_pct=42.5, cpu_crit_pct=42.5)
    assert run(env)["cpu"].status is Status.OK
    env = with_prometheus(prometheus_server.url, cpu_warn_pct=40, cpu_crit_pct=42.4)
    assert run(env)["cpu"].status is Status.CRIT


def test_no_data_is_unknown_naming_the_query(prometheus_server: PrometheusServer) -> None:
    results = run(with_prometheus(prometheus_server.url, job="no-such-job"))
    memory = results["memory"]
    assert memory.status is Status.UNKNOWN
    assert memory.detail == 'no data for max(system_memory_usage_percent{job="no-such-job"})'


def test_a_bad_query_is_unknown_with_prometheus_error(prometheus_server: PrometheusServer) -> None:
    env = with_prometheus(prometheus_server.url, memory_pct_query="max(")
    memory = run(env)["memory"]
    assert memory.status is Status.UNKNOWN
    assert memory.detail.startswith("HTTP 400: ")
    assert "parse error" in memory.detail


def recorded_answer(value: str) -> dict[str, Any]:
    return {
        "status": "success",
        "data": {
            "resultType": "vector",
            "result": [{"metric": {}, "value": [1764300000.0, value]}],
        },
    }


def test_bearer_token_resolved_per_request_and_never_shown(http_server: Serve) -> None:
    server = http_server({"/api/v1/query": Route(body=recorded_answer("91.5"))})
    env = with_prometheus(server.url, bearer_token="${PROM_TOKEN}")
    results = run(env, environ={"PROM_TOKEN": "CANARY-prom-token"})
    assert results["memory"].status is Status.CRIT
    assert results["memory"].metrics["memory_pct"] == 91.5
    assert all(r.header("Authorization") == "Bearer CANARY-prom-token" for r in server.seen)
    assert "CANARY" not in repr(results)


def test_basic_auth_resolved_from_references(http_server: Serve) -> None:
    server = http_server({"/api/v1/query": Route(body=recorded_answer("12"))})
    env = with_prometheus(server.url, username="reader", password="${PROM_PASSWORD}")
    results = run(env, environ={"PROM_PASSWORD": "CANARY-basic"})
    assert results["memory"].status is Status.OK
    expected = "Basic " + base64.b64encode(b"reader:CANARY-basic").decode()
    assert all(r.header("Authorization") == expected for r in server.seen)
    assert "CANARY" not in repr(results)


def test_unreachable_prometheus_is_unknown(closed_port: int) -> None:
    results = run(with_prometheus(f"http://127.0.0.1:{closed_port}"))
    assert results["memory"].status is Status.UNKNOWN
    assert results["memory"].detail == "cannot query Prometheus: connection refused"


@pytest.mark.parametrize(
    ("payload", "value"),
    [
        (recorded_answer("42"), 42.0),
        ({"status": "success", "data": {"resultType": "vector", "result": []}}, None),
        ({"status": "success", "data": {"resultType": "scalar", "result": [1, "7.5"]}}, 7.5),
        (recorded_answer("NaN"), None),
        (
            {
                "status": "success",
                "data": {
                    "resultType": "vector",
                    "result": [{"value": [1, "3"]}, {"value": [1, "9"]}],
                },
            },
            9.0,
        ),
    ],
)
def test_instant_value(payload: Any, value: float | None) -> None:
    assert instant_value(json.loads(json.dumps(payload))) == value


@pytest.mark.parametrize(
    "payload",
    [
        {"status": "error", "error": "bad_data: parse error"},
        {"status": "success", "data": {"resultType": "matrix", "result": []}},
        ["not", "a", "mapping"],
    ],
)
def test_instant_value_rejects_errors(payload: Any) -> None:
    with pytest.raises(ValueError):
        instant_value(payload)


def test_fallback_to_the_service_gauges_without_prometheus(http_server: Serve) -> None:
    body = exposition(memory_pct=91.25, cpu_pct=12.0)
    server = http_server({"/metrics": Route(body=body, content_type=PROMETHEUS_TEXT)})
    env = Environment.model_validate({"name": "t", "service": {"base_url": server.url}})
    results = run(env)
    assert results["memory"].metrics == {"memory_pct": 91.25}
    assert results["memory"].status is Status.CRIT
    assert results["cpu"].metrics == {"cpu_pct": 12.0}
    assert results["cpu"].status is Status.OK
    assert "system_memory_usage_percent in /metrics" in results["memory"].detail


def test_fallback_without_the_gauge_is_unknown(http_server: Serve) -> None:
    body = b"# TYPE other gauge\nother 1\n"
    server = http_server({"/metrics": Route(body=body, content_type=PROMETHEUS_TEXT)})
    env = Environment.model_validate({"name": "t", "service": {"base_url": server.url}})
    memory = run(env)["memory"]
    assert memory.status is Status.UNKNOWN
    assert memory.detail == "no data for system_memory_usage_percent in /metrics"


def test_nothing_to_read_from_no_checks() -> None:
    assert host_checks(Environment(name="t"), environ={}) == []
