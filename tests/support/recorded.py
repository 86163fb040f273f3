"""A recorded SaaS API (New Relic, Datadog, Elastic) served on loopback: we never call the SaaS.

:class:`RecordedApi` answers each request with the first recorded payload whose needle is in
what the request asks (its NRQL, its Datadog query, its Elasticsearch body), after any replies
queued with ``queue``; :func:`reply` builds one answer from a file in ``tests/fixtures/apm``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from support.ci import ROOT
from support.http import CannedServer, Request, Route

__all__ = ["FIXTURES", "RecordedApi", "build", "reply"]

FIXTURES = ROOT / "tests" / "fixtures" / "apm"


def reply(
    status: int = 200,
    fixture: str | Callable[[Request], Any] = "",
    headers: dict[str, str] | None = None,
    delay_s: float = 0.0,
) -> Route:
    """An answer: a recorded file (HTML ones as ``text/html``) or a function of the request."""
    kind = "text/html" if str(fixture).endswith(".html") else "application/json"
    if callable(fixture):
        return Route(status, fixture, kind, dict(headers or {}), delay_s)
    path = FIXTURES / fixture if fixture else None
    return Route(status, b"", kind, dict(headers or {}), delay_s, fixture=path)


class RecordedApi:
    """Rules by a substring of what is asked, on top of a :class:`CannedServer`."""

    def __init__(
        self, server: CannedServer, asked: Callable[[Request], str], otherwise: Route
    ) -> None:
        self.server = server
        self.url = server.url
        self._asked = asked
        server.on(lambda request: True, otherwise)

    def on(
        self, needle: str, fixture: str | Callable[[Request], Any], *, first: bool = False
    ) -> None:
        """Answer what asks for ``needle`` with ``fixture``; the first rule that matches wins
        (``first`` puts this one before the others)."""
        rule = (lambda r: needle in self._asked(r), reply(fixture=fixture))
        self.server.rules.insert(0 if first else len(self.server.rules) - 1, rule)

    @property
    def queue(self) -> list[Route]:
        return self.server.queue

    @queue.setter
    def queue(self, replies: list[Route]) -> None:
        self.server.queue[:] = replies

    @property
    def seen(self) -> list[Request]:
        return self.server.seen

    def asked(self, index: int = -1) -> str:
        """What request ``index`` asked for."""
        return self._asked(self.seen[index])


def build(
    kind: Any, config: Any, environ: dict[str, str], **options: Any
) -> tuple[Any, list[float]]:
    """A backend of ``kind`` for ``config`` whose waits are recorded, not waited, without
    jitter; the backend and the list of its waits."""
    slept: list[float] = []
    backend = kind.from_config(config, environ, sleep=slept.append, draw=lambda: 0.0, **options)
    return backend, slept
