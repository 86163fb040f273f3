"""What the scheduler remembers under ``outputs/schedule/``.

- ``state.json`` — when ``run-due`` was first and last called (the window it claims next);
- ``heartbeats.json`` — per job: last success, last run, last status (the dead-man's switch);
- ``history.jsonl`` — one line per attempt, lock refusal, catch-up and notification.

Every read-modify-write holds an exclusive ``flock`` on a sidecar ``.lock`` file and replaces
the JSON file atomically, so parallel jobs and overlapping ``run-due`` calls never lose an
update.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sreworkbook.exceptions import OutputError
from sreworkbook.timeutil import rfc3339

__all__ = ["Heartbeat", "SchedulerFiles"]


@dataclass(frozen=True)
class Heartbeat:
    """A job's last signs of life (UTC times; ``None`` when never)."""

    job: str
    last_success: datetime | None = None
    last_run: datetime | None = None
    last_status: str = ""
    run_id: str = ""

    def to_dict(self) -> dict[str, str | None]:
        return {
            "last_success": rfc3339(self.last_success) if self.last_success else None,
            "last_run": rfc3339(self.last_run) if self.last_run else None,
            "last_status": self.last_status,
            "run_id": self.run_id,
        }

    @classmethod
    def from_dict(cls, job: str, data: Mapping[str, Any]) -> Heartbeat:
        return cls(
            job=job,
            last_success=_time(data.get("last_success")),
            last_run=_time(data.get("last_run")),
            last_status=str(data.get("last_status", "")),
            run_id=str(data.get("run_id", "")),
        )


def _time(text: Any) -> datetime | None:
    if not text:
        return None
    return datetime.fromisoformat(str(text).replace("Z", "+00:00")).astimezone(UTC)


class SchedulerFiles:
    """The scheduler's files under ``outputs/schedule``."""

    def __init__(self, outputs: Path) -> None:
        self.folder = outputs / "schedule"
        self.state = self.folder / "state.json"
        self.heartbeats = self.folder / "heartbeats.json"
        self.history = self.folder / "history.jsonl"
        self.locks = self.folder / "locks"

    @contextlib.contextmanager
    def _locked(self, path: Path) -> Iterator[None]:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            fd = os.open(path.with_name(path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise OutputError(f"cannot open the scheduler's files in {self.folder}: {exc}") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    @staticmethod
    def _read(path: Path) -> dict[str, Any]:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError):
            return {}  # a damaged file is rewritten whole on the next update
        return data if isinstance(data, dict) else {}

    @staticmethod
    def _write(path: Path, data: Mapping[str, Any]) -> None:
        partial = path.with_name(f".{path.name}.partial")
        try:
            partial.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", "utf-8")
            os.replace(partial, path)
        except OSError as exc:
            raise OutputError(f"cannot write {path}: {exc}") from exc

    def update(
        self, path: Path, change: Callable[[dict[str, Any]], dict[str, Any]]
    ) -> dict[str, Any]:
        """Apply ``change`` to the JSON mapping at ``path`` under its lock; return the old one."""
        with self._locked(path):
            old = self._read(path)
            self._write(path, change(dict(old)))
            return old

    def read_state(self) -> dict[str, Any]:
        return self._read(self.state)

    def claim_window(self, now: datetime) -> tuple[datetime | None, datetime | None]:
        """Record ``now`` as the last call; return the previous last call and the first call."""

        def change(state: dict[str, Any]) -> dict[str, Any]:
            state.setdefault("first_call", rfc3339(now))
            previous = _time(state.get("last_call"))
            if previous is None or now > previous:
                state["last_call"] = rfc3339(now)
            return state

        old = self.update(self.state, change)
        return _time(old.get("last_call")), _time(old.get("first_call"))

    def heartbeat(self, job: str) -> Heartbeat:
        return Heartbeat.from_dict(job, self._read(self.heartbeats).get(job) or {})

    def all_heartbeats(self) -> dict[str, Heartbeat]:
        return {
            name: Heartbeat.from_dict(name, value)
            for name, value in self._read(self.heartbeats).items()
            if isinstance(value, dict)
        }

    def beat(self, job: str, *, at: datetime, status: str, run_id: str, success: bool) -> None:
        """Record a finished run of ``job``; ``success`` also moves its last success time."""

        def change(data: dict[str, Any]) -> dict[str, Any]:
            old = Heartbeat.from_dict(job, data.get(job) or {})
            new = Heartbeat(
                job=job,
                last_success=at if success else old.last_success,
                last_run=at,
                last_status=status,
                run_id=run_id,
            )
            data[job] = new.to_dict()
            return data

        self.update(self.heartbeats, change)

    def record(self, event: str, *, job: str, at: datetime, **fields: Any) -> None:
        """Append one event to ``history.jsonl`` (one write, under an append lock)."""
        line = json.dumps({"at": rfc3339(at), "event": event, "job": job, **fields}, default=str)
        with self._locked(self.history):
            try:
                with self.history.open("a", encoding="utf-8") as handle:
                    handle.write(line + "\n")
            except OSError as exc:
                raise OutputError(f"cannot append to {self.history}: {exc}") from exc

    def events(self, *, job: str | None = None) -> list[dict[str, Any]]:
        """The history, oldest first, optionally for one job."""
        if not self.history.is_file():
            return []
        found: list[dict[str, Any]] = []
        for line in self.history.read_text(encoding="utf-8").splitlines():
            try:
                item = json.loads(line)
            except ValueError:
                continue
            if isinstance(item, dict) and (job is None or item.get("job") == job):
                found.append(item)
        return found
