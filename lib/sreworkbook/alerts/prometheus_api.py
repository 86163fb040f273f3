"""Evaluate a rule's signal with Prometheus itself, at the rule's evaluation times.

A range query evaluates its expression at ``start + k·step`` exactly as a rule group does at
each evaluation (same lookback, staleness and functions), so ``query_range`` at the rule's
interval gives what the rule saw. The transport (timeout, retries on 5xx and connection
errors, chunking under the 11,000-points-per-series cap on step-aligned boundaries) is
:class:`sreworkbook.sources.prometheus.PrometheusSource`'s; this module turns its answer into
a :class:`~sreworkbook.alerts.signal.Signal` and backtests rule files with it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

import numpy as np
import pandas as pd

from sreworkbook.alerts.backtest import AlertInstance, backtest
from sreworkbook.alerts.rules import AlertRule
from sreworkbook.alerts.signal import EvalGrid, Signal
from sreworkbook.exceptions import ParameterError, SourceError

__all__ = [
    "RangeQuerier",
    "RuleBacktest",
    "backtest_rules",
    "evaluate_signal",
    "instances_json",
    "signal_from_frame",
]

#: HTTP statuses with which Prometheus rejects a query itself (bad expression, bad range).
_REJECTED = {400, 422}


class RangeQuerier(Protocol):
    """What the backtest needs from a Prometheus client: a chunked range query as a frame."""

    def query_range(self, expr: str, start: float, end: float, step_s: float) -> pd.DataFrame:
        """One row per sample: ``timestamp`` (UTC), one column per label, ``value``."""
        ...


@dataclass(frozen=True, eq=False)
class RuleBacktest:
    """One rule's backtest: the signal Prometheus evaluated and the resulting alert instances."""

    rule: AlertRule
    signal: Signal
    instances: tuple[AlertInstance, ...]


def _series(frame: pd.DataFrame) -> Iterator[tuple[dict[str, str], Any, Any]]:
    if frame.empty:
        return
    labels = [str(c) for c in frame.columns if c not in ("timestamp", "value")]
    stamps = pd.DatetimeIndex(frame["timestamp"]).tz_convert("UTC").tz_localize(None)
    nanos = np.asarray(stamps.to_numpy(dtype="datetime64[ns]"), dtype=np.int64)
    times_ms = np.rint(nanos / 1e6).astype(np.int64)
    values = frame["value"].to_numpy(dtype=np.float64)
    if not labels:
        yield {}, times_ms, values
        return
    groups = frame.groupby(labels, dropna=False, sort=False).indices
    for key, rows in groups.items():
        parts = key if isinstance(key, tuple) else (key,)
        series_labels = {
            name: str(value)
            for name, value in zip(labels, parts, strict=True)
            if isinstance(value, str)
        }
        yield series_labels, times_ms[rows], values[rows]


def signal_from_frame(expr: str, grid: EvalGrid, frame: pd.DataFrame) -> Signal:
    """A :class:`Signal` from a range query's tidy frame (samples off the grid are dropped)."""
    return Signal.from_samples(expr, grid, _series(frame))


def evaluate_signal(client: RangeQuerier, expr: str, grid: EvalGrid) -> Signal:
    """Ask Prometheus for ``expr`` at every evaluation of ``grid`` (chunked by the client)."""
    if grid.count == 0:
        return Signal(expr, grid, ())
    frame = client.query_range(
        expr, grid.start_ms / 1000.0, grid.end_ms / 1000.0, grid.step_ms / 1000.0
    )
    return signal_from_frame(expr, grid, frame)


def _rejected(rule: AlertRule, exc: SourceError) -> ParameterError:
    return ParameterError(
        f"Prometheus rejects the expression: {exc}", source=rule.source or None, key=rule.name
    )


def backtest_rules(
    rules: Iterable[AlertRule],
    client: RangeQuerier,
    *,
    start_ms: int,
    end_ms: int,
    interval_ms: int | None = None,
) -> list[RuleBacktest]:
    """Backtest each rule over ``[start_ms, end_ms]``: one range query per distinct signal.

    Evaluations are at ``start_ms + k·interval`` (the rule's interval unless ``interval_ms``).
    A query Prometheus rejects raises :class:`ParameterError` naming the rule.
    """
    cache: dict[tuple[str, int], Signal] = {}
    out = []
    for rule in rules:
        if interval_ms is not None and rule.interval_ms != interval_ms:
            rule = replace(rule, interval_ms=interval_ms)
        grid = EvalGrid.between(start_ms, end_ms, rule.interval_ms)
        key = (rule.signal, rule.interval_ms)
        if key not in cache:
            try:
                cache[key] = evaluate_signal(client, rule.signal, grid)
            except SourceError as exc:
                if exc.status in _REJECTED:
                    raise _rejected(rule, exc) from exc
                raise
        signal = cache[key]
        out.append(RuleBacktest(rule, signal, tuple(backtest(rule, signal))))
    return out


def instances_json(results: Sequence[RuleBacktest]) -> list[dict[str, object]]:
    """The CLI's JSON: one object per alert instance, rules in file order."""
    return [instance.to_json() for result in results for instance in result.instances]
