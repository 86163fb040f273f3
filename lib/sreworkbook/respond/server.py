"""The webhook receiver: Alertmanager's ``webhook_configs`` posts, answered in milliseconds.

``POST /webhook`` (also ``/``) with ``Authorization: Bearer <token>``:

- 401 for a missing or wrong token (nothing read, nothing queued);
- 413 for a body over :data:`MAX_BODY_BYTES`; 411 without ``Content-Length``;
- 400 with the reason for a body that is not a version-4 webhook payload;
- 503 when the queue is full (Alertmanager retries), 200 once the work is journalled.

``GET /healthz`` says how much work is pending. The answer's body is JSON and never holds a
secret or a label value.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from sreworkbook.exceptions import ParameterError
from sreworkbook.respond.payload import parse_group
from sreworkbook.respond.service import Responder

__all__ = ["MAX_BODY_BYTES", "WebhookServer"]

MAX_BODY_BYTES = 1 << 20
_PATHS = ("/webhook", "/")
log = logging.getLogger(__name__)


class _Handler(BaseHTTPRequestHandler):
    server: WebhookServer
    protocol_version = "HTTP/1.1"
    #: Headers and body go out as two writes: without this, Nagle's algorithm holds the body
    #: until the client's delayed ACK (40 ms on Linux) on a keep-alive connection.
    disable_nagle_algorithm = True
    server_version = "sreworkbook-respond/1"

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)

    def _answer(
        self, code: int, body: dict[str, Any], headers: dict[str, str] | None = None
    ) -> None:
        data = (json.dumps(body) + "\n").encode("utf-8")
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if code >= 400 and code != 503:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path.split("?")[0] != "/healthz":
            self._answer(404, {"error": "not found"})
            return
        self._answer(200, {"status": "ok", "pending": self.server.responder.pending})

    def do_POST(self) -> None:
        if self.path.split("?")[0] not in _PATHS:
            self._answer(404, {"error": "not found; post to /webhook"})
            return
        if not self._authorised():
            self._answer(401, {"error": "missing or wrong bearer token"},
                         {"WWW-Authenticate": 'Bearer realm="sreworkbook-respond"'})  # fmt: skip
            return
        length = self.headers.get("Content-Length")
        if length is None or not length.isdigit():
            self._answer(411, {"error": "Content-Length required"})
            return
        if int(length) > MAX_BODY_BYTES:
            self._answer(413, {"error": f"body over {MAX_BODY_BYTES} bytes"})
            return
        body = self.rfile.read(int(length))
        try:
            group = parse_group(body)
        except ParameterError as exc:
            self._answer(400, {"error": str(exc)})
            return
        accepted = self.server.responder.accept(group)
        if accepted.code == 503:
            self._answer(503, {"error": "queue full, retry later"}, {"Retry-After": "10"})
            return
        self._answer(accepted.code, {"status": accepted.decision, "work": accepted.work_id})

    def _authorised(self) -> bool:
        given = self.headers.get("Authorization", "")
        scheme, _, token = given.partition(" ")
        expected = self.server.token()
        return (
            scheme.lower() == "bearer"
            and bool(expected)
            and hmac.compare_digest(token.strip().encode("utf-8"), expected.encode("utf-8"))
        )


class WebhookServer(ThreadingHTTPServer):
    """A threaded HTTP server handing accepted posts to ``responder``."""

    daemon_threads = True
    request_queue_size = 128

    def __init__(
        self, address: tuple[str, int], responder: Responder, token: Callable[[], str]
    ) -> None:
        self.responder = responder
        self.token = token
        super().__init__(address, _Handler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        shown = host.decode() if isinstance(host, bytes) else host
        return f"http://{shown}:{port}"
