"""Winston-format JSON log lines, written to daily files as ``winston-daily-rotate-file`` does.

Each line is one JSON object as ``winston.format.json()`` prints it after ``timestamp()``:
``level`` and ``message`` first, then the metadata, ``service`` and an ISO-8601 UTC
``timestamp`` with milliseconds. Every line goes to ``combined-YYYY-MM-DD.log``; errors also
to ``error-YYYY-MM-DD.log`` (UTC dates).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from sreworkbook.sandbox.model import SERVICE

__all__ = ["LEVELS", "DailyLog", "format_duration", "iso_ms", "log_line"]

LEVELS = ("error", "warn", "info", "http", "verbose", "debug")


def iso_ms(when: datetime) -> str:
    """``when`` as Winston's timestamp: ``2026-11-28T14:20:01.123Z``."""
    utc = when.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def format_duration(seconds: float) -> str:
    """A request duration as the correlation-ID middleware logs it: ``"165ms"``."""
    return f"{round(seconds * 1000)}ms"


def log_line(level: str, message: str, when: datetime, **meta: Any) -> str:
    """One Winston JSON line (no newline). ``meta`` keys with value None are left out."""
    if level not in LEVELS:
        raise ValueError(f"unknown level {level!r}, did you mean one of: {', '.join(LEVELS)}")
    record: dict[str, Any] = {"level": level, "message": message}
    record.update((k, v) for k, v in meta.items() if v is not None)
    record["service"] = SERVICE
    record["timestamp"] = iso_ms(when)
    return json.dumps(record, ensure_ascii=False, separators=(",", ":"))


class DailyLog:
    """Appends lines to ``combined-DATE.log`` and, for errors, ``error-DATE.log`` in ``directory``.

    Thread-safe; switches files when the UTC date of the line changes.
    """

    def __init__(self, directory: Path, *, clock: Callable[[], datetime] | None = None) -> None:
        self.directory = directory
        self._clock = clock or (lambda: datetime.now(UTC))
        self._lock = threading.Lock()
        self._day = ""
        self._files: dict[str, IO[str]] = {}

    def now(self) -> datetime:
        return self._clock()

    def write(self, level: str, message: str, *, when: datetime | None = None, **meta: Any) -> str:
        """Write one line; returns it."""
        at = when or self._clock()
        line = log_line(level, message, at, **meta)
        day = at.astimezone(UTC).strftime("%Y-%m-%d")
        with self._lock:
            if day != self._day:
                self._close_files()
                self._day = day
            self._file("combined").write(line + "\n")
            if level == "error":
                self._file("error").write(line + "\n")
        return line

    def _file(self, kind: str) -> IO[str]:
        handle = self._files.get(kind)
        if handle is None:
            self.directory.mkdir(parents=True, exist_ok=True)
            path = self.directory / f"{kind}-{self._day}.log"
            handle = path.open("a", encoding="utf-8", buffering=1)
            self._files[kind] = handle
        return handle

    def _close_files(self) -> None:
        for handle in self._files.values():
            handle.close()
        self._files.clear()

    def close(self) -> None:
        with self._lock:
            self._close_files()
