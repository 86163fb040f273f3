"""Finished pieces of Prometheus range queries, kept on disk so a re-run asks only for what is new.

Alert tuning asks for 30 days of eight rule expressions, and the burn-rate ones (``rate(...[3d])``
at every minute) cost Prometheus seconds each; an SRE changing a parameter and pressing Run All
again would pay it all again for history that has not changed. As Thanos's and Mimir's query
frontends do, a range query is cut into pieces aligned on absolute time (a day of evaluations,
at most the server's points cap), and a piece that ended more than :data:`SETTLE_S` ago is kept
on disk, keyed by the server, the server's start time (a restarted or refilled Prometheus starts
afresh), the expression, the step and the piece. Prometheus evaluates every step on its own, so
the answer is the one an uncached query gets.

The cache is an optimisation only: a folder that cannot be read or written, or a server that
does not say when it started (``/api/v1/status/runtimeinfo``), means no cache, never an error.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["SETTLE_S", "RangeCache", "aligned_pieces"]

#: A piece is kept once it ended this long ago (late samples, out-of-order ingestion).
SETTLE_S = 600.0
#: Pieces not read for this long are removed when the cache is opened.
_MAX_IDLE_S = 14 * 86_400.0
_DAY_MS = 86_400_000


def aligned_pieces(
    first_ms: int, last_ms: int, step_ms: int, max_points: int
) -> list[tuple[int, int]]:
    """The pieces (first and last evaluation, ms) covering the evaluations ``first_ms + k·step``
    up to ``last_ms``: a day of evaluations each (at most ``max_points``), aligned on absolute
    time so that tomorrow's query is cut at the same places as today's."""
    points = max(1, min(max_points, _DAY_MS // step_ms))
    span = points * step_ms
    phase = first_ms % step_ms
    pieces = []
    k = (first_ms - phase) // span
    while phase + k * span <= last_ms:
        start = phase + k * span
        pieces.append((start, start + span - step_ms))
        k += 1
    return pieces


class RangeCache:
    """Pieces of range-query answers (Prometheus's ``result`` list) in ``folder``."""

    def __init__(self, folder: Path, *, clock: Callable[[], float] = time.time) -> None:
        self.folder = folder
        self.clock = clock
        self.hits = 0
        self.stored = 0
        self._prune()

    def settled(self, last_ms: int) -> bool:
        """Whether a piece ending at ``last_ms`` can no longer change."""
        return last_ms / 1000.0 <= self.clock() - SETTLE_S

    @staticmethod
    def key(server: str, started: str, expr: str, step_ms: int, piece: tuple[int, int]) -> str:
        text = json.dumps([server, started, expr, step_ms, *piece])
        return hashlib.sha256(text.encode()).hexdigest()

    def get(self, key: str) -> list[dict[str, Any]] | None:
        path = self.folder / key[:2] / key
        try:
            data = json.loads(zlib.decompress(path.read_bytes()))
            os.utime(path)
        except (OSError, ValueError, zlib.error):
            return None
        if not isinstance(data, list):
            return None
        self.hits += 1
        return data

    def put(self, key: str, result: list[dict[str, Any]]) -> None:
        path = self.folder / key[:2] / key
        partial = path.with_name(f".{key}.{os.getpid()}.partial")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            partial.write_bytes(zlib.compress(json.dumps(result).encode(), 1))
            os.replace(partial, path)
            self.stored += 1
        except OSError:
            with contextlib.suppress(OSError):
                partial.unlink()

    def _prune(self) -> None:
        cutoff = self.clock() - _MAX_IDLE_S
        with contextlib.suppress(OSError):
            for path in self.folder.glob("??/*"):
                with contextlib.suppress(OSError):
                    if path.stat().st_mtime < cutoff:
                        path.unlink()
