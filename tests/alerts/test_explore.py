"""Moving a threshold replays the rule over the signal already fetched: as written it scores
exactly as the backtest did, out of reach it never pages (the browser tier moves the slider)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from sreworkbook.alerts.explore import threshold_explorer, with_threshold
from sreworkbook.alerts.tuning import tune_environment

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.integration]


def test_a_moved_threshold_is_replayed_on_the_fetched_signal(sandbox: Any) -> None:
    sandbox.require("prometheus")
    report = tune_environment(sandbox.env, root=ROOT, environ=os.environ, window="7d")
    movable = [t for t in report.tunings if t.rule.threshold is not None]
    assert movable
    for tuning in movable:
        same = with_threshold(report, tuning, float(tuning.rule.threshold or 0))
        assert same.tuned_score == tuning.current, tuning.rule.name
        assert same.tuned.threshold == tuning.rule.threshold
        never = with_threshold(report, tuning, 1e12)
        assert never.tuned_score.pages == 0 and never.tuned_instances == ()
        assert never.tuned.threshold == 1e12
    box = threshold_explorer(report)
    picker, slider = box.children[0].children
    assert picker.options == tuple(t.rule.name for t in movable)
    assert slider.value == movable[0].rule.threshold and slider.max > slider.value
