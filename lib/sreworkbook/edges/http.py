"""Every HTTP call to an outside service goes through :class:`HttpEdge`.

The edge owns what each caller used to repeat: the timeout of every attempt, auth (bearer
token, basic auth or API-key headers), retries under a :class:`~sreworkbook.edges.retry.
RetryPolicy` (429 and 5xx, refused or reset connections, timeouts), ``Retry-After`` up to the
policy's cap, the call's total deadline, an optional per-endpoint
:class:`~sreworkbook.edges.retry.Breaker`, and the translation of every ``requests`` (and
urllib3, and socket) error into the workbook's tree:

- no answer in time → :class:`~sreworkbook.exceptions.SourceTimeout`;
- anything else → :class:`~sreworkbook.exceptions.SourceError`, ``source`` naming the service.

An answer that is not retried (2xx, 3xx, 4xx other than 429) comes back as a :class:`Reply`
for the caller to judge: a Prometheus 400 carries its own error text, a PagerDuty 400 says
which field was wrong. Messages name the host and port, never a path, query or header, which
may hold secrets. The errors carry ``attempts`` and ``waited_s``.
"""

from __future__ import annotations

import json
import os
import random
import re
import socket
import ssl
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import requests
import urllib3.exceptions

from sreworkbook.edges.retry import Breaker, Deadline, RetryPolicy
from sreworkbook.exceptions import SourceError, SourceTimeout

__all__ = [
    "MAX_BODY_BYTES",
    "RETRY_STATUSES",
    "Auth",
    "HttpEdge",
    "Reply",
    "describe",
    "printable",
    "retry_after",
    "unparseable",
    "where",
]

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
#: The most of one answer that is read; more is cut off (a check's body, a huge query result).
MAX_BODY_BYTES = 512 * 1024 * 1024


@dataclass(frozen=True)
class Auth:
    """Credentials, already resolved: a bearer token, basic auth, or extra headers (API keys)."""

    bearer_token: str | None = None
    username: str | None = None
    password: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)

    def __repr__(self) -> str:  # never show a secret
        kinds = [k for k in ("bearer_token", "username") if getattr(self, k)]
        return f"Auth({', '.join(kinds + sorted(self.headers)) or 'none'})"

    def apply(self, headers: dict[str, str]) -> tuple[str, str] | None:
        """Add the auth headers to ``headers``; the basic-auth pair, if any."""
        headers.update(self.headers)
        if self.bearer_token:
            headers["Authorization"] = f"Bearer {self.bearer_token}"
        return (self.username, self.password or "") if self.username else None


@dataclass(frozen=True)
class Reply:
    """An answer: status, headers, the whole body, and what getting it took."""

    status: int
    body: bytes
    headers: Mapping[str, str]
    reason: str = ""
    attempts: int = 1
    waited_s: float = 0.0
    elapsed_s: float = 0.0

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def content_type(self) -> str:
        return str(self.headers.get("Content-Type", ""))

    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def json(self, **options: Any) -> Any:
        """The body as JSON; ``ValueError`` when it is not (``options`` go to ``json.loads``)."""
        try:
            return json.loads(self.body, **options)
        except UnicodeDecodeError as exc:
            raise ValueError(f"not JSON: {exc}") from None

    def json_object(self, **options: Any) -> dict[str, Any] | None:
        """The body when it is a JSON object; ``None`` when it is not JSON or not an object."""
        try:
            body = self.json(**options)
        except ValueError:
            return None
        return body if isinstance(body, dict) else None

    def snippet(self, limit: int = 200) -> str:
        """The start of the body on one line, for a message."""
        text = " ".join(self.text().split())
        return text if len(text) <= limit else text[: limit - 1] + "…"


def printable(data: bytes | str, limit: int = 60) -> str:
    """The start of ``data`` on one line, safe to show: what is not printable becomes ``·``."""
    text = data.decode("utf-8", errors="replace") if isinstance(data, bytes) else data
    shown = "".join(c if c.isprintable() and c != "\ufffd" else "·" for c in text[: limit * 4])
    shown = " ".join(shown.split())
    return shown if len(shown) <= limit else shown[: limit - 1] + "…"


def unparseable(body: bytes, content_type: str = "", *, expected: str = "JSON") -> str:
    """What a body that should have been ``expected`` is instead, with a short excerpt:
    ``truncated or malformed JSON (37 bytes, application/json): {"status": "ok", "comp…``,
    ``an HTML page (74 bytes, text/html) instead of JSON: titled '502 Bad Gateway'``."""
    head = body[:512]
    kind = f"text that is not {expected}"
    if not body.strip():
        return f"an empty body instead of {expected}"
    decoded = head.decode("utf-8", errors="replace")
    odd = sum(1 for c in decoded if c == "\ufffd" or (not c.isprintable() and c not in "\r\n\t"))
    if odd > len(decoded) * 0.1:
        kind = "binary data"
    elif head.lstrip()[:1] == b"<" or "html" in content_type.lower():
        kind = "an HTML page"
    elif expected == "JSON" and head.lstrip()[:1] in (b"{", b"["):
        kind = "truncated or malformed JSON"
    excerpt = printable(body)
    if kind == "an HTML page":
        title = re.search(rb"<title[^>]*>(.*?)</title>", body[:4096], re.I | re.S)
        excerpt = f"titled {printable(title.group(1))!r}" if title else excerpt
    about = f"{len(body)} bytes" + (f", {content_type.split(';')[0]}" if content_type else "")
    instead = "" if expected in kind else f" instead of {expected}"
    return f"{kind} ({about}){instead}: {excerpt}"


def where(url: str) -> str:
    """``host:port`` of ``url`` (what a message may show of it), or ``the server``."""
    parts = urlsplit(url)
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        port = ""
    return f"{parts.hostname or 'the server'}{port}"


def retry_after(
    headers: Mapping[str, str], names: Iterable[str] = ("Retry-After",)
) -> float | None:
    """Seconds to wait from the first of ``names`` present: delta-seconds or an HTTP-date."""
    for name in names:
        value = str(headers.get(name, "") or "").strip()
        if not value:
            continue
        try:
            return max(0.0, float(value))
        except ValueError:
            pass
        try:
            when = parsedate_to_datetime(value)
            stamp = str(headers.get("Date", "") or "")
            base = parsedate_to_datetime(stamp) if stamp else datetime.now(UTC)
        except (TypeError, ValueError, IndexError):
            continue
        if when.tzinfo is not None and base.tzinfo is not None:
            return max(0.0, (when - base).total_seconds())
    return None


class _Transient(Exception):
    """An attempt that failed in a way worth trying again."""

    def __init__(self, problem: str, *, timed_out: bool, cause: BaseException) -> None:
        super().__init__(problem)
        self.problem = problem
        self.timed_out = timed_out
        self.cause = cause


def _root(exc: BaseException, kinds: tuple[type[BaseException], ...]) -> BaseException | None:
    """The first exception of ``kinds`` in ``exc``'s cause/context chain or its args."""
    seen: set[int] = set()
    todo: list[BaseException] = [exc]
    while todo:
        current = todo.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, kinds):
            return current
        todo.extend(a for a in current.args if isinstance(a, BaseException))
        kwargs = getattr(current, "kwargs", None)  # botocore keeps the cause in kwargs["error"]
        wrapped = kwargs.get("error") if isinstance(kwargs, dict) else None
        for linked in (
            current.__cause__,
            current.__context__,
            getattr(current, "reason", None),
            wrapped,
        ):
            if isinstance(linked, BaseException):
                todo.append(linked)
    return None


def describe(exc: BaseException) -> str | None:
    """What went wrong with a connection, in a few words, when the cause is a known one:
    ``connection refused``, ``cannot resolve host``, ``connection reset``, ``TLS error: ...``."""
    if _root(exc, (ConnectionRefusedError,)) is not None:
        return "connection refused"
    if _root(exc, (socket.gaierror,)) is not None:
        return "cannot resolve host"
    if _root(exc, (ConnectionResetError,)) is not None:
        return "connection reset"
    tls = _root(exc, (ssl.SSLError,))
    if tls is not None:
        text = str(getattr(tls, "reason", None) or tls)
        return f"TLS error: {text[:160]}"
    return None


def _timed_out(exc: BaseException) -> bool:
    """Whether ``exc`` means no answer in time (urllib3 files a refused connection under
    ``ConnectTimeoutError`` too: for its own errors, requests has already told them apart)."""
    if isinstance(exc, requests.RequestException):
        return isinstance(exc, requests.Timeout)
    return _root(exc, (TimeoutError, urllib3.exceptions.ReadTimeoutError)) is not None


@dataclass(eq=False)
class HttpEdge:
    """Calls to one service (``service`` is how errors name it) under one retry policy.

    Without a ``session`` each call opens and closes its own. ``requests_made`` and
    ``seconds_waiting`` (time spent in requests, not in backoff) add up over all calls.
    ``sleep``, ``clock`` and ``draw`` (the jitter's random numbers) are for tests to replace.
    """

    service: str
    session: requests.Session | None = None
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    auth: Auth = field(default_factory=Auth)
    breaker: Breaker | None = None
    retry_on: frozenset[int] = RETRY_STATUSES
    retry_after_headers: tuple[str, ...] = ("Retry-After",)
    max_body_bytes: int = MAX_BODY_BYTES
    #: What a 2xx answer must be to count as one (the problem with it, or ``None``): an
    #: answer that is not (an HTML page for a JSON API) fails the call and counts against
    #: the endpoint in the breaker; garbage is not retried.
    accept: Callable[[Reply], str | None] | None = None
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    draw: Callable[[], float] = random.random
    #: The run's deadline for data sources (``$SREWORKBOOK_SOURCES_DEADLINE``): every call
    #: ends by it, whatever its own policy allows.
    run_deadline: Deadline | None = field(default_factory=lambda: Deadline.from_environ(os.environ))
    requests_made: int = field(default=0, init=False)
    seconds_waiting: float = field(default=0.0, init=False)

    def __repr__(self) -> str:
        return f"HttpEdge({self.service!r}, {self.policy!r})"

    def get(self, url: str, **options: Any) -> Reply:
        return self.request("GET", url, **options)

    def post(self, url: str, **options: Any) -> Reply:
        return self.request("POST", url, **options)

    def request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, str] | None = None,
        json_body: Any = None,
        data: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        query: str | None = None,
        deadline: Deadline | None = None,
    ) -> Reply:
        """One call, retried under the policy; a :class:`Reply` unless it failed for good.

        ``query`` is what the errors say was asked (a PromQL expression, an NRQL query);
        ``deadline`` a caller's limit, kept along with the policy's own and the run's.
        """
        policy = self.policy
        limit = Deadline.after(policy.total_s, clock=self.clock).sooner(deadline)
        limit = limit.sooner(self.run_deadline)
        endpoint = where(url)
        refusal = self.breaker.refusal(endpoint) if self.breaker else None
        if refusal is not None:
            raise SourceError(refusal, source=self.service, query=query, attempts=0)
        if limit.expired():
            raise SourceTimeout(
                f"{endpoint} not called: the run's time for data sources is used up",
                source=self.service,
                query=query,
                attempts=0,
            )
        send = dict(headers or {})
        basic = self.auth.apply(send)
        attempts, waited, status = 0, 0.0, None
        problem, timed_out, cause = "", False, None
        pause: float | None = None
        for retry in range(policy.attempts):
            if retry:
                gave_up = self.breaker.refusal(endpoint) if self.breaker else None
                if gave_up is not None:  # other calls found it failing meanwhile
                    problem = gave_up
                    break
                wait = policy.backoff(retry, self.draw()) if pause is None else pause
                if wait >= limit.remaining():
                    problem = f"{problem}; out of time after {attempts} attempt{_s(attempts)}"
                    break
                self.sleep(wait)
                waited += wait
            left = limit.remaining()
            if left <= 0:
                problem = f"{problem}; out of time after {attempts} attempt{_s(attempts)}"
                break
            attempts += 1
            pause = None
            ticket = self.breaker.ticket(endpoint) if self.breaker else 0
            try:
                reply = self._once(
                    method, url, params, json_body, data, send, basic, min(policy.timeout_s, left)
                )
            except _Transient as failure:
                problem, timed_out, status = failure.problem, failure.timed_out, None
                cause = failure.cause
                if self.breaker:
                    self.breaker.failed(endpoint, problem)
                continue
            except SourceError as exc:
                exc.attempts, exc.waited_s = attempts, waited
                raise
            cause = None
            if reply.status not in self.retry_on:
                unusable = self.accept(reply) if self.accept is not None and reply.ok else None
                if unusable is not None:
                    if self.breaker:
                        self.breaker.failed(endpoint, unusable)
                    raise SourceError(
                        unusable, source=self.service, query=query, status=reply.status,
                        attempts=attempts, waited_s=waited,
                    )  # fmt: skip
                if self.breaker:
                    self.breaker.succeeded(endpoint, ticket)
                return replace(reply, attempts=attempts, waited_s=waited)
            status, timed_out = reply.status, False
            said = reply.body.strip() and "html" not in reply.content_type
            problem = f"HTTP {status}" + (f": {reply.snippet()}" if said else "")
            if self.breaker and (status >= 500 or status == 429):
                self.breaker.failed(endpoint, problem)
            pause = retry_after(reply.headers, self.retry_after_headers)
            if pause is not None and pause > policy.max_retry_after_s:
                problem = (
                    f"{problem}; Retry-After {pause:g} s is longer than the "
                    f"{policy.max_retry_after_s:g} s {self.service} waits"
                )
                break
        else:
            problem = f"{problem}; gave up after {attempts} attempt{_s(attempts)}"
        kind = SourceTimeout if timed_out else SourceError
        raise kind(
            problem,
            source=self.service,
            query=query,
            status=status,
            attempts=attempts,
            waited_s=waited,
        ) from cause

    def _once(
        self,
        method: str,
        url: str,
        params: Mapping[str, str] | None,
        json_body: Any,
        data: bytes | None,
        headers: Mapping[str, str],
        basic: tuple[str, str] | None,
        timeout_s: float,
    ) -> Reply:
        """One attempt, the body read whole; errors as :class:`_Transient` or SourceError."""
        own = self.session is None
        session = requests.Session() if self.session is None else self.session
        started = self.clock()
        self.requests_made += 1
        try:
            with session.request(
                method,
                url,
                params=dict(params or {}),
                json=json_body,
                data=data,
                headers=dict(headers),
                auth=basic,
                timeout=(timeout_s, timeout_s),
                stream=True,
                allow_redirects=True,
            ) as response:
                body = response.raw.read(self.max_body_bytes, decode_content=True) or b""
                return Reply(
                    status=response.status_code,
                    body=body,
                    headers=dict(response.headers),
                    reason=str(response.reason or ""),
                    elapsed_s=self.clock() - started,
                )
        except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
            raise self._translate(exc, url, timeout_s) from exc
        finally:
            self.seconds_waiting += self.clock() - started
            if own:
                session.close()

    def _translate(self, exc: BaseException, url: str, timeout_s: float) -> Exception:
        """``exc`` as a transient failure, or as the SourceError that ends the call."""
        host = where(url)
        if _timed_out(exc):
            shown = round(timeout_s, 2)
            problem = f"no answer from {host} within {shown:g} s"
            return _Transient(problem, timed_out=True, cause=exc)
        transient = (
            requests.ConnectionError,
            requests.exceptions.ChunkedEncodingError,
            urllib3.exceptions.ProtocolError,
            ConnectionError,
        )
        reason = describe(exc) or type(exc).__name__
        if isinstance(exc, transient) or _root(exc, (ConnectionError,)) is not None:
            if _root(exc, (ssl.SSLError,)) is not None:  # a certificate will not fix itself
                return SourceError(f"cannot connect to {host} ({reason})", source=self.service)
            return _Transient(f"cannot connect to {host} ({reason})", timed_out=False, cause=exc)
        return SourceError(f"request to {host} failed ({reason})", source=self.service)


def _s(count: int) -> str:
    return "" if count == 1 else "s"
