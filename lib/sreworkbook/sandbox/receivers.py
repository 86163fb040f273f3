# Over 500 lines on purpose: the two receivers share their recording, failure injection and
# lifecycle (_Record, _Failures, _Receiver) and run as one process (``main``); split apart they
# would import each other's privates.
"""Local receivers for notifications: a Slack-compatible webhook and an SMTP sink, on loopback.

The sandbox points Alertmanager and the notifiers at them, and tests read what arrived:

- :class:`SlackReceiver` — a ``ThreadingHTTPServer`` that accepts a JSON POST on any path and
  answers like Slack's incoming webhooks (``200 ok``; ``400 invalid_payload`` for a body that
  is not JSON). It can be told to answer 429 or 5xx the next N times. A GET returns what it
  has received as JSON.
- :class:`SMTPSink` — an aiosmtpd server that accepts every message (optionally after STARTTLS
  and AUTH), and can be told to answer a 4xx the next N times.

Both keep what they receive in memory (:meth:`received`, :meth:`wait_for`) and append it to
files when given paths (JSON lines; mbox for mail). As a detached process::

    python -m sreworkbook.sandbox.receivers --slack-port 0 --smtp-port 0 --dir .sandbox/receivers

prints one JSON line with the URLs once both listen, writes the same to
``DIR/receivers.json`` and runs until SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import mailbox
import os
import signal
import socket
import ssl
import sys
import threading
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import policy as email_policy
from email.message import EmailMessage
from email.parser import BytesParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any, Generic, Self, TypeVar

from sreworkbook.commands import ArgumentParser
from sreworkbook.exceptions import SandboxError
from sreworkbook.results import record

__all__ = [
    "ReceivedMail",
    "ReceivedPost",
    "SMTPSink",
    "SlackReceiver",
    "main",
]

log = logging.getLogger(__name__)

_T = TypeVar("_T")
Clock = Callable[[], datetime]


def _utcnow() -> datetime:
    return datetime.now(UTC)


class _Record(Generic[_T]):
    """Thread-safe in-memory records with a wait, appended to a JSON-lines file if given."""

    def __init__(self, jsonl_path: Path | None) -> None:
        self._items: list[_T] = []
        self._changed = threading.Condition()
        self._jsonl = jsonl_path

    def add(self, item: _T, line: Mapping[str, Any]) -> None:
        with self._changed:
            self._items.append(item)
            if self._jsonl is not None:
                self._jsonl.parent.mkdir(parents=True, exist_ok=True)
                with self._jsonl.open("a", encoding="utf-8") as out:
                    out.write(json.dumps(line, ensure_ascii=False, default=str) + "\n")
            self._changed.notify_all()

    def items(self) -> tuple[_T, ...]:
        with self._changed:
            return tuple(self._items)

    def wait_for(self, count: int, timeout_s: float) -> tuple[_T, ...]:
        with self._changed:
            self._changed.wait_for(lambda: len(self._items) >= count, timeout=timeout_s)
            return tuple(self._items)

    def clear(self) -> None:
        with self._changed:
            self._items.clear()


class _Failures:
    """``count`` failures still to give, and what they look like."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._left = 0
        self._spec: tuple[int, float | None, str] = (429, None, "")

    def arm(self, count: int, code: int, retry_after: float | None, text: str) -> None:
        with self._lock:
            self._left = max(0, count)
            self._spec = (code, retry_after, text)

    def take(self) -> tuple[int, float | None, str] | None:
        with self._lock:
            if self._left <= 0:
                return None
            self._left -= 1
            return self._spec


# -- the Slack-compatible webhook receiver --------------------------------------------------------
@dataclass(frozen=True)
class ReceivedPost:
    """One JSON POST the webhook receiver accepted."""

    path: str
    body: Any
    headers: Mapping[str, str] = field(default_factory=dict)
    received_at: str = ""

    def to_dict(self) -> dict[str, Any]:
        return record(self)


_KEPT_HEADERS = ("content-type", "user-agent")
# What Slack's incoming webhooks answer (https://api.slack.com/messaging/webhooks).
_SLACK_ERRORS = {
    400: "invalid_payload",
    403: "action_prohibited",
    404: "no_service",
    410: "channel_is_archived",
    429: "rate_limited",
    500: "rollup_error",
}


class _SlackHandler(BaseHTTPRequestHandler):
    server: _SlackServer
    server_version = "sreworkbook-slack-receiver"

    def do_POST(self) -> None:
        owner = self.server.owner
        owner._count_hit()
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length > 0 else b""
        failure = owner._failures.take()
        if failure is not None:
            code, retry_after, text = failure
            headers = {"Retry-After": f"{retry_after:g}"} if retry_after is not None else {}
            self._answer(code, text or _SLACK_ERRORS.get(code, "error"), headers)
            return
        try:
            body = json.loads(raw.decode("utf-8")) if raw else None
        except (UnicodeDecodeError, ValueError):
            body = None
        if not isinstance(body, dict | list):
            self._answer(400, "invalid_payload")
            return
        headers = {k.lower(): v for k, v in self.headers.items() if k.lower() in _KEPT_HEADERS}
        post = ReceivedPost(self.path, body, headers, owner._now().isoformat())
        owner._records.add(post, post.to_dict())
        self._answer(200, "ok")

    def do_GET(self) -> None:
        if self.path.rstrip("/") not in ("", "/received"):
            self._answer(404, "not_found")
            return
        data = json.dumps([p.to_dict() for p in self.server.owner.received()], default=str)
        self._answer(200, data, content_type="application/json")

    def _answer(
        self,
        code: int,
        text: str,
        headers: Mapping[str, str] | None = None,
        *,
        content_type: str = "text/html",
    ) -> None:
        data = text.encode("utf-8")
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("slack receiver: " + format, *args)


class _SlackServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], owner: SlackReceiver) -> None:
        self.owner = owner
        super().__init__(address, _SlackHandler)


class _Receiver(Generic[_T]):
    """What both receivers share: start and stop (also as a context manager), what they
    received, and the failures they were told to answer with."""

    component: str

    def __init__(
        self, host: str, port: int, jsonl_path: str | os.PathLike[str] | None, now: Clock
    ) -> None:
        self.host = host
        self._requested_port = port
        self._records: _Record[_T] = _Record(Path(jsonl_path) if jsonl_path else None)
        self._failures = _Failures()
        self._now = now

    def start(self) -> Self:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _bound_port(self) -> int | None:
        raise NotImplementedError

    @property
    def port(self) -> int:
        port = self._bound_port()
        if port is None:
            raise SandboxError("not started", component=self.component)
        return port

    def _cannot_listen(self, exc: OSError) -> SandboxError:
        where = f"{self.host}:{self._requested_port}"
        return SandboxError(
            f"cannot listen on {where} ({exc.strerror or exc})", component=self.component
        )

    def received(self) -> tuple[_T, ...]:
        """What was accepted so far, oldest first."""
        return self._records.items()

    def wait_for(self, count: int = 1, timeout_s: float = 5.0) -> tuple[_T, ...]:
        """Wait until ``count`` were accepted (or the timeout passed); what arrived."""
        return self._records.wait_for(count, timeout_s)

    def clear(self) -> None:
        """Forget what was received (the JSON-lines file is kept)."""
        self._records.clear()


class SlackReceiver(_Receiver[ReceivedPost]):
    """A Slack-compatible incoming-webhook receiver on ``host``; ``port=0`` picks a free port.

    ``fail_first`` requests (any path) are answered ``fail_status`` (429 by default, with
    ``Retry-After: retry_after`` when given) before it starts accepting; :meth:`fail_next`
    re-arms that while running. A failed request is counted in :attr:`hits` but not received.
    """

    component = "slack-receiver"

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        jsonl_path: str | os.PathLike[str] | None = None,
        fail_first: int = 0,
        fail_status: int = 429,
        retry_after: float | None = None,
        now: Clock = _utcnow,
    ) -> None:
        super().__init__(host, port, jsonl_path, now)
        self._failures.arm(fail_first, fail_status, retry_after, "")
        self._hits = 0
        self._hits_lock = threading.Lock()
        self._server: _SlackServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> Self:
        """Listen and serve in a background thread; raises :class:`SandboxError` if it cannot."""
        if self._server is not None:
            return self
        try:
            self._server = _SlackServer((self.host, self._requested_port), self)
        except OSError as exc:
            raise self._cannot_listen(exc) from exc
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name="slack-receiver",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and free the port (idempotent)."""
        server, thread = self._server, self._thread
        self._server, self._thread = None, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if thread is not None:
            thread.join(timeout=5)

    # -- where and what ----------------------------------------------------------------------
    def _bound_port(self) -> int | None:
        return None if self._server is None else int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """The webhook URL to configure (any path under it is accepted too)."""
        return f"http://{self.host}:{self.port}/services/sandbox"

    @property
    def hits(self) -> int:
        """Every POST answered, including the ones it was told to fail."""
        with self._hits_lock:
            return self._hits

    def _count_hit(self) -> None:
        with self._hits_lock:
            self._hits += 1

    def fail_next(self, count: int, status: int = 429, *, retry_after: float | None = None) -> None:
        """Answer the next ``count`` POSTs with ``status`` (and ``Retry-After`` if given)."""
        self._failures.arm(count, status, retry_after, "")


# -- the SMTP sink ---------------------------------------------------------------------------
@dataclass(frozen=True)
class ReceivedMail:
    """One message the SMTP sink accepted: the envelope and the raw message."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes
    peer: str = ""
    received_at: str = ""
    tls: bool = False
    login: str | None = None

    def message(self) -> EmailMessage:
        """The parsed message (``email.policy.default``: headers decoded, parts walkable)."""
        parsed = BytesParser(policy=email_policy.default).parsebytes(self.data)
        assert isinstance(parsed, EmailMessage)
        return parsed

    @property
    def subject(self) -> str:
        """The decoded subject (a folded header's leading space removed)."""
        return str(self.message().get("Subject", "")).strip()

    def to_dict(self) -> dict[str, Any]:
        return {
            "mail_from": self.mail_from,
            "rcpt_tos": list(self.rcpt_tos),
            "subject": self.subject,
            "received_at": self.received_at,
            "peer": self.peer,
            "tls": self.tls,
            "login": self.login,
            "size": len(self.data),
            "data": self.data.decode("utf-8", "replace"),
        }


def _is_tls(server: Any) -> bool:
    """Whether the SMTP session runs over TLS (after STARTTLS, or implicit TLS)."""
    transport = getattr(server, "transport", None)
    return transport is not None and transport.get_extra_info("ssl_object") is not None


class _SinkHandler:
    """aiosmtpd handler: record the message, or answer the failure it was told to give."""

    def __init__(self, owner: SMTPSink) -> None:
        self._owner = owner

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        owner = self._owner
        failure = owner._failures.take()
        if failure is not None:
            code, _, text = failure
            return f"{code} {text or '4.3.0 Try again later'}"
        content = envelope.original_content or envelope.content or b""
        data = content if isinstance(content, bytes) else str(content).encode("utf-8")
        login = getattr(session.auth_data, "login", None)
        mail = ReceivedMail(
            mail_from=str(envelope.mail_from or ""),
            rcpt_tos=tuple(str(r) for r in envelope.rcpt_tos),
            data=data,
            peer=":".join(str(p) for p in session.peer) if session.peer else "",
            received_at=owner._now().isoformat(),
            tls=_is_tls(server),
            login=login.decode("utf-8", "replace") if isinstance(login, bytes) else None,
        )
        owner._store(mail)
        return "250 Message accepted for delivery"


def _sink_controller(handler: _SinkHandler, sock: socket.socket, kwargs: Mapping[str, Any]) -> Any:
    """An aiosmtpd ``Controller`` serving on ``sock``, bound beforehand (so ``port=0`` works
    and a busy port fails at once instead of after aiosmtpd's ready timeout)."""
    try:
        from aiosmtpd.controller import Controller
    except ImportError as exc:  # pragma: no cover - a runtime dependency
        raise SandboxError(
            "aiosmtpd is not installed: please run pip install aiosmtpd", component="smtp-sink"
        ) from exc

    class _BoundController(Controller):
        def _create_server(self) -> Awaitable[asyncio.AbstractServer]:
            return self.loop.create_server(self._factory_invoker, sock=sock, ssl=self.ssl_context)

    host, port = sock.getsockname()[:2]
    return _BoundController(handler, hostname=host, port=port, **kwargs)


class SMTPSink(_Receiver[ReceivedMail]):
    """An SMTP server on ``host`` that accepts every message; ``port=0`` picks a free port.

    With ``tls_context`` it offers STARTTLS (and demands it with ``require_starttls``), or
    speaks TLS from the first byte with ``implicit_tls`` (SMTPS, as on port 465); with
    ``credentials`` (login → password) it offers AUTH PLAIN/LOGIN and checks them, but does
    not require it. :meth:`fail_next` makes the next N messages get a 4xx reply.
    """

    component = "smtp-sink"

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        jsonl_path: str | os.PathLike[str] | None = None,
        mbox_path: str | os.PathLike[str] | None = None,
        tls_context: ssl.SSLContext | None = None,
        require_starttls: bool = False,
        implicit_tls: bool = False,
        credentials: Mapping[str, str] | None = None,
        now: Clock = _utcnow,
    ) -> None:
        super().__init__(host, port, jsonl_path, now)
        self._mbox = Path(mbox_path) if mbox_path else None
        self._mbox_lock = threading.Lock()
        self._tls_context = tls_context
        self._require_starttls = require_starttls
        self._implicit_tls = implicit_tls
        if implicit_tls and tls_context is None:
            raise SandboxError("implicit_tls needs a tls_context", component="smtp-sink")
        self._credentials = dict(credentials or {})
        self._controller: Any = None

    def start(self) -> Self:
        """Listen and serve in a background thread; raises :class:`SandboxError` if it cannot."""
        if self._controller is not None:
            return self
        kwargs: dict[str, Any] = {
            "server_hostname": "sreworkbook-smtp-sink",  # else aiosmtpd asks DNS for the FQDN
            "ready_timeout": 10.0,
        }
        if self._tls_context is not None and self._implicit_tls:
            kwargs["ssl_context"] = self._tls_context
        elif self._tls_context is not None:
            kwargs["tls_context"] = self._tls_context
            kwargs["require_starttls"] = self._require_starttls
        if self._credentials:
            kwargs["authenticator"] = self._authenticate
            kwargs["auth_require_tls"] = self._tls_context is not None
        try:
            sock = socket.create_server((self.host, self._requested_port))
        except OSError as exc:
            raise self._cannot_listen(exc) from exc
        controller = _sink_controller(_SinkHandler(self), sock, kwargs)
        try:
            controller.start()
        except (OSError, TimeoutError, RuntimeError) as exc:
            sock.close()
            if not controller.loop.is_running():
                controller.loop.close()  # aiosmtpd leaves its loop open when start fails
            raise SandboxError(f"did not start ({exc})", component="smtp-sink") from exc
        self._controller = controller
        return self

    def stop(self) -> None:
        """Stop serving and free the port (idempotent)."""
        controller, self._controller = self._controller, None
        if controller is not None:
            controller.stop()

    def _bound_port(self) -> int | None:
        return None if self._controller is None else int(self._controller.port)

    @property
    def url(self) -> str:
        return f"smtp://{self.host}:{self.port}"

    def fail_next(self, count: int, code: int = 451, text: str = "4.3.0 Try again later") -> None:
        """Answer the DATA of the next ``count`` messages with ``code text``."""
        self._failures.arm(count, code, None, text)

    def _store(self, mail: ReceivedMail) -> None:
        if self._mbox is not None:
            with self._mbox_lock:
                self._mbox.parent.mkdir(parents=True, exist_ok=True)
                box = mailbox.mbox(self._mbox)
                try:
                    box.lock()
                    message = mailbox.mboxMessage(mail.data)
                    message.set_from(mail.mail_from or "MAILER-DAEMON")
                    box.add(message)
                    box.flush()
                finally:
                    box.unlock()
                    box.close()
        self._records.add(mail, mail.to_dict())

    def _authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> Any:
        from aiosmtpd.smtp import AuthResult, LoginPassword

        if isinstance(auth_data, LoginPassword):
            login = auth_data.login.decode("utf-8", "replace")
            password = auth_data.password.decode("utf-8", "replace")
            if login in self._credentials and self._credentials[login] == password:
                return AuthResult(success=True, auth_data=auth_data)
        return AuthResult(success=False, handled=False)


# -- python -m sreworkbook.sandbox.receivers ----------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(
        prog="python -m sreworkbook.sandbox.receivers",
        description="Run the Slack-compatible webhook receiver and the SMTP sink until stopped.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--slack-port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--smtp-port", type=int, default=0, help="0 picks a free port")
    parser.add_argument(
        "--dir",
        type=Path,
        required=True,
        help="writes slack.jsonl, mail.jsonl, mail.mbox and receivers.json here",
    )
    parser.add_argument("--slack-fail-first", type=int, default=0, metavar="N")
    parser.add_argument("--slack-fail-status", type=int, default=429, metavar="CODE")
    parser.add_argument("--slack-retry-after", type=float, default=None, metavar="SECONDS")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run both receivers until SIGTERM/SIGINT. 0 on a clean stop, 64 bad arguments, 2 failed."""
    args = _parser().parse_args(argv)
    folder: Path = args.dir.resolve()
    slack = SlackReceiver(
        args.host,
        args.slack_port,
        jsonl_path=folder / "slack.jsonl",
        fail_first=args.slack_fail_first,
        fail_status=args.slack_fail_status,
        retry_after=args.slack_retry_after,
    )
    sink = SMTPSink(
        args.host, args.smtp_port, jsonl_path=folder / "mail.jsonl", mbox_path=folder / "mail.mbox"
    )
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    ready = folder / "receivers.json"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        slack.start()
        sink.start()
        info = {
            "pid": os.getpid(),
            "slack_url": slack.url,
            "slack_port": slack.port,
            "smtp_host": args.host,
            "smtp_port": sink.port,
            "dir": str(folder),
        }
        staging = ready.with_suffix(".tmp")
        staging.write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
        staging.replace(ready)
        print(json.dumps(info), flush=True)
        while not stop.wait(0.5):
            pass
        return 0
    except (SandboxError, OSError) as exc:
        print(f"receivers: error: {exc}", file=sys.stderr, flush=True)
        return 2
    finally:
        sink.stop()
        slack.stop()
        ready.unlink(missing_ok=True)
        for sig, handler in previous.items():
            signal.signal(sig, handler)


if __name__ == "__main__":
    raise SystemExit(main())
