"""Run health checks concurrently, each under its own hard deadline.

Every check runs in its own daemon thread. The runner waits for each one until its
deadline (``timeout_s`` after it started) and then stops waiting: a probe still running is
reported UNKNOWN ("timed out after 2.0 s") and its thread is abandoned, never joined, so a
hanging target costs one timeout, not the sum of them, and cannot keep the interpreter
alive. A probe that raises is reported UNKNOWN with the exception's type and masked message.
Nothing a probe does escapes :func:`run_checks` as an exception. Inside a run with a deadline
(``$SREWORKBOOK_SOURCES_DEADLINE``) a check's timeout is cut to what remains of the run when it
starts, so a hanging target turns UNKNOWN before the run's deadline, not after it.

A probe returns one :class:`~sreworkbook.results.CheckResult`, or several when one request
answers for several components (``/health/detailed``). The runner stamps its own wall-clock
measurement on the first (primary) result; further results keep the latency their probe
gave them (e.g. the component's own ``responseTime``) or, if they have none, get it too.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sreworkbook.checks._common import error_text
from sreworkbook.edges.retry import within_run
from sreworkbook.exceptions import ParameterError
from sreworkbook.results import CheckResult, Status

__all__ = ["Check", "Probe", "ProbeOutcome", "run_checks"]

#: What a probe may return: one result, or several (the first is the check's own).
ProbeOutcome = CheckResult | Sequence[CheckResult]
#: A probe is called with the check's timeout in seconds.
Probe = Callable[[float], ProbeOutcome]


@dataclass(frozen=True)
class Check:
    """One health check: what it checks, where (masked), how long it may take, and how."""

    name: str
    component: str
    target: str
    timeout_s: float
    probe: Probe

    def timed_out(self, elapsed_s: float) -> CheckResult:
        return self._unknown(elapsed_s, f"timed out after {self.timeout_s:.1f} s")

    def failed(self, exc: BaseException, elapsed_s: float) -> CheckResult:
        return self._unknown(elapsed_s, f"check failed: {error_text(exc)}")

    def _unknown(self, elapsed_s: float, detail: str) -> CheckResult:
        return CheckResult(
            self.name,
            self.component,
            Status.UNKNOWN,
            latency_ms=elapsed_s * 1000.0,
            detail=detail,
            target=self.target,
        )


class _Run:
    """One check in flight: its thread sets ``outcome`` under ``notify`` and wakes the runner."""

    def __init__(
        self, check: Check, clock: Callable[[], float], notify: threading.Condition
    ) -> None:
        timeout_s = within_run(check.timeout_s)
        if timeout_s < check.timeout_s:
            check = dataclasses.replace(check, timeout_s=timeout_s)
        self.check = check
        self.started = clock()
        self.deadline = self.started + check.timeout_s
        self.outcome: tuple[CheckResult, ...] | None = None
        self._clock = clock
        self._notify = notify
        self.thread = threading.Thread(
            target=self._work, name=f"check-{check.component}-{check.name}", daemon=True
        )

    def _work(self) -> None:
        check = self.check
        try:
            raw = check.probe(check.timeout_s)
            elapsed = self._clock() - self.started
            outcome = _stamp(check, raw, elapsed)
        except BaseException as exc:  # the runner's contract: nothing escapes a probe
            outcome = (check.failed(exc, self._clock() - self.started),)
        with self._notify:
            self.outcome = outcome
            self._notify.notify_all()


def _stamp(check: Check, raw: ProbeOutcome, elapsed_s: float) -> tuple[CheckResult, ...]:
    items = (raw,) if isinstance(raw, CheckResult) else tuple(raw)
    if not items or not all(isinstance(item, CheckResult) for item in items):
        kind = type(raw).__name__
        return (check.failed(TypeError(f"probe returned {kind}, not CheckResult"), elapsed_s),)
    latency = elapsed_s * 1000.0
    first = dataclasses.replace(items[0], latency_ms=latency)
    rest = tuple(
        item if item.latency_ms is not None else dataclasses.replace(item, latency_ms=latency)
        for item in items[1:]
    )
    return (first, *rest)


def run_checks(
    checks: Sequence[Check],
    *,
    max_workers: int | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> tuple[CheckResult, ...]:
    """Run ``checks`` concurrently; results in input order, each check's deadline enforced.

    ``max_workers`` bounds how many probes run at once (default: all of them). A slot is
    freed when its probe finishes *or* its deadline passes, so hanging probes never starve
    the others; at worst abandoned threads outnumber ``max_workers`` until they return.
    ``clock`` is a monotonic clock in seconds, used for deadlines and latencies.
    """
    if max_workers is not None and max_workers < 1:
        raise ParameterError(f"must be at least 1, got {max_workers}", key="max_workers")
    limit = len(checks) if max_workers is None else max_workers
    outcomes: list[tuple[CheckResult, ...] | None] = [None] * len(checks)
    pending = list(range(len(checks)))
    running: dict[int, _Run] = {}
    notify = threading.Condition()
    with notify:
        while pending or running:
            while pending and len(running) < limit:
                index = pending.pop(0)
                run = _Run(checks[index], clock, notify)
                running[index] = run
                run.thread.start()
            now = clock()
            for index, run in list(running.items()):
                if run.outcome is not None:
                    outcomes[index] = run.outcome
                    del running[index]
                elif now >= run.deadline:
                    outcomes[index] = (run.check.timed_out(now - run.started),)
                    del running[index]
            if running and not (pending and len(running) < limit):
                next_deadline = min(run.deadline for run in running.values())
                if not any(run.outcome is not None for run in running.values()):
                    notify.wait(timeout=max(0.0, next_deadline - clock()))
    return tuple(result for outcome in outcomes if outcome for result in outcome)
