"""Fixtures for the scheduler: a throw-away workbook, its schedule, and Airflow's own venv."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).parent / "fixtures"
PROBE = ROOT / "tests" / "fixtures" / "notebooks" / "probe.ipynb"

#: Airflow lives apart from the workbook's venv (its pins would fight ours), pinned so that a
#: test run is repeatable. Install time is printed; in CI a failed install fails the run.
AIRFLOW_VERSION = "3.3.2"
AIRFLOW_VENV = ROOT / ".tools" / "airflow-venv"


@pytest.fixture
def workbook(tmp_path: Path) -> Path:
    """A workbook root with the probe and flaky notebooks and a ``test`` environment."""
    (tmp_path / "parameters").mkdir()
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "parameters" / "test.yaml").write_text("name: test\n")
    shutil.copy(PROBE, tmp_path / "notebooks")
    shutil.copy(FIXTURES / "flaky.ipynb", tmp_path / "notebooks")
    return tmp_path


@pytest.fixture
def write_schedule(workbook: Path) -> Callable[[str], Path]:
    """Write ``parameters/schedule.yaml`` of the temporary workbook."""

    def write(body: str) -> Path:
        path = workbook / "parameters" / "schedule.yaml"
        path.write_text(body)
        return path

    return write


@pytest.fixture
def schedule_command() -> Callable[..., list[str]]:
    """``python -m sreworkbook.schedule --root ROOT --outputs ROOT/outputs ARGS``."""

    def command(root: Path, *args: str) -> list[str]:
        head = [sys.executable, "-m", "sreworkbook.schedule", "--root", str(root)]
        return [*head, "--outputs", str(root / "outputs"), *args]

    return command


@pytest.fixture(scope="session")
def airflow_python() -> Path:
    """Python of a venv with apache-airflow, created on first use (minutes; timed)."""
    python = AIRFLOW_VENV / "bin" / "python"
    marker = AIRFLOW_VENV / f".airflow-{AIRFLOW_VERSION}"
    if marker.is_file():
        return python
    started = time.monotonic()
    try:
        subprocess.run(
            [sys.executable, "-m", "venv", "--clear", str(AIRFLOW_VENV)],
            check=True,
            capture_output=True,
            timeout=300,
        )
        subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", f"apache-airflow=={AIRFLOW_VERSION}"],
            check=True,
            capture_output=True,
            text=True,
            timeout=1500,
        )
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as exc:
        detail = getattr(exc, "stderr", "") or str(exc)
        message = f"cannot install apache-airflow=={AIRFLOW_VERSION}: {str(detail)[-2000:]}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    marker.write_text(f"installed in {time.monotonic() - started:.0f} s\n")
    print(f"\napache-airflow {AIRFLOW_VERSION} installed in {time.monotonic() - started:.0f} s")
    return python
