"""The four runbook notebooks through `sreworkbook run` on the sandbox, around its planted
incidents (each runbook must see its own incident) and now (a healthy sandbox)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from sreworkbook.alerts.signal import rfc3339_ms
from sreworkbook.known_incidents import load_incidents
from support.cli import run_cli

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.notebook, pytest.mark.integration]
M = 60_000

#: runbook → (incident kind, expected status, exit code, a metric and its lower bound)
CASES = {
    "high_error_rate": ("error_rate", "CRIT", 1, "peak_error_rate", 0.05),
    "slow_api_response": ("latency", "WARN", 0, "peak_p95_ms", 2000.0),
    "high_memory_usage": ("memory", "CRIT", 1, "peak_memory_pct", 90.0),
    "database_issues": ("database", "CRIT", 1, "db_connection_failures", 10.0),
}


def latest(outputs: Path) -> dict[str, Any]:
    summary: dict[str, Any] = json.loads((outputs / "ledger.jsonl").read_text().splitlines()[-1])
    return summary


@pytest.mark.parametrize("runbook", sorted(CASES))
def test_each_runbook_finds_its_incident(runbook: str, sandbox: Any, tmp_path: Path) -> None:
    sandbox.require("prometheus", "api")
    kind, status, code, metric, least = CASES[runbook]
    incident = next(i for i in load_incidents(sandbox.state.incidents_file) if i.kind == kind)
    done = run_cli(
        "--outputs", str(tmp_path), "run", runbook, "--env", str(sandbox.env_file),
        "-p", "start", rfc3339_ms(incident.start_ms - 30 * M),
        "-p", "end", rfc3339_ms(incident.end_ms + 15 * M),
    )  # fmt: skip
    assert done.returncode == code, done.stdout + done.stderr
    summary = latest(tmp_path)
    assert summary["status"] == status, summary
    assert summary["metrics"][metric] > least, summary["metrics"]
    report = (tmp_path / summary["report"]).read_text()
    assert "Mitigation" in report and "Plotly.newPlot" in report
    assert "diagnose." not in report  # no code in the report
    if runbook == "high_error_rate":
        assert summary["metrics"]["top_route_failure_share"] > 0.8
        # A sentence a manager reads: when, against what, and where the failures were.
        assert re.fullmatch(
            r"The error rate peaked at [\d.]+% at \d{4}-\d\d-\d\d \d\d:\d\d UTC "
            r"\(the alert fires above \d+%\); (8\d|9\d|100)% of the [\d,]+ failed "
            r"requests were on /api/trades\.",
            summary["headline"],
        ), summary["headline"]
    if runbook == "database_issues":
        assert summary["metrics"]["mongodb_ping_ms"] > 0


@pytest.mark.parametrize("runbook", sorted(CASES))
def test_each_runbook_runs_on_the_last_hour(runbook: str, sandbox: Any, tmp_path: Path) -> None:
    sandbox.require("prometheus", "api")
    done = run_cli("--outputs", str(tmp_path), "run", runbook, "--env", str(sandbox.env_file))
    summary = latest(tmp_path)
    assert done.returncode in (0, 1), done.stdout + done.stderr
    assert summary["status"] in ("OK", "WARN", "CRIT"), summary
    assert summary["metrics"], summary


def test_an_alert_from_alertmanager_sets_the_window(sandbox: Any, tmp_path: Path) -> None:
    sandbox.require("prometheus", "api")
    incident = next(i for i in load_incidents(sandbox.state.incidents_file) if i.kind == "memory")
    alert = json.dumps(
        {
            "labels": {"alertname": "HighMemoryUsage", "severity": "critical"},
            "startsAt": rfc3339_ms(incident.start_ms),
        }
    )
    done = run_cli(
        "--outputs", str(tmp_path), "run", "high_memory_usage", "--env", str(sandbox.env_file),
        "-p", "labels", alert, "-p", "end", rfc3339_ms(incident.end_ms),
    )  # fmt: skip
    assert done.returncode == 1, done.stdout + done.stderr
    assert latest(tmp_path)["metrics"]["peak_memory_pct"] > 90


def test_labels_that_are_not_a_mapping_are_bad_input(sandbox: Any, tmp_path: Path) -> None:
    done = run_cli(
        "--outputs", str(tmp_path), "run", "high_error_rate", "--env", str(sandbox.env_file),
        "-p", "labels", "[1, 2]",
    )  # fmt: skip
    assert done.returncode == 64, done.stdout + done.stderr
    assert "labels" in done.stderr and "Traceback" not in done.stderr
