"""Give up politely: one sick dependency costs a run a handful of requests, not hundreds."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sreworkbook.alerts.rules import load_rules
from sreworkbook.alerts.tuning import prometheus_connector, tune_rules
from sreworkbook.config import Environment
from sreworkbook.dashboard import backend_for, load_dashboard, resolve_window
from sreworkbook.results import Status
from support.http import CannedServer, Route, canned_server

ROOT = Path(__file__).resolve().parents[2]
#: What a run may spend on a sick endpoint: the breaker's threshold (4 failures in a row) and
#: the calls already in flight when it opened (the dashboard's 6 workers, alert tuning's 4).
BOUND = 4 + 6


def _environment(url: str) -> Environment:
    return Environment.model_validate({"name": "t", "prometheus": {"url": url, "timeout_s": 2}})


@pytest.fixture(params=["500", "429 Retry-After 3600", "reset", "200 HTML page"])
def sick(request: pytest.FixtureRequest) -> CannedServer:
    routes = {
        "500": Route(500, "internal error", content_type="text/plain"),
        "429 Retry-After 3600": Route(429, "slow down", headers={"Retry-After": "3600"}),
        "reset": Route(hang=True),  # the server drops the connection when released
        "200 HTML page": Route(
            200, b"<html><title>Sign in</title></html>", content_type="text/html"
        ),
    }
    with canned_server() as server:
        server.on(lambda _: True, routes[request.param])
        if request.param == "reset":
            server.release.set()  # a hang that ends at once: the connection closes unanswered
        yield server


def test_the_dashboard_gives_up_on_a_sick_prometheus(sick: CannedServer) -> None:
    env = _environment(sick.url)
    span = resolve_window(start="", end="", window="6h", step="auto", now=datetime.now(UTC))
    started = time.monotonic()
    data = load_dashboard(backend_for(env, {}), span, workers=6)
    took = time.monotonic() - started
    # Before: every query retried on its own (4 attempts, backoff): 24 requests here to a
    # server answering 500, 50 to one answering 429 (216 in the longer run the issue timed).
    assert len(sick.seen) <= BOUND, len(sick.seen)
    assert took < 15
    assert data.problems and all(p.severity is Status.UNKNOWN for p in data.problems)
    assert any("gave up after" in p.detail for p in data.problems)


def test_alert_tuning_gives_up_once_for_all_its_clients(sick: CannedServer) -> None:
    rules = load_rules(ROOT / "parameters" / "alerts.yaml")
    end_ms = int(time.time() * 1000) // 60_000 * 60_000
    report = tune_rules(
        rules,
        prometheus_connector(_environment(sick.url), {}),
        (),
        start_ms=end_ms - 6 * 3_600_000,
        end_ms=end_ms,
        workers=4,
    )
    # Before: one breaker per client, so each of the 4 workers gave up on its own: 32.
    assert len(sick.seen) <= BOUND, len(sick.seen)
    assert not report.tunings
    assert len(report.problems) == len(rules.alerts)
    assert all(p.severity is Status.UNKNOWN for p in report.problems)
