"""The run ledger: ``outputs/ledger.jsonl``, a line as each run starts and one as it finishes.

A finished run's line is its summary. A start line (``"event": "start"``) names the run and
its deadline: a run that has a start line, no summary and a deadline long past was killed
from outside (SIGKILL, out of memory, a reboot) and is shown as ABORTED. Readers of summaries
skip start lines (they have no ``status``).
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sreworkbook.exceptions import OutputError
from sreworkbook.results import RunSummary

__all__ = ["ABORT_GRACE_S", "REFUSED_EVENT", "START_EVENT", "Ledger", "RunStart", "abandoned"]

#: The ``event`` of a start line, and of the line closing a run that wrote no summary because
#: its notebook refused its parameters (bad input: nothing to show).
START_EVENT = "start"
REFUSED_EVENT = "refused"
#: How long past its deadline a started run may still write its summary (the report is
#: rendered after a TIMEOUT); after that, a run without one counts as ABORTED.
ABORT_GRACE_S = 120.0


@dataclass(frozen=True)
class RunStart:
    """A run that has started: who it is, where it stages, when it must be over (RFC 3339)."""

    run_id: str
    notebook: str
    env: str
    started_at: str
    deadline_at: str
    staging: str = ""  # relative to the outputs folder

    def to_json(self) -> str:
        return json.dumps({"event": START_EVENT, **asdict(self)})

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> RunStart:
        return cls(**{k: str(data.get(k, "")) for k in cls.__dataclass_fields__})

    def abandoned(self, now: datetime) -> bool:
        """Whether a run without a summary by ``now`` will never write one."""
        return abandoned(self.deadline_at, now)


def abandoned(deadline_at: str, now: datetime) -> bool:
    """Whether ``now`` is more than :data:`ABORT_GRACE_S` past ``deadline_at`` (RFC 3339)."""
    try:
        deadline = datetime.fromisoformat(deadline_at.replace("Z", "+00:00"))
    except ValueError:
        return False
    if deadline.tzinfo is None:
        deadline = deadline.replace(tzinfo=UTC)
    return now > deadline + timedelta(seconds=ABORT_GRACE_S)


class Ledger:
    """Append-only record of runs: a start line, then a summary once the run's folder exists.

    Appends take an exclusive lock and write one line in one call, so parallel runs never
    interleave. Lines that do not parse (a disk filled mid-write, a hand edit) are skipped.
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    def append(self, summary: RunSummary) -> None:
        self._append_line(summary.to_json())

    def start(self, start: RunStart) -> None:
        """Record that a run has started (before anything else of it is written)."""
        self._append_line(start.to_json())

    def refused(self, run_id: str) -> None:
        """Record that a started run ended without a summary: its input was refused."""
        self._append_line(json.dumps({"event": REFUSED_EVENT, "run_id": run_id}))

    def _append_line(self, text: str) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.append_bytes((text + "\n").encode("utf-8"))
        except OSError as exc:
            raise OutputError(f"cannot append to the ledger {self.path}: {exc}") from exc

    def unfinished(self) -> list[RunStart]:
        """Runs that started and have written no summary (yet), in the order they started."""
        starts: dict[str, RunStart] = {}
        finished: set[str] = set()
        for data in self._lines():
            run_id = str(data.get("run_id", ""))
            if data.get("event") == START_EVENT:
                starts[run_id] = RunStart.from_dict(data)
            elif "status" in data or data.get("event") == REFUSED_EVENT:
                finished.add(run_id)
        return [start for run_id, start in starts.items() if run_id not in finished]

    def _lines(self) -> Iterator[dict[str, object]]:
        if not self.path.is_file():
            return
        with self.path.open(encoding="utf-8") as handle:
            for line in handle:
                try:
                    data = json.loads(line)
                except ValueError:
                    continue
                if isinstance(data, dict):
                    yield data

    def append_bytes(self, data: bytes) -> None:
        """Append ``data`` in one write under the exclusive lock, and sync it to disk."""
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)

    def __iter__(self) -> Iterator[RunSummary]:
        for data in self._lines():
            if "event" in data:
                continue
            try:
                yield RunSummary.from_dict(data)
            except (ValueError, KeyError, TypeError):
                continue

    def runs(self, *, notebook: str | None = None, env: str | None = None) -> list[RunSummary]:
        """Runs in the order they finished, optionally for one notebook and environment."""
        return [
            run
            for run in self
            if (notebook is None or run.notebook == notebook) and (env is None or run.env == env)
        ]

    def latest(self, *, notebook: str, env: str) -> RunSummary | None:
        """The most recent finished run of ``notebook`` on ``env``."""
        runs = self.runs(notebook=notebook, env=env)
        return runs[-1] if runs else None
