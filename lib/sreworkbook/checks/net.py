"""One HTTP GET with a timeout, through the HTTP edge, its errors said the way checks say them.

Every HTTP check goes through :func:`http_get`, one attempt on
:class:`~sreworkbook.edges.http.HttpEdge`: it never raises a ``requests`` exception, only
:class:`~sreworkbook.exceptions.SourceError` (CRIT: the target refused, reset or sent
garbage) or :class:`~sreworkbook.exceptions.SourceTimeout` (UNKNOWN: it did not answer in
time, so we cannot tell down from slow). Messages carry masked URLs only.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import requests

from sreworkbook.config import Environment
from sreworkbook.edges.http import Auth, HttpEdge, describe
from sreworkbook.edges.retry import RetryPolicy
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
    user, password = auth if auth else (None, None)
    edge = HttpEdge(
        shown,
        session=session,
        policy=RetryPolicy(timeout_s=timeout_s, retries=0),
        auth=Auth(username=user, password=password),
        retry_on=frozenset(),  # a check judges every answer itself
        max_body_bytes=_MAX_BODY,
        clock=clock,
    )
    try:
        reply = edge.get(url, headers=headers, params=params)
    except SourceTimeout as exc:
        raise SourceTimeout(f"timed out after {timeout_s:g} s", source=shown) from exc
    except SourceError as exc:
        cause = exc.__cause__ or exc  # its text may hold the URL's query: not shown
        reason = describe(cause) or f"request failed: {type(cause).__name__}"
        raise SourceError(reason, source=shown) from exc
    return HttpAnswer(
        status_code=reply.status,
        elapsed_ms=reply.elapsed_s * 1000.0,
        body=reply.body,
        content_type=reply.content_type,
    )


def failure(exc: SourceError) -> tuple[Status, str]:
    """The status and detail for a failed request: timeouts are UNKNOWN, the rest CRIT."""
    return (Status.UNKNOWN if isinstance(exc, TimeoutError) else Status.CRIT), exc.detail


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
