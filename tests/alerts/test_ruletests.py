"""promtool test files built from real episodes: they pass against the rules they came from and
fail when the rule changes. A real Prometheus serves the history (backfilled with promtool)."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
import requests

from sreworkbook.alerts import AlertRule, backtest_rules
from sreworkbook.alerts.ruletests import CaseSkipped, build_case, rule_test_document
from sreworkbook.alerts.yamlfile import dump_yaml
from sreworkbook.known_incidents import Incident
from sreworkbook.sources.prometheus import PrometheusSource

from .conftest import PrometheusTSDB

M = 60_000
ORIGIN = 1_790_000_000_000 // 3_600_000 * 3_600_000  # on the hour
HOURS = 6


def _history(path: Path) -> None:
    """A gauge that is high for 40 min at 03:00 (and briefly at 01:00), and a counter that
    speeds up at the same time."""
    lines = []
    total = 0.0
    for k in range(HOURS * 60 + 1):
        t = ORIGIN + k * M
        high = 180 <= k < 220 or 60 <= k < 63
        lines.append(f'm{{job="j",instance="a"}} {10.5 if high else 1.25} {t / 1000:.3f}')
        total += 90.0 if high else 6.0
        lines.append(f'c_total{{job="j",route="/x"}} {total} {t / 1000:.3f}')
    lines.append("# EOF")
    path.write_text("\n".join(lines) + "\n")


GAUGE = AlertRule(
    name="GaugeHigh",
    expr='m{job="j"} > 5',
    for_ms=5 * M,
    keep_firing_for_ms=2 * M,
    interval_ms=15_000,
    labels={"severity": "critical"},
    annotations={
        "summary": "m is high",
        "description": '{{ $labels.instance }} at {{ $value | printf "%.1f" }}',
    },
)
RATE = AlertRule(
    name="FastCounter",
    expr='sum by (job) (rate(c_total{job="j"}[5m])) > 0.5',
    for_ms=2 * M,
    interval_ms=15_000,
    labels={"severity": "warning"},
    annotations={"summary": "{{ $value | humanize }} per second on {{ $labels.job }}"},
)


def _rules_file(rules: list[AlertRule]) -> str:
    return dump_yaml(
        {"groups": [{"name": "g", "interval": "15s", "rules": [r.to_prometheus() for r in rules]}]}
    )


def _promtool(promtool: str, folder: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [promtool, "test", "rules", "rules.test.yml"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture
def served(
    tmp_path: Path, prometheus_from_openmetrics: Callable[[Path], PrometheusTSDB]
) -> PrometheusSource:
    history = tmp_path / "history.om"
    _history(history)
    server = prometheus_from_openmetrics(history)
    return PrometheusSource(server.url, session=requests.Session(), timeout_s=60)


def test_cases_from_real_episodes_pass_promtool_and_catch_a_changed_rule(
    served: PrometheusSource, promtool: str, tmp_path: Path
) -> None:
    rules = [GAUGE, RATE]
    end = ORIGIN + HOURS * 3_600_000
    results = backtest_rules(rules, served, start_ms=ORIGIN, end_ms=end)
    incident = Incident.from_epoch_ms("spike", ORIGIN + 180 * M, ORIGIN + 220 * M)
    cases = [build_case(r.rule, r.signal, served, incidents=[incident]) for r in results]
    for case in cases:
        assert case.incident == "spike"  # the episode during the incident is preferred
        firing = [alerts for _, alerts in case.expected if alerts]
        assert firing and any(not alerts for _, alerts in case.expected)
    gauge = cases[0]
    (first_firing,) = [a for at, a in gauge.expected if a][:1]
    assert first_firing[0].labels == {"instance": "a", "job": "j", "severity": "critical"}
    assert first_firing[0].annotations["description"] == "a at 10.5"
    assert gauge.sample_ms == M and gauge.origin_ms % M == 0
    (tmp_path / "rules.yml").write_text(_rules_file(rules))
    (tmp_path / "rules.test.yml").write_text(dump_yaml(rule_test_document(cases)))
    done = _promtool(promtool, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    # The same tests against a rule that waits longer must fail.
    (tmp_path / "rules.yml").write_text(_rules_file([replace(GAUGE, for_ms=8 * M), RATE]))
    done = _promtool(promtool, tmp_path)
    assert done.returncode != 0
    assert "GaugeHigh" in done.stdout + done.stderr


def test_a_case_is_skipped_with_its_reason(served: PrometheusSource) -> None:
    end = ORIGIN + HOURS * 3_600_000
    never = replace(GAUGE, name="Never", expr='m{job="j"} > 50')
    templated = replace(GAUGE, annotations={"summary": "{{ if gt $value 1.0 }}x{{ end }}"})
    results = backtest_rules([never, templated], served, start_ms=ORIGIN, end_ms=end)
    with pytest.raises(CaseSkipped, match="never fires"):
        build_case(results[0].rule, results[0].signal, served)
    with pytest.raises(CaseSkipped, match="annotation template"):
        build_case(results[1].rule, results[1].signal, served)


def test_an_annotation_on_a_rounding_edge_is_not_asserted(served: PrometheusSource) -> None:
    # 10.5 prints as "10" (Go rounds half to even) but a hair above as "11": promtool's own
    # evaluation of the same value may land either side, so no firing evaluation is tested.
    end = ORIGIN + HOURS * 3_600_000
    edge = replace(GAUGE, name="Edge", annotations={"summary": '{{ $value | printf "%.0f" }}'})
    (result,) = backtest_rules([edge], served, start_ms=ORIGIN, end_ms=end)
    with pytest.raises(CaseSkipped, match="rounding edge"):
        build_case(result.rule, result.signal, served)
