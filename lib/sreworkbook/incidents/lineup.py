"""Logs next to metrics: the error rate and p95 from the logs and from the metrics source.

Both on one time axis, in buckets of one step. A log bucket is labelled by its end, as a
Prometheus ``rate`` over the step is by its evaluation time, so a point means "over the step
before". The metrics source is anything with the dashboard's ``panel`` method, given as a
factory so that a source that cannot be made (no ``prometheus:`` section, a secret not set) or
that fails while answering is reported, not raised: the logs still line up with themselves.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

import pandas as pd

from sreworkbook.exceptions import WorkbookError
from sreworkbook.incidents.exploration import Exploration
from sreworkbook.results import Conclusion, Finding, Status

__all__ = ["SIGNALS", "LineUp", "PanelSource", "conclude", "line_up", "lineup_of", "lineup_step"]

#: Signal → (the metrics source's panel, unit).
SIGNALS = {"error_rate": ("error_rate", "fraction"), "p95_ms": ("latency_p95", "ms")}
_COLUMNS = ["timestamp", "source", "signal", "value"]
_STEPS_MIN = (1, 2, 5, 10, 15, 30, 60, 120, 180, 360, 720, 1440)


class PanelSource(Protocol):
    """What the line-up needs of a metrics backend (:mod:`sreworkbook.dashboard`'s contract)."""

    name: str

    def panel(self, panel: str, start: datetime, end: datetime, step_s: float) -> pd.DataFrame: ...

    def overall(self, panel: str, start: datetime, end: datetime) -> float | None: ...


def lineup_step(start: datetime, end: datetime, points: int = 60) -> timedelta:
    """The smallest round step that draws the window in at most ``points`` buckets."""
    span = (end - start).total_seconds()
    for minutes in _STEPS_MIN:
        if span / (minutes * 60) <= points:
            return timedelta(minutes=minutes)
    return timedelta(minutes=_STEPS_MIN[-1])


@dataclass(frozen=True)
class LineUp:
    """``frame``: timestamp, source (``logs`` or the metrics source's name), signal, value."""

    start: datetime
    end: datetime
    step: timedelta
    frame: pd.DataFrame
    metrics_source: str = ""
    note: str = ""  # why the metrics are missing
    metrics_error_rate: float | None = None  # the metrics source's over the focus window

    def metrics(self) -> dict[str, float]:
        """``error_rate_metrics``: the metrics source's error rate over the window in focus."""
        rate = self.metrics_error_rate
        return {"error_rate_metrics": rate} if rate is not None else {}

    def series(self, source: str, signal: str) -> pd.Series:
        """One line of the chart, indexed by timestamp."""
        rows = self.frame[(self.frame["source"] == source) & (self.frame["signal"] == signal)]
        return rows.set_index("timestamp")["value"]

    def agreement(self) -> float | None:
        """Mean absolute difference of the two error rates where both have a value."""
        if not self.metrics_source:
            return None
        logs = self.series("logs", "error_rate")
        metrics = self.series(self.metrics_source, "error_rate")
        both = pd.concat([logs, metrics], axis=1, join="inner").dropna()
        return float((both.iloc[:, 0] - both.iloc[:, 1]).abs().mean()) if len(both) else None

    def findings(self) -> tuple[Finding, ...]:
        """A SKIPPED note when the metrics could not be lined up (it never degrades a run)."""
        if self.note:
            return (Finding(Status.SKIPPED, "Metrics not lined up", self.note),)
        return ()


def _log_buckets(
    requests: pd.DataFrame, start: datetime, end: datetime, step: timedelta
) -> pd.DataFrame:
    """Per bucket end: requests, failed, error_rate and the exact p95 of durations. A last
    bucket that would end after ``end`` (the live edge) is left out: drawn as if complete, its
    few requests looked like a drop in traffic."""
    if requests.empty:
        return pd.DataFrame(columns=["timestamp", "signal", "value"])
    width = pd.Timedelta(step)
    origin = pd.Timestamp(start)
    index = (requests["ts"] - origin) // width
    grouped = requests.assign(_b=index).groupby("_b")
    table = pd.DataFrame(
        {
            "requests": grouped.size(),
            "error_rate": grouped["failed"].mean(),
            "p95_ms": grouped["duration_ms"].quantile(0.95),
        }
    )
    table.index = origin + (table.index.to_numpy() + 1) * width
    table = table[table.index <= pd.Timestamp(end)]
    tidy = table.rename_axis("timestamp").reset_index()
    return tidy.melt(id_vars="timestamp", var_name="signal", value_name="value")


def line_up(
    requests: pd.DataFrame,
    start: datetime,
    end: datetime,
    backend: Callable[[], PanelSource] | None = None,
    *,
    step: timedelta | None = None,
    focus: tuple[datetime, datetime] | None = None,
) -> LineUp:
    """The logs' ``requests`` (ts, duration_ms, failed) next to the metrics source's panels,
    and the metrics' error rate over ``focus``."""
    step = step or lineup_step(start, end)
    parts = [_log_buckets(requests, start, end, step).assign(source="logs")]
    name, note, overall = "", "", None
    if backend is None:
        note = "no metrics source configured"
    else:
        try:
            source = backend()
            metrics = [_panel(source, signal, start + step, end, step) for signal in SIGNALS]
            overall = source.overall("error_rate", *focus) if focus is not None else None
        except WorkbookError as exc:
            note = f"no metrics source: {exc}"
        else:
            parts += [m.assign(source=source.name) for m in metrics]
            name = source.name
    parts = [p for p in parts if len(p)]
    frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=_COLUMNS)
    return LineUp(start, end, step, frame[_COLUMNS].reset_index(drop=True), name, note, overall)


def lineup_of(found: Exploration, backend: Callable[[], PanelSource] | None) -> LineUp:
    """The line-up of an exploration's charted window (empty logs when they were unreadable)."""
    seen = found.context.requests_seen if found.context is not None else None
    requests = seen if seen is not None else pd.DataFrame(columns=["ts", "duration_ms", "failed"])
    focus = found.focus
    return line_up(
        requests, focus.context_start, focus.context_end, backend, focus=(focus.start, focus.end)
    )


def _panel(
    source: PanelSource, signal: str, start: datetime, end: datetime, step: timedelta
) -> pd.DataFrame:
    frame = source.panel(SIGNALS[signal][0], start, end, step.total_seconds())
    if "series" in frame.columns:
        frame = frame[frame["series"].astype(str) == "all"]
    return pd.DataFrame(
        {"timestamp": frame["timestamp"], "signal": signal, "value": frame["value"]}
    )


def conclude(found: Exploration, lineup: LineUp) -> Conclusion:
    """What the explorer concludes: the logs' status and headline, and the numbers and
    findings of both the logs and the metrics lined up with them."""
    return Conclusion(
        found.status,
        found.headline,
        {**found.metrics(), **lineup.metrics()},
        (*found.findings(), *lineup.findings()),
    )
