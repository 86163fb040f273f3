"""HTTP checks against real local servers: /health, /health/detailed, probes, AI service."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from sreworkbook.checks import ai_service_check, health_status, run_checks, service_checks
from sreworkbook.config import Environment
from sreworkbook.results import CheckResult, Status
from support.http import CannedServer, Route

from .conftest import health_routes

Serve = Callable[[dict[str, Route]], CannedServer]

DETAILED = {
    "status": "degraded",
    "uptime": 1234.5,
    "checks": {
        "mongodb": {"status": "healthy", "responseTime": 12},
        "redis": {"status": "unhealthy", "responseTime": 3, "error": "connect ECONNREFUSED"},
        "memory": {"status": "warning", "usagePercent": 85.5, "heap": {"used": 1024}},
        "cpu": {"status": "healthy", "usagePercent": 20.25},
        "aiService": {"status": "down", "message": "upstream 502"},
        "disk": "ok",
    },
}


def environment(url: str, **service: Any) -> Environment:
    data: dict[str, Any] = {"name": "t", "service": {"base_url": url, **service}}
    data["check_timeout_s"] = data["service"].pop("timeout", 2.0)
    thresholds = data["service"].pop("thresholds", None)
    if thresholds:
        data["thresholds"] = thresholds
    return Environment.model_validate(data)


def healthy_routes() -> dict[str, Route]:
    return health_routes(DETAILED)


def by_key(results: tuple[CheckResult, ...]) -> dict[tuple[str, str], CheckResult]:
    return {(r.component, r.name): r for r in results}


@pytest.mark.parametrize(
    ("value", "status"),
    [
        ("healthy", Status.OK),
        ("OK", Status.OK),
        ("up", Status.OK),
        ("degraded", Status.WARN),
        ("warn", Status.WARN),
        ("unhealthy", Status.CRIT),
        ("down", Status.CRIT),
        ("error", Status.CRIT),
        (True, Status.OK),
        (False, Status.CRIT),
        ("sideways", Status.UNKNOWN),
        ("", None),
        (None, None),
        (3, None),
    ],
)
def test_health_status_words(value: Any, status: Status | None) -> None:
    assert health_status(value) is status


def test_healthy_service_every_check_ok_with_components(http_server: Serve) -> None:
    server = http_server(healthy_routes())
    env = environment(server.url)
    checks = service_checks(env, environ={})
    assert [c.name for c in checks] == [
        "health",
        "health detailed",
        "liveness probe",
        "readiness probe",
        "startup probe",
    ]
    assert checks[0].target == f"{server.url}/health"
    results = by_key(run_checks(checks))
    health = results[("service", "health")]
    assert health.status is Status.OK
    assert health.metrics["status_code"] == 200
    assert health.detail.startswith("HTTP 200, status ok")
    for probe in ("liveness", "readiness", "startup"):
        assert results[("service", f"{probe} probe")].status is Status.OK


def test_detailed_gives_one_row_per_component_with_its_numbers(http_server: Serve) -> None:
    server = http_server(healthy_routes())
    (check,) = [
        c for c in service_checks(environment(server.url), environ={}) if "detailed" in c.name
    ]
    results = run_checks([check])
    assert len(results) == 1 + len(DETAILED["checks"])  # type: ignore[arg-type]
    endpoint, *components = results
    assert endpoint.status is Status.WARN  # the payload says degraded
    assert "6 components" in endpoint.detail
    rows = {r.component: r for r in components}
    assert rows["mongodb"].status is Status.OK
    assert rows["mongodb"].latency_ms == 12.0
    assert rows["mongodb"].metrics == {"responseTime": 12.0}
    assert rows["redis"].status is Status.CRIT
    assert "connect ECONNREFUSED" in rows["redis"].detail
    assert rows["memory"].status is Status.WARN
    assert rows["memory"].metrics["usagePercent"] == 85.5
    assert rows["memory"].metrics["heap.used"] == 1024.0
    assert "85.5 % used" in rows["memory"].detail
    assert rows["cpu"].metrics["usagePercent"] == 20.25
    assert rows["aiService"].status is Status.CRIT
    assert "upstream 502" in rows["aiService"].detail
    assert rows["disk"].status is Status.OK
    assert all(r.name == "reported health" and r.target == f"{server.url}/health/detailed"
               for r in components)  # fmt: skip


@pytest.mark.parametrize(
    ("route", "status", "words"),
    [
        (Route(status=503, body={"status": "unhealthy"}), Status.CRIT, "HTTP 503 (expected 2xx)"),
        (Route(status=500, body=b"<html>oops</html>", content_type="text/html"), Status.CRIT,
         "HTTP 500"),
        (Route(body={"status": "degraded"}), Status.WARN, "status degraded"),
        (Route(body={"status": "down"}), Status.CRIT, "status down"),
        (Route(body=b"OK", content_type="text/plain"), Status.OK, "HTTP 200"),
        (Route(body={"healthy": False}), Status.CRIT, "status false"),
    ],
)  # fmt: skip
def test_health_status_from_code_and_payload(
    http_server: Serve, route: Route, status: Status, words: str
) -> None:
    server = http_server({"/health": route})
    env = environment(server.url, detailed_path=None, probes={})
    (result,) = run_checks(service_checks(env, environ={}))
    assert result.status is status
    assert words in result.detail


@pytest.mark.parametrize(
    ("body", "content_type", "what"),
    [
        (b'{"status": "ok", "checks": {"mongodb": {"sta', "application/json",
         'truncated or malformed JSON (44 bytes, application/json): '
         '{"status": "ok", "checks": {"mongodb": {"sta'),
        (b"<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>",
         "text/html", "an HTML page (74 bytes, text/html) instead of JSON: titled '502 Bad Gateway'"),
        (bytes(range(256)) * 4, "application/octet-stream",
         "binary data (1024 bytes, application/octet-stream) instead of JSON: "),
    ],
)  # fmt: skip
def test_a_detailed_health_answer_that_cannot_be_read_is_unknown_saying_why(
    http_server: Serve, body: bytes, content_type: str, what: str
) -> None:
    routes = healthy_routes()
    routes["/health/detailed"] = Route(body=body, content_type=content_type)
    server = http_server(routes)
    env = environment(server.url, probes={})
    results = by_key(run_checks(service_checks(env, environ={})))
    detailed = results[("service", "health detailed")]
    # Before: OK, "HTTP 200, 0 components".
    assert detailed.status is Status.UNKNOWN
    assert detailed.detail.startswith(f"HTTP 200 but {what}"), detailed.detail
    assert detailed.detail.isprintable() and len(detailed.detail) < 200
    assert not any(r.component != "service" for r in results.values())  # no components made up


def test_a_json_health_answer_cut_short_is_unknown(http_server: Serve) -> None:
    server = http_server({"/health": Route(body=b'{"status": "o')})
    env = environment(server.url, detailed_path=None, probes={})
    (result,) = run_checks(service_checks(env, environ={}))
    assert result.status is Status.UNKNOWN
    assert "truncated or malformed JSON" in result.detail


def test_a_probe_answering_the_wrong_code_is_crit(http_server: Serve) -> None:
    routes = healthy_routes()
    routes["/health/ready"] = Route(status=503, body={"status": "not ready"})
    routes["/health/custom"] = Route(status=204, body=b"")
    server = http_server(routes)
    env = environment(
        server.url,
        detailed_path=None,
        probes={
            "readiness": {"path": "/health/ready"},
            "custom": {"path": "/health/custom", "expected_status": 204},
            "liveness": {"path": "/health/live", "expected_status": 204},
        },
    )
    results = by_key(run_checks(service_checks(env, environ={})))
    ready = results[("service", "readiness probe")]
    assert ready.status is Status.CRIT
    assert ready.detail.startswith("HTTP 503 (expected 200)")
    assert results[("service", "custom probe")].status is Status.OK
    live = results[("service", "liveness probe")]
    assert live.status is Status.CRIT and "HTTP 200 (expected 204)" in live.detail


def test_slow_answers_over_the_latency_threshold_warn(http_server: Serve) -> None:
    server = http_server({"/health": Route(body={"status": "ok"}, delay_s=0.3),
                          "/fast": Route(body={"status": "ok"})})  # fmt: skip
    env = environment(
        server.url,
        detailed_path=None,
        probes={"liveness": {"path": "/fast"}},
        thresholds={"check_latency_warn_ms": 200},
    )
    results = by_key(run_checks(service_checks(env, environ={})))
    slow = results[("service", "health")]
    assert slow.status is Status.WARN
    assert "slow: over 200 ms" in slow.detail
    assert slow.metrics["response_ms"] >= 300
    assert results[("service", "liveness probe")].status is Status.OK


def test_connection_refused_is_crit_for_every_endpoint(closed_port: int) -> None:
    env = environment(f"http://127.0.0.1:{closed_port}")
    results = run_checks(service_checks(env, environ={}))
    assert len(results) == 5  # no component rows when /health/detailed cannot be read
    for result in results:
        assert result.status is Status.CRIT
        assert result.detail == "connection refused"


def test_a_hanging_endpoint_is_unknown(http_server: Serve) -> None:
    server = http_server({"/health": Route(hang=True)})
    env = environment(server.url, detailed_path=None, probes={}, timeout=0.5)
    (check,) = service_checks(env, environ={})
    (result,) = run_checks([check])
    assert result.status is Status.UNKNOWN
    assert result.detail == "timed out after 0.5 s"
    # The probe alone, given a shorter timeout, reports its own timeout the same way.
    (own,) = check.probe(0.2)  # type: ignore[misc]
    assert own.status is Status.UNKNOWN
    assert own.detail == "timed out after 0.2 s"


def test_headers_resolved_at_request_time_and_never_shown(http_server: Serve) -> None:
    server = http_server({"/health": Route(body={"status": "ok"})})
    env = environment(
        server.url,
        detailed_path=None,
        probes={},
        headers={"Authorization": "Bearer ${SVC_TOKEN}", "X-Static": "plain"},
    )
    checks = service_checks(env, environ={"SVC_TOKEN": "first-token-1234"})
    assert server.seen == []  # building checks contacts nothing
    (result,) = run_checks(checks)
    assert result.status is Status.OK
    headers = server.seen[-1].headers
    assert headers["Authorization"] == "Bearer first-token-1234"
    assert headers["X-Static"] == "plain"
    assert "first-token-1234" not in repr(result)


def test_an_unset_header_reference_is_unknown_naming_the_variable(http_server: Serve) -> None:
    server = http_server({"/health": Route(body={"status": "ok"})})
    env = environment(server.url, detailed_path=None, probes={},
                      headers={"Authorization": "Bearer ${SVC_TOKEN}"})  # fmt: skip
    (result,) = run_checks(service_checks(env, environ={}))
    assert result.status is Status.UNKNOWN
    assert "SVC_TOKEN" in result.detail and "service.headers.Authorization" in result.detail
    assert server.seen == []


def test_a_base_url_reference_with_credentials_is_shown_masked(http_server: Serve) -> None:
    server = http_server({"/health": Route(body={"status": "ok"})})
    secret_url = server.url.replace("http://", "http://probe:pa55-canary@")
    env = environment("${SVC_URL}", detailed_path=None, probes={})
    (check,) = service_checks(env, environ={"SVC_URL": secret_url})
    assert check.target == "${SVC_URL}/health"
    (result,) = run_checks([check])
    assert result.status is Status.OK
    assert result.target == server.url.replace("http://", "http://probe:***@") + "/health"
    assert "pa55-canary" not in repr(result)
    headers = server.seen[-1].headers
    assert headers["Authorization"].startswith("Basic ")  # requests sent the credentials


def test_ai_service(http_server: Serve, closed_port: int) -> None:
    server = http_server({"/health": Route(body={"status": "healthy"}),
                          "/broken": Route(status=502, body=b"bad gateway")})  # fmt: skip
    ok_env = Environment.model_validate(
        {"name": "t", "ai_service": {"url": f"{server.url}/health"}}
    )
    bad_env = Environment.model_validate(
        {"name": "t", "ai_service": {"url": f"{server.url}/broken"}}
    )
    gone_env = Environment.model_validate(
        {"name": "t", "ai_service": {"url": f"http://127.0.0.1:{closed_port}/health"}}
    )
    checks = [ai_service_check(e, environ={}) for e in (ok_env, bad_env, gone_env)]
    ok, bad, gone = run_checks([c for c in checks if c is not None])
    assert (ok.component, ok.name, ok.status) == ("ai_service", "health", Status.OK)
    assert bad.status is Status.CRIT and bad.detail.startswith("HTTP 502 (expected 200)")
    assert gone.status is Status.CRIT and gone.detail == "connection refused"
    assert ai_service_check(Environment(name="none"), environ={}) is None


def test_no_service_no_checks() -> None:
    assert service_checks(Environment(name="none"), environ={}) == []
