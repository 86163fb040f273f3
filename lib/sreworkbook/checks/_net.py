"""One HTTP GET with a timeout, third-party errors translated to the workbook's own.

Every HTTP check goes through :func:`http_get`: it never raises a ``requests`` exception,
only :class:`~sreworkbook.exceptions.SourceError` (CRIT: the target refused, reset or sent
garbage) or :class:`~sreworkbook.exceptions.SourceTimeout` (UNKNOWN: it did not answer in
time, so we cannot tell down from slow). Messages carry masked URLs only.
"""

from __future__ import annotations

import json
import socket
import ssl
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import requests
import urllib3.exceptions

from sreworkbook.checks._common import masked
from sreworkbook.config import Environment
from sreworkbook.exceptions import SourceError, SourceTimeout
from sreworkbook.results import Status
from sreworkbook.secrets import mask_uri

__all__ = ["HttpAnswer", "failure", "http_get", "joined", "service_request"]

_MAX_BODY = 16 * 1024 * 1024


@dataclass(frozen=True)
class HttpAnswer:
    """What an endpoint answered: code, time to the full body, body, content type."""

    status_code: int
    elapsed_ms: float
    body: bytes
    content_type: str = ""

    def json(self) -> Any:
        """The body as JSON, or ``None`` when it is not JSON."""
        try:
            return json.loads(self.body)
        except (ValueError, UnicodeDecodeError):
            return None

    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


def http_get(
    url: str,
    *,
    timeout_s: float,
    session: requests.Session | None = None,
    headers: Mapping[str, str] | None = None,
    params: Mapping[str, str] | None = None,
    auth: tuple[str, str] | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> HttpAnswer:
    """GET ``url`` (connect and each read bounded by ``timeout_s``) and read the whole body."""
    shown = mask_uri(url)
    own = session is None
    active = requests.Session() if session is None else session
    start = clock()
    try:
        with active.get(
            url,
            headers=dict(headers or {}),
            params=dict(params or {}),
            auth=auth,
            timeout=(timeout_s, timeout_s),
            stream=True,
            allow_redirects=True,
        ) as response:
            body = response.raw.read(_MAX_BODY, decode_content=True)
            elapsed_ms = (clock() - start) * 1000.0
            return HttpAnswer(
                status_code=response.status_code,
                elapsed_ms=elapsed_ms,
                body=body or b"",
                content_type=response.headers.get("Content-Type", ""),
            )
    except requests.Timeout as exc:
        raise SourceTimeout(f"timed out after {timeout_s:g} s", source=shown) from exc
    except requests.RequestException as exc:
        raise SourceError(_reason(exc), source=shown) from exc
    except (urllib3.exceptions.HTTPError, OSError) as exc:  # while reading the raw body
        if (
            isinstance(exc, urllib3.exceptions.TimeoutError)
            or _root(exc, (TimeoutError,)) is not None
        ):
            raise SourceTimeout(f"timed out after {timeout_s:g} s", source=shown) from exc
        raise SourceError(_reason(exc), source=shown) from exc
    finally:
        if own:
            active.close()


def failure(exc: SourceError) -> tuple[Status, str]:
    """The status and detail for a failed request: timeouts are UNKNOWN, the rest CRIT."""
    message = str(exc)
    prefix = f"{exc.source}: "
    if message.startswith(prefix):
        message = message[len(prefix) :]
    return (Status.UNKNOWN if isinstance(exc, TimeoutError) else Status.CRIT), message


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
        for linked in (current.__cause__, current.__context__, getattr(current, "reason", None)):
            if isinstance(linked, BaseException):
                todo.append(linked)
    return None


def _reason(exc: BaseException) -> str:
    if _root(exc, (ConnectionRefusedError,)) is not None:
        return "connection refused"
    if _root(exc, (socket.gaierror,)) is not None:
        return "cannot resolve host"
    if _root(exc, (ConnectionResetError,)) is not None:
        return "connection reset"
    tls = _root(exc, (ssl.SSLError,))
    if tls is not None:
        return f"TLS error: {masked(str(tls))[:200]}"
    return f"request failed: {type(exc).__name__}: {masked(str(exc))[:200]}"


def joined(base: str, path: str) -> str:
    """``base`` and ``path`` with exactly one slash between them."""
    return base.rstrip("/") + "/" + path.lstrip("/")


def service_request(
    env: Environment, environ: Mapping[str, str], path: str
) -> tuple[str, dict[str, str]]:
    """The resolved URL of ``path`` on ``env.service`` and its resolved headers.

    Call inside a probe, right before the request: the values hold secrets and must not
    outlive it. A reference to an unset variable raises :class:`SecretError`.
    """
    service = env.service
    if service is None:
        raise ValueError("environment has no service")
    url = joined(env.secret(service.base_url, environ, key="service.base_url"), path)
    headers = {
        name: env.secret(value, environ, key=f"service.headers.{name}")
        for name, value in service.headers.items()
    }
    return url, headers
