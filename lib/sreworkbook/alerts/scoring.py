"""Score alert episodes against known incidents, sweep settings, and recommend one.

Per rule: pages (firing episodes) per week, time firing, flapping (episodes shorter than a
few evaluations, or firing again soon after resolving), precision (episodes that overlap an
incident), recall (incidents with a firing evaluation inside them), detection delay (incident
start → first firing) and reset time (incident end → resolve, the evaluation after the last
firing one).

A sweep of threshold × ``for`` × ``keep_firing_for`` reuses one evaluated signal: the
comparison is applied per threshold and the state machine per (``for``, ``keep_firing_for``),
both locally, so no candidate costs a Prometheus query.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass

import numpy as np
import numpy.typing as npt

from sreworkbook.alerts.backtest import (
    AlertInstance,
    firing_episodes,
    instance_presence,
    present_runs,
)
from sreworkbook.alerts.rules import AlertRule
from sreworkbook.alerts.signal import Signal
from sreworkbook.known_incidents import Incident

__all__ = [
    "Recommendation",
    "Score",
    "pareto_front",
    "recommend",
    "score_instances",
    "score_table",
    "sweep",
]

WEEK_MS = 7 * 86_400_000
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Score:
    """How one setting of one rule did over the history."""

    alert: str
    threshold: float | None
    for_ms: int
    keep_firing_for_ms: int
    pages: int
    pages_per_week: float
    span_s: float
    firing_s: float
    firing_outside_s: float
    flapping: int
    precision: float | None
    recall: float | None
    caught: int
    incidents: int
    median_delay_s: float | None
    median_reset_s: float | None

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def _median(values: Sequence[float]) -> float | None:
    return float(np.median(values)) if values else None


def _score(
    rule: AlertRule,
    per_instance: Sequence[tuple[IntArray, IntArray]],
    incidents: Sequence[Incident],
    *,
    span_ms: int,
    step_ms: int,
    threshold: float | None,
    for_ms: int,
    keep_ms: int,
    flap_steps: int,
    refire_ms: int,
) -> Score:
    firsts = [f for f, _ in per_instance if f.size]
    lasts = [la for f, la in per_instance if f.size]
    first = np.concatenate(firsts) if firsts else np.empty(0, np.int64)
    last = np.concatenate(lasts) if lasts else np.empty(0, np.int64)
    pages = int(first.size)
    short = (last - first + step_ms) < flap_steps * step_ms
    refire = np.zeros(pages, dtype=np.bool_)
    offset = 0
    for f, la in per_instance:
        if f.size > 1:
            refire[offset + 1 : offset + f.size] = (f[1:] - (la[:-1] + step_ms)) < refire_ms
        offset += f.size
    precision: float | None = None
    recall: float | None = None
    delays: list[float] = []
    resets: list[float] = []
    caught = 0
    outside_s = float(np.sum(last - first + step_ms)) / 1000
    if incidents and pages:
        merged = _merged([(i.start_ms, i.end_ms) for i in incidents])
        m_start = np.array([a for a, _ in merged], dtype=np.int64)
        m_end = np.array([b for _, b in merged], dtype=np.int64)
        inside = np.minimum(last[:, None] + step_ms, m_end[None, :]) - np.maximum(
            first[:, None], m_start[None, :]
        )
        outside_s -= float(np.clip(inside, 0, None).sum()) / 1000
    if incidents:
        starts = np.array([i.start_ms for i in incidents], dtype=np.int64)
        ends = np.array([i.end_ms for i in incidents], dtype=np.int64)
        overlap = (first[:, None] <= ends[None, :]) & (last[:, None] >= starts[None, :])
        if pages:
            precision = float(np.mean(overlap.any(axis=1)))
        hit = overlap.any(axis=0)
        caught = int(hit.sum())
        recall = caught / len(incidents)
        for j in np.flatnonzero(hit):
            rows = np.flatnonzero(overlap[:, j])
            delays.append(max(float(first[rows].min() - starts[j]), 0.0) / 1000)
            resets.append(float(last[rows].max() + step_ms - ends[j]) / 1000)
    elif pages:
        precision = 0.0
    return Score(
        alert=rule.name,
        threshold=threshold,
        for_ms=for_ms,
        keep_firing_for_ms=keep_ms,
        pages=pages,
        pages_per_week=pages / (span_ms / WEEK_MS) if span_ms else 0.0,
        span_s=span_ms / 1000,
        firing_s=float(np.sum(last - first + step_ms)) / 1000,
        firing_outside_s=outside_s,
        flapping=int(np.sum(short | refire)),
        precision=precision,
        recall=recall,
        caught=caught,
        incidents=len(incidents),
        median_delay_s=_median(delays),
        median_reset_s=_median(resets),
    )


def _merged(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def _relevant(rule: AlertRule, incidents: Iterable[Incident], kind: str) -> list[Incident]:
    return [i for i in incidents if i.concerns(rule.name, kind)]


def score_instances(
    rule: AlertRule,
    instances: Sequence[AlertInstance],
    incidents: Sequence[Incident],
    *,
    start_ms: int,
    end_ms: int,
    kind: str = "",
    flap_steps: int = 3,
    refire_ms: int = 30 * 60_000,
) -> Score:
    """Score a backtest's instances against the incidents inside ``[start_ms, end_ms]``."""
    step = rule.interval_ms
    per_instance = [
        (
            np.array([e.first_ms for e in i.episodes], dtype=np.int64),
            np.array([e.last_ms for e in i.episodes], dtype=np.int64),
        )
        for i in instances
    ]
    inside = [i for i in _relevant(rule, incidents, kind) if start_ms <= i.start_ms <= end_ms]
    split = rule.comparison
    return _score(
        rule,
        per_instance,
        inside,
        span_ms=end_ms - start_ms + step,
        step_ms=step,
        threshold=split.threshold if split else None,
        for_ms=rule.for_ms,
        keep_ms=rule.keep_firing_for_ms,
        flap_steps=flap_steps,
        refire_ms=refire_ms,
    )


def sweep(
    rule: AlertRule,
    signal: Signal,
    incidents: Sequence[Incident],
    *,
    thresholds: Sequence[float] = (),
    for_ms: Sequence[int] = (),
    keep_firing_for_ms: Sequence[int] = (),
    kind: str = "",
    flap_steps: int = 3,
    refire_ms: int = 30 * 60_000,
) -> list[Score]:
    """Scores of every candidate threshold × ``for`` × ``keep_firing_for`` from one signal.

    Empty sequences mean "the rule's own value". Thresholds need a threshold rule.
    """
    grid = signal.grid
    split = rule.comparison
    levels: list[float | None] = list(thresholds) or [split.threshold if split else None]
    fors = list(for_ms) or [rule.for_ms]
    keeps = list(keep_firing_for_ms) or [rule.keep_firing_for_ms]
    inside = [
        i for i in _relevant(rule, incidents, kind) if grid.start_ms <= i.start_ms <= grid.end_ms
    ]
    out = []
    for level in levels:
        presence = instance_presence(rule, signal, level)
        runs = [present_runs(present) for _, present in presence]
        for f_ms, k_ms in itertools.product(fors, keeps):
            f_steps, k_steps = grid.steps(f_ms), grid.steps(k_ms)
            per_instance = []
            for r in runs:
                first, last = firing_episodes(r, f_steps, k_steps)
                per_instance.append(
                    (grid.start_ms + first * grid.step_ms, grid.start_ms + last * grid.step_ms)
                )
            out.append(
                _score(
                    rule,
                    per_instance,
                    inside,
                    span_ms=grid.count * grid.step_ms,
                    step_ms=grid.step_ms,
                    threshold=level,
                    for_ms=f_ms,
                    keep_ms=k_ms,
                    flap_steps=flap_steps,
                    refire_ms=refire_ms,
                )
            )
    return out


def _delay(score: Score) -> float:
    return math.inf if score.median_delay_s is None else score.median_delay_s


def pareto_front(scores: Sequence[Score]) -> list[Score]:
    """The candidates no other beats on all of pages/week (↓), recall (↑) and delay (↓)."""
    keyed = [(s.pages_per_week, -(s.recall or 0.0), _delay(s), s) for s in scores]
    front = []
    for a in keyed:
        dominated = any(
            b[0] <= a[0] and b[1] <= a[1] and b[2] <= a[2] and b[:3] != a[:3] for b in keyed
        )
        if not dominated:
            front.append(a[3])
    unique = {(s.pages_per_week, s.recall, s.median_delay_s): s for s in front}
    return sorted(unique.values(), key=lambda s: (s.pages_per_week, -(s.recall or 0.0)))


@dataclass(frozen=True)
class Recommendation:
    """The setting to use for a rule, and why."""

    current: Score
    best: Score
    reason: str


def _cost(score: Score) -> float:
    """Pages per week, each hour of firing outside any incident counted as one more page."""
    weeks = score.span_s * 1000 / WEEK_MS
    return score.pages_per_week + (score.firing_outside_s / 3600 / weeks if weeks else 0.0)


def recommend(current: Score, scores: Sequence[Score]) -> Recommendation:
    """The best candidate: the highest recall, then the lowest cost (pages per week plus hours
    firing outside incidents per week, to 0.1), the shortest delay, the fewest flaps, the
    closest to the current setting. Without incidents to judge recall by, the current setting
    is kept.
    """
    if current.recall is None or not scores:
        return Recommendation(current, current, "no incidents in the history to judge by: kept")
    top = max((s.recall or 0.0) for s in scores)

    def distance(s: Score) -> float:
        t0 = current.threshold or 0.0
        return (
            abs((s.threshold or 0.0) - t0) / (abs(t0) or 1.0) + abs(s.for_ms - current.for_ms) / 6e5
        )

    def key(s: Score) -> tuple[float, float, int, float]:
        return (round(_cost(s), 1), _delay(s), s.flapping, distance(s))

    pool = [s for s in scores if (s.recall or 0.0) >= top]
    best = min(pool, key=key)
    if (current.recall or 0.0) >= top and key(best)[:3] >= key(current)[:3]:
        return Recommendation(
            current, current, "the current setting is already on the best trade-off"
        )
    delay = "n/a" if best.median_delay_s is None else f"{best.median_delay_s / 60:.1f} min"
    reason = (
        f"catches {best.caught}/{best.incidents} incidents (now {current.caught}) with "
        f"{best.pages_per_week:.2f} pages/week (now {current.pages_per_week:.2f}), "
        f"{best.firing_outside_s / 3600:.1f} h firing outside incidents "
        f"(now {current.firing_outside_s / 3600:.1f} h), "
        f"{best.flapping} flapping episode(s) (now {current.flapping}), median delay {delay}"
    )
    return Recommendation(current, best, reason)


def score_table(scores: Sequence[Score]) -> str:
    """A plain-text table of scores, one line per rule or candidate."""
    head = (
        f"{'alert':28} {'pages/wk':>9} {'firing':>9} {'outside':>9} {'flaps':>5} {'prec':>5} "
        f"{'recall':>7} {'delay':>8} {'reset':>8}"
    )
    lines = [head]
    for s in scores:
        prec = "-" if s.precision is None else f"{s.precision:.2f}"
        recall = "-" if s.recall is None else f"{s.caught}/{s.incidents}"
        delay = "-" if s.median_delay_s is None else f"{s.median_delay_s / 60:.1f}m"
        reset = "-" if s.median_reset_s is None else f"{s.median_reset_s / 60:.1f}m"
        lines.append(
            f"{s.alert:28} {s.pages_per_week:9.2f} {s.firing_s / 60:8.0f}m "
            f"{s.firing_outside_s / 60:8.0f}m {s.flapping:5d} "
            f"{prec:>5} {recall:>7} {delay:>8} {reset:>8}"
        )
    return "\n".join(lines)
