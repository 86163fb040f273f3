"""`pip install sreworkbook` alone runs the notebooks: a fresh venv with the base package only,
against the sandbox (which runs from the project venv)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from sreworkbook import sandbox as sandbox_stack

from .conftest import BaseVenv

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.install, pytest.mark.integration, pytest.mark.notebook]

EXTRAS_ONLY = {"moto", "aiosmtpd", "jupyterlab", "jupyter-server", "nbconvert", "polars", "pyarrow"}


def _run(python: Path, outputs: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return subprocess.run(
        [str(python), "-m", "sreworkbook", "--root", str(ROOT), "--outputs", str(outputs), *args],
        capture_output=True, text=True, timeout=600, check=False, env=env, cwd=outputs.parent,
    )  # fmt: skip


def _last(outputs: Path) -> dict[str, Any]:
    summary: dict[str, Any] = json.loads((outputs / "ledger.jsonl").read_text().splitlines()[-1])
    return summary


def _du_mib(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 2**20


def test_the_fresh_venv_holds_the_base_only(base_venv: BaseVenv) -> None:
    packages = base_venv.packages()
    assert "sreworkbook" in packages and "papermill" in packages and "ipykernel" in packages
    assert packages.isdisjoint(EXTRAS_ONLY), sorted(packages & EXTRAS_ONLY)
    site = next((base_venv.path / "lib").glob("python3*/site-packages"))
    size = _du_mib(site)
    print(f"\nbase venv: {len(packages)} packages, {size:.0f} MiB, installed in "
          f"{base_venv.install_s:.0f} s")  # fmt: skip
    assert size <= 0.45 * 993


def test_health_inspection_runs_from_the_base_install(
    base_venv: BaseVenv, sandbox: Any, tmp_path: Path
) -> None:
    sandbox.require("api", "mongodb", "redis", "ai")
    sandbox_stack.set_fault(sandbox.env)
    outputs = tmp_path / "outputs"
    done = _run(
        base_venv.python, outputs, "run", "health_inspection", "--env", str(sandbox.env_file)
    )
    assert done.returncode == 0, done.stdout + done.stderr
    summary = _last(outputs)
    assert summary["status"] in ("OK", "WARN"), summary["findings"]
    metrics = summary["metrics"]
    assert metrics["checks_crit"] == 0 and metrics["checks_total"] >= 12
    assert metrics["mongo_ping_ms"] > 0 and metrics["redis_ping_ms"] > 0
    run_dir = outputs / summary["report"].rsplit("/", 1)[0]
    assert {p.name for p in run_dir.iterdir()} == {
        "health_inspection.ipynb",
        "report.html",
        "summary.json",
    }
    assert "Plotly.newPlot" in (run_dir / "report.html").read_text()


def test_metrics_dashboard_from_the_base_install_matches_the_project_venv(
    base_venv: BaseVenv, sandbox: Any, tmp_path: Path
) -> None:
    """The same backfilled day, read by both installs: the same numbers."""
    sandbox.require("prometheus")
    incidents = json.loads(sandbox.state.incidents_file.read_text())
    spike = next(i for i in incidents if i["kind"] == "error_rate")
    end = datetime.fromisoformat(spike["start"].replace("Z", "+00:00")) - timedelta(hours=2)
    args = ("run", "metrics_dashboard", "--env", str(sandbox.env_file), "-p", "end")
    base = _run(base_venv.python, tmp_path / "base", *args, end.isoformat())
    assert base.returncode == 0, base.stdout + base.stderr
    project = _run(Path(sys.executable), tmp_path / "project", *args, end.isoformat())
    assert project.returncode == 0, project.stdout + project.stderr
    ours, theirs = _last(tmp_path / "base"), _last(tmp_path / "project")
    assert ours["status"] == theirs["status"] == "OK", ours["findings"]
    assert ours["metrics"].keys() == theirs["metrics"].keys()
    for name, value in theirs["metrics"].items():
        assert ours["metrics"][name] == pytest.approx(value, rel=1e-9, abs=1e-12), name
    assert 0 < ours["metrics"]["error_rate"] < 0.01
    assert ours["metrics"]["p50_ms"] < ours["metrics"]["p95_ms"] < ours["metrics"]["p99_ms"]
