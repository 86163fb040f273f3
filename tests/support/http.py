"""One canned HTTP(S) server for every test that needs a service we fake (never the SaaS itself).

A :class:`CannedServer` is a real ``ThreadingHTTPServer`` on loopback. Each request is answered
by, in order: the next :class:`Route` in ``queue`` (whatever the path), the first rule whose
predicate holds, the route of its path in ``routes``, else 404. A route's body may be bytes,
text, something JSON-able, a recorded file (``fixture=``) or a function of the request; a route
may also pass the request on to a real server (``forward=``) or close the connection without a
word (``close=True``: the server died mid-answer). Every request is kept in ``seen`` (method,
path, query, headers, body).
"""

from __future__ import annotations

import json
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

__all__ = ["CannedServer", "Request", "Route", "canned_server", "start_http"]


@dataclass(frozen=True)
class Request:
    """One request as the server saw it."""

    method: str
    target: str  # path and query, as sent
    headers: dict[str, str]
    body: bytes = b""

    @property
    def path(self) -> str:
        return urlsplit(self.target).path

    @property
    def query(self) -> dict[str, list[str]]:
        return parse_qs(urlsplit(self.target).query)

    def param(self, name: str) -> str:
        """The (first) value of query parameter ``name``; ``""`` when absent."""
        return (self.query.get(name) or [""])[0]

    def header(self, name: str) -> str:
        wanted = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == wanted), "")

    def json(self) -> Any:
        return json.loads(self.body or b"null")


@dataclass
class Route:
    """An answer: code, body, headers; or a delay first, a hang (no answer at all), or a stall
    (the body stops halfway)."""

    status: int = 200
    body: Any = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    hang: bool = False
    fixture: Path | None = None  # a recorded payload, served as is
    forward: str | None = None  # a real server's base URL: its answer, relayed as it came
    close: bool = False  # no answer: the connection is closed as soon as the request is read
    stall_after: int | None = None  # the headers and this many bytes of the body, then nothing

    def payload(self, request: Request) -> bytes:
        body = self.fixture.read_bytes() if self.fixture is not None else self.body
        if callable(body):
            body = body(request)
        if isinstance(body, bytes):
            return body
        if isinstance(body, str):
            return body.encode()
        return json.dumps(body).encode()


Predicate = Callable[[Request], bool]


@dataclass
class CannedServer:
    """A loopback server answering from ``queue``, ``rules`` and ``routes``; see the module."""

    url: str
    port: int
    routes: dict[str, Route] = field(default_factory=dict)
    rules: list[tuple[Predicate, Route]] = field(default_factory=list)
    queue: list[Route] = field(default_factory=list)
    seen: list[Request] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)
    stop: Callable[[], None] = field(default=lambda: None, repr=False)

    def on(self, when: str | Predicate, route: Route) -> CannedServer:
        """Answer requests for path ``when`` (or matching the predicate) with ``route``."""
        if isinstance(when, str):
            self.routes[when] = route
        else:
            self.rules.append((when, route))
        return self

    def then(self, *routes: Route) -> CannedServer:
        """Answer the next requests, whatever they ask, with ``routes`` in order."""
        self.queue.extend(routes)
        return self

    def answer(self, request: Request) -> Route:
        self.seen.append(request)
        if self.queue:
            return self.queue.pop(0)
        for predicate, route in self.rules:
            if predicate(request):
                return route
        return self.routes.get(request.path) or Route(404, {"error": "not found"})

    @property
    def paths(self) -> list[str]:
        return [r.path for r in self.seen]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256
    canned: CannedServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients that gave up (timeouts) close their end: not a test failure


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        request = Request(
            self.command, self.path, dict(self.headers.items()), self.rfile.read(length)
        )
        canned = self.server.canned
        route = canned.answer(request)
        if route.hang:
            canned.release.wait(30)
            return
        if route.close:
            self.close_connection = True
            return
        if route.forward is not None:
            route = _relayed(route.forward, request)
        if route.delay_s:
            time.sleep(route.delay_s)
        body = route.payload(request)
        self.send_response(route.status)
        headers = {"Content-Type": route.content_type, **route.headers}
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body[: route.stall_after])
        if route.stall_after is not None:
            self.wfile.flush()
            canned.release.wait(30)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _serve


def _relayed(upstream: str, request: Request) -> Route:
    """``request`` sent on to ``upstream``; its answer as a route (errors included)."""
    import urllib.error
    import urllib.request

    hop = {"host", "content-length", "connection", "accept-encoding"}
    sent = urllib.request.Request(
        upstream.rstrip("/") + request.target,
        data=request.body or None,
        method=request.method,
        headers={k: v for k, v in request.headers.items() if k.lower() not in hop},
    )
    try:
        with urllib.request.urlopen(sent, timeout=30) as answer:
            status, body, kind = answer.status, answer.read(), answer.headers.get_content_type()
    except urllib.error.HTTPError as exc:
        status, body, kind = exc.code, exc.read(), exc.headers.get_content_type()
    return Route(status, body, content_type=kind)


def start_http(
    routes: dict[str, Route] | None = None, *, tls: ssl.SSLContext | None = None
) -> CannedServer:
    """A running server (``server.stop()`` shuts it down)."""
    server = _Server(("127.0.0.1", 0), _Handler)
    port = int(server.server_address[1])
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    scheme = "https" if tls else "http"
    canned = CannedServer(url=f"{scheme}://127.0.0.1:{port}", port=port, routes=dict(routes or {}))
    server.canned = canned
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()

    def shutdown() -> None:
        canned.release.set()
        server.shutdown()
        server.server_close()
        thread.join(5)

    canned.stop = shutdown
    return canned


@contextmanager
def canned_server(
    routes: dict[str, Route] | None = None, *, tls: ssl.SSLContext | None = None
) -> Iterator[CannedServer]:
    """:func:`start_http` as a context manager."""
    canned = start_http(routes, tls=tls)
    try:
        yield canned
    finally:
        canned.stop()
