"""The one HTTP GET every HTTP check uses: third-party errors come out as the workbook's."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator

import pytest
import requests

from sreworkbook.checks.net import failure, http_get
from sreworkbook.exceptions import SourceError, SourceTimeout
from sreworkbook.results import Status
from support.http import CannedServer, Route

Serve = Callable[[dict[str, Route]], CannedServer]


def test_reads_code_body_and_json(http_server: Serve) -> None:
    server = http_server({"/j": Route(body={"a": 1}), "/t": Route(body=b"plain")})
    answer = http_get(f"{server.url}/j", timeout_s=2)
    assert (answer.status_code, answer.json(), answer.content_type) == (
        200,
        {"a": 1},
        "application/json",
    )
    assert answer.elapsed_ms > 0
    assert http_get(f"{server.url}/t", timeout_s=2).json() is None


def test_uses_the_given_session(http_server: Serve) -> None:
    server = http_server({"/j": Route(body={"a": 1})})
    with requests.Session() as session:
        session.headers["X-From-Session"] = "yes"
        http_get(f"{server.url}/j", timeout_s=2, session=session)
    assert server.seen[-1].header("X-From-Session") == "yes"


def test_refused_is_a_source_error_and_crit(closed_port: int) -> None:
    with pytest.raises(SourceError) as caught:
        http_get(f"http://u:pw-x@127.0.0.1:{closed_port}/health", timeout_s=2)
    assert not isinstance(caught.value, SourceTimeout)
    assert caught.value.source == f"http://u:***@127.0.0.1:{closed_port}/health"
    assert failure(caught.value) == (Status.CRIT, "connection refused")
    assert "pw-x" not in str(caught.value)


def test_a_hang_is_a_source_timeout_and_unknown(http_server: Serve) -> None:
    server = http_server({"/h": Route(hang=True)})
    with pytest.raises(SourceTimeout) as caught:
        http_get(f"{server.url}/h", timeout_s=0.3)
    assert failure(caught.value) == (Status.UNKNOWN, "timed out after 0.3 s")


@pytest.fixture
def truncating_server() -> Iterator[int]:
    """Promises 1000 bytes, sends 10, and closes: a broken response mid-body."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with conn:
                conn.recv(65536)
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n0123456789")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield int(listener.getsockname()[1])
    stop.set()
    thread.join(2)
    listener.close()


def test_a_truncated_body_is_a_source_error(truncating_server: int) -> None:
    with pytest.raises(SourceError) as caught:
        http_get(f"http://127.0.0.1:{truncating_server}/x", timeout_s=2)
    status, detail = failure(caught.value)
    assert status is Status.CRIT
    assert detail.startswith("request failed: ")
