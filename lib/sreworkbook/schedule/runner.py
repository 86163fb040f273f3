"""Run one scheduled job unattended: lock, subprocess, whole-run timeout, retries, heartbeat.

Each attempt is one self-contained ``python -m sreworkbook run NOTEBOOK --env ENV -p ...`` in
its own process group. Past ``timeout_s`` the group and every descendant (the kernel runs in
a session of its own) get SIGTERM, then SIGKILL, and the attempt is written to the ledger as
ERROR "timed out after N s". Only transient failures are retried (see
:mod:`sreworkbook.schedule.transient`), after ``backoff_s × backoff_factor**k`` seconds.
Every attempt, retry, lock refusal and notification goes to ``outputs/schedule/history.jsonl``.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import psutil

from sreworkbook.config import load_environment
from sreworkbook.exceptions import WorkbookError
from sreworkbook.results import Finding, RunSummary, Status
from sreworkbook.schedule.lock import JobLock, JobLocked
from sreworkbook.schedule.model import Job
from sreworkbook.schedule.state import SchedulerFiles
from sreworkbook.schedule.transient import transient_reason
from sreworkbook.timeutil import rfc3339

if TYPE_CHECKING:
    from sreworkbook.notify import Channels
    from sreworkbook.reports.ledger import Ledger

__all__ = ["Attempt", "JobResult", "JobRunner", "SubprocessRunner", "should_notify"]

#: ``crit`` covers UNKNOWN too: the README's exit code 1 means "needs a look" for both.
_CRIT = frozenset({Status.CRIT, Status.UNKNOWN})
#: ``failure``: the run itself failed, passed its deadline or never finished.
_FAILED = frozenset({Status.ERROR, Status.TIMEOUT, Status.ABORTED})


def should_notify(notify_on: Iterable[str], status: Status) -> bool:
    """Whether a run ending in ``status`` is announced under a job's ``notify_on``."""
    wanted = set(notify_on)
    return (
        "always" in wanted
        or ("failure" in wanted and status in _FAILED)
        or ("crit" in wanted and status in _CRIT)
    )


@dataclass(frozen=True)
class Attempt:
    """One try of a job."""

    number: int
    exit_code: int
    status: Status
    run_id: str
    headline: str
    duration_s: float
    timed_out: bool = False
    transient: str | None = None


@dataclass(frozen=True)
class JobResult:
    """What became of one start of a job; ``locked`` when another run held its lock."""

    job: str
    exit_code: int
    status: Status | None
    attempts: tuple[Attempt, ...] = ()
    summary: RunSummary | None = None
    locked: bool = False
    message: str = ""

    def line(self) -> str:
        """One line for a terminal or a cron mail."""
        shown = self.status.value if self.status else "BUSY"
        return f"{shown:7} {self.job}: {self.message}"


class JobRunner(Protocol):
    """Starts one job now; ``due`` is the scheduled time it stands for, if any."""

    def __call__(self, job: Job, *, due: datetime | None = None) -> JobResult: ...


@dataclass
class SubprocessRunner:
    """The real runner: each attempt is a ``sreworkbook run`` child process."""

    root: Path
    outputs: Path
    environ: Mapping[str, str]
    #: The notifiers of a run's environment; ``None``: the history says none was tried.
    channels: Channels | None = None
    clock: Callable[[], float] = time.time
    sleep: Callable[[float], None] = time.sleep
    python: str = sys.executable
    report_base_url: str | None = None
    env_override: str | None = None
    kill_grace_s: float = 5.0

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC)

    def __call__(self, job: Job, *, due: datetime | None = None) -> JobResult:
        files = SchedulerFiles(self.outputs)
        lock = JobLock(files.locks, job.name)
        try:
            lock.acquire(now=self._now())
        except JobLocked as exc:
            files.record("locked", job=job.name, at=self._now(), pid=exc.pid, message=str(exc))
            return JobResult(job.name, exit_code=0, status=None, locked=True, message=str(exc))
        with lock:
            attempts: list[Attempt] = []
            summary: RunSummary | None = None
            for number in range(1, job.retries + 2):
                attempt, summary = self._attempt(job, number, lock.fd, due)
                attempts.append(attempt)
                files.record("attempt", job=job.name, at=self._now(), **_fields(attempt, job))
                if attempt.transient is None or number > job.retries:
                    break
                wait = job.backoffs()[number - 1]
                files.record(
                    "retry", job=job.name, at=self._now(), wait_s=wait, reason=attempt.transient
                )
                self.sleep(wait)
            final = attempts[-1]
            files.beat(
                job.name,
                at=self._now(),
                status=final.status.value,
                run_id=final.run_id,
                success=final.exit_code in (0, 1),
            )
            if summary is not None and should_notify(job.notify_on, summary.status):
                self._notify(job, summary, files)
        tries = f" (attempt {final.number} of {job.retries + 1})" if final.number > 1 else ""
        return JobResult(
            job.name,
            exit_code=final.exit_code,
            status=final.status,
            attempts=tuple(attempts),
            summary=summary,
            message=final.headline + tries,
        )

    def command(self, job: Job) -> list[str]:
        """The child's argument list."""
        base = [self.python, "-m", "sreworkbook", "--root", str(self.root)]
        return [*base, "--outputs", str(self.outputs), *job.run_arguments(env=self.env_override)]

    def _attempt(
        self, job: Job, number: int, lock_fd: int, due: datetime | None
    ) -> tuple[Attempt, RunSummary | None]:
        # The reports package pulls in papermill and nbformat (seconds): only when running.
        from sreworkbook.reports import Ledger

        ledger = Ledger(self.outputs / "ledger.jsonl")
        offset = ledger.path.stat().st_size if ledger.path.is_file() else 0
        started = self.clock()
        env = dict(self.environ)
        env["SREWORKBOOK_JOB"] = job.name
        if due is not None:
            env["SREWORKBOOK_DUE"] = rfc3339(due)
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            process = subprocess.Popen(
                self.command(job),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                env=env,
                cwd=self.root,
                start_new_session=True,
                pass_fds=(lock_fd,),
            )
            try:
                code = process.wait(timeout=job.timeout_s)
                timed_out = False
            except subprocess.TimeoutExpired:
                _kill_tree(process, grace_s=self.kill_grace_s)
                code, timed_out = Status.TIMEOUT.exit_code, True
            err.seek(0)
            stderr = err.read().decode("utf-8", "replace")
        finished = self.clock()
        if timed_out:
            summary: RunSummary | None = self._record_timeout(job, started, finished, number)
        else:
            summary = _new_run(ledger, offset, job, self._env_name(job))
        if summary is None:
            summary = _not_run(job, code, stderr, started, finished)
        attempt = Attempt(
            number=number,
            exit_code=code,
            status=summary.status,
            run_id=summary.run_id,
            headline=summary.headline,
            duration_s=finished - started,
            timed_out=timed_out,
            transient=None if timed_out else transient_reason(code, summary, stderr),
        )
        return attempt, summary

    def _env_name(self, job: Job) -> str:
        try:
            return load_environment(self.env_override or job.env, root=self.root).name
        except WorkbookError:
            return Path(self.env_override or job.env).stem

    def _record_timeout(self, job: Job, started: float, finished: float, number: int) -> RunSummary:
        """Record a run killed at ``timeout_s`` under the id its start line gave it (if it got
        that far), and remove its staging folder: the killed run is over, not ABORTED."""
        from sreworkbook.index import build_index
        from sreworkbook.reports import Ledger
        from sreworkbook.schedule.expectations import load_expectations

        env = self._env_name(job)
        start = datetime.fromtimestamp(started, UTC)
        limit = f"{job.timeout_s:g}"
        ledger = Ledger(self.outputs / "ledger.jsonl")
        since = rfc3339(start.replace(microsecond=0))
        began = [
            run
            for run in ledger.unfinished()
            if (run.notebook, run.env) == (job.notebook_stem, env) and run.started_at >= since
        ]
        if began and began[-1].staging.startswith("runs/"):
            shutil.rmtree(self.outputs / began[-1].staging, ignore_errors=True)
        run_id = (
            began[-1].run_id
            if began
            else f"{start:%Y%m%dT%H%M%SZ}-{job.notebook_stem}-{env}-timeout-{secrets.token_hex(3)}"
        )
        summary = RunSummary(
            status=Status.TIMEOUT,
            headline=f"timed out after {limit} s",
            findings=(
                Finding(
                    Status.TIMEOUT,
                    "Run timed out",
                    f"job {job.name} ran past its whole-run limit of {limit} s (attempt "
                    f"{number} of {job.retries + 1}); its processes were killed",
                ),
            ),
            notebook=job.notebook_stem,
            env=env,
            run_id=run_id,
            started_at=rfc3339(start.replace(microsecond=0)),
            finished_at=rfc3339(datetime.fromtimestamp(finished, UTC).replace(microsecond=0)),
            duration_s=finished - started,
            parameters={**job.parameters, "env": env},
        )
        ledger.append(summary)
        schedule = self.root / "parameters" / "schedule.yaml"
        build_index(self.outputs, expected=load_expectations(schedule, now=self._now()))
        return summary

    def _notify(self, job: Job, summary: RunSummary, files: SchedulerFiles) -> None:
        if self.channels is None:
            files.record("notify-skipped", job=job.name, at=self._now(), reason="no notifier")
            return
        target = summary.report or "index.html"
        if self.report_base_url:
            url = self.report_base_url.rstrip("/") + "/" + target
        else:
            url = (self.outputs / target).resolve().as_uri()
        # The environment the job ran on, as given (a name under parameters/ or a file): the
        # summary holds only its `name:`, which need not be a file's name.
        ran_on = self.env_override or job.env
        try:
            notifiers = self.channels(ran_on)
        except WorkbookError as exc:  # the environment cannot be read any more
            files.record("notify-failed", job=job.name, at=self._now(), error=str(exc))
            return
        if not notifiers:
            error = f"environment {ran_on} configures no notification channel"
            files.record("notify-failed", job=job.name, at=self._now(), error=error)
            return
        from sreworkbook.notify import Notification, notify_all  # HTTP and SMTP: when sending

        # Notifiers never raise: a channel that failed is a delivery that says so.
        deliveries = notify_all(notifiers, Notification.from_summary(summary, url))
        failed = [f"{d.notifier}: {d.detail}" for d in deliveries if not d.ok]
        if failed:
            files.record("notify-failed", job=job.name, at=self._now(), error="; ".join(failed))
        else:
            channels = [d.notifier for d in deliveries]
            files.record(
                "notified",
                job=job.name,
                at=self._now(),
                status=summary.status.value,
                channels=channels,
            )


def _fields(attempt: Attempt, job: Job) -> dict[str, object]:
    return {
        "attempt": attempt.number,
        "of": job.retries + 1,
        "exit_code": attempt.exit_code,
        "status": attempt.status.value,
        "run_id": attempt.run_id,
        "headline": attempt.headline,
        "duration_s": round(attempt.duration_s, 3),
        "timed_out": attempt.timed_out,
        "transient": attempt.transient,
    }


def _new_run(ledger: Ledger, offset: int, job: Job, env: str) -> RunSummary | None:
    """The ledger line the child appended (after ``offset``) for this job's notebook and env."""
    if not ledger.path.is_file():
        return None
    with ledger.path.open("rb") as handle:
        handle.seek(offset)
        lines = handle.read().decode("utf-8", "replace").splitlines()
    found: RunSummary | None = None
    for line in lines:
        try:
            run = RunSummary.from_dict(json.loads(line))
        except (ValueError, KeyError, TypeError):
            continue
        if run.notebook == job.notebook_stem and run.env == env:
            found = run
    return found


def _not_run(job: Job, code: int, stderr: str, started: float, finished: float) -> RunSummary:
    """A summary for an attempt that wrote no run (bad input, a crash before the ledger)."""
    last = next((line for line in reversed(stderr.splitlines()) if line.strip()), "")
    why = last.strip() or f"exited with code {code} and no output"
    return RunSummary(
        status=Status.OK if code == 0 else Status.ERROR,
        headline=f"the job could not run: {why}" if code else "finished without a ledger line",
        findings=(Finding(Status.ERROR, "Job did not run", why),) if code else (),
        notebook=job.notebook_stem,
        env=job.env,
        started_at=rfc3339(datetime.fromtimestamp(started, UTC).replace(microsecond=0)),
        finished_at=rfc3339(datetime.fromtimestamp(finished, UTC).replace(microsecond=0)),
        duration_s=finished - started,
    )


def _kill_tree(process: subprocess.Popen[bytes], *, grace_s: float) -> None:
    """SIGTERM the run's process group and every descendant, then SIGKILL what is left."""
    try:
        tree = [psutil.Process(process.pid), *psutil.Process(process.pid).children(True)]
    except psutil.Error:
        tree = []
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        for proc in tree:
            try:
                proc.send_signal(sig)
            except psutil.Error:
                continue
        _gone, alive = psutil.wait_procs(tree, timeout=grace_s)
        tree = alive
        if not tree:
            break
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=grace_s)
