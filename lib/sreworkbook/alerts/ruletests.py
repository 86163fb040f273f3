"""``promtool test rules`` cases built from real backtested episodes.

For one alerting rule and one of its firing episodes in the history, a case holds the raw
samples of every series the rule's expression selects, copied from Prometheus over a window
around the episode and shifted so that the window starts at promtool's time 0, and the alerts
the backtest says fire at a few chosen evaluation times (before the alert, when it starts
firing, in the middle, at its end, after it resolved), with their labels and annotations.

promtool evaluates the rule from time 0 without the data before the window, so the first
evaluations may differ from Prometheus's. The window therefore starts a *lead* (the longest
range in the expression plus the 5 m lookback) before a quiet stretch in which the
expression returns nothing for ``keep_firing_for`` plus two evaluations: after it both are in
the same (inactive) state, and the expected alerts are asserted only from then on. The
expected alerts come from evaluating the rule's signal with Prometheus on promtool's own
evaluation grid, so they hold exactly when the copied samples are all the data there is.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

import numpy as np
import pandas as pd

from sreworkbook.alerts.backtest import (
    AlertInstance,
    alert_identity,
    backtest,
    instance_presence,
)
from sreworkbook.alerts.durations import format_duration_ms
from sreworkbook.alerts.expr import compare, format_number
from sreworkbook.alerts.gotemplate import TemplateUnsupported, expand
from sreworkbook.alerts.prometheus_api import signal_from_frame
from sreworkbook.alerts.rules import AlertRule
from sreworkbook.alerts.selectors import LOOKBACK_MS, PromQLUnsupported, lead_ms, selectors
from sreworkbook.alerts.signal import EvalGrid, Signal, SignalSeries, rfc3339_ms
from sreworkbook.known_incidents import Incident

__all__ = [
    "LOOKBACK_MS",
    "CaseSkipped",
    "ExpectedAlert",
    "RuleTestCase",
    "build_case",
    "lead_ms",
    "rule_test_document",
    "selectors",
]

_MAX_VALUES = 20_000


class CaseSkipped(ValueError):
    """No faithful promtool case can be built for this rule or episode (the reason says why)."""


#: How far apart (relatively) two evaluations of the same value may be: promtool computes
#: ``histogram_quantile`` over the test's samples in its own order, and a value such as
#: 3.5105 s (bucket bounds times a ratio of counts) can print as 3.51 or 3.511 on either side.
_EDGE = 1e-9


class _RoundingEdge(ValueError):
    """An annotation's number lies so close to a rounding edge that promtool may differ."""


def _selectors(expr: str) -> list[str]:
    try:
        return selectors(expr)
    except PromQLUnsupported as exc:
        raise CaseSkipped(str(exc)) from None


class Querier(Protocol):
    """What the builder needs from Prometheus: instant (for raw samples) and range queries."""

    def query(self, expr: str, at: float | None = None) -> pd.DataFrame: ...

    def query_range(self, expr: str, start: float, end: float, step_s: float) -> pd.DataFrame: ...


@dataclass(frozen=True)
class ExpectedAlert:
    labels: Mapping[str, str]
    annotations: Mapping[str, str]


@dataclass(frozen=True)
class RuleTestCase:
    """One promtool test group: input series from ``origin_ms`` on, and expected alerts."""

    alert: str
    origin_ms: int
    sample_ms: int
    interval_ms: int
    series: tuple[tuple[str, str], ...]
    expected: tuple[tuple[int, tuple[ExpectedAlert, ...]], ...]
    episode: tuple[int, int]
    incident: str = ""

    @property
    def name(self) -> str:
        first, last = (rfc3339_ms(t) for t in self.episode)
        why = f" during {self.incident}" if self.incident else ""
        return f"{self.alert} fires {first} .. {last}{why} (time 0 is {rfc3339_ms(self.origin_ms)})"

    def to_test_group(self) -> dict[str, Any]:
        tests = []
        for at, alerts in self.expected:
            tests.append(
                {
                    "eval_time": format_duration_ms(at),
                    "alertname": self.alert,
                    "exp_alerts": [
                        {
                            "exp_labels": dict(sorted(a.labels.items())),
                            "exp_annotations": dict(sorted(a.annotations.items())),
                        }
                        for a in alerts
                    ],
                }
            )
        return {
            "name": self.name,
            "interval": format_duration_ms(self.sample_ms),
            "input_series": [{"series": s, "values": v} for s, v in self.series],
            "alert_rule_test": tests,
        }


def _series_text(labels: Mapping[str, str]) -> str:
    name = labels.get("__name__", "")
    rest = ",".join(
        f'{k}="{v.replace(chr(92), chr(92) * 2).replace(chr(34), chr(92) + chr(34))}"'
        for k, v in sorted(labels.items())
        if k != "__name__"
    )
    return f"{name}{{{rest}}}"


def _raw_samples(
    client: Querier, expr: str, origin_ms: int, end_ms: int
) -> dict[tuple[tuple[str, str], ...], tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]]:
    out: dict[tuple[tuple[str, str], ...], tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]] = {}
    span_s = (end_ms - origin_ms) // 1000 + 1
    for selector in _selectors(expr):
        frame = client.query(f"{selector}[{span_s}s]", at=end_ms / 1000)
        if frame.empty:
            continue
        labels = [c for c in frame.columns if c not in ("timestamp", "value")]
        stamps = pd.DatetimeIndex(frame["timestamp"]).tz_convert("UTC").tz_localize(None)
        times = np.rint(stamps.to_numpy(dtype="datetime64[ns]").astype(np.int64) / 1e6)
        frame = frame.assign(_t=times.astype(np.int64))
        for key, part in (
            frame.groupby(labels, dropna=False, sort=True) if labels else [((), frame)]
        ):
            values = key if isinstance(key, tuple) else (key,)
            series = tuple(
                sorted(
                    (n, str(v)) for n, v in zip(labels, values, strict=True) if isinstance(v, str)
                )
            )
            keep = part["_t"].to_numpy() >= origin_ms
            out[series] = (part["_t"].to_numpy()[keep], part["value"].to_numpy(np.float64)[keep])
    return out


def _input_series(
    raw: Mapping[tuple[tuple[str, str], ...], tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]],
    origin_ms: int,
    end_ms: int,
) -> tuple[int, tuple[tuple[str, str], ...]]:
    offsets = [int(t) - origin_ms for times, _ in raw.values() for t in times]
    step = 0
    for offset in offsets:
        step = math.gcd(step, offset)
    nonzero = [o for o in offsets if o]
    if not offsets or (not step and not nonzero):
        step = 60_000
    if step < 1000 or (end_ms - origin_ms) // step > _MAX_VALUES:
        raise CaseSkipped("the raw samples are not on a regular grid of at least 1 s")
    count = (end_ms - origin_ms) // step + 1
    rows = []
    for labels, (times, values) in raw.items():
        slots = ["_"] * count
        for t, v in zip(times.tolist(), values.tolist(), strict=True):
            slots[(int(t) - origin_ms) // step] = format_number(float(v))
        rows.append((_series_text(dict(labels)), " ".join(slots)))
    return step, tuple(rows)


def _choose(
    rule: AlertRule, history: Signal, incidents: Sequence[Incident], fits_ms: int
) -> list[tuple[int, int, str]]:
    """Episodes to try (first, last, incident name): those during an incident first, then
    the longest that fit in ``fits_ms``, then the shortest others."""
    found = []
    for instance in backtest(rule, history):
        for e in instance.episodes:
            hit = next(
                (i.name for i in incidents if e.first_ms <= i.end_ms and e.last_ms >= i.start_ms),
                "",
            )
            found.append((e.first_ms, e.last_ms, hit))
    found.sort(
        key=lambda e: (
            not e[2],
            e[1] - e[0] > fits_ms,
            abs(e[1] - e[0] - (0 if e[1] - e[0] > fits_ms else fits_ms)),
            e[0],
        )
    )
    return found


def _quiet_start(present: np.ndarray[Any, Any], before: int, length: int) -> int | None:
    """The latest index ``s`` with ``present[s : s + length]`` all false, ending before ``before``."""
    run = 0
    for index in range(before - 1, -1, -1):
        run = run + 1 if not present[index] else 0
        if run >= length:
            return index
    return None


def _expected(
    rule: AlertRule, signal: Signal, instances: Sequence[AlertInstance], index: int
) -> tuple[ExpectedAlert, ...]:
    """The alerts firing at evaluation ``index``, with annotations expanded as Prometheus did
    at the last evaluation that returned the series (kept-firing alerts keep those)."""
    split = rule.comparison if signal.expr != rule.expr else None
    outputs: dict[tuple[tuple[str, str], ...], list[tuple[SignalSeries, Any]]] = {}
    for s in signal.series:
        shown = s.present
        if split is not None:
            shown = shown & compare(s.values, split.op, split.threshold)
        key = tuple(sorted(alert_identity(s.labels, rule).items()))
        outputs.setdefault(key, []).append((s, shown))
    at = signal.grid.time_ms(index)
    out = []
    for instance in instances:
        if not any(e.first_ms <= at <= e.last_ms for e in instance.episodes):
            continue
        best: tuple[int, SignalSeries] | None = None
        for series, shown in outputs[tuple(sorted(instance.labels.items()))]:
            seen = np.flatnonzero(shown[: index + 1])
            if seen.size and (best is None or seen[-1] > best[0]):
                best = (int(seen[-1]), series)
        value = float(best[1].values[best[0]]) if best else math.nan
        labels = dict(best[1].labels) if best else {}
        annotations = {k: expand(v, labels, value) for k, v in rule.annotations.items()}
        if not math.isnan(value) and any(
            {k: expand(v, labels, value * nudge) for k, v in rule.annotations.items()}
            != annotations
            for nudge in (1 - _EDGE, 1 + _EDGE)
        ):
            raise _RoundingEdge(f"{rule.name}: {value!r} prints differently a hair away")
        out.append(ExpectedAlert(dict(instance.labels), annotations))
    return tuple(sorted(out, key=lambda a: sorted(a.labels.items())))


def build_case(
    rule: AlertRule,
    history: Signal,
    client: Querier,
    *,
    incidents: Sequence[Incident] = (),
    eval_ms: int | None = None,
    max_span_ms: int = 4 * 3_600_000,
    tries: int = 4,
) -> RuleTestCase:
    """A promtool case for ``rule`` (as exported) from one of its episodes in ``history``.

    ``history`` is the rule's signal over the backtested span at the rule's interval.
    ``eval_ms`` is the test file's ``evaluation_interval`` (promtool evaluates every group at
    that interval, whatever the group's own); default the rule's. Raises
    :class:`CaseSkipped` with the reason when no episode gives a faithful case.
    """
    try:
        lead = lead_ms(rule.signal)
    except PromQLUnsupported as exc:
        raise CaseSkipped(str(exc)) from None
    step = eval_ms or rule.interval_ms
    candidates = _choose(rule, history, incidents, max_span_ms - rule.for_ms)
    if not candidates:
        raise CaseSkipped("it never fires in the history")
    reasons = []
    tested = replace(rule, interval_ms=step)
    for first_ms, last_ms, incident in candidates[:tries]:
        try:
            calm_ms = _calm_before(rule, history, first_ms)
            return _case(
                tested, client, first_ms, last_ms, incident,
                origin=(calm_ms - lead) // math.lcm(step, 60_000) * math.lcm(step, 60_000),
                lead=lead, max_span_ms=max_span_ms,
            )  # fmt: skip
        except CaseSkipped as exc:
            reasons.append(str(exc))
    raise CaseSkipped("; ".join(dict.fromkeys(reasons)))


def _calm_before(rule: AlertRule, history: Signal, first_ms: int) -> int:
    """The start of the last stretch before the episode in which nothing was present."""
    grid = history.grid
    present = np.zeros(grid.count, dtype=np.bool_)
    for _, mask in instance_presence(rule, history):
        present |= mask
    active = (first_ms - grid.start_ms) // grid.step_ms
    while active > 0 and present[active - 1]:
        active -= 1
    calm = _quiet_start(present, active, grid.steps(rule.keep_firing_for_ms) + 4)
    if calm is None:
        raise CaseSkipped("no quiet stretch before the episode in the history")
    return grid.time_ms(calm)


def _case(
    rule: AlertRule,
    client: Querier,
    first_ms: int,
    last_ms: int,
    incident: str,
    *,
    origin: int,
    lead: int,
    max_span_ms: int,
) -> RuleTestCase:
    step = rule.interval_ms
    end = min(last_ms + 4 * step, origin + lead + max_span_ms)
    if end <= first_ms:
        raise CaseSkipped("the episode starts too long after the quiet stretch")
    local_grid = EvalGrid.between(origin, end, step)
    frame = client.query_range(rule.signal, origin / 1000, local_grid.end_ms / 1000, step / 1000)
    local = signal_from_frame(rule.signal, local_grid, frame)
    instances = backtest(rule, local)
    mine = sorted(
        (e.first_ms, e.last_ms)
        for i in instances
        for e in i.episodes
        if e.first_ms <= last_ms and e.last_ms >= first_ms - step
    )
    if not mine:
        raise CaseSkipped("the episode does not fire on promtool's evaluation grid")
    f = (mine[0][0] - origin) // step
    last = (mine[0][1] - origin) // step
    mask = np.zeros(local_grid.count, dtype=np.bool_)
    for _, m in instance_presence(rule, local):
        mask |= m
    quiet = local_grid.steps(rule.keep_firing_for_ms) + 2
    start = _quiet_start(mask, f, quiet)
    if start is None or start < -(-lead // step):
        raise CaseSkipped("the quiet stretch does not hold on promtool's evaluation grid")
    settled = start + quiet - 1
    edges = {(e.first_ms - origin) // step for i in instances for e in i.episodes}
    edges |= {(e.last_ms - origin) // step for i in instances for e in i.episodes}
    picks = {settled, f - 1, f, f + 1, (f + last) // 2, last, last + 1, last + 2}
    picks |= {k for k in edges if settled <= k <= last + 2}
    chosen = sorted(k for k in picks if settled <= k < local_grid.count)
    raw = _raw_samples(client, rule.signal, origin, local_grid.end_ms)
    sample_ms, series = _input_series(raw, origin, local_grid.end_ms)
    expected: list[tuple[int, tuple[ExpectedAlert, ...]]] = []
    for k in chosen:
        try:
            expected.append((k * step, _expected(rule, local, instances, k)))
        except _RoundingEdge:
            continue  # promtool's float may round the other way: test another evaluation
        except TemplateUnsupported as exc:
            raise CaseSkipped(f"an annotation template cannot be reproduced: {exc}") from None
        if len(expected) == 24:
            break
    if not any(alerts for _, alerts in expected):
        raise CaseSkipped("every firing evaluation's annotation sits on a rounding edge")
    return RuleTestCase(
        alert=rule.name,
        origin_ms=origin,
        sample_ms=sample_ms,
        interval_ms=step,
        series=series,
        expected=tuple(expected),
        episode=(mine[0][0], mine[0][1]),
        incident=incident,
    )


def rule_test_document(
    cases: Sequence[RuleTestCase], *, rule_file: str = "rules.yml"
) -> dict[str, Any]:
    """A ``promtool test rules`` file for ``cases`` (which must share one interval)."""
    intervals = {c.interval_ms for c in cases}
    if len(intervals) > 1:
        raise ValueError(f"cases evaluate at different intervals: {sorted(intervals)}")
    interval = intervals.pop() if intervals else 60_000
    return {
        "rule_files": [rule_file],
        "evaluation_interval": format_duration_ms(interval),
        "tests": [c.to_test_group() for c in cases],
    }
