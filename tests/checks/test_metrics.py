"""The /metrics check against a real exposition written by prometheus_client."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from sreworkbook.checks import (
    exposed_names,
    metrics_check,
    missing_metrics,
    parse_exposition,
    run_checks,
)
from sreworkbook.config import Environment
from sreworkbook.results import CheckResult, Status

from .conftest import PROMETHEUS_TEXT, CannedServer, Route, exposition

Serve = Callable[[dict[str, Route]], CannedServer]


def run(url: str, **service: Any) -> CheckResult:
    env = Environment.model_validate(
        {"name": "t", "service": {"base_url": url, **service}, "check_timeout_s": 2}
    )
    check = metrics_check(env, environ={})
    assert check is not None
    (result,) = run_checks([check])
    return result


def test_parse_and_names_histograms_and_counters() -> None:
    families = parse_exposition(exposition().decode())
    names = exposed_names(families)
    assert "http_request_duration_seconds" in names  # the histogram family
    assert "http_request_duration_seconds_bucket" in names  # and its samples
    assert "process_cpu_seconds" in names and "process_cpu_seconds_total" in names
    required = [
        "http_request_duration_seconds",
        "process_cpu_seconds_total",  # exposed x_total, parsed as family x
        "process_cpu_seconds",
        "db_query_duration_seconds",
        "nope_total",
        "nope",
    ]
    assert missing_metrics(required, families) == ["nope_total", "nope"]


def test_not_an_exposition_raises_value_error() -> None:
    with pytest.raises(ValueError, match="not a Prometheus exposition"):
        parse_exposition("<html><body>Sign in</body></html>")


def test_complete_exposition_is_ok_with_counts(http_server: Serve) -> None:
    body = exposition()
    server = http_server({"/metrics": Route(body=body, content_type=PROMETHEUS_TEXT)})
    result = run(server.url)
    families = parse_exposition(body.decode())
    assert result.status is Status.OK
    assert result.metrics["families"] == len(families)
    assert result.metrics["samples"] == sum(len(f.samples) for f in families)
    assert result.metrics["missing"] == 0
    assert result.target == f"{server.url}/metrics"
    assert "all 5 required present" in result.detail


def test_some_required_missing_is_warn_and_listed(http_server: Serve) -> None:
    body = exposition(extra=False)  # no active_users
    server = http_server({"/metrics": Route(body=body, content_type=PROMETHEUS_TEXT)})
    result = run(server.url)
    assert result.status is Status.WARN
    assert result.detail.endswith("missing 1 of 5: active_users")
    assert result.metrics["missing"] == 1


def test_all_required_missing_is_crit(http_server: Serve) -> None:
    body = b"# TYPE other gauge\nother 1\n"
    server = http_server({"/metrics": Route(body=body, content_type=PROMETHEUS_TEXT)})
    result = run(server.url, required_metrics=["a_total", "b_seconds"])
    assert result.status is Status.CRIT
    assert "missing 2 of 2: a_total, b_seconds" in result.detail


@pytest.mark.parametrize(
    ("route", "words"),
    [
        (Route(status=401, body=b"denied"), "HTTP 401"),
        (Route(body=b""), "empty exposition"),
    ],
)
def test_refused_or_empty_is_crit(http_server: Serve, route: Route, words: str) -> None:
    server = http_server({"/metrics": route})
    result = run(server.url)
    assert result.status is Status.CRIT
    assert words in result.detail


@pytest.mark.parametrize(
    ("route", "words"),
    [
        (Route(body=b"<html><title>Log in</title></html>", content_type="text/html"),
         "HTTP 200 but an HTML page (34 bytes, text/html) instead of a Prometheus exposition: "
         "titled 'Log in'"),
        (Route(body=bytes(range(256)) * 4, content_type="text/plain"),
         "HTTP 200 but binary data (1024 bytes, text/plain) instead of a Prometheus exposition"),
    ],
)  # fmt: skip
def test_an_answer_that_is_no_exposition_is_unknown(
    http_server: Serve, route: Route, words: str
) -> None:
    server = http_server({"/metrics": route})
    result = run(server.url)
    # Before: CRIT "not a Prometheus exposition: invalid metric name:<html><hea…"
    assert result.status is Status.UNKNOWN
    assert result.detail.startswith(words), result.detail
    assert result.detail.isprintable()


def test_connection_refused_is_crit(closed_port: int) -> None:
    result = run(f"http://127.0.0.1:{closed_port}")
    assert (result.status, result.detail) == (Status.CRIT, "connection refused")


def test_no_metrics_path_no_check() -> None:
    env = Environment.model_validate(
        {"name": "t", "service": {"base_url": "http://x", "metrics_path": None}}
    )
    assert metrics_check(env, environ={}) is None
