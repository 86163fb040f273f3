"""One run of a job at a time: ``fcntl.flock`` on ``outputs/schedule/locks/<job>.lock``.

The kernel drops a ``flock`` when the last descriptor on it closes, so the lock of a killed
run is released with no clean-up step and no stale-PID guessing. The holder writes its PID
and start time into the file, only to say who holds it. The run's child process inherits
the descriptor, so the lock stays held while the notebook runs even if the scheduler that
started it dies.
"""

from __future__ import annotations

import fcntl
import json
import os
from datetime import datetime
from pathlib import Path
from types import TracebackType

from sreworkbook.exceptions import JobLocked, OutputError
from sreworkbook.timeutil import rfc3339

__all__ = ["JobLock", "JobLocked"]


class JobLock:
    """An exclusive, non-blocking lock for one job; use as a context manager."""

    def __init__(self, folder: Path, job: str) -> None:
        self.job = job
        self.path = folder / f"{job}.lock"
        self._fd: int | None = None

    @property
    def fd(self) -> int:
        """The locked descriptor (to hand to a child process with ``pass_fds``)."""
        if self._fd is None:
            raise RuntimeError("the lock is not held")
        return self._fd

    def acquire(self, *, now: datetime) -> None:
        """Take the lock or raise :class:`JobLocked` at once."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise OutputError(f"cannot open the lock {self.path}: {exc}") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid, since = _read_holder(fd)
            os.close(fd)
            raise JobLocked(self.job, pid=pid, since=since) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps({"pid": os.getpid(), "since": rfc3339(now)}).encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> JobLock:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.release()


def _read_holder(fd: int) -> tuple[int | None, str | None]:
    """The PID and start time the holder wrote, where readable."""
    try:
        data = json.loads(os.pread(fd, 4096, 0) or b"{}")
    except (OSError, ValueError):
        return None, None
    if not isinstance(data, dict):
        return None, None
    pid, since = data.get("pid"), data.get("since")
    return (pid if isinstance(pid, int) else None), (since if isinstance(since, str) else None)
