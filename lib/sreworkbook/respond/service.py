"""The responder: accept a group (journalled first), then run and reply on worker threads.

:meth:`Responder.accept` decides under one lock what a post means (:mod:`.episodes`), writes
the change to the journal, and only then says 200; when the work not yet done reaches the
queue bound it says 503 so that Alertmanager retries later. Workers (``concurrency`` of them)
take the work in order; the work of one group is done one piece at a time, so the resolved
reply always follows the firing one. :meth:`Responder.start` replays the journal: work
accepted but not done before a crash or restart is done once.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from sreworkbook.respond.episodes import Decision, Episode, Episodes
from sreworkbook.respond.journal import Journal, Replay, Work
from sreworkbook.respond.payload import AlertGroup
from sreworkbook.respond.work import Executor, Outcome, RunResult

__all__ = ["Acceptance", "Responder"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Acceptance:
    """The answer to a post: the HTTP status and what it meant."""

    code: int
    decision: str
    work_id: str = ""


class Responder:
    def __init__(
        self,
        executor: Executor,
        journal: Journal,
        *,
        clock: Callable[[], float] = time.time,
        on_outcome: Callable[[Work, Outcome], None] | None = None,
        on_decision: Callable[[AlertGroup, Decision, Episode | None], None] | None = None,
    ) -> None:
        config = executor.config
        self._executor = executor
        self._journal = journal
        self._clock = clock
        self._bound = config.queue_bound
        self._concurrency = config.concurrency
        self._window_s = config.dedup_window_s
        self._episodes = Episodes(window_s=config.dedup_window_s)
        self._lock = threading.Lock()
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._pending = 0
        self._idle = threading.Condition(self._lock)
        self._threads: list[threading.Thread] = []
        self._on_outcome = on_outcome
        self._on_decision = on_decision
        self._backlog: dict[str, deque[Work]] = {}

    @property
    def pending(self) -> int:
        with self._lock:
            return self._pending

    def start(self) -> Replay:
        """Replay the journal, compact it, queue what was not done, start the workers."""
        replay = self._journal.replay()
        for episode in replay.episodes.values():
            self._episodes.restore(episode)
        self._episodes.forget_before(self._clock() - max(self._window_s, 86_400.0))
        replay.episodes = {e.group_key: e for e in self._episodes.all()}
        self._journal.compact(replay)
        with self._lock:
            for work in replay.pending:
                self._enqueue(work)
        for number in range(self._concurrency):
            thread = threading.Thread(target=self._worker, name=f"respond-{number}", daemon=True)
            thread.start()
            self._threads.append(thread)
        return replay

    def stop(self, timeout_s: float = 5.0) -> None:
        for _ in self._threads:
            self._queue.put(None)
        for thread in self._threads:
            thread.join(timeout_s)

    def wait_idle(self, timeout_s: float) -> bool:
        """True once no work is pending (for tests and a graceful stop)."""
        deadline = time.monotonic() + timeout_s
        with self._idle:
            while self._pending:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._idle.wait(left)
        return True

    def accept(self, group: AlertGroup) -> Acceptance:
        """Decide, journal, queue: 200 once on disk; 503 when the queue is full."""
        with self._lock:
            now = self._clock()
            decision, episode = self._episodes.decide(group.group_key, group.status, now)
            if decision is Decision.REPEAT or episode is None:
                self._note(group, decision, episode)
                return Acceptance(200, decision.value)
            if decision in (Decision.REOPEN, Decision.RECLOSE):
                self._journal.episode(episode)
                self._episodes.restore(episode)
                self._note(group, decision, episode)
                return Acceptance(200, decision.value)
            if self._pending >= self._bound:
                return Acceptance(503, "queue full")
            kind = "firing" if decision is Decision.OPEN else "resolved"
            work = Work(uuid.uuid4().hex, kind, episode, group.to_dict(), now)
            self._journal.work(work)
            self._episodes.restore(episode)
            self._enqueue(work)
            self._note(group, decision, episode)
            return Acceptance(200, decision.value, work.id)

    def _note(self, group: AlertGroup, decision: Decision, episode: Episode | None) -> None:
        if self._on_decision is None:
            return
        try:
            self._on_decision(group, decision, episode)
        except Exception:  # a record that cannot be written must not refuse the alert
            log.exception("recording %s for %s failed", decision.value, group.alertname)

    def _enqueue(self, work: Work) -> None:
        """Queue ``work`` behind its group's earlier work (call with the lock held)."""
        self._pending += 1
        key = work.episode.group_key
        if key in self._backlog:
            self._backlog[key].append(work)
        else:  # the group is idle: a worker takes it, and its later work, in order
            self._backlog[key] = deque([work])
            self._queue.put(key)

    def _next(self, key: str) -> Work | None:
        with self._lock:
            backlog = self._backlog[key]
            if backlog:
                return backlog[0]
            del self._backlog[key]
            return None

    def _ran(self, work_id: str, result: RunResult) -> None:
        self._journal.ran(work_id, result.to_dict())

    def _worker(self) -> None:
        while True:
            key = self._queue.get()
            if key is None:
                return
            while (work := self._next(key)) is not None:
                self._do(work)
                with self._idle:
                    self._backlog[key].popleft()
                    self._pending -= 1
                    self._idle.notify_all()

    def _do(self, work: Work) -> None:
        try:
            outcome = self._executor.do(work, self._ran)
            if self._on_outcome is not None:
                self._on_outcome(work, outcome)
        except Exception:  # a bug must not stop the responder nor replay for ever
            log.exception("work %s failed", work.id)
        self._journal.done(work.id)
