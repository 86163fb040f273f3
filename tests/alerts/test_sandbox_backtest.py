"""The seed's four rules over the sandbox's 30 days of history, scored against its incidents."""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import time
from pathlib import Path

import pytest
import requests

from sreworkbook.alerts import backtest_rules, load_rules
from sreworkbook.alerts.cli import register
from sreworkbook.alerts.scoring import pareto_front, recommend, score_instances, sweep
from sreworkbook.known_incidents import load_incidents
from sreworkbook.sources.prometheus import PrometheusSource

ROOT = Path(__file__).resolve().parents[2]
SEED = ("HighErrorRate", "SlowAPIResponse", "HighMemoryUsage", "DatabaseConnectionFailures")
DAY_MS = 86_400_000

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def seed_backtest(sandbox):  # type: ignore[no-untyped-def]
    sandbox.require("prometheus")
    assert sandbox.env.prometheus is not None
    rules = load_rules(ROOT / "parameters" / "alerts.yaml")
    incidents = load_incidents(sandbox.state.incidents_file)
    end_ms = int(time.time() * 1000) // 15_000 * 15_000
    start_ms = end_ms - 30 * DAY_MS
    with requests.Session() as session:
        client = PrometheusSource(sandbox.env.prometheus.url, session=session, timeout_s=60)
        results = backtest_rules(
            [rules.get(n) for n in SEED], client, start_ms=start_ms, end_ms=end_ms
        )
    return rules, incidents, results, start_ms, end_ms, sandbox


def test_each_seed_rule_catches_its_incident(seed_backtest) -> None:  # type: ignore[no-untyped-def]
    rules, incidents, results, start_ms, end_ms, _ = seed_backtest
    assert incidents, "the sandbox wrote no incidents"
    for result in results:
        assert result.signal.grid.count == 30 * 5760 + 1
        kind = rules.tuning[result.rule.name].kind
        score = score_instances(
            result.rule, result.instances, incidents, start_ms=start_ms, end_ms=end_ms, kind=kind
        )
        assert score.incidents >= 1, (result.rule.name, kind)
        assert score.recall == 1.0, score
        assert score.median_delay_s is not None
        # The condition can start to hold a little before the incident's nominal start (noise).
        assert 0 <= score.median_delay_s <= result.rule.for_ms / 1000 + 600, score


def test_a_sweep_of_1000_candidates_runs_on_one_signal(seed_backtest) -> None:  # type: ignore[no-untyped-def]
    rules, incidents, results, start_ms, end_ms, _ = seed_backtest
    for result in results:
        grid = rules.tuning[result.rule.name]
        began = time.perf_counter()
        scores = sweep(
            result.rule,
            result.signal,
            incidents,
            thresholds=grid.thresholds,
            for_ms=grid.for_,
            keep_firing_for_ms=grid.keep_firing_for,
            kind=grid.kind,
        )
        elapsed = time.perf_counter() - began
        assert len(scores) == 1000
        assert elapsed < 30, elapsed
        current = score_instances(
            result.rule,
            result.instances,
            incidents,
            start_ms=start_ms,
            end_ms=end_ms,
            kind=grid.kind,
        )
        same = [
            s
            for s in scores
            if s.threshold == current.threshold
            and s.for_ms == current.for_ms
            and s.keep_firing_for_ms == current.keep_firing_for_ms
        ]
        assert same and same[0].pages == current.pages
        assert same[0].recall == current.recall
        front = pareto_front(scores)
        assert front
        advice = recommend(current, scores)
        assert (advice.best.recall or 0) >= (current.recall or 0)
        assert advice.reason


def test_cli_backtest_prints_the_episodes_as_json(seed_backtest, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _, _, results, start_ms, end_ms, sandbox = seed_backtest
    rule_file = tmp_path / "memory.yml"
    rule_file.write_text(
        "groups:\n- name: g\n  interval: 15s\n  rules:\n"
        "  - alert: HighMemoryUsage\n"
        '    expr: system_memory_usage_percent{job="tradeai-backend"} > 90\n'
        "    for: 5m\n    labels: {severity: critical}\n",
        encoding="utf-8",
    )
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(
        [
            "alerts",
            "backtest",
            "--rules",
            str(rule_file),
            "--prometheus",
            sandbox.env.prometheus.url,
            "--start",
            str(start_ms / 1000),
            "--end",
            str(end_ms / 1000),
            "--incidents",
            str(sandbox.state.incidents_file),
            "--json",
        ]
    )
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert args.handler(args, ROOT, tmp_path) == 0
    printed = json.loads(out.getvalue())
    memory = next(r for r in results if r.rule.name == "HighMemoryUsage")
    assert [{k: v for k, v in item.items() if k != "incidents"} for item in printed] == [
        i.to_json() for i in memory.instances
    ]
    assert any("memory-leak" in item["incidents"] for item in printed)
