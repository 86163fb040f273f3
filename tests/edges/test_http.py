"""The HTTP edge against a real loopback server: retries, waits, deadlines, breaker, errors."""

from __future__ import annotations

import base64
import socket
import time

import pytest
import requests

from sreworkbook.edges.http import Auth, HttpEdge, Reply, retry_after
from sreworkbook.edges.retry import Breaker, Deadline, RetryPolicy
from sreworkbook.exceptions import SourceError, SourceTimeout
from support.http import CannedServer, Route, canned_server


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def edge(retries: int = 3, **options: object) -> tuple[HttpEdge, Sleeps]:
    sleeps = Sleeps()
    policy = RetryPolicy(timeout_s=2.0, retries=retries, backoff_s=1.0, jitter=0.0)
    return HttpEdge("svc", policy=policy, sleep=sleeps, **options), sleeps  # type: ignore[arg-type]


@pytest.fixture
def server() -> CannedServer:
    with canned_server() as running:
        yield running


def test_an_answer_comes_back_whole_with_the_auth_sent(server: CannedServer) -> None:
    server.on("/q", Route(body={"a": 1}, headers={"X-Seen": "1"}))
    client, sleeps = edge(auth=Auth(bearer_token="T0KEN-1", headers={"DD-API-KEY": "K3Y-1"}))
    reply = client.get(f"{server.url}/q", params={"query": "up"})
    assert (reply.status, reply.json(), reply.attempts, reply.waited_s) == (200, {"a": 1}, 1, 0.0)
    assert reply.headers["X-Seen"] == "1" and reply.ok
    (seen,) = server.seen
    assert seen.param("query") == "up"
    assert seen.header("Authorization") == "Bearer T0KEN-1" and seen.header("DD-API-KEY") == "K3Y-1"
    basic, _ = edge(auth=Auth(username="u", password="p w"))
    basic.post(f"{server.url}/q", json_body={"x": 1})
    assert server.seen[-1].header("Authorization") == "Basic " + base64.b64encode(b"u:p w").decode()
    assert server.seen[-1].json() == {"x": 1} and server.seen[-1].method == "POST"
    assert sleeps == [] and client.requests_made == 1
    assert "T0KEN" not in repr(client.auth) and "K3Y" not in repr(client.auth)


def test_5xx_is_retried_with_exponential_backoff(server: CannedServer) -> None:
    server.then(Route(503), Route(502), Route(body={"ok": True}))
    client, sleeps = edge()
    reply = client.get(server.url + "/x")
    assert reply.json() == {"ok": True} and reply.attempts == 3 and reply.waited_s == 3.0
    assert sleeps == [1.0, 2.0]


def test_jitter_shortens_the_waits_by_a_random_share(server: CannedServer) -> None:
    server.then(Route(503), Route(503), Route())
    sleeps = Sleeps()
    draws = iter([0.5, 1.0 - 1e-9])
    policy = RetryPolicy(timeout_s=2, backoff_s=1.0, jitter=0.2)
    HttpEdge("svc", policy=policy, sleep=sleeps, draw=lambda: next(draws)).get(server.url)
    assert sleeps == pytest.approx([0.9, 1.6])


def test_retry_after_is_waited_when_short(server: CannedServer) -> None:
    server.then(Route(429, headers={"Retry-After": "7"}), Route())
    client, sleeps = edge()
    assert client.get(server.url).attempts == 2
    assert sleeps == [7.0]


def test_retry_after_longer_than_the_cap_ends_the_call_at_once(server: CannedServer) -> None:
    server.on("/", Route(429, {"error": "slow down"}, headers={"Retry-After": "3600"}))
    client, sleeps = edge()
    started = time.monotonic()
    with pytest.raises(SourceError) as caught:
        client.get(server.url + "/")
    assert time.monotonic() - started < 5
    assert str(caught.value) == (
        'svc: HTTP 429: {"error": "slow down"}; Retry-After 3600 s is longer than the 60 s '
        "svc waits"
    )
    assert caught.value.status == 429 and caught.value.attempts == 1
    assert sleeps == [] and len(server.seen) == 1


def test_retry_after_reads_seconds_dates_and_other_headers() -> None:
    assert retry_after({}) is None
    assert retry_after({"Retry-After": "12"}) == 12.0
    assert retry_after({"Retry-After": "soon"}) is None
    dated = {
        "Retry-After": "Wed, 01 May 2024 06:00:30 GMT",
        "Date": "Wed, 01 May 2024 06:00:00 GMT",
    }
    assert retry_after(dated) == 30.0
    reset = {"X-RateLimit-Reset": "4"}
    assert retry_after(reset) is None
    assert retry_after(reset, ("Retry-After", "X-RateLimit-Reset")) == 4.0


def test_client_errors_are_answers_for_the_caller(server: CannedServer) -> None:
    server.then(Route(400, {"error": "bad query"}))
    client, sleeps = edge()
    reply = client.get(server.url)
    assert reply.status == 400 and reply.json() == {"error": "bad query"} and not reply.ok
    assert sleeps == [] and len(server.seen) == 1


def test_gives_up_after_the_retries_saying_what_it_last_saw(server: CannedServer) -> None:
    server.on("/", Route(503, b"down for maintenance", "text/plain"))
    client, sleeps = edge(retries=2)
    with pytest.raises(SourceError) as caught:
        client.get(server.url + "/?token=s3cret")
    assert str(caught.value) == ("svc: HTTP 503: down for maintenance; gave up after 3 attempts")
    assert (caught.value.status, caught.value.attempts, caught.value.waited_s) == (503, 3, 3.0)
    assert sleeps == [1.0, 2.0]


def test_a_refused_connection_is_retried_then_named(closed_port: int) -> None:
    client, sleeps = edge(retries=1)
    with pytest.raises(SourceError) as caught:
        client.get(f"http://u:pw@127.0.0.1:{closed_port}/hook/s3cret")
    assert not isinstance(caught.value, SourceTimeout)
    assert str(caught.value) == (
        f"svc: cannot connect to 127.0.0.1:{closed_port} (connection refused); "
        "gave up after 2 attempts"
    )
    assert sleeps == [1.0]


def test_no_answer_is_a_timeout() -> None:
    with socket.create_server(("127.0.0.1", 0)) as silent:  # accepts, never answers
        port = silent.getsockname()[1]
        client = HttpEdge("svc", policy=RetryPolicy(timeout_s=0.3, retries=1, jitter=0))
        with pytest.raises(SourceTimeout) as caught:
            client.get(f"http://127.0.0.1:{port}/")
    assert str(caught.value) == (
        f"svc: no answer from 127.0.0.1:{port} within 0.3 s; gave up after 2 attempts"
    )


def test_a_callers_deadline_bounds_each_attempt() -> None:
    with socket.create_server(("127.0.0.1", 0)) as silent:
        port = silent.getsockname()[1]
        client = HttpEdge("svc", policy=RetryPolicy(timeout_s=5, retries=3, jitter=0))
        started = time.monotonic()
        with pytest.raises(SourceTimeout, match="within 0.4 s"):
            client.get(f"http://127.0.0.1:{port}/", deadline=Deadline.after(0.4))
    assert time.monotonic() - started < 3


def test_the_runs_deadline_bounds_every_call(
    server: CannedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.create_server(("127.0.0.1", 0)) as silent:
        port = silent.getsockname()[1]
        monkeypatch.setenv("SREWORKBOOK_SOURCES_DEADLINE", f"{time.time() + 0.5:.3f}")
        client = HttpEdge("svc", policy=RetryPolicy(timeout_s=5, retries=3, jitter=0))
        started = time.monotonic()
        with pytest.raises(SourceTimeout, match=r"within 0\.[345]\d* s"):
            client.get(f"http://127.0.0.1:{port}/")
        assert time.monotonic() - started < 2
    server.on("/", Route(200, {"ok": True}))
    with pytest.raises(
        SourceTimeout, match="not called: the run's time for data sources is used up"
    ):
        client.get(server.url + "/")
    assert server.seen == []  # past the deadline, nothing is asked


def test_a_wait_that_would_overrun_the_deadline_is_not_started(server: CannedServer) -> None:
    server.on("/", Route(503))
    sleeps = Sleeps()
    policy = RetryPolicy(timeout_s=2, retries=3, backoff_s=10, jitter=0, deadline_s=5)
    with pytest.raises(SourceError, match="HTTP 503; out of time after 1 attempt$"):
        HttpEdge("svc", policy=policy, sleep=sleeps).get(server.url + "/")
    assert sleeps == [] and len(server.seen) == 1


def test_the_breaker_stops_calling_an_endpoint_that_keeps_failing(server: CannedServer) -> None:
    server.on("/", Route(503))
    breaker = Breaker(threshold=3)
    client, _ = edge(retries=2, breaker=breaker)
    with pytest.raises(SourceError, match="gave up after 3 attempts"):
        client.get(server.url + "/")
    with pytest.raises(SourceError, match=r"HTTP 503 \(gave up after 3 failures in a row\)"):
        client.get(server.url + "/other")
    assert len(server.seen) == 3
    with canned_server({"/": Route()}) as healthy:  # another endpoint is not affected
        assert client.get(healthy.url + "/").ok


def test_every_requests_error_becomes_a_workbook_error_naming_the_service() -> None:
    from support.errors import raising_session, requests_errors

    for error in requests_errors():
        client = HttpEdge(
            "svc", session=raising_session(error), policy=RetryPolicy(retries=1, jitter=0),
            sleep=lambda s: None,
        )  # fmt: skip
        with pytest.raises(SourceError) as caught:
            client.get("http://127.0.0.1:1/x?token=s3cret")
        assert str(caught.value).startswith("svc: "), type(error).__name__
        assert "s3cret" not in str(caught.value)
        assert isinstance(caught.value, SourceTimeout) == isinstance(error, requests.Timeout)


def test_a_shared_session_is_used_and_kept_open(server: CannedServer) -> None:
    server.on("/", Route())
    with requests.Session() as session:
        session.headers["X-Trace"] = "abc"
        client = HttpEdge("svc", session=session)
        client.get(server.url + "/")
        client.get(server.url + "/")
    assert [r.header("X-Trace") for r in server.seen] == ["abc", "abc"]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'{"status": "success", "n": 1.5}', {"status": "success", "n": 1.5}),
        (b"[1, 2]", None),  # JSON, but not an object
        (b"<html>bad gateway</html>", None),
        (b"\xff\xfe", None),  # not even UTF-8
        (b"", None),
    ],
)
def test_json_object_is_the_body_only_when_it_is_a_json_object(
    body: bytes, expected: dict[str, object] | None
) -> None:
    assert Reply(200, body, {}).json_object() == expected
