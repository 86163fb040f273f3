"""Random series and rules, written as a ``promtool test rules`` file and as OpenMetrics.

Every case is one alert over its own metric. The promtool file asks, at every evaluation
time and for every alert, for exactly the firing alerts the backtester predicts, so promtool
passes only if it agrees with us evaluation by evaluation.
"""

from __future__ import annotations

import math
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

from sreworkbook.alerts import AlertInstance, AlertRule, EvalGrid, Signal, format_duration_ms
from sreworkbook.alerts.expr import format_number

LOOKBACK_MS = 5 * 60_000
STALE = "stale"
Value = float | str | None  # a number, STALE, or None for no sample


@dataclass
class Case:
    """One alert rule over ``metric`` and the input series it sees."""

    alert: str
    metric: str
    expr: str
    for_ms: int
    keep_ms: int
    series: list[tuple[dict[str, str], list[Value]]]
    labels: dict[str, str] = field(default_factory=dict)
    selector_op: str | None = None  # set when expr is `metric op threshold`
    threshold: float = 0.0

    def rule(self, interval_ms: int) -> AlertRule:
        return AlertRule(
            name=self.alert,
            expr=self.expr,
            for_ms=self.for_ms,
            keep_firing_for_ms=self.keep_ms,
            interval_ms=interval_ms,
            labels=dict(self.labels),
            group="g",
        )


def _values(rng: np.random.Generator, count: int, *, stale: bool) -> list[Value]:
    """Regimes above/below 5 of random length, NaNs, short and long gaps, stale markers."""
    out: list[Value] = []
    while len(out) < count:
        kind = rng.random()
        length = int(rng.integers(1, 14))
        if kind < 0.12:
            out += [None] * (length if rng.random() < 0.6 else length * 4)  # gap, maybe > 5m
        elif kind < 0.18 and stale:
            out.append(STALE)
        elif kind < 0.21:
            out.append(math.nan)
        else:
            high = rng.random() < 0.5
            low, top = (5, 11) if high else (0, 6)
            out += [float(v) for v in rng.integers(low, top, size=length)]
    return out[:count]


def _duration(rng: np.random.Generator, step_ms: int, most_steps: int) -> int:
    pick = rng.random()
    if pick < 0.3:
        return 0
    if pick < 0.8:
        return int(rng.integers(1, most_steps + 1)) * step_ms
    return int(rng.integers(1, most_steps * step_ms // 1000 + 1)) * 1000  # off the grid


def random_cases(
    rng: np.random.Generator,
    *,
    count: int,
    samples: int,
    step_ms: int,
    stale: bool = True,
    expressions: bool = False,
    most_for_steps: int = 12,
) -> list[Case]:
    """``count`` random cases of ``samples`` input samples each."""
    cases = []
    for i in range(count):
        metric = f"m{i}"
        op = str(rng.choice([">", ">=", "<", "<=", "==", "!="]))
        threshold = 5.0
        expr, selector_op = f"{metric} {op} {format_number(threshold)}", op
        if expressions:
            shape = int(rng.integers(0, 6))
            if shape == 1:
                expr = f"sum by (s) (rate({metric}[2m])) * 60 > 0.5"
            elif shape == 2:
                expr = f"max_over_time({metric}[90s]) {op} 5"
            elif shape == 3:
                expr = f"{metric} > 3 and {metric} < 8"
            elif shape == 4:
                expr = f"({metric} > bool 6) == 1"
            selector_op = op if shape in (0,) else None
        width = int(rng.integers(1, 4))
        series = [({"s": str(j)}, _values(rng, samples, stale=stale)) for j in range(width)]
        labels = {"severity": str(rng.choice(["critical", "warning"]))}
        if rng.random() < 0.3:
            labels["where"] = "s{{ $labels.s }}"
        cases.append(
            Case(
                alert=f"A{i}",
                metric=metric,
                expr=expr,
                for_ms=_duration(rng, step_ms, most_for_steps),
                keep_ms=_duration(rng, step_ms, most_for_steps // 2),
                series=series,
                labels=labels,
                selector_op=selector_op,
                threshold=threshold,
            )
        )
    return cases


def selector_signal(case: Case, grid: EvalGrid, sample_ms: int) -> Signal:
    """What the instant selector ``metric`` returns at each evaluation (5 m lookback, staleness).

    Prometheus 2.42 takes the newest sample in ``[t - 5m, t]``; a stale marker there hides
    the series.
    """
    rows = []
    for labels, values in case.series:
        times, vals = [], []
        for k in range(grid.count):
            t = grid.time_ms(k)
            newest = min(t // sample_ms, len(values) - 1)
            found: Value = None
            j = newest
            while j >= 0 and j * sample_ms >= t - LOOKBACK_MS:
                if values[j] is not None:
                    found = values[j]
                    break
                j -= 1
            if found is None or found == STALE:
                continue
            times.append(t)
            vals.append(float(found))
        rows.append(({"__name__": case.metric, **labels}, times, vals))
    return Signal.from_samples(case.metric, grid, rows)


def _promtool_values(values: Sequence[Value]) -> str:
    out = []
    for v in values:
        if v is None:
            out.append("_")
        elif v == STALE:
            out.append("stale")
        else:
            out.append(format_number(float(v)))
    return " ".join(out)


def write_rules(path: Path, cases: Sequence[Case], interval_ms: int) -> None:
    rules = []
    for case in cases:
        rule = {"alert": case.alert, "expr": case.expr, "labels": case.labels}
        if case.for_ms:
            rule["for"] = format_duration_ms(case.for_ms)
        if case.keep_ms:
            rule["keep_firing_for"] = format_duration_ms(case.keep_ms)
        rules.append(rule)
    group = {"name": "g", "interval": format_duration_ms(interval_ms), "rules": rules}
    path.write_text(yaml.safe_dump({"groups": [group]}, sort_keys=False), encoding="utf-8")


def write_promtool_test(
    folder: Path,
    cases: Sequence[Case],
    *,
    interval_ms: int,
    sample_ms: int,
    evaluations: int,
    expected: Mapping[str, Sequence[AlertInstance]],
    origin_ms: int = 0,
) -> Path:
    """The rule file and a test asking, at every evaluation, for exactly ``expected``.

    ``expected`` maps alert name to its instances; episode times are relative to
    ``origin_ms`` (promtool's series start at time 0).
    """
    write_rules(folder / "rules.yml", cases, interval_ms)
    input_series = [
        {
            "series": case.metric + "{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}",
            "values": _promtool_values(values),
        }
        for case in cases
        for labels, values in case.series
    ]
    tests = []
    for k in range(evaluations):
        t = k * interval_ms
        for case in cases:
            firing = [
                {"exp_labels": dict(instance.labels)}
                for instance in expected.get(case.alert, ())
                if any(
                    e.first_ms - origin_ms <= t <= e.last_ms - origin_ms for e in instance.episodes
                )
            ]
            tests.append(
                {"eval_time": format_duration_ms(t), "alertname": case.alert, "exp_alerts": firing}
            )
    document = {
        "rule_files": ["rules.yml"],
        "evaluation_interval": format_duration_ms(interval_ms),
        "tests": [
            {
                "interval": format_duration_ms(sample_ms),
                "input_series": input_series,
                "alert_rule_test": tests,
            }
        ],
    }
    path = folder / "rules.test.yml"
    path.write_text(yaml.safe_dump(document, sort_keys=False, width=1 << 20), encoding="utf-8")
    return path


def run_promtool(promtool: str, test_file: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [promtool, "test", "rules", test_file.name],
        cwd=test_file.parent,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def promtool_report(done: subprocess.CompletedProcess[str], limit: int = 6000) -> str:
    text = (done.stdout + done.stderr).strip()
    return (
        text
        if len(text) <= limit
        else text[:limit] + f"\n... ({len(text) - limit} more characters)"
    )


def write_openmetrics(path: Path, cases: Sequence[Case], *, origin_ms: int, sample_ms: int) -> None:
    """The cases' samples (no stale markers: OpenMetrics cannot say them) for backfilling."""
    lines = []
    for case in cases:
        for labels, values in case.series:
            selector = ",".join(f'{k}="{v}"' for k, v in labels.items())
            for j, value in enumerate(values):
                if value is None:
                    continue
                if value == STALE:
                    raise ValueError("OpenMetrics cannot carry stale markers")
                stamp = (origin_ms + j * sample_ms) / 1000
                lines.append(
                    f"{case.metric}{{{selector}}} {format_number(float(value))} {stamp:.3f}"
                )
    lines.append("# EOF")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
