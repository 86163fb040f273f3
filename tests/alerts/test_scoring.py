"""Scores against incidents, sweeps from one signal, the Pareto front and the recommendation."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest

from sreworkbook.alerts import AlertInstance, AlertRule, Episode, EvalGrid, Signal, backtest
from sreworkbook.alerts.scoring import (
    WEEK_MS,
    pareto_front,
    recommend,
    score_instances,
    score_table,
    sweep,
)
from sreworkbook.exceptions import MissingFileError, ParameterError
from sreworkbook.known_incidents import Incident, load_incidents, parse_incidents

MIN = 60_000


def test_scores_by_hand() -> None:
    rule = AlertRule("A", "x > 5", interval_ms=MIN)
    instances = [
        AlertInstance("A", {"i": "1"}, (Episode(10 * MIN, 19 * MIN), Episode(30 * MIN, 30 * MIN))),
        AlertInstance("A", {"i": "2"}, (Episode(100 * MIN, 104 * MIN),)),
    ]
    incidents = [
        Incident.from_epoch_ms("one", 5 * MIN, 25 * MIN, kind="x"),
        Incident.from_epoch_ms("missed", 200 * MIN, 210 * MIN, kind="x"),
        Incident.from_epoch_ms("other kind", 10 * MIN, 20 * MIN, kind="y"),
    ]
    score = score_instances(rule, instances, incidents, start_ms=0, end_ms=WEEK_MS - MIN, kind="x")
    assert score.pages == 3 and score.pages_per_week == pytest.approx(3.0)
    assert score.firing_s == (10 + 1 + 5) * 60
    assert score.firing_outside_s == (1 + 5) * 60
    assert score.flapping == 1  # the one-evaluation episode, which also re-fired 10 min after
    assert score.precision == pytest.approx(1 / 3)
    assert (score.caught, score.incidents, score.recall) == (1, 2, 0.5)
    assert score.median_delay_s == 5 * 60
    assert (
        score.median_reset_s == (20 - 25) * 60
    )  # resolved (at the next evaluation) before it ended
    assert "A" in score_table([score])


def test_sweep_equals_backtesting_each_candidate() -> None:
    rng = np.random.default_rng(5)
    grid = EvalGrid(0, MIN, 2_000)
    values = {s: rng.normal(5, 2, grid.count) for s in ("a", "b")}
    signal = Signal.from_samples(
        "x", grid, [({"s": s}, grid.times_ms(), v) for s, v in values.items()]
    )
    rule = AlertRule("A", "x > 8", interval_ms=MIN)
    incidents = [
        Incident.from_epoch_ms("i", 100 * MIN, 160 * MIN),
        Incident.from_epoch_ms("j", 900 * MIN, 905 * MIN),
    ]
    thresholds, fors, keeps = [7.0, 8.0, 9.5], [0, 2 * MIN, 5 * MIN], [0, 3 * MIN]
    scores = sweep(
        rule, signal, incidents, thresholds=thresholds, for_ms=fors, keep_firing_for_ms=keeps
    )
    assert len(scores) == 18
    for score, (t, f, k) in zip(scores, itertools.product(thresholds, fors, keeps), strict=True):
        candidate = rule.tuned(threshold=t, for_ms=f, keep_firing_for_ms=k)
        direct = score_instances(
            candidate, backtest(candidate, signal), incidents, start_ms=0, end_ms=grid.end_ms
        )
        assert score == direct
    front = pareto_front(scores)
    for a in front:
        assert not any(
            b.pages_per_week < a.pages_per_week
            and (b.recall or 0) >= (a.recall or 0)
            and (b.median_delay_s or 0) <= (a.median_delay_s or 0)
            for b in scores
        )
    current = next(
        s for s in scores if (s.threshold, s.for_ms, s.keep_firing_for_ms) == (8.0, 0, 0)
    )
    advice = recommend(current, scores)
    assert (advice.best.recall or 0) == max(s.recall or 0 for s in scores)
    assert advice.best.pages_per_week <= min(
        s.pages_per_week for s in scores if s.recall == advice.best.recall
    )
    assert advice.reason


def test_without_incidents_the_setting_is_kept() -> None:
    rule = AlertRule("A", "x > 5", interval_ms=MIN)
    current = score_instances(rule, [], [], start_ms=0, end_ms=MIN * 100)
    assert current.recall is None
    assert recommend(current, [current]).best is current


def test_incidents_files(tmp_path: Path) -> None:
    sandbox_style = [
        {
            "name": "memory-leak",
            "kind": "memory",
            "severity": "critical",
            "start": "2026-11-22T09:08:00Z",
            "end": "2026-11-22T10:48:00Z",
            "description": "Memory climbed",
        }
    ]
    path = tmp_path / "incidents.json"
    path.write_text(json.dumps(sandbox_style), encoding="utf-8")
    [incident] = load_incidents(path)
    assert incident.end_ms - incident.start_ms == 100 * MIN
    assert incident.concerns("HighMemoryUsage", "memory")
    assert not incident.concerns("HighErrorRate", "error_rate")
    with pytest.raises(ParameterError, match=r"\[x\]\.start"):
        parse_incidents([{"name": "x", "start": "yesterday", "end": 1}])
    with pytest.raises(ParameterError, match="unknown key"):
        parse_incidents([{"name": "x", "start": 1, "end": 2, "colour": "red"}])
    with pytest.raises(ParameterError, match="ends before"):
        parse_incidents([{"name": "x", "start": 2, "end": 1}])
    with pytest.raises(MissingFileError):
        load_incidents(tmp_path / "none.json")
