"""What the HTTP metrics backends (New Relic, Datadog, Elastic) share: the edge, a cache.

:class:`Transport` says how a backend reaches its service (a session, retries, and the
``sleep``/``draw`` seams tests replace); :class:`HttpBackend` gives each backend its
:class:`~sreworkbook.edges.http.HttpEdge`, ``from_config``, the request counter, and a cache
of the last answers (the same query asked twice in one dashboard costs one request).
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Self, TypeVar

import requests

from sreworkbook.edges.http import Auth, HttpEdge
from sreworkbook.edges.retry import Breaker, RetryPolicy

__all__ = ["HttpBackend", "Transport", "capped_step"]

T = TypeVar("T")
_KEPT_ANSWERS = 64


def capped_step(start: float, end: float, step_s: float, *, budget: int) -> int:
    """The step in whole seconds for ``[start, end)``: ``step_s`` rounded up, or coarser so
    the span holds at most ``budget`` points (past a minute, a whole number of minutes).

    Raises :class:`ValueError` when the step is not positive or ``end`` is not after ``start``.
    """
    if step_s <= 0:
        raise ValueError("step must be positive")
    if end <= start:
        raise ValueError("start must be before end")
    step = max(1, math.ceil(step_s))
    if math.ceil((end - start) / step) > budget:
        step = math.ceil((end - start) / budget)
        step = math.ceil(step / 60) * 60 if step > 60 else step
    return step


@dataclass(frozen=True)
class Transport:
    """How a backend reaches its service: its session, its retries, the test seams."""

    session: requests.Session | None = None
    sleep: Callable[[float], None] = time.sleep
    draw: Callable[[], float] = random.random
    retries: int = 3
    backoff_s: float = 0.5
    max_retry_after_s: float = 60.0

    def edge(self, service: str, *, timeout_s: float, auth: Auth, **options: Any) -> HttpEdge:
        """An edge to ``service`` under this transport's retry policy."""
        policy = RetryPolicy(
            timeout_s=timeout_s,
            retries=self.retries,
            backoff_s=self.backoff_s,
            max_retry_after_s=self.max_retry_after_s,
        )
        options.setdefault("breaker", Breaker(threshold=policy.attempts))  # give up politely
        return HttpEdge(
            service,
            session=self.session or requests.Session(),
            policy=policy,
            auth=auth,
            sleep=self.sleep,
            draw=self.draw,
            **options,
        )


class HttpBackend:
    """The shared part of the HTTP metrics backends; subclasses set ``edge`` when built."""

    name: str
    edge: HttpEdge

    @classmethod
    def from_config(cls, config: Any, environ: Mapping[str, str], **options: Any) -> Self:
        """A backend for ``config``, its credentials resolved from ``environ`` now."""
        return cls(config, environ, **options)  # type: ignore[call-arg]

    @property
    def requests_made(self) -> int:
        return self.edge.requests_made

    @property
    def request_timeout_s(self) -> float:
        """Each request's timeout (tests shorten it)."""
        return self.edge.policy.timeout_s

    @request_timeout_s.setter
    def request_timeout_s(self, seconds: float) -> None:
        self.edge.policy = replace(self.edge.policy, timeout_s=seconds)

    def _cached(self, key: str, fetch: Callable[[], T]) -> T:
        """The answer kept for ``key`` (the last 64), else ``fetch()`` kept."""
        answers: dict[str, Any] = self.__dict__.setdefault("_answers", {})
        if key not in answers:
            if len(answers) >= _KEPT_ANSWERS:
                answers.pop(next(iter(answers)))
            answers[key] = fetch()
        found: T = answers[key]
        return found
