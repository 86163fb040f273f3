"""The vectorised state machine against a literal port of Prometheus's ``Eval``, and by hand."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sreworkbook.alerts import AlertRule, EvalGrid, Signal, backtest
from sreworkbook.alerts.backtest import (
    alert_identity,
    firing_episodes,
    firing_mask,
    instance_presence,
    present_runs,
)
from sreworkbook.exceptions import ParameterError

from .reference import replay

STEP = 15_000


@settings(max_examples=600, deadline=None)
@given(
    present=st.lists(st.booleans(), max_size=80),
    step_ms=st.sampled_from([1_000, 10_000, 15_000, 60_000]),
    for_ms=st.integers(0, 20).map(lambda n: n * 5_000),
    keep_ms=st.integers(0, 12).map(lambda n: n * 7_000),
)
def test_matches_the_reference_port(
    present: list[bool], step_ms: int, for_ms: int, keep_ms: int
) -> None:
    expected = replay(
        {"a": present}, start_ms=0, step_ms=step_ms, for_ms=for_ms, keep_firing_for_ms=keep_ms
    )["a"]
    grid = EvalGrid(0, step_ms, len(present))
    first, last = firing_episodes(
        present_runs(np.array(present, dtype=bool)), grid.steps(for_ms), grid.steps(keep_ms)
    )
    assert firing_mask(first, last, len(present)).tolist() == expected
    assert all(last[i] + 1 < first[i + 1] for i in range(len(first) - 1))  # maximal episodes


def _signal(*series: tuple[dict[str, str], list[float | None]], expr: str = "x") -> Signal:
    count = len(series[0][1]) if series else 0
    grid = EvalGrid(1_000_000, STEP, count)
    rows = []
    for labels, values in series:
        times = [grid.time_ms(k) for k, v in enumerate(values) if v is not None]
        rows.append((labels, times, [v for v in values if v is not None]))
    return Signal.from_samples(expr, grid, rows)


def test_for_zero_fires_at_once_and_for_waits() -> None:
    signal = _signal(({"__name__": "x"}, [1, 9, 9, 9, 1, 9, 9]))
    now = backtest(AlertRule("A", "x > 5", interval_ms=STEP), signal)
    assert [(e.first_ms, e.last_ms) for e in now[0].episodes] == [
        (1_015_000, 1_045_000),
        (1_075_000, 1_090_000),
    ]
    held = backtest(AlertRule("A", "x > 5", for_ms=30_000, interval_ms=STEP), signal)
    assert [(e.first_ms, e.last_ms) for e in held[0].episodes] == [(1_045_000, 1_045_000)]
    off_grid = backtest(AlertRule("A", "x > 5", for_ms=30_001, interval_ms=STEP), signal)
    assert off_grid == []


def test_keep_firing_for_bridges_gaps_and_tails() -> None:
    values: list[float | None] = [9, 9, None, None, 9, 1, 1, 1, 1, 9]
    signal = _signal(({"__name__": "x"}, values))
    rule = AlertRule("A", "x > 5", keep_firing_for_ms=30_000, interval_ms=STEP)
    [alert] = backtest(rule, signal)
    # bridged gap of 2 evaluations (< 30 s since the first absent one), then a 2-step tail
    assert [(e.first_ms, e.last_ms) for e in alert.episodes] == [
        (1_000_000, 1_090_000),
        (1_135_000, 1_135_000),
    ]


def test_identity_drops_name_and_applies_rule_labels() -> None:
    rule = AlertRule(
        "A", "x > 5", labels={"severity": "page", "where": "{{ $labels.zone }}-x", "drop": ""}
    )
    assert alert_identity({"__name__": "x", "zone": "eu", "drop": "1", "alertname": "n"}, rule) == {
        "zone": "eu",
        "severity": "page",
        "where": "eu-x",
    }
    with pytest.raises(ParameterError, match="template"):
        alert_identity({}, AlertRule("A", "x", labels={"v": "{{ $value }}"}))


def test_series_differing_only_by_name_are_one_alert() -> None:
    apart = _signal(({"__name__": "a"}, [9, None, None]), ({"__name__": "b"}, [None, 9, None]))
    [(labels, present)] = instance_presence(AlertRule("A", "a_or_b > 5", interval_ms=STEP), apart)
    assert labels == {} and present.tolist() == [True, True, False]
    together = _signal(({"__name__": "a"}, [9, 9]), ({"__name__": "b"}, [9, None]))
    with pytest.raises(ParameterError, match="same labels"):
        instance_presence(AlertRule("A", "a_or_b > 5", interval_ms=STEP), together)


def test_threshold_override_and_whole_expression_signals() -> None:
    signal = _signal(({"__name__": "x"}, [3, 4, 5, 6]))
    rule = AlertRule("A", "x > 5", interval_ms=STEP)
    assert len(backtest(rule, signal, threshold=3.5)[0].episodes) == 1
    assert backtest(rule, signal, threshold=3.5)[0].episodes[0].first_ms == 1_015_000
    whole = _signal(({"__name__": "x"}, [None, 4, 5, None]), expr="x > 5")
    # The signal is the whole expression: its series are taken as they are.
    assert backtest(rule, whole)[0].episodes[0].first_ms == 1_015_000
    with pytest.raises(ParameterError, match="threshold"):
        backtest(rule, whole, threshold=1)


def test_interval_mismatch_is_refused() -> None:
    signal = _signal(({"__name__": "x"}, [9]))
    with pytest.raises(ParameterError, match="every"):
        backtest(AlertRule("A", "x > 5", interval_ms=60_000), signal)


def test_172800_evaluations_are_fast() -> None:
    import time

    rng = np.random.default_rng(3)
    present = rng.random(172_800) < 0.5
    runs = present_runs(present)
    began = time.perf_counter()
    for _ in range(100):
        firing_episodes(runs, 20, 4)
    assert (time.perf_counter() - began) / 100 < 0.05


def test_a_group_limit_that_would_be_exceeded_is_reported() -> None:
    signal = _signal(({"s": "a"}, [9, 9, 1]), ({"s": "b"}, [1, 9, 1]))
    assert len(backtest(AlertRule("A", "x > 5", interval_ms=STEP, limit=2), signal)) == 2
    with pytest.raises(ParameterError, match="limit of 1"):
        backtest(AlertRule("A", "x > 5", interval_ms=STEP, limit=1), signal)
