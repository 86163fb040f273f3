"""The exported Airflow DAG, run for real with ``airflow dags test`` on the sandbox.

Airflow lives in its own venv (``airflow_python``); its task runs the project's
``sreworkbook``, as a worker with the workbook installed would. One DAG runs the health
inspection (the run lands in the ledger and the index), one a notebook that fails (the task
fails, and its log carries the workbook's exit code, 2).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from sreworkbook.schedule import Schedule
from sreworkbook.schedule.export import ExportOptions, export
from sreworkbook.schedule.export.airflow import dag_id
from support.ledger import summaries

ROOT = Path(__file__).resolve().parents[2]
PROBE = ROOT / "tests" / "fixtures" / "notebooks" / "probe.ipynb"
pytestmark = [pytest.mark.airflow, pytest.mark.integration, pytest.mark.notebook]


class Airflow:
    """``airflow`` of the Airflow venv, with its own home, DAG folder and SQLite database."""

    def __init__(self, python: Path, home: Path) -> None:
        self.binary = python.parent / "airflow"
        self.home = home
        self.env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
        self.env.update(
            AIRFLOW_HOME=str(home),
            AIRFLOW__CORE__DAGS_FOLDER=str(home / "dags"),
            AIRFLOW__CORE__LOAD_EXAMPLES="False",
            AIRFLOW__CORE__UNIT_TEST_MODE="False",
        )

    def __call__(self, *args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.binary), *args],
            capture_output=True, text=True, timeout=timeout, env=self.env, cwd=self.home,
        )  # fmt: skip


@pytest.fixture(scope="module")
def dags(
    airflow_python: Path, sandbox: Any, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Airflow, Path, Schedule]:
    """The DAG file of a two-job schedule, exported into a fresh Airflow home."""
    home = tmp_path_factory.mktemp("airflow-home")
    outputs = home / "outputs"
    schedule = Schedule.model_validate(
        {
            "jobs": [
                {"name": "health-inspection", "notebook": "health_inspection",
                 "env": str(sandbox.env_file), "cron": "*/15 * * * *", "timeout_s": 600},
                {"name": "broken-probe", "notebook": str(PROBE), "env": str(sandbox.env_file),
                 "cron": "0 6 * * *", "parameters": {"mode": "fail"}, "timeout_s": 600},
            ]
        }
    )  # fmt: skip
    options = ExportOptions(
        workdir=str(ROOT),
        command=str(Path(sys.executable).parent / "sreworkbook"),
        outputs=str(outputs),
    )
    export(schedule, "airflow", home / "dags", options)
    airflow = Airflow(airflow_python, home)
    migrated = airflow("db", "migrate")
    assert migrated.returncode == 0, migrated.stdout[-2000:] + migrated.stderr[-2000:]
    return airflow, outputs, schedule


def _ledger(outputs: Path) -> list[dict[str, Any]]:
    return summaries(outputs / "ledger.jsonl")  # finished runs, not their start lines


def test_dags_test_runs_the_health_inspection_into_the_ledger_and_index(
    dags: tuple[Airflow, Path, Schedule], sandbox: Any
) -> None:
    sandbox.require("api", "mongodb", "redis", "ai")
    airflow, outputs, schedule = dags
    before = len(_ledger(outputs))
    done = airflow("dags", "test", dag_id(schedule.get("health-inspection")))
    log = done.stdout + done.stderr
    assert done.returncode == 0, log[-5000:]
    assert "Command exited with return code 0" in log
    assert "health_inspection on sandbox-test:" in log  # the workbook's own result line
    runs = _ledger(outputs)
    assert len(runs) == before + 1
    run = runs[-1]
    assert (run["notebook"], run["env"]) == ("health_inspection", "sandbox-test")
    assert run["status"] in ("OK", "WARN"), run["findings"]
    assert (outputs / run["report"]).is_file()
    index = (outputs / "index.html").read_text()
    assert run["report"] in index


def test_a_failing_notebook_fails_the_task_with_the_workbook_exit_code(
    dags: tuple[Airflow, Path, Schedule],
) -> None:
    airflow, outputs, schedule = dags
    before = len(_ledger(outputs))
    done = airflow("dags", "test", dag_id(schedule.get("broken-probe")))
    log = done.stdout + done.stderr
    assert done.returncode != 0, log[-5000:]
    assert "Command exited with return code 2" in log
    assert "non-zero exit code 2" in log
    assert "ERROR   probe on sandbox-test: The notebook failed at cell" in log
    runs = _ledger(outputs)
    assert len(runs) == before + 1
    assert (runs[-1]["notebook"], runs[-1]["status"]) == ("probe", "ERROR")
    assert runs[-1]["report"] in (outputs / "index.html").read_text()
