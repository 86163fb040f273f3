"""When to start jobs: ``run-due`` (one call, idempotent), ``serve`` (a loop) and ``check``.

``run-due`` claims the window ``(last call, now]`` in ``outputs/schedule/state.json`` under a
lock *before* starting anything, so a second call at the same minute — or an overlapping one —
finds nothing new to run. A job due several times in a long window (the host was down) runs
once, and the call says so. ``check`` is the dead-man's switch: a job with no success since its
last due time (plus its grace) is stale, which is CRIT.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import islice

from sreworkbook.schedule.cron import iter_due, next_after, previous_at_or_before
from sreworkbook.schedule.model import Job, Schedule
from sreworkbook.schedule.runner import JobResult, JobRunner
from sreworkbook.schedule.state import SchedulerFiles
from sreworkbook.timeutil import format_duration, rfc3339

__all__ = [
    "DueJob",
    "DuePlan",
    "Stale",
    "check",
    "longest_first",
    "plan_due",
    "run_due",
    "serve",
]

#: The window of the very first call: the minute that just passed.
FIRST_WINDOW = timedelta(minutes=1)
#: A window longer than this means calls were missed (cron calls every minute).
GAP = timedelta(minutes=2)
_COUNT_LIMIT = 10_000


@dataclass(frozen=True)
class DueJob:
    """A job to start now for its latest due time; ``missed`` earlier due times in the window."""

    job: Job
    due: datetime
    missed: int = 0
    late_s: float = 0.0

    @property
    def catch_up(self) -> bool:
        return self.missed > 0 or self.late_s > GAP.total_seconds()


@dataclass(frozen=True)
class DuePlan:
    """What one ``run-due`` call claimed: the window, the jobs to start, notes for people."""

    since: datetime | None
    now: datetime
    jobs: tuple[DueJob, ...]
    notes: tuple[str, ...]


def plan_due(schedule: Schedule, files: SchedulerFiles, now: datetime) -> DuePlan:
    """Claim ``(last call, now]`` and list the jobs due in it, each once."""
    now = now.astimezone(UTC)
    previous, _first = files.claim_window(now)
    notes: list[str] = []
    if previous is None:
        start = now - FIRST_WINDOW
        notes.append(f"first call: looking back to {rfc3339(start)}")
    elif now <= previous:
        return DuePlan(previous, now, (), ("nothing new: this window was already claimed",))
    else:
        start = previous
        if now - previous > GAP:
            gap = format_duration((now - previous).total_seconds())
            notes.append(f"no call for {gap} (since {rfc3339(previous)}): catching up once")
    due: list[DueJob] = []
    for job in schedule.jobs:
        times = list(islice(iter_due(job.expr, start, now), _COUNT_LIMIT))
        if not times:
            continue
        item = DueJob(job, times[-1], len(times) - 1, (now - times[-1]).total_seconds())
        due.append(item)
        if item.catch_up:
            more = "+" if len(times) == _COUNT_LIMIT else ""
            notes.append(
                f"catch-up: {job.name} was due {len(times)}{more} time(s) since "
                f"{rfc3339(start)} (last {rfc3339(times[-1])}); running it once now"
            )
            files.record(
                "catch-up", job=job.name, at=now, missed=len(times), last_due=rfc3339(times[-1])
            )
    return DuePlan(previous, now, tuple(due), tuple(notes))


def longest_first(jobs: Sequence[Job], last_s: Callable[[Job], float | None]) -> list[Job]:
    """``jobs``, those whose last run took longest (``last_s``; ``None``: never ran) first:
    with a few runs at once, a long drill started last would go on alone long after the rest
    (longest-processing-time-first). Jobs that never ran keep their order, after the others."""
    return sorted(jobs, key=lambda job: -(last_s(job) or 0.0))


def run_due(
    schedule: Schedule,
    files: SchedulerFiles,
    *,
    now: datetime,
    runner: JobRunner,
    parallel: int = 2,
) -> tuple[DuePlan, list[JobResult]]:
    """Claim the window, start what is due (``parallel`` at once) and wait for it."""
    plan = plan_due(schedule, files, now)
    if not plan.jobs:
        return plan, []
    with ThreadPoolExecutor(max_workers=max(1, parallel)) as pool:
        futures = [pool.submit(runner, item.job, due=item.due) for item in plan.jobs]
        return plan, [future.result() for future in futures]


def serve(
    load: Callable[[], Schedule],
    files: SchedulerFiles,
    *,
    runner: JobRunner,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
    log: Callable[[str], None],
    stop: Callable[[], bool] = lambda: False,
    max_sleep_s: float = 60.0,
) -> None:
    """Run due jobs until ``stop()``: reload the schedule, start what is due, sleep till next.

    Jobs run in background threads (one per job at most: the job lock refuses overlap), so a
    long backup drill never delays the 15-minute health check. On return every started job
    has finished.
    """
    pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="sreworkbook-job")
    try:
        while not stop():
            schedule = load()
            now = datetime.fromtimestamp(clock(), UTC)
            plan = plan_due(schedule, files, now)
            for note in plan.notes:
                log(note)
            for item in plan.jobs:
                future = pool.submit(runner, item.job, due=item.due)
                future.add_done_callback(_logger(log))
            sleep(_until_next(schedule.jobs, clock(), max_sleep_s))
    finally:
        pool.shutdown(wait=True)


def _logger(log: Callable[[str], None]) -> Callable[[Future[JobResult]], None]:
    def done(future: Future[JobResult]) -> None:
        error = future.exception()
        log(f"ERROR   job runner failed: {error!r}" if error else future.result().line())

    return done


def _until_next(jobs: Sequence[Job], now: float, cap: float) -> float:
    moment = datetime.fromtimestamp(now, UTC)
    nexts = [t for t in (next_after(job.expr, moment) for job in jobs) if t is not None]
    if not nexts:
        return cap
    # Wake one second past the due minute so that the window (last, now] includes it.
    return max(1.0, min(cap, min(nexts).timestamp() + 1.0 - now))


@dataclass(frozen=True)
class Stale:
    """A job that should have succeeded by now and did not."""

    job: Job
    due: datetime
    last_success: datetime | None

    def line(self) -> str:
        last = rfc3339(self.last_success) if self.last_success else "never"
        return (
            f"{self.job.name}: due {rfc3339(self.due)} (grace {format_duration(self.job.grace())})"
            f", last success {last}"
        )


def check(
    schedule: Schedule,
    files: SchedulerFiles,
    *,
    now: datetime,
    since: datetime | None = None,
) -> list[Stale]:
    """Jobs with no success since their last due time that is older than their grace.

    ``since`` (default: the first ``run-due`` call in ``state.json``) ignores due times from
    before the scheduler was started.
    """
    if since is None:
        first = files.read_state().get("first_call")
        since = datetime.fromisoformat(first.replace("Z", "+00:00")) if first else None
    stale: list[Stale] = []
    beats = files.all_heartbeats()
    for job in schedule.jobs:
        due = previous_at_or_before(job.expr, now - timedelta(seconds=job.grace()))
        if due is None or (since is not None and due < since):
            continue
        beat = beats.get(job.name)
        last = beat.last_success if beat else None
        if last is None or last < due:
            stale.append(Stale(job, due, last))
    return stale
