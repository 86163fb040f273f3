"""Prometheus client: chunking arithmetic, frame shaping, retries and errors (local HTTP server)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import pytest

from sreworkbook.exceptions import SourceError, SourceTimeout
from sreworkbook.sources.prometheus import PrometheusSource, frame_from_result
from support.http import CannedServer, Route, canned_server


def test_thirty_days_at_15s_is_chunked_on_step_boundaries() -> None:
    source = PrometheusSource("http://unused")
    start, step = 1_700_000_000.0, 15.0
    end = start + 30 * 86400
    spans = source.chunks(start, end, step)
    total = 30 * 86400 // 15 + 1
    assert len(spans) == -(-total // 11_000) == 16
    points = 0
    for first, last in spans:
        assert (first - start) % step == 0
        count = int((last - first) / step) + 1
        assert count <= 11_000
        points += count
    assert points == total
    assert spans[0][0] == start and spans[-1][1] == end
    for (_, a_end), (b_start, _) in itertools.pairwise(spans):
        assert b_start - a_end == step


def test_frame_shape() -> None:
    frame = frame_from_result(
        [
            {"metric": {"__name__": "up", "job": "a"}, "values": [[10, "1"], [25, "0"]]},
            {"metric": {"job": "b"}, "value": [10, "NaN"]},
        ]
    )
    assert list(frame.columns) == ["timestamp", "__name__", "job", "value"]
    assert len(frame) == 3
    assert str(frame["timestamp"].dtype) == "datetime64[ns, UTC]" or "UTC" in str(
        frame["timestamp"].dtype
    )
    assert frame_from_result([]).empty


@pytest.fixture
def server() -> Iterator[CannedServer]:
    """A stand-in Prometheus answering an empty result unless told otherwise."""
    with canned_server() as running:
        for path in ("/api/v1/query", "/api/v1/query_range"):
            running.on(path, Route(body=_ok([])))
        yield running


def _ok(result: list[Any], kind: str = "matrix") -> dict[str, Any]:
    return {"status": "success", "data": {"resultType": kind, "result": result}}


def test_retries_5xx_and_429_then_succeeds(server: CannedServer) -> None:
    server.then(
        Route(503, {"status": "error"}),
        Route(429, {"status": "error"}, headers={"Retry-After": "0"}),
        Route(body=_ok([{"metric": {}, "value": [1, "42"]}], "vector")),
    )
    slept: list[float] = []
    source = PrometheusSource(server.url, sleep=slept.append, bearer_token="tok")
    frame = source.query("up")
    assert frame["value"].tolist() == [42.0]
    assert source.requests_made == 3
    assert server.seen[0].header("Authorization") == "Bearer tok"


def test_a_429_asking_for_an_hour_ends_the_query_at_once(server: CannedServer) -> None:
    """A proxy answering ``429 Retry-After: 3600`` once stalled one query for three hours."""
    hour = Route(429, {"status": "error", "error": "rate limited"}, headers={"Retry-After": "3600"})
    server.then(*[hour] * 4)
    slept: list[float] = []
    source = PrometheusSource(server.url, sleep=slept.append)
    with pytest.raises(SourceError) as info:
        source.query("up")
    assert sum(slept) <= 60, f"the query would have waited {sum(slept):,.0f} s"
    assert "Retry-After 3600 s is longer than the 60 s prometheus waits" in str(info.value)
    assert info.value.status == 429 and source.requests_made == 1


def test_bad_query_is_not_retried(server: CannedServer) -> None:
    server.then(Route(400, {"status": "error", "errorType": "bad_data", "error": "parse error"}))
    source = PrometheusSource(server.url, sleep=lambda s: None)
    with pytest.raises(SourceError, match="bad_data: parse error") as info:
        source.query("up{")
    assert info.value.status == 400 and info.value.query == "up{"
    assert source.requests_made == 1


def test_gives_up_after_retries(server: CannedServer) -> None:
    server.then(*[Route(502, {})] * 4)
    with pytest.raises(SourceError, match="HTTP 502: {}; gave up after 4 attempts"):
        PrometheusSource(server.url, sleep=lambda s: None).query("up")


def test_connection_refused_and_timeout() -> None:
    with pytest.raises(SourceError, match="cannot connect"):
        PrometheusSource("http://127.0.0.1:9", retries=1, sleep=lambda s: None).query("up")


def test_hanging_server_times_out() -> None:
    import socket

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    try:
        source = PrometheusSource(
            f"http://127.0.0.1:{listener.getsockname()[1]}", timeout_s=0.3, retries=0
        )
        with pytest.raises(SourceTimeout):
            source.query("up")
    finally:
        listener.close()


def test_range_query_splits_and_joins(server: CannedServer) -> None:
    source = PrometheusSource(server.url, max_points=3)
    series = {"metric": {"job": "a"}, "values": [[0, "1"]]}
    server.then(Route(body=_ok([series])), Route(body=_ok([series])))
    frame = source.query_range("up", 0, 50, 10)  # 6 points → 2 chunks of 3
    first, second = server.seen
    assert (first.param("start"), first.param("end")) == ("0.000", "20.000")
    assert (second.param("start"), second.param("end")) == ("30.000", "50.000")
    assert len(frame) == 1  # the same point twice is kept once


def test_an_unreachable_server_fails_fast_after_the_first_query() -> None:
    slept: list[float] = []
    source = PrometheusSource("http://127.0.0.1:9", retries=2, sleep=slept.append)
    with pytest.raises(SourceError, match="cannot connect"):
        source.query("up")
    assert source.requests_made == 3
    with pytest.raises(SourceError, match="gave up after 3 failures in a row"):
        source.query("up")
    assert source.requests_made == 3  # no new attempt
