"""Prometheus client: chunking arithmetic, frame shaping, retries and errors (local HTTP server)."""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

from sreworkbook.exceptions import SourceError, SourceTimeout
from sreworkbook.sources.prometheus import PrometheusSource, frame_from_result


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


class _Script:
    def __init__(self, answers: list[tuple[int, dict[str, Any], dict[str, str]]]) -> None:
        self.answers = answers
        self.seen: list[dict[str, list[str]]] = []
        self.headers: list[dict[str, str]] = []


@pytest.fixture
def server() -> Iterator[tuple[str, _Script]]:
    script = _Script([])

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            script.seen.append(parse_qs(urlparse(self.path).query))
            script.headers.append(dict(self.headers))
            status, body, headers = script.answers.pop(0) if script.answers else (200, _ok([]), {})
            payload = json.dumps(body).encode()
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", script
    httpd.shutdown()
    httpd.server_close()


def _ok(result: list[Any], kind: str = "matrix") -> dict[str, Any]:
    return {"status": "success", "data": {"resultType": kind, "result": result}}


def test_retries_5xx_and_429_then_succeeds(server: tuple[str, _Script]) -> None:
    url, script = server
    script.answers = [
        (503, {"status": "error"}, {}),
        (429, {"status": "error"}, {"Retry-After": "0"}),
        (200, _ok([{"metric": {}, "value": [1, "42"]}], "vector"), {}),
    ]
    slept: list[float] = []
    source = PrometheusSource(url, sleep=slept.append, bearer_token="tok")
    frame = source.query("up")
    assert frame["value"].tolist() == [42.0]
    assert source.requests_made == 3
    assert script.headers[0]["Authorization"] == "Bearer tok"


def test_bad_query_is_not_retried(server: tuple[str, _Script]) -> None:
    url, script = server
    script.answers = [
        (400, {"status": "error", "errorType": "bad_data", "error": "parse error"}, {})
    ]
    source = PrometheusSource(url, sleep=lambda s: None)
    with pytest.raises(SourceError, match="bad_data: parse error") as info:
        source.query("up{")
    assert info.value.status == 400 and info.value.query == "up{"
    assert source.requests_made == 1


def test_gives_up_after_retries(server: tuple[str, _Script]) -> None:
    url, script = server
    script.answers = [(502, {}, {})] * 4
    with pytest.raises(SourceError, match="HTTP 502 after 4 attempts"):
        PrometheusSource(url, sleep=lambda s: None).query("up")


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


def test_range_query_splits_and_joins(server: tuple[str, _Script]) -> None:
    url, script = server
    source = PrometheusSource(url, max_points=3)
    series = {"metric": {"job": "a"}, "values": [[0, "1"]]}
    script.answers = [(200, _ok([series]), {}), (200, _ok([series]), {})]
    frame = source.query_range("up", 0, 50, 10)  # 6 points → 2 chunks of 3
    assert len(script.seen) == 2
    assert script.seen[0]["start"] == ["0.000"] and script.seen[0]["end"] == ["20.000"]
    assert script.seen[1]["start"] == ["30.000"] and script.seen[1]["end"] == ["50.000"]
    assert len(frame) == 1  # the same point twice is kept once


def test_an_unreachable_server_fails_fast_after_the_first_query() -> None:
    slept: list[float] = []
    source = PrometheusSource("http://127.0.0.1:9", retries=2, sleep=slept.append)
    with pytest.raises(SourceError, match="cannot connect"):
        source.query("up")
    assert source.requests_made == 3
    with pytest.raises(SourceError, match="gave up after 3 attempts"):
        source.query("up")
    assert source.requests_made == 3  # no new attempt
