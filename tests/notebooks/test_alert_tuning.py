"""The alert tuning notebook end to end through `sreworkbook run` on the real sandbox."""

from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from support.ci import need_binary
from support.cli import run_cli

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.notebook, pytest.mark.integration]
METRICS = (
    "rules",
    "pages_per_week_before",
    "pages_per_week_after",
    "recall_before",
    "recall_after",
    "median_detection_delay_s",
)


@pytest.fixture(scope="module")
def tuned(sandbox: Any, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path]:
    sandbox.require("prometheus", "api")
    outputs = tmp_path_factory.mktemp("tuning")
    done = run_cli("--outputs", str(outputs), "run", "alert_tuning", "--env", str(sandbox.env_file))
    assert done.returncode == 0, done.stdout + done.stderr
    summary: dict[str, Any] = json.loads((outputs / "ledger.jsonl").read_text().splitlines()[-1])
    return summary, outputs


def test_the_summary_has_the_metrics_and_the_seed_rules_catch_every_incident(
    tuned: tuple[dict[str, Any], Path],
) -> None:
    summary, _ = tuned
    assert summary["status"] in ("OK", "WARN"), summary["findings"]
    metrics = summary["metrics"]
    assert all(name in metrics for name in METRICS), metrics
    assert metrics["rules"] == 8 and metrics["rules_backtested"] == 8
    assert metrics["recall_before"] == 1.0
    assert metrics["recall_after"] == 1.0
    assert metrics["incidents"] == 4
    assert metrics["pages_per_week_after"] <= metrics["pages_per_week_before"]
    assert metrics["median_detection_delay_s"] <= metrics["median_detection_delay_before_s"]
    assert metrics["candidates"] == 4000
    assert metrics["test_cases"] >= 4
    assert metrics["messages_simulated_before"] > 0 and metrics["pages_simulated_before"] > 0
    assert "known incidents" in summary["headline"]


def test_the_export_is_written_and_the_real_tools_accept_it(
    tuned: tuple[dict[str, Any], Path], sandbox: Any
) -> None:
    summary, outputs = tuned
    folder = outputs / "alerts" / sandbox.env.name
    names = {p.name for p in folder.iterdir()}
    assert {"rules.yml", "rules.test.yml", "alertmanager.yml", "README.md"} <= names
    promtool, amtool = need_binary("promtool"), need_binary("amtool")
    assert summary["metrics"]["checks_failed"] == 0, summary["findings"]
    for argv in (
        [promtool, "check", "rules", "rules.yml"],
        [promtool, "test", "rules", "rules.test.yml"],
        [amtool, "check-config", "alertmanager.yml"],
    ):
        done = subprocess.run(argv, cwd=folder, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stdout + done.stderr
    rules = yaml.safe_load((folder / "rules.yml").read_text())
    alerts = [r for g in rules["groups"] for r in g["rules"] if "alert" in r]
    assert len(alerts) == 8
    assert all(a["labels"]["severity"] in ("critical", "warning") for a in alerts)
    assert all(a["annotations"]["runbook_url"] for a in alerts)


def test_the_report_is_code_free_with_its_charts(tuned: tuple[dict[str, Any], Path]) -> None:
    summary, outputs = tuned
    report = (outputs / summary["report"]).read_text()
    # A chart per rule with a signal, and the Pareto fronts; the burn-rate rules whose whole
    # expression is their condition return nothing while quiet and are named instead.
    silent = re.search(r"No chart for (.*?): the expression returned no series", report)
    named = len(re.findall(r"<code>", silent.group(1))) if silent else 0
    assert "Alert tuning" in report and report.count("Plotly.newPlot") == 8 - named + 1
    for section in ("Pareto", "SLO burn-rate", "Exported files", "Notifications the routing"):
        assert section in report
    assert "tune_environment" not in report and "Traceback" not in report


def test_a_bad_rule_file_is_bad_input(sandbox: Any, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text("groups:\n- name: g\n  rules:\n  - alert: X\n    expr: up == 0\n    for: 5x\n")
    done = run_cli(
        "--outputs", str(tmp_path / "out"), "run", "alert_tuning", "--env", str(sandbox.env_file),
        "-p", "rules_file", str(bad),
    )  # fmt: skip
    assert done.returncode == 64, done.stdout + done.stderr
    assert "5x" in done.stderr and "Traceback" not in done.stderr


def test_an_unreachable_prometheus_is_unknown_not_missed_incidents(
    tmp_path: Path, closed_port: int
) -> None:
    env = tmp_path / "down.yaml"
    env.write_text(
        f"name: down\nprometheus: {{url: 'http://127.0.0.1:{closed_port}', job: tradeai-backend}}\n"
    )
    incidents = tmp_path / "incidents.json"
    now = time.time()
    incidents.write_text(json.dumps([
        {"name": f"spike-{n}", "start": now - n * 86400, "end": now - n * 86400 + 900,
         "kind": "error_rate"}
        for n in (1, 2, 3, 4)
    ]))  # fmt: skip
    outputs = tmp_path / "outputs"
    done = run_cli(
        "--outputs", str(outputs), "run", "alert_tuning", "--env", str(env),
        "-p", "window", "7d", "-p", "incidents_file", str(incidents),
    )  # fmt: skip
    summary = json.loads((outputs / "ledger.jsonl").read_text().splitlines()[-1])
    # Before: CRIT "0/4 known incidents", as if the rules had been measured and missed them.
    assert (done.returncode, summary["status"]) == (1, "UNKNOWN"), summary
    assert summary["headline"].startswith("Nothing was measured: no rule could be backtested")
    assert f"127.0.0.1:{closed_port}" in summary["headline"]
    severities = {f["severity"] for f in summary["findings"]}
    assert "CRIT" not in severities, summary["findings"]
    judged = [f for f in summary["findings"] if f["title"] == "Known incidents not judged"]
    assert judged and judged[0]["severity"] == "UNKNOWN"
