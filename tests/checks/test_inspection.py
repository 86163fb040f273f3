"""The whole inspection against real servers, and the report built from its results."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from sreworkbook.checks import HealthReport, build_health_checks, inspect
from sreworkbook.config import Environment
from sreworkbook.results import CheckResult, Finding, Status

from .conftest import (
    PROMETHEUS_TEXT,
    CannedServer,
    MongoServer,
    PrometheusServer,
    RedisServer,
    Route,
    exposition,
    health_routes,
)

Serve = Callable[[dict[str, Route]], CannedServer]

DETAILED = {
    "status": "healthy",
    "checks": {
        "mongodb": {"status": "healthy", "responseTime": 4},
        "redis": {"status": "healthy", "responseTime": 1},
        "memory": {"status": "healthy", "usagePercent": 61.0},
    },
}


def service_routes() -> dict[str, Route]:
    return {
        **health_routes(DETAILED),
        "/metrics": Route(body=exposition(memory_pct=61.0), content_type=PROMETHEUS_TEXT),
        "/ai/health": Route(body={"status": "healthy"}),
    }


def full_environment(
    service: CannedServer, mongo: str, redis: str, prometheus: str | None, **extra: Any
) -> Environment:
    data: dict[str, Any] = {
        "name": "itest",
        "service": {"base_url": service.url, **extra.pop("service", {})},
        "ai_service": {"url": f"{service.url}/ai/health"},
        "mongodb": {"uri": mongo},
        "redis": {"url": redis},
        "check_timeout_s": 3,
        **extra,
    }
    if prometheus:
        data["prometheus"] = {"url": prometheus}
    return Environment.model_validate(data)


def test_a_healthy_stack_is_all_ok(
    http_server: Serve,
    mongo_server: MongoServer,
    redis_server: RedisServer,
    prometheus_server: PrometheusServer,
) -> None:
    service = http_server(service_routes())
    env = full_environment(service, mongo_server.uri, redis_server.url, prometheus_server.url)
    report = inspect(env, environ={})
    assert report.status is Status.OK, report.findings()
    # 5 HTTP endpoints + 3 reported components + metrics + AI + mongo + redis + memory + cpu
    assert len(report.results) == 14
    assert report.headline() == "All 14 health checks passed."
    assert report.findings() == ()
    metrics = report.metrics()
    assert metrics["checks_total"] == 14 and metrics["checks_ok"] == 14
    assert metrics["checks_crit"] == metrics["checks_skipped"] == 0
    assert metrics["memory_pct"] == prometheus_server.memory_pct
    assert metrics["cpu_pct"] == prometheus_server.cpu_pct
    assert metrics["mongo_ping_ms"] > 0 and metrics["redis_ping_ms"] > 0
    assert metrics["max_latency_ms"] == max(r.latency_ms or 0 for r in report.results)


def test_a_down_database_is_crit_named_in_the_headline(
    http_server: Serve, redis_server: RedisServer, closed_port: int
) -> None:
    service = http_server(service_routes())
    env = full_environment(service, f"mongodb://127.0.0.1:{closed_port}/", redis_server.url, None)
    report = inspect(env, environ={})
    assert report.status is Status.CRIT
    assert (
        report.headline() == "1 of 14 health checks needs attention — mongodb: connection refused."
    )
    assert report.findings() == (Finding(Status.CRIT, "mongodb: ping", "connection refused"),)
    assert report.metrics()["memory_pct"] == 61.0  # from the service's gauge: no Prometheus
    assert "mongo_ping_ms" not in report.metrics()


def test_unconfigured_components_are_skipped_rows() -> None:
    checks = build_health_checks(Environment(name="empty"), environ={})
    assert [(c.component, c.name) for c in checks] == [
        ("service", "health"),
        ("ai_service", "health"),
        ("mongodb", "ping"),
        ("redis", "ping"),
        ("host", "memory"),
        ("host", "cpu"),
    ]
    report = inspect(Environment(name="empty"), environ={})
    assert {r.status for r in report.results} == {Status.SKIPPED}
    assert all(r.detail == "not configured" for r in report.results)
    assert report.headline() == "All 6 health checks were skipped."
    assert report.status is Status.OK
    assert report.findings() == ()


def test_secrets_from_references_never_reach_the_report(
    http_server: Serve, mongo_server: MongoServer, redis_server: RedisServer, closed_port: int
) -> None:
    service = http_server(service_routes())
    environ = {
        "MONGO_URI": mongo_server.uri.replace("mongodb://", "mongodb://u:CANARY-mongo@"),
        "REDIS_URL": f"redis://:CANARY-redis@127.0.0.1:{closed_port}/0",
        "API_TOKEN": "CANARY-header",
        "PROM_TOKEN": "CANARY-prom",
    }
    env = Environment.model_validate(
        {
            "name": "canary",
            "service": {"base_url": service.url, "headers": {"Authorization": "${API_TOKEN}"}},
            "mongodb": {"uri": "${MONGO_URI}"},
            "redis": {"url": "${REDIS_URL}"},
            "prometheus": {"url": f"http://127.0.0.1:{closed_port}",
                           "bearer_token": "${PROM_TOKEN}"},
            "check_timeout_s": 3,
        }
    )  # fmt: skip
    report = inspect(env, environ=environ)
    assert any(r.header("Authorization") == "CANARY-header" for r in service.seen)
    shown = "\n".join(
        [
            repr(report),
            report._repr_html_(),
            report.to_frame().to_string(),
            report.headline(),
            repr(report.findings()),
            report.latency_figure().to_json(),
            repr([c.target for c in build_health_checks(env, environ=environ)]),
        ]
    )
    assert "CANARY" not in shown
    assert "u:***@" in shown and ":***@127.0.0.1" in shown


# ------------------------------------------------------------ the report from results


def result(component: str, name: str, status: Status, **kw: Any) -> CheckResult:
    return CheckResult(name, component, status, **kw)


@pytest.fixture
def mixed() -> HealthReport:
    return HealthReport(
        (
            result("service", "health", Status.OK, latency_ms=12.0, target="http://api/health"),
            result("service", "readiness probe", Status.WARN, latency_ms=1500.0,
                   detail="HTTP 200, slow: over 1000 ms"),
            result("mongodb", "ping", Status.CRIT, latency_ms=500.0, detail="connection refused",
                   target="mongodb://app:***@db/"),
            result("redis", "ping", Status.OK, latency_ms=1.5, metrics={"ping_ms": 0.4}),
            result("ai_service", "health", Status.SKIPPED, detail="not configured"),
            result("host", "memory", Status.UNKNOWN, latency_ms=3000.0,
                   detail="timed out after 3.0 s"),
            result("tls", "certificate <x>", Status.CRIT, detail="verify failed: <self-signed>"),
        )
    )  # fmt: skip


def test_status_counts_and_headline(mixed: HealthReport) -> None:
    assert mixed.status is Status.CRIT
    assert mixed.counts == {"OK": 2, "WARN": 1, "CRIT": 2, "UNKNOWN": 1, "SKIPPED": 1}
    assert mixed.headline() == (
        "4 of 6 health checks need attention — "
        "mongodb: connection refused; tls: verify failed: <self-signed>."
    )


def test_headline_with_many_culprits_and_all_ok() -> None:
    refused = [result(f"c{i}", "x", Status.CRIT, detail="connection refused") for i in range(3)]
    same = HealthReport((*refused, result("c0", "y", Status.CRIT, detail="connection refused")))
    assert (
        same.headline() == "4 of 4 health checks need attention — c0, c1, c2: connection refused."
    )
    varied = HealthReport(
        tuple(result(f"c{i}", "x", Status.WARN, detail=f"slow {i}, 3 s") for i in range(4))
    )
    assert (
        varied.headline()
        == "4 of 4 health checks need attention — c0: slow 0; c1: slow 1 and 2 more."
    )
    fine = HealthReport((result("a", "x", Status.OK), result("b", "y", Status.SKIPPED)))
    assert fine.headline() == "The one health check passed (1 skipped)."
    assert HealthReport(()).headline() == "No health checks ran."


def test_findings_most_severe_first_skipped_and_ok_left_out(mixed: HealthReport) -> None:
    assert [(f.severity, f.title) for f in mixed.findings()] == [
        (Status.CRIT, "mongodb: ping"),
        (Status.CRIT, "tls: certificate <x>"),
        (Status.UNKNOWN, "host: memory"),
        (Status.WARN, "service: readiness probe"),
    ]
    assert mixed.findings()[0].detail == "connection refused"


def test_metrics_are_flat_numbers(mixed: HealthReport) -> None:
    assert mixed.metrics() == {
        "checks_total": 7.0,
        "checks_ok": 2.0,
        "checks_warn": 1.0,
        "checks_crit": 2.0,
        "checks_unknown": 1.0,
        "checks_skipped": 1.0,
        "max_latency_ms": 3000.0,
        "redis_ping_ms": 0.4,
    }


def test_to_frame(mixed: HealthReport) -> None:
    frame = mixed.to_frame()
    assert list(frame.columns) == [
        "status", "component", "check", "latency_ms", "detail", "target", "metrics"
    ]  # fmt: skip
    assert len(frame) == 7
    assert frame.loc[2, "status"] == "CRIT" and frame.loc[2, "component"] == "mongodb"
    assert frame.loc[3, "metrics"] == {"ping_ms": 0.4}


def test_html_table_escapes_and_colours_by_status(mixed: HealthReport) -> None:
    page = mixed._repr_html_()
    assert page.count('<tr class="swb-check') == 7
    assert "&lt;self-signed&gt;" in page and "<self-signed>" not in page
    assert Status.CRIT.colour in page and Status.WARN.colour in page
    assert "mongodb://app:***@db/" in page
    assert "1,500" in page  # latency ms
    # Grouped by component, worst first within a group: readiness (WARN) before health (OK).
    assert page.index("readiness probe") < page.index(">health<")


def test_latency_figure_has_one_bar_per_check(mixed: HealthReport) -> None:
    figure = mixed.latency_figure()
    (bar,) = figure.data
    assert list(bar.y) == [f"{r.component}: {r.name}" for r in mixed.results]
    assert list(bar.x) == [r.latency_ms or 0 for r in mixed.results]
    assert list(bar.marker.color) == [r.status.colour for r in mixed.results]
