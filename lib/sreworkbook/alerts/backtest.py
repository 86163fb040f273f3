"""Prometheus's alert state machine, applied to an evaluated signal, vectorised with numpy.

It reproduces ``AlertingRule.Eval`` (Prometheus 2.42, ``rules/alerting.go``) evaluation by
evaluation. At each evaluation ``t`` an output series of the rule's expression is *present*
(for a threshold rule: the signal has a sample and ``value op threshold`` holds). Then:

* a present series with no active alert starts one, *pending*, with ``activeAt = t``;
* a pending alert fires at the first evaluation where ``t - activeAt >= for`` (``for: 0``
  fires at once);
* a pending alert whose series is absent is dropped at once;
* a firing alert whose series is absent keeps firing while ``t - firstAbsent <
  keep_firing_for`` (``firstAbsent`` is the first evaluation of the current absence) and, if the
  series is back by then, goes on as the same alert (``activeAt`` kept); otherwise it resolves,
  and a later return starts a new pending alert.

So firing is a function of the runs of consecutive present evaluations: with ``f = ceil(for /
step)`` and ``k = ceil(keep_firing_for / step)``, a run of length ``> f`` fires from its
``f``-th evaluation; a firing alert bridges a following gap of at most ``k`` evaluations;
otherwise it stays firing for ``k`` evaluations into the gap. The work is O(evaluations) to
find the runs and O(runs) per (``for``, ``keep_firing_for``) candidate.

One alert instance per identity: the series' labels minus ``__name__``, plus the rule's labels
(templates ``{{ $labels.x }}`` expanded; a label set to ``""`` removed), as Prometheus does.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from sreworkbook.alerts.expr import compare
from sreworkbook.alerts.rules import AlertRule
from sreworkbook.alerts.signal import EvalGrid, Signal, rfc3339_ms
from sreworkbook.exceptions import ParameterError

__all__ = [
    "AlertInstance",
    "Episode",
    "Runs",
    "alert_identity",
    "backtest",
    "firing_episodes",
    "firing_mask",
    "instance_presence",
    "present_runs",
]

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
_TEMPLATE = re.compile(
    r"\{\{-?\s*(?:\$labels\.([a-zA-Z_]\w*)|\.Labels\.([a-zA-Z_]\w*)|"
    r'index\s+\$labels\s+"([a-zA-Z_]\w*)")\s*-?\}\}'
)


@dataclass(frozen=True)
class Episode:
    """One firing episode: the first and last evaluation (epoch ms) at which it was firing."""

    first_ms: int
    last_ms: int

    def to_json(self) -> list[str]:
        return [rfc3339_ms(self.first_ms), rfc3339_ms(self.last_ms)]


@dataclass(frozen=True)
class AlertInstance:
    """One alert instance of a rule and its firing episodes, oldest first.

    ``labels`` are the series' labels without ``__name__`` plus the rule's labels; the alert
    name is ``alert`` (Prometheus adds it as the ``alertname`` label).
    """

    alert: str
    labels: Mapping[str, str]
    episodes: tuple[Episode, ...] = ()

    def to_json(self) -> dict[str, object]:
        return {
            "alert": self.alert,
            "labels": dict(sorted(self.labels.items())),
            "episodes": [e.to_json() for e in self.episodes],
        }


@dataclass(frozen=True, eq=False)
class Runs:
    """Runs of consecutive present evaluations: first and last index of each, and the length."""

    starts: IntArray
    ends: IntArray
    count: int


def present_runs(present: BoolArray) -> Runs:
    """The runs of ``True`` in ``present`` (inclusive index pairs)."""
    flags = np.asarray(present, dtype=np.int8)
    edges = np.diff(flags, prepend=np.int8(0), append=np.int8(0))
    starts = np.flatnonzero(edges == 1).astype(np.int64)
    ends = np.flatnonzero(edges == -1).astype(np.int64) - 1
    return Runs(starts, ends, int(flags.shape[0]))


def firing_episodes(runs: Runs, for_steps: int, keep_steps: int) -> tuple[IntArray, IntArray]:
    """First and last evaluation index of each firing episode, given the present ``runs``.

    ``for_steps = ceil(for / interval)``, ``keep_steps = ceil(keep_firing_for / interval)``.
    """
    starts, ends = runs.starts, runs.ends
    m = starts.shape[0]
    if m == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    order = np.arange(m, dtype=np.int64)
    fires = (ends - starts) >= for_steps  # the run alone reaches `for`
    bridged = np.zeros(m, dtype=np.bool_)  # the gap before run i is at most keep_steps
    if keep_steps > 0 and m > 1:
        bridged[1:] = (starts[1:] - ends[:-1] - 1) <= keep_steps
    block_start = np.maximum.accumulate(np.where(bridged, 0, order))
    last_firing_run = np.maximum.accumulate(np.where(fires, order, -1))
    joined = np.zeros(m, dtype=np.bool_)  # continues the alert of the run before it
    joined[1:] = bridged[1:] & (last_firing_run[:-1] >= block_start[1:])
    begins = fires & ~joined
    ends_firing = fires | joined
    next_joined = np.append(joined[1:], False)
    finishes = ends_firing & ~next_joined
    first = starts[begins] + for_steps
    last = np.minimum(ends[finishes] + keep_steps, runs.count - 1)
    return first, last


def _expand(value: str, labels: Mapping[str, str], rule: AlertRule) -> str:
    if "{{" not in value:
        return value
    expanded = _TEMPLATE.sub(lambda m: labels.get(next(g for g in m.groups() if g), ""), value)
    if "{{" in expanded:
        raise ParameterError(
            f"label value {value!r} uses a template the backtest cannot expand "
            "(only {{ $labels.NAME }} is supported)",
            source=rule.source or None,
            key=rule.name,
        )
    return expanded


def alert_identity(series_labels: Mapping[str, str], rule: AlertRule) -> dict[str, str]:
    """The alert's labels for a series: without ``__name__``, with the rule's labels set."""
    out = {k: v for k, v in series_labels.items() if k != "__name__"}
    for name, value in rule.labels.items():
        expanded = _expand(value, series_labels, rule)
        if expanded:
            out[name] = expanded
        else:
            out.pop(name, None)
    out.pop("alertname", None)
    return out


def instance_presence(
    rule: AlertRule, signal: Signal, threshold: float | None = None
) -> list[tuple[dict[str, str], BoolArray]]:
    """Per alert identity, at which evaluations the rule's expression returned it.

    When ``signal`` holds the split signal of a threshold rule, the comparison is applied
    here (``threshold`` overrides the rule's); when it holds the whole expression (any other
    rule, or a threshold rule evaluated whole by Prometheus) its series are used as they are.
    Two series with one identity present at one evaluation is an error, as in Prometheus.
    """
    split = rule.comparison if signal.expr != rule.expr else None
    if split is None and threshold is not None:
        raise ParameterError(
            "a threshold can only be swept on the signal of a '<signal> <op> <number>' rule",
            source=rule.source or None,
            key=rule.name,
        )
    merged: dict[tuple[tuple[str, str], ...], tuple[dict[str, str], BoolArray]] = {}
    for series in signal.series:
        present = series.present
        if split is not None:
            limit = split.threshold if threshold is None else threshold
            present = present & compare(series.values, split.op, limit)
        identity = alert_identity(series.labels, rule)
        key = tuple(sorted(identity.items()))
        if key in merged:
            before = merged[key][1]
            if bool(np.any(before & present)):
                raise ParameterError(
                    "the expression returns two series with the same labels once __name__ is "
                    f"dropped and the rule's labels are set ({identity}); Prometheus rejects this",
                    source=rule.source or None,
                    key=rule.name,
                )
            merged[key] = (identity, before | present)
        else:
            merged[key] = (identity, present)
    return list(merged.values())


def backtest(
    rule: AlertRule,
    signal: Signal,
    *,
    threshold: float | None = None,
    for_ms: int | None = None,
    keep_firing_for_ms: int | None = None,
    include_silent: bool = False,
) -> list[AlertInstance]:
    """The alert instances ``rule`` would have had over ``signal``'s evaluations.

    ``threshold``, ``for_ms`` and ``keep_firing_for_ms`` override the rule's own (a sweep
    candidate). Instances that never fired are left out unless ``include_silent``.
    """
    grid = signal.grid
    if grid.step_ms != rule.interval_ms:
        raise ParameterError(
            f"signal evaluated every {grid.step_ms} ms, rule every {rule.interval_ms} ms",
            key=rule.name,
        )
    for_steps = grid.steps(rule.for_ms if for_ms is None else for_ms)
    keep_steps = grid.steps(
        rule.keep_firing_for_ms if keep_firing_for_ms is None else keep_firing_for_ms
    )
    out = []
    active = np.zeros(grid.count, dtype=np.int64)
    for identity, present in instance_presence(rule, signal, threshold):
        first, last = firing_episodes(present_runs(present), for_steps, keep_steps)
        if rule.limit:
            active += present | firing_mask(first, last, grid.count)
        episodes = _episodes(grid, first, last)
        if episodes or include_silent:
            out.append(AlertInstance(rule.name, identity, episodes))
    if rule.limit and bool(np.any(active > rule.limit)):
        at = grid.time_ms(int(np.argmax(active > rule.limit)))
        raise ParameterError(
            f"more than the group's limit of {rule.limit} alerts are active at {rfc3339_ms(at)}; "
            "Prometheus would fail the rule there and drop its alerts, which the backtest does "
            "not reproduce",
            source=rule.source or None,
            key=rule.name,
        )
    out.sort(key=lambda a: sorted(a.labels.items()))
    return out


def _episodes(grid: EvalGrid, first: IntArray, last: IntArray) -> tuple[Episode, ...]:
    starts = (grid.start_ms + first * grid.step_ms).tolist()
    ends = (grid.start_ms + last * grid.step_ms).tolist()
    return tuple(Episode(int(a), int(b)) for a, b in zip(starts, ends, strict=True))


def firing_mask(
    first: Sequence[int] | IntArray, last: Sequence[int] | IntArray, count: int
) -> BoolArray:
    """A boolean array of ``count`` evaluations, true where an episode is firing."""
    delta = np.zeros(count + 1, dtype=np.int64)
    np.add.at(delta, np.asarray(first, np.int64), 1)
    np.add.at(delta, np.asarray(last, np.int64) + 1, -1)
    return np.cumsum(delta[:-1]) > 0
