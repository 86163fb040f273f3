"""The run ledger: ``outputs/ledger.jsonl``, one JSON line per finished run."""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from pathlib import Path

from sreworkbook.exceptions import OutputError
from sreworkbook.results import RunSummary

__all__ = ["Ledger"]


class Ledger:
    """Append-only record of finished runs; a line is written only once a run's folder exists.

    Appends take an exclusive lock and write one line in one call, so parallel runs never
    interleave. Lines that do not parse (a disk filled mid-write, a hand edit) are skipped.
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    def append(self, summary: RunSummary) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.append_bytes((summary.to_json() + "\n").encode("utf-8"))
        except OSError as exc:
            raise OutputError(f"cannot append to the ledger {self.path}: {exc}") from exc

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
        if not self.path.is_file():
            return
        with self.path.open(encoding="utf-8") as handle:
            for line in handle:
                try:
                    yield RunSummary.from_dict(json.loads(line))
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
