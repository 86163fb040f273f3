"""Progress for a person at a terminal: the running cell, the daily jobs, the sandbox's steps.

One live status line at the bottom of the terminal (tqdm draws, fits and clears it), redrawn
twice a second so elapsed times move while a cell or a step is busy. It is drawn only when
the stream is a terminal and the command was not given ``--quiet``: cron, CI, pipes and files
get nothing from here, so no progress reaches a report, a summary or a log meant for
machines. Lines that must stay (a job's result) are written with :meth:`StatusLine.write`,
which prints them above the status line (or plainly when there is none).

    >>> cells = CellProgress("health_inspection")                       # doctest: +SKIP
    >>> with StatusLine(sys.stderr, cells.render, enabled=True):        # doctest: +SKIP
    ...     run(on_cell=cells.started)
"""

from __future__ import annotations

import io
import os
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any, TextIO

from tqdm import tqdm

if TYPE_CHECKING:
    from sreworkbook.reports.execute import CellStart


__all__ = [
    "CellProgress",
    "JobsProgress",
    "StatusLine",
    "StepsProgress",
    "clock_text",
    "wanted",
]

_SNIPPET = 60


def wanted(stream: TextIO, *, quiet: bool) -> bool:
    """Whether to draw progress on ``stream``: a terminal, and not ``--quiet``."""
    if quiet:
        return False
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def clock_text(seconds: float) -> str:
    """``42 s``, ``3:07``, ``1:02:03``."""
    whole = int(seconds)
    if whole < 60:
        return f"{whole} s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes}:{secs:02d}"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"


class StatusLine:
    """A live line on ``stream`` showing ``render(elapsed_s)``, redrawn every ``interval_s``.

    A context manager; disabled, it draws nothing and :meth:`write` just prints.
    """

    def __init__(
        self,
        stream: TextIO,
        render: Callable[[float], str],
        *,
        enabled: bool,
        interval_s: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stream, self.render, self.enabled = stream, render, enabled
        self.interval_s, self.clock = interval_s, clock
        self._bar: Any = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._began = clock()

    def __enter__(self) -> StatusLine:
        self._began = self.clock()
        if self.enabled:
            self._bar = tqdm(file=self.stream, bar_format="{desc}", leave=False, dynamic_ncols=True)
            self.refresh()
            self._thread = threading.Thread(target=self._tick, name="progress", daemon=True)
            self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2)
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def _tick(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.refresh()

    def refresh(self) -> None:
        """Redraw the line now."""
        bar = self._bar
        if bar is not None:
            bar.set_description_str(self.render(self.clock() - self._began), refresh=True)

    def write(self, line: str, file: TextIO) -> None:
        """Print ``line`` on ``file``, above the status line when there is one."""
        if self._bar is not None:
            tqdm.write(line, file=file)
            file.flush()
        else:
            print(line, file=file, flush=True)


def _width(stream: TextIO) -> int:
    try:
        return os.get_terminal_size(stream.fileno()).columns
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        return 0


def _snippet(text: str) -> str:
    return text if len(text) <= _SNIPPET else text[: _SNIPPET - 1] + "…"


class CellProgress:
    """``sreworkbook run``: which code cell runs, for how long, and the run's elapsed time."""

    def __init__(self, notebook: str, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.notebook, self.clock = notebook, clock
        self._cell: CellStart | None = None
        self._since = clock()

    def started(self, cell: CellStart) -> None:
        """The ``on_cell`` callback of the run."""
        self._cell, self._since = cell, self.clock()

    def render(self, elapsed_s: float) -> str:
        cell = self._cell
        if cell is None:
            return f"{self.notebook}: starting the kernel · {clock_text(elapsed_s)}"
        busy = clock_text(self.clock() - self._since)
        return (
            f"{self.notebook}: cell {cell.position}/{cell.total} ({busy}) "
            f"{_snippet(cell.first_line)} · {clock_text(elapsed_s)}"
        )


class JobsProgress:
    """``daily``/``demo``: how many jobs finished, which ones run and for how long."""

    def __init__(self, total: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.total, self.clock = total, clock
        self.finished = 0
        self._running: dict[str, float] = {}
        self._lock = threading.Lock()

    def started(self, name: str) -> None:
        with self._lock:
            self._running[name] = self.clock()

    def done(self, name: str) -> int:
        """Mark ``name`` finished; returns how many have finished (the ``n`` of ``n/N``)."""
        with self._lock:
            self._running.pop(name, None)
            self.finished += 1
            return self.finished

    def render(self, elapsed_s: float) -> str:
        now = self.clock()
        with self._lock:
            running = ", ".join(
                f"{name} {clock_text(now - since)}" for name, since in self._running.items()
            )
            finished = self.finished
        where = f" · running: {running}" if running else ""
        return f"daily: {finished}/{self.total} done{where} · {clock_text(elapsed_s)}"


class StepsProgress:
    """``sandbox up``: each component still starting, its current step and count."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._steps: dict[str, tuple[str, int, int, float]] = {}
        self._lock = threading.Lock()

    def step(self, component: str, what: str, done: int = 0, total: int = 0) -> None:
        """``component`` is at step ``what`` (``done`` of ``total``; total 0: no count)."""
        with self._lock:
            previous = self._steps.get(component)
            since = previous[3] if previous is not None else self.clock()
            self._steps[component] = (what, done, total, since)

    def finished(self, component: str) -> None:
        with self._lock:
            self._steps.pop(component, None)

    def render(self, elapsed_s: float) -> str:
        now = self.clock()
        with self._lock:
            steps = list(self._steps.items())
        parts = []
        for component, (what, done, total, since) in steps:
            count = f" {done:,}/{total:,}" if total else ""
            parts.append(f"{component}: {what}{count} ({clock_text(now - since)})")
        busy = " · ".join(parts) if parts else "done"
        return f"sandbox up: {busy} · {clock_text(elapsed_s)}"
