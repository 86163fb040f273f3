"""The metrics dashboard end to end through `sreworkbook run` on the sandbox's real Prometheus."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from support.cli import run_cli
from support.contract import DASHBOARD_METRICS as CONTRACT

pytestmark = [pytest.mark.notebook, pytest.mark.integration]


def dashboard(outputs: Path, env_file: Path, **params: str) -> Any:
    """``sreworkbook run metrics_dashboard`` into ``outputs``, with ``-p NAME VALUE`` each."""
    pairs = [part for name, value in params.items() for part in ("-p", name, value)]
    return run_cli(
        "--outputs", str(outputs), "run", "metrics_dashboard", "--env", str(env_file), *pairs
    )


def spike(sandbox: Any) -> dict[str, str]:
    incidents = json.loads(sandbox.state.incidents_file.read_text())
    return next(i for i in incidents if i["kind"] == "error_rate")


def test_last_day_is_ok_with_every_panel(
    cli: Any, last_run: Any, sandbox: Any, tmp_path: Path
) -> None:
    sandbox.require("prometheus")
    # A quiet day of the backfilled history, ending two hours before the planted error spike:
    # away from the incidents and from live data (other tests flip the fault switch).
    quiet_end = datetime.fromisoformat(spike(sandbox)["start"].replace("Z", "+00:00"))
    done = dashboard(tmp_path, sandbox.env_file, end=(quiet_end - timedelta(hours=2)).isoformat())
    assert done.returncode == 0, done.stdout + done.stderr
    summary, run_dir = last_run(tmp_path)
    assert summary["status"] == "OK", summary["findings"]
    assert set(CONTRACT) <= set(summary["metrics"])
    m = summary["metrics"]
    assert m["p50_ms"] < m["p95_ms"] < m["p99_ms"] < 2000
    assert 0 < m["error_rate"] < 0.01 and m["availability"] > 0.999
    assert 200 < m["rpm"] < 1500  # the sandbox serves about 10 requests/s on average
    report = (run_dir / "report.html").read_text()
    assert report.count("Plotly.newPlot") == 9  # 8 time series and the web vitals
    assert "no data" not in report


def test_error_spike_window_is_crit(cli: Any, last_run: Any, sandbox: Any, tmp_path: Path) -> None:
    sandbox.require("prometheus")
    incident = spike(sandbox)
    done = dashboard(
        tmp_path, sandbox.env_file, start=incident["start"], end=incident["end"], step="1m"
    )
    assert done.returncode == 1, done.stdout + done.stderr
    summary, _ = last_run(tmp_path)
    assert summary["status"] == "CRIT"
    assert summary["metrics"]["error_rate"] > 0.05
    assert any(f["title"] == "Error rate above threshold" for f in summary["findings"])


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"start": "2026-11-02T00:00:00Z", "end": "2026-11-01T00:00:00Z"}, "start"),
        ({"window": "24x"}, "window"),
        ({"window": "30d", "step": "1s"}, "step"),
    ],
)
def test_bad_window_is_bad_input(
    sandbox: Any, tmp_path: Path, params: dict[str, str], message: str
) -> None:
    done = dashboard(tmp_path, sandbox.env_file, **params)
    assert done.returncode == 64, done.stdout + done.stderr
    assert message in done.stderr and "Traceback" not in done.stderr


def test_prometheus_down_is_unknown_with_a_report(cli: Any, last_run: Any, tmp_path: Path) -> None:
    env_file = tmp_path / "down.yaml"
    env_file.write_text("name: down\nprometheus:\n  url: http://127.0.0.1:9\n  timeout_s: 1\n")
    done = dashboard(tmp_path / "out", env_file, window="1h")
    assert done.returncode == 1, done.stdout + done.stderr
    summary, run_dir = last_run(tmp_path / "out")
    assert summary["status"] == "UNKNOWN"
    assert "cannot connect" in json.dumps(summary["findings"])
    assert "no data" in (run_dir / "report.html").read_text()
