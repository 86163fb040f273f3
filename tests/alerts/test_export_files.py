"""The pieces of an export that need no server: the rule file, decoration, runbook links."""

from __future__ import annotations

from pathlib import Path

import pytest

from sreworkbook.alerts import AlertRule, load_rules, parse_rules
from sreworkbook.alerts.export import decorate, prometheus_rule_file, runbook_for, runbook_url
from sreworkbook.config import load_yaml
from sreworkbook.exceptions import ParameterError
from sreworkbook.reports import Ledger
from sreworkbook.results import RunSummary, Status

ROOT = Path(__file__).resolve().parents[2]
SEED = ROOT / "parameters" / "alerts.yaml"


def test_the_rule_file_keeps_groups_order_and_recording_rules_and_drops_workbook_keys() -> None:
    raw = load_yaml(SEED)
    rules = load_rules(SEED)
    tuned = [r.tuned(threshold=0.03) if r.name == "HighErrorRate" else r for r in rules.alerts]
    document = prometheus_rule_file(raw, tuned)
    assert set(document) == {"groups"}
    assert [g["name"] for g in document["groups"]] == [g["name"] for g in raw["groups"]]
    assert [g["interval"] for g in document["groups"]] == ["15s", "1m"]
    kinds = [("alert" if "alert" in r else "record") for r in document["groups"][1]["rules"]]
    assert kinds == [("alert" if "alert" in r else "record") for r in raw["groups"][1]["rules"]]
    again = parse_rules(document)
    assert again.get("HighErrorRate").threshold == 0.03
    assert again.get("SlowAPIResponse").expr == rules.get("SlowAPIResponse").expr
    with pytest.raises(ParameterError, match="no place"):
        prometheus_rule_file(raw, [*tuned, tuned[0]])


def test_decorate_adds_severity_annotations_link_and_a_tuning_note() -> None:
    rule = AlertRule("Bare", "up == 0", for_ms=60_000, interval_ms=15_000)
    tuned = rule.tuned(for_ms=120_000)
    done = decorate(tuned, original=rule, runbook="runs/x/report.html", span="last month")
    assert done.labels == {"severity": "warning"}
    assert done.annotations["runbook_url"] == "runs/x/report.html"
    assert done.annotations["summary"] == "Bare is firing"
    assert done.annotations["tuning"] == "Tuned on last month: for 1m → 2m."
    same = decorate(rule, original=rule, runbook="", span="x")
    assert "tuning" not in same.annotations and "runbook_url" not in same.annotations


def test_runbook_links_point_at_the_latest_report(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "ledger.jsonl")
    assert runbook_url("high_error_rate", ledger=ledger, env="prod") == (
        "notebooks/runbooks/high_error_rate.ipynb"
    )
    for run in ("a", "b"):
        ledger.append(
            RunSummary(
                Status.OK,
                "ok",
                notebook="high_error_rate",
                env="prod",
                report=f"runs/d/{run}/report.html",
            )
        )
    assert runbook_url("high_error_rate", ledger=ledger, env="prod") == "runs/d/b/report.html"
    assert (
        runbook_url("high_error_rate", ledger=ledger, env="prod", base_url="https://r.example/")
        == "https://r.example/runs/d/b/report.html"
    )
    rules = load_rules(SEED)
    assert runbook_for(rules.get("HighMemoryUsage")) == "high_memory_usage"
    assert runbook_for(rules.get("SLOLatencyBurnRatePage")) == "slow_api_response"
    assert runbook_for(AlertRule("X", "up == 0")) == ""
