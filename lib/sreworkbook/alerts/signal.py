"""An evaluated signal: each output series of an expression on a grid of evaluation times.

Rule evaluations happen at ``start + k·interval``; a series is *present* at evaluation ``k``
when the expression returned a sample for it then. Arrays are read-only once built.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt

__all__ = ["EvalGrid", "Signal", "SignalSeries", "rfc3339_ms"]

BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float64]


def rfc3339_ms(epoch_ms: int) -> str:
    """``epoch_ms`` as RFC 3339 UTC: ``2026-11-27T14:20:00Z`` (``.250Z`` when not whole)."""
    moment = datetime.fromtimestamp(epoch_ms // 1000, UTC)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    rest = epoch_ms % 1000
    return f"{text}.{rest:03d}Z" if rest else f"{text}Z"


def _frozen(array: npt.NDArray[np.generic]) -> None:
    array.flags.writeable = False


@dataclass(frozen=True)
class EvalGrid:
    """Evaluation times ``start_ms + k·step_ms`` for ``k`` in ``0 .. count-1``."""

    start_ms: int
    step_ms: int
    count: int

    def __post_init__(self) -> None:
        if self.step_ms <= 0:
            raise ValueError(f"step must be positive, got {self.step_ms} ms")
        if self.count < 0:
            raise ValueError(f"count must not be negative, got {self.count}")

    @classmethod
    def between(cls, start_ms: int, end_ms: int, step_ms: int) -> EvalGrid:
        """Every evaluation in ``[start_ms, end_ms]`` (``end`` itself if it falls on the grid)."""
        if step_ms <= 0:
            raise ValueError(f"step must be positive, got {step_ms} ms")
        count = 0 if end_ms < start_ms else (end_ms - start_ms) // step_ms + 1
        return cls(start_ms, step_ms, count)

    @property
    def end_ms(self) -> int:
        """The last evaluation time (``start_ms`` when the grid is empty)."""
        return self.start_ms + max(self.count - 1, 0) * self.step_ms

    def time_ms(self, index: int) -> int:
        return self.start_ms + index * self.step_ms

    def times_ms(self) -> npt.NDArray[np.int64]:
        return self.start_ms + np.arange(self.count, dtype=np.int64) * self.step_ms

    def steps(self, duration_ms: int) -> int:
        """How many evaluation steps ``duration_ms`` spans, rounded up (``ceil(d / step)``)."""
        return -(-duration_ms // self.step_ms)

    def index_of(self, times_ms: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        """Grid indices of ``times_ms`` (rounded to the nearest evaluation)."""
        offsets = np.asarray(times_ms, dtype=np.int64) - self.start_ms
        return np.asarray(np.floor_divide(offsets + self.step_ms // 2, self.step_ms), np.int64)


@dataclass(frozen=True, eq=False)
class SignalSeries:
    """One output series: its labels, where it is present, and its values (NaN elsewhere)."""

    labels: Mapping[str, str]
    present: BoolArray
    values: FloatArray

    def __post_init__(self) -> None:
        if self.present.shape != self.values.shape:
            raise ValueError("present and values must have the same length")
        _frozen(self.present)
        _frozen(self.values)


@dataclass(frozen=True, eq=False)
class Signal:
    """What an expression returned at every evaluation of ``grid``."""

    expr: str
    grid: EvalGrid
    series: tuple[SignalSeries, ...] = field(default_factory=tuple)

    @classmethod
    def from_samples(
        cls,
        expr: str,
        grid: EvalGrid,
        samples: Iterable[tuple[Mapping[str, str], npt.ArrayLike, npt.ArrayLike]],
    ) -> Signal:
        """Build from ``(labels, times_ms, values)`` per series; samples off the grid are dropped.

        Samples of series with identical labels (as from consecutive query chunks) are merged.
        """
        merged: dict[tuple[tuple[str, str], ...], tuple[BoolArray, FloatArray]] = {}
        for labels, times, values in samples:
            key = tuple(sorted((str(k), str(v)) for k, v in labels.items()))
            if key not in merged:
                merged[key] = (
                    np.zeros(grid.count, dtype=np.bool_),
                    np.full(grid.count, np.nan, dtype=np.float64),
                )
            present, out = merged[key]
            times_ms = np.asarray(times, dtype=np.int64)
            index = grid.index_of(times_ms)
            on_grid = (
                (index >= 0)
                & (index < grid.count)
                & (grid.time_ms(0) + index * grid.step_ms == times_ms)
            )
            present[index[on_grid]] = True
            out[index[on_grid]] = np.asarray(values, dtype=np.float64)[on_grid]
        series = tuple(
            SignalSeries(dict(key), present, values) for key, (present, values) in merged.items()
        )
        return cls(expr, grid, series)

    def __len__(self) -> int:
        return len(self.series)
