"""The backtester agrees with the real promtool and a real Prometheus, evaluation by evaluation.

Random series (with missing samples, gaps longer than the 5 m lookback, stale markers and
NaNs) and random rules (operators, thresholds, ``for``, ``keep_firing_for``, label templates)
are written as a ``promtool test rules`` file whose expectations are our predictions at every
evaluation, so promtool passes only when we agree with it everywhere. The range-query path is
checked the same way: the signal comes from a real Prometheus serving the same samples,
chunked so that ``for`` spans several query chunks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
import requests

from sreworkbook.alerts import AlertInstance, EvalGrid, backtest, backtest_rules
from sreworkbook.sources.prometheus import PrometheusSource

from .conftest import PrometheusTSDB
from .harness import (
    Case,
    promtool_report,
    random_cases,
    run_promtool,
    selector_signal,
    write_openmetrics,
    write_promtool_test,
)

# (evaluation interval, sample interval): equal, samples denser, sparser, off-multiple.
SHAPES = [(15_000, 15_000), (60_000, 15_000), (10_000, 30_000), (30_000, 7_000)]


def _predict(
    cases: list[Case], interval_ms: int, sample_ms: int, evaluations: int
) -> dict[str, list[AlertInstance]]:
    grid = EvalGrid(0, interval_ms, evaluations)
    return {
        c.alert: backtest(c.rule(interval_ms), selector_signal(c, grid, sample_ms)) for c in cases
    }


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize(("interval_ms", "sample_ms"), SHAPES)
def test_state_machine_agrees_with_promtool(
    seed: int, interval_ms: int, sample_ms: int, promtool: str, tmp_path: Path
) -> None:
    rng = np.random.default_rng(seed * 1000 + interval_ms // 1000 + sample_ms)
    evaluations = 150
    samples = evaluations * interval_ms // sample_ms + 1
    cases = random_cases(rng, count=30, samples=samples, step_ms=interval_ms)
    expected = _predict(cases, interval_ms, sample_ms, evaluations)
    assert sum(len(i.episodes) for v in expected.values() for i in v) > 20  # not vacuous
    test_file = write_promtool_test(
        tmp_path,
        cases,
        interval_ms=interval_ms,
        sample_ms=sample_ms,
        evaluations=evaluations,
        expected=expected,
    )
    done = run_promtool(promtool, test_file)
    assert done.returncode == 0, promtool_report(done)


def test_keep_firing_for_is_checked_by_promtool(promtool: str, tmp_path: Path) -> None:
    """A prediction that ignores keep_firing_for fails under promtool: the check has teeth."""
    rng = np.random.default_rng(7)
    cases = [c for c in random_cases(rng, count=40, samples=151, step_ms=15_000) if c.keep_ms]
    wrong = _predict([replace(c, keep_ms=0) for c in cases], 15_000, 15_000, 150)
    right = _predict(cases, 15_000, 15_000, 150)
    assert wrong != right
    test_file = write_promtool_test(
        tmp_path, cases, interval_ms=15_000, sample_ms=15_000, evaluations=150, expected=wrong
    )
    done = run_promtool(promtool, test_file)
    assert done.returncode != 0
    assert "FAILED" in done.stdout + done.stderr


def test_range_query_path_agrees_with_promtool(
    promtool: str,
    prometheus_from_openmetrics: Callable[[Path], PrometheusTSDB],
    tmp_path: Path,
) -> None:
    """Signals evaluated by a real Prometheus (chunked), then our state machine = promtool."""
    interval_ms, sample_ms, evaluations = 15_000, 15_000, 240
    rng = np.random.default_rng(42)
    cases = random_cases(
        rng,
        count=24,
        samples=evaluations + 1,
        step_ms=interval_ms,
        stale=False,
        expressions=True,
        most_for_steps=40,
    )
    # Some `for` longer than one query chunk (20 evaluations below).
    cases[0] = replace(cases[0], for_ms=35 * interval_ms, keep_ms=0)
    cases[1] = replace(cases[1], for_ms=25 * interval_ms + 4_000, keep_ms=6 * interval_ms)
    day = 86_400_000
    origin_ms = (int(datetime.now(UTC).timestamp() * 1000) // day - 3) * day
    openmetrics = tmp_path / "series.om.txt"
    write_openmetrics(openmetrics, cases, origin_ms=origin_ms, sample_ms=sample_ms)
    server = prometheus_from_openmetrics(openmetrics)

    with requests.Session() as session:
        client = PrometheusSource(server.url, session=session, timeout_s=30, max_points=20)
        results = backtest_rules(
            [c.rule(interval_ms) for c in cases],
            client,
            start_ms=origin_ms,
            end_ms=origin_ms + (evaluations - 1) * interval_ms,
        )
        assert client.requests_made >= len(cases) * 12  # 240 evaluations in chunks of 20
    expected = {r.rule.name: list(r.instances) for r in results}
    long_for = expected[cases[0].alert]
    assert any(e.last_ms > e.first_ms for i in long_for for e in i.episodes) or not long_for
    assert sum(len(i.episodes) for v in expected.values() for i in v) > 10

    folder = tmp_path / "promtool"
    folder.mkdir()
    test_file = write_promtool_test(
        folder,
        cases,
        interval_ms=interval_ms,
        sample_ms=sample_ms,
        evaluations=evaluations,
        expected=expected,
        origin_ms=origin_ms,
    )
    done = run_promtool(promtool, test_file)
    assert done.returncode == 0, promtool_report(done)
