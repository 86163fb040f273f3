"""When to try again and when to stop: one retry policy for every edge, deadlines, breakers.

A call is tried ``1 + retries`` times at most. Between tries it waits ``backoff_s``, then twice
that, and so on up to ``max_backoff_s``, each wait shortened at random by up to ``jitter`` of
itself (so that clients failing together do not retry together). A server's ``Retry-After``
replaces the backoff when it is at most ``max_retry_after_s``; a longer one ends the call at
once: waiting less would only be refused again, and waiting that long stalls whoever called.

Every call also has a total deadline: ``deadline_s``, or by default the policy's own worst case
(every attempt timing out, every backoff, one ``Retry-After`` at the cap). A caller may pass a
tighter :class:`Deadline` (a run's remaining budget); each attempt's timeout is then the
smaller of ``timeout_s`` and what remains, and a wait that would overrun it is not started.

A :class:`Breaker` keeps consecutive failures per endpoint: after ``threshold`` in a row
(5xx, 429, refused or reset connections, timeouts) it answers for the endpoint at once, until
a success closes it again — a dashboard's fifty queries do not each wait through the retries of
a server that is down. Only a call sent after the last failure can close it: the answers to
calls sent before a server died still arrive after its first failures, and say nothing new.
Calls already retrying stop at their next attempt. Share one breaker
among the clients of one run (a pool of Prometheus clients) so that the run gives up once.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from sreworkbook.exceptions import ParameterError

__all__ = ["MIN_TIMEOUT_S", "RUN_DEADLINE_ENV", "Breaker", "Deadline", "RetryPolicy", "within_run"]

#: Where a run tells the code in its kernel when its data sources must be done: seconds since
#: the epoch. The run pipeline sets it a little before the run's own deadline, leaving time to
#: render the report with whatever could not be measured marked UNKNOWN.
RUN_DEADLINE_ENV = "SREWORKBOOK_SOURCES_DEADLINE"

#: The shortest timeout :func:`within_run` hands out: a client given 0 s fails with a confusing
#: error, one given a tenth of a second fails as a timeout, which is what it is.
MIN_TIMEOUT_S = 0.1


@dataclass(frozen=True)
class RetryPolicy:
    """Timeouts, retries, backoff and the longest waits one call accepts."""

    timeout_s: float = 10.0
    retries: int = 3
    backoff_s: float = 0.5
    max_backoff_s: float = 30.0
    jitter: float = 0.2
    max_retry_after_s: float = 60.0
    deadline_s: float | None = None

    def __post_init__(self) -> None:
        if self.timeout_s <= 0:
            raise ParameterError("must be positive", key="timeout_s")
        if self.retries < 0:
            raise ParameterError("must be 0 or more", key="retries")
        if self.backoff_s < 0 or self.max_backoff_s < 0 or self.max_retry_after_s < 0:
            raise ParameterError("backoff and waits must be 0 or more", key="backoff_s")
        if not 0 <= self.jitter < 1:
            raise ParameterError("must be at least 0 and below 1", key="jitter")
        if self.deadline_s is not None and self.deadline_s <= 0:
            raise ParameterError("must be positive", key="deadline_s")

    @property
    def attempts(self) -> int:
        return self.retries + 1

    def backoff(self, retry: int, draw: float = 0.0) -> float:
        """Seconds before retry number ``retry`` (1, 2, ...): 1×, 2×, 4× ``backoff_s``, capped,
        less up to ``jitter`` of it (``draw`` in [0, 1) says how much)."""
        base = min(self.backoff_s * 2 ** (retry - 1), self.max_backoff_s)
        return float(base * (1.0 - self.jitter * draw))

    @property
    def total_s(self) -> float:
        """The call's deadline: ``deadline_s``, else the worst case of the policy itself."""
        if self.deadline_s is not None:
            return self.deadline_s
        waits = sum(self.backoff(n) for n in range(1, self.retries + 1))
        return self.attempts * self.timeout_s + waits + self.max_retry_after_s


@dataclass(frozen=True)
class Deadline:
    """A moment on a monotonic clock by which something must be done."""

    at: float
    clock: Callable[[], float] = field(default=time.monotonic, compare=False, repr=False)

    @classmethod
    def after(cls, seconds: float, *, clock: Callable[[], float] = time.monotonic) -> Deadline:
        return cls(clock() + seconds, clock)

    @classmethod
    def from_environ(
        cls,
        environ: Mapping[str, str],
        *,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> Deadline | None:
        """The run's deadline for data sources (``$SREWORKBOOK_SOURCES_DEADLINE``), if any."""
        text = environ.get(RUN_DEADLINE_ENV, "").strip()
        if not text:
            return None
        try:
            at = float(text)
        except ValueError:
            raise ParameterError(
                f"expected seconds since the epoch, got {text!r}", key=RUN_DEADLINE_ENV
            ) from None
        return cls.after(at - wall(), clock=clock)

    def remaining(self) -> float:
        """Seconds left (0 once past)."""
        return max(0.0, self.at - self.clock())

    def expired(self) -> bool:
        return self.remaining() <= 0.0

    def sooner(self, other: Deadline | None) -> Deadline:
        """Whichever of ``self`` and ``other`` comes first."""
        return other if other is not None and other.at < self.at else self


def within_run(
    timeout_s: float,
    environ: Mapping[str, str] | None = None,
    *,
    clock: Callable[[], float] = time.monotonic,
    wall: Callable[[], float] = time.time,
) -> float:
    """``timeout_s``, cut to what remains of the run's deadline for data sources, if one is set.

    For the clients that do not go through the HTTP edge (pymongo, redis, botocore, the mongo
    tools' subprocesses): each is built with this as its timeout, so a hanging dependency costs
    the run what is left of its budget at most, never its own longer default.
    """
    deadline = Deadline.from_environ(
        os.environ if environ is None else environ, clock=clock, wall=wall
    )
    if deadline is None:
        return timeout_s
    return max(MIN_TIMEOUT_S, min(timeout_s, deadline.remaining()))


class Breaker:
    """Consecutive failures per endpoint; open (failing at once) after ``threshold`` of them.

    Thread-safe: the health checks probe concurrently. ``threshold=0`` never opens.
    """

    def __init__(self, threshold: int = 5) -> None:
        if threshold < 0:
            raise ParameterError("must be 0 or more", key="threshold")
        self.threshold = threshold
        self._lock = threading.Lock()
        self._failures: dict[str, tuple[int, str]] = {}
        self._recorded: dict[str, int] = {}  # failures ever recorded per endpoint

    def refusal(self, endpoint: str) -> str | None:
        """Why ``endpoint`` is not to be called now, or ``None`` when it may be."""
        with self._lock:
            count, problem = self._failures.get(endpoint, (0, ""))
        if self.threshold and count >= self.threshold:
            return f"{problem} (gave up after {self.threshold} failures in a row)"
        return None

    def ticket(self, endpoint: str) -> int:
        """Taken when a call is sent; given back to :meth:`succeeded` with its answer."""
        with self._lock:
            return self._recorded.get(endpoint, 0)

    def failed(self, endpoint: str, problem: str) -> None:
        with self._lock:
            count, _ = self._failures.get(endpoint, (0, ""))
            self._failures[endpoint] = (count + 1, problem)
            self._recorded[endpoint] = self._recorded.get(endpoint, 0) + 1

    def succeeded(self, endpoint: str, ticket: int | None = None) -> None:
        """Close the breaker for ``endpoint``, unless a failure came after the call was sent
        (``ticket`` from :meth:`ticket`; ``None``: the call was sent just now)."""
        with self._lock:
            if ticket is not None and ticket != self._recorded.get(endpoint, 0):
                return
            self._failures.pop(endpoint, None)
