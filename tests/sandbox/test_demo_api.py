"""The demo API without its dependencies: routes, fault switch, metrics, simulated traffic."""

from __future__ import annotations

import json
import re
import threading
import time
import urllib.request
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sreworkbook.sandbox.api_metrics import build_metrics
from sreworkbook.sandbox.api_routes import Request
from sreworkbook.sandbox.api_settings import ApiSettings
from sreworkbook.sandbox.demo_api import DemoApp, _Server
from sreworkbook.sandbox.fault import FaultState
from sreworkbook.sandbox.traffic import TrafficSimulator
from sreworkbook.sandbox.winston import DailyLog

FAMILIES = (
    "http_request_duration_seconds",
    "db_query_duration_seconds",
    "db_connection_failures_total",
    "system_memory_usage_percent",
    "system_cpu_usage_percent",
    "active_users",
    "web_vitals_lcp_seconds",
    "web_vitals_inp_seconds",
    "web_vitals_cls",
    "tradeai_component_up",
    "process_resident_memory_bytes",
    "process_cpu_seconds_total",
)


@pytest.fixture
def app(tmp_path: Path) -> Iterator[DemoApp]:
    app = DemoApp(ApiSettings(port=0, log_dir=str(tmp_path / "logs")), seed=3)
    yield app
    app.stop()


def lines(directory: Path, kind: str = "combined") -> list[dict[str, Any]]:
    return [
        json.loads(x)
        for p in sorted(directory.glob(f"{kind}-*.log"))
        for x in p.read_text().splitlines()
    ]


def body(response: Any) -> Any:
    return json.loads(response.body)


def test_liveness_startup_and_health_without_mongodb(app: DemoApp) -> None:
    assert app.router.dispatch(Request("GET", "/health/live")).status == 200
    assert app.router.dispatch(Request("GET", "/health/startup")).status == 503
    app.started.set()
    assert app.router.dispatch(Request("GET", "/health/startup")).status == 200
    health = app.router.dispatch(Request("GET", "/health"))
    assert health.status == 503 and body(health)["status"] == "unhealthy"
    detailed = body(app.router.dispatch(Request("GET", "/health/detailed")))
    assert detailed["status"] == "unhealthy"
    assert set(detailed["checks"]) == {"mongodb", "redis", "aiService", "memory", "cpu"}
    assert app.router.dispatch(Request("GET", "/health/ready")).status == 503


def test_fault_switch_get_post_and_bad_input(app: DemoApp) -> None:
    response = app.router.dispatch(
        Request("POST", "/__fault", body=b'{"down": ["redis"], "memory_pct": 93}')
    )
    assert response.status == 200 and body(response)["down"] == ["redis"]
    assert app.fault() == FaultState(down=("redis",), memory_pct=93.0)
    assert body(app.router.dispatch(Request("GET", "/__fault")))["memory_pct"] == 93.0
    detailed = body(app.router.dispatch(Request("GET", "/health/detailed")))
    assert detailed["checks"]["memory"] == {"status": "critical", "usagePercent": 93.0}
    assert detailed["checks"]["redis"]["error"] == "forced down by the sandbox fault switch"
    bad = app.router.dispatch(Request("POST", "/__fault", body=b'{"down": ["kafka"]}'))
    assert bad.status == 400 and "did you mean one of" in body(bad)["error"]
    assert app.router.dispatch(Request("POST", "/__fault", body=b"not json")).status == 400
    assert app.fault().down == ("redis",)


def test_metrics_exposition_has_every_family(app: DemoApp) -> None:
    app.router.dispatch(Request("GET", "/health/live"))
    response = app.router.dispatch(Request("GET", "/metrics"))
    text = response.body.decode()
    assert response.content_type.startswith("text/plain")
    for family in FAMILIES:
        assert re.search(rf"^# TYPE {family} ", text, re.M), family
    assert (
        'http_request_duration_seconds_bucket{le="0.01",method="GET",route="/health/live",status_code="200"}'
        in text
    )


def test_api_route_without_database_fails_logs_a_stack_and_counts_the_failure(
    app: DemoApp, tmp_path: Path
) -> None:
    response = app.router.dispatch(Request("GET", "/api/trades"))
    assert response.status == 500
    assert app.metrics.db_failures._value.get() == 1
    log = lines(tmp_path / "logs")
    ids = {r["correlationId"] for r in log}
    assert len(ids) == 1
    assert log[0]["message"] == "Incoming request"
    assert log[-1]["message"] == "Request completed" and log[-1]["statusCode"] == 500
    errors = lines(tmp_path / "logs", "error")
    assert any(
        r["stack"].startswith("Error: MongoServerSelectionError") for r in errors if "stack" in r
    )


def test_unknown_route_is_404_under_one_label(app: DemoApp) -> None:
    assert app.router.dispatch(Request("GET", "/nope/123")).status == 404
    text = app.router.dispatch(Request("GET", "/metrics")).body.decode()
    assert 'route="unmatched",status_code="404"' in text


def test_latency_fault_delays_every_response_but_the_switch(app: DemoApp) -> None:
    server = _Server(0, app)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        app.set_fault(FaultState(latency_ms=300))
        began = time.monotonic()
        with urllib.request.urlopen(base + "/health/live", timeout=5) as r:
            assert r.status == 200
        assert time.monotonic() - began >= 0.3
        began = time.monotonic()
        with urllib.request.urlopen(base + "/__fault", timeout=5) as r:
            assert json.loads(r.read())["latency_ms"] == 300
        assert time.monotonic() - began < 0.25
    finally:
        server.shutdown()
        server.server_close()


def run_simulator(
    tmp_path: Path, fault: FaultState, seconds: float = 1.5
) -> tuple[list[dict[str, Any]], Any]:
    metrics = build_metrics()
    log = DailyLog(tmp_path)
    sim = TrafficSimulator(
        metrics=metrics,
        log=log,
        fault=lambda: fault,
        health=lambda: {"mongodb": True, "redis": True, "ai": True},
        user_ids=lambda: ["6ab645f2cd8ddd6bcce39a9b"],
        rps=60,
        seed=5,
    )
    sim.start()
    time.sleep(seconds)
    sim.stop()
    sim.join(5)
    log.close()
    return lines(tmp_path), metrics


def test_simulated_requests_write_two_or_three_lines_per_correlation_id(tmp_path: Path) -> None:
    log, metrics = run_simulator(tmp_path, FaultState())
    by_id: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for record in log:
        by_id[record["correlationId"]].append(record)
    finished = [v for v in by_id.values() if v[-1]["message"] == "Request completed"]
    assert len(finished) > 20
    for group in finished:
        assert 2 <= len(group) <= 3
        assert group[0]["message"] == "Incoming request"
        done = group[-1]
        assert re.fullmatch(r"\d+ms", done["duration"]) and done["statusCode"] in (200, 500)
        assert done["userId"] == "6ab645f2cd8ddd6bcce39a9b" and done["service"] == "tradeai-backend"
    stamps = [r["timestamp"] for r in log]
    assert stamps == sorted(stamps)
    views = [
        metrics.registry.get_sample_value("web_vitals_lcp_seconds_count", {"page": page})
        for page in ("/dashboard", "/trades", "/customers")
    ]
    assert sum(v or 0 for v in views) > 0


def test_error_ratio_and_memory_override_apply_to_simulated_traffic(tmp_path: Path) -> None:
    log, metrics = run_simulator(tmp_path, FaultState(error_ratio=1.0, memory_pct=96.0))
    done = [r for r in log if r["message"] == "Request completed"]
    assert done and all(
        r["statusCode"] == 500 and r["level"] == "error" and "stack" in r for r in done
    )
    assert metrics.registry.get_sample_value("system_memory_usage_percent") == 96.0
    assert (tmp_path / next(p.name for p in tmp_path.glob("error-*.log"))).stat().st_size > 0
