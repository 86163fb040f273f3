"""Rule files: parameters/alerts.yaml and Prometheus rule files, validated like Prometheus."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from sreworkbook.alerts import load_rules, parse_rules
from sreworkbook.alerts.rules import AlertRule, RuleSet
from sreworkbook.exceptions import MissingFileError, ParameterError

ROOT = Path(__file__).resolve().parents[2]
ALERTS = ROOT / "parameters" / "alerts.yaml"


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "rules.yml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_seed_rules_are_threshold_rules() -> None:
    rules = load_rules(ALERTS)
    expected = {
        "HighErrorRate": (">", 0.05, 300_000, "critical"),
        "SlowAPIResponse": (">", 2.0, 600_000, "warning"),
        "HighMemoryUsage": (">", 90.0, 300_000, "critical"),
        "DatabaseConnectionFailures": (">", 10.0, 300_000, "critical"),
    }
    for name, (op, threshold, for_ms, severity) in expected.items():
        rule = rules.get(name)
        assert rule.comparison is not None
        assert (rule.comparison.op, rule.threshold, rule.for_ms) == (op, threshold, for_ms)
        assert rule.labels["severity"] == severity
        assert rule.interval_ms == 15_000
        assert 'job="tradeai-backend"' in rule.signal
        assert rules.tuning[name].kind
        grid = rules.tuning[name]
        assert len(grid.thresholds) * len(grid.for_) * len(grid.keep_firing_for) == 1000
    slo = [r for r in rules.alerts if r.name.startswith("SLO")]
    assert len(slo) == 4 and all(r.comparison is None for r in slo)
    assert rules.recording


def test_alerts_yaml_groups_pass_promtool(tmp_path: Path) -> None:
    from support.ci import need_binary

    promtool = need_binary("promtool")
    data = yaml.safe_load(ALERTS.read_text(encoding="utf-8"))
    only_groups = tmp_path / "rules.yml"
    only_groups.write_text(yaml.safe_dump({"groups": data["groups"]}), encoding="utf-8")
    done = subprocess.run(
        [promtool, "check", "rules", str(only_groups)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_reads_a_prometheus_rule_file(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """
groups:
- name: api
  interval: 30s
  limit: 10
  rules:
  - record: job:errors:rate5m
    expr: sum by (job) (rate(errors_total[5m]))
  - alert: Errors
    expr: job:errors:rate5m > 1
    for: 2m
    keep_firing_for: 10m
    labels: {severity: page, team: "{{ $labels.job }}"}
    annotations: {summary: "errors on {{ $labels.job }}"}
- name: other
  rules:
  - alert: Down
    expr: up == 0
""",
    )
    rules = load_rules(path)
    errors, down = rules.alerts
    assert (errors.for_ms, errors.keep_firing_for_ms, errors.interval_ms) == (
        120_000,
        600_000,
        30_000,
    )
    assert errors.group == "api" and errors.source == str(path)
    assert down.interval_ms == 60_000  # Prometheus's default evaluation_interval
    assert rules.recording[0].record == "job:errors:rate5m"
    assert load_rules(path, interval_ms=15_000).alerts[1].interval_ms == 15_000
    assert errors.to_prometheus()["keep_firing_for"] == "10m"


def test_tuned_changes_threshold_for_and_keep() -> None:
    rule = AlertRule("A", "x > 5", for_ms=60_000)
    tuned = rule.tuned(threshold=7, for_ms=0, keep_firing_for_ms=30_000)
    assert (tuned.expr, tuned.for_ms, tuned.keep_firing_for_ms) == ("x > 7", 0, 30_000)
    assert rule.expr == "x > 5"  # unchanged
    with pytest.raises(ParameterError, match="threshold"):
        AlertRule("B", "up").tuned(threshold=1)


@pytest.mark.parametrize(
    ("text", "key", "message"),
    [
        (
            "groups:\n- name: g\n  rules:\n  - alert: A\n    expr: up == 0\n    for: 5x\n",
            "groups[g].rules[A].for",
            "not a duration: '5x'",
        ),
        (
            "groups:\n- name: g\n  rules:\n  - alert: A\n    expr: up == 0\n    keep_firing_for: 1.5m\n",
            "groups[g].rules[A].keep_firing_for",
            "not a duration",
        ),
        (
            "groups:\n- name: g\n  interval: 0s\n  rules: []\n",
            "groups[g].interval",
            "greater than zero",
        ),
        (
            "groups:\n- name: g\n  rules:\n  - alert: A\n    expr: up\n    fro: 5m\n",
            "groups[g].rules[A].fro",
            "unknown key",
        ),
        (
            "groups:\n- name: g\n  rules:\n  - alert: A\n    record: b\n    expr: up\n",
            "groups[g].rules[A]",
            "exactly one of 'alert' and 'record'",
        ),
        (
            "groups:\n- name: g\n  rules:\n  - alert: A\n",
            "groups[g].rules[A].expr",
            "required key is missing",
        ),
        (
            "groups:\n- name: g\n  rules:\n  - alert: A\n    expr: up\n    labels: {1bad: x}\n",
            "groups[g].rules[A].labels",
            "invalid label name",
        ),
        ("groups:\n- name: g\n  rules: []\n- name: g\n  rules: []\n", "groups", "repeated"),
        (
            "tuning:\n  Nope: {thresholds: [1]}\ngroups: []\n",
            "tuning.Nope",
            "no alert of that name",
        ),
        ("groupz: []\n", "groupz", "unknown key"),
    ],
)
def test_bad_rule_files_name_file_rule_and_key(
    tmp_path: Path, text: str, key: str, message: str
) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(ParameterError) as caught:
        load_rules(path)
    assert caught.value.source == str(path)
    assert caught.value.key == key
    assert message in str(caught.value)


def test_a_file_that_does_not_parse(tmp_path: Path) -> None:
    path = _write(tmp_path, "groups: [\n  - name: g\n")
    with pytest.raises(ParameterError, match="not valid YAML") as caught:
        load_rules(path)
    assert caught.value.source == str(path)
    with pytest.raises(MissingFileError):
        load_rules(tmp_path / "missing.yml")


def test_get_lists_the_known_names() -> None:
    rules = parse_rules({"groups": [{"name": "g", "rules": [{"alert": "A", "expr": "up"}]}]})
    assert isinstance(rules, RuleSet)
    with pytest.raises(ParameterError, match="did you mean one of: A"):
        rules.get("B")
