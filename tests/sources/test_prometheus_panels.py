"""The dashboard's PromQL against the sandbox's real Prometheus and its planted incidents.

Truth comes from two places: the raw cumulative samples Prometheus stores (read back with
instant queries at sample timestamps, no functions applied), through our own
``histogram_quantile``; and the incidents the sandbox planted (a 16 % error spike on
/api/trades, a p95 of about 3.5 s).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sreworkbook.dashboard import PrometheusBackend, resolve_window
from sreworkbook.dashboard.quantile import histogram_quantile
from sreworkbook.sources.prometheus import PrometheusSource

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def backend(sandbox: Any) -> PrometheusBackend:
    sandbox.require("prometheus")
    source = PrometheusSource(sandbox.env.prometheus.url, timeout_s=30)
    return PrometheusBackend(source, job=sandbox.env.prometheus.job)


def incident(sandbox: Any, kind: str) -> tuple[datetime, datetime]:
    found = next(
        i for i in json.loads(sandbox.state.incidents_file.read_text()) if i["kind"] == kind
    )
    parse = lambda s: datetime.fromisoformat(s.replace("Z", "+00:00"))  # noqa: E731
    return parse(found["start"]), parse(found["end"])


def sample_time(backend: PrometheusBackend, at: datetime) -> datetime:
    """The timestamp of the last stored sample at or before ``at``."""
    frame = backend.source.query(
        f'max(timestamp(http_request_duration_seconds_count{{job="{backend.job}"}}))', at=at
    )
    return datetime.fromtimestamp(float(frame["value"].iloc[0]), UTC)


def raw_buckets(backend: PrometheusBackend, at: datetime, selector: str = "") -> dict[float, float]:
    frame = backend.source.query(
        f'sum by (le) (http_request_duration_seconds_bucket{{job="{backend.job}"{selector}}})',
        at=at,
    )
    return {float(row.le): float(row.value) for row in frame.itertuples()}


def test_histogram_quantile_agrees_with_prometheus_on_the_same_buckets(
    backend: PrometheusBackend, sandbox: Any
) -> None:
    """Raw bucket deltas (no extrapolation) through Prometheus's and our histogram_quantile."""
    _, end = incident(sandbox, "latency")
    t1 = sample_time(backend, end)
    span = 7_200 - sandbox.env.sandbox.history_step_s
    first = t1 - timedelta(seconds=span)
    later, earlier = raw_buckets(backend, t1), raw_buckets(backend, first)
    deltas = [(le, later[le] - earlier[le]) for le in later]
    selector = f'http_request_duration_seconds_bucket{{job="{backend.job}"}}'
    delta = f"sum by (le) ({selector}) - sum by (le) ({selector} offset {span}s)"
    for q, panel in ((0.5, "latency_p50"), (0.95, "latency_p95"), (0.99, "latency_p99")):
        theirs = backend.source.query(f"histogram_quantile({q}, {delta})", at=t1)["value"].iloc[0]
        assert theirs == pytest.approx(histogram_quantile(q, deltas), rel=1e-9), q
        # The dashboard's own query extrapolates increase() to the window's edges, series by
        # series, so it may differ slightly from the raw deltas; never by much.
        overall = backend.overall(panel, t1 - timedelta(hours=2), t1)
        assert overall is not None
        assert overall == pytest.approx(histogram_quantile(q, deltas) * 1000, rel=0.03), panel


def test_latency_incident_p95_is_about_3_5_s(backend: PrometheusBackend, sandbox: Any) -> None:
    start, end = incident(sandbox, "latency")
    p95 = backend.overall("latency_p95", start + timedelta(minutes=5), end)
    assert p95 is not None and 3_000 < p95 < 4_000
    before = backend.overall("latency_p95", start - timedelta(hours=3), start - timedelta(hours=1))
    assert before is not None and before < 1_500


def test_error_spike_is_12_percent_on_trades(backend: PrometheusBackend, sandbox: Any) -> None:
    start, end = incident(sandbox, "error_rate")
    frame = backend.panel(
        "route_errors", start + timedelta(minutes=5), end - timedelta(minutes=1), 60
    )
    trades = frame[frame["series"] == "/api/trades"]["value"].mean()
    others = frame[frame["series"] != "/api/trades"]["value"].mean()
    assert trades > 10 * max(others, 0.01)
    ratio = backend.source.query(
        f'sum(increase(http_request_duration_seconds_count{{job="{backend.job}",route="/api/trades",status_code=~"5.."}}[20m]))'
        f' / sum(increase(http_request_duration_seconds_count{{job="{backend.job}",route="/api/trades"}}[20m]))',
        at=end,
    )["value"].iloc[0]
    assert 0.14 < ratio < 0.18
    overall = backend.overall("error_rate", start, end)
    assert overall is not None and overall > 0.05  # over all routes: the seed's 5 % alert fires


def test_a_30_day_window_at_one_minute_is_chunked_and_complete(backend: PrometheusBackend) -> None:
    span = resolve_window(
        start="", end="", window="30d", step="1m", now=datetime.now(UTC) - timedelta(minutes=10)
    )
    before = backend.source.requests_made
    frame = backend.panel("mem_pct", span.start, span.end, span.step_s)
    assert backend.source.requests_made - before == 4  # 43,201 points in chunks of 11,000
    assert len(frame) > 0.95 * 43_200
    assert frame["timestamp"].is_monotonic_increasing
    assert frame["timestamp"].duplicated().sum() == 0
    leak = frame["value"].max()
    assert 95 < leak <= 99.5  # the memory leak ramp peaks near 97 %
