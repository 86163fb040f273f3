"""Notebooks find the workbook's history wherever they run: JupyterLab (the kernel in the
notebook's folder), papermill from another folder, or the scheduler; nothing is written
under ``notebooks/``."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from sreworkbook.reports.execute import execute

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.notebook, pytest.mark.integration]


def _files(folder: Path) -> set[Path]:
    return {p.relative_to(folder) for p in folder.rglob("*")}


@pytest.fixture
def workbook(sandbox: Any, tmp_path: Path) -> Path:
    """A workbook of its own: the notebooks, and the test sandbox as ``parameters/lab.yaml``."""
    folder = tmp_path / "workbook"
    shutil.copytree(ROOT / "notebooks", folder / "notebooks")
    (folder / "parameters").mkdir()
    shutil.copy(sandbox.env_file, folder / "parameters" / "lab.yaml")
    return folder


def _changes(nb: Any) -> str:
    """The text of the "what changed since the previous run" output."""
    for cell in nb.cells:
        if "reports.changes_since" in cell.source:
            return "".join(o.get("data", {}).get("text/html", "") for o in cell.outputs)
    raise AssertionError("no changes_since cell")


def test_history_is_found_from_the_notebook_folder_and_from_elsewhere(
    cli: Any, workbook: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    done = cli("--root", str(workbook), "run", "health_inspection", "--env", "lab")
    assert done.returncode in (0, 1), done.stdout + done.stderr
    assert (workbook / "outputs" / "ledger.jsonl").is_file()
    before = _files(workbook / "notebooks")
    notebook = workbook / "notebooks" / "health_inspection.ipynb"

    # As JupyterLab runs it: the kernel's cwd is the notebook's folder, parameters as saved.
    lab = execute(notebook, tmp_path / "lab.ipynb", {"env": "lab"}, cwd=notebook.parent)
    assert "Since the previous run" in _changes(lab) or "No change since" in _changes(lab)

    # papermill from another folder: SREWORKBOOK_HOME names the workbook.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.setenv("SREWORKBOOK_HOME", str(workbook))
    far = execute(notebook, tmp_path / "far.ipynb", {"env": "lab"}, cwd=elsewhere)
    assert "First run" not in _changes(far)
    monkeypatch.delenv("SREWORKBOOK_HOME")

    # ... or an environment file given by its path.
    env_file = str(workbook / "parameters" / "lab.yaml")
    by_path = execute(notebook, tmp_path / "path.ipynb", {"env": env_file}, cwd=elsewhere)
    assert "First run" not in _changes(by_path)

    assert _files(workbook / "notebooks") == before
    assert list(elsewhere.iterdir()) == []


def test_the_backup_runbook_keeps_its_manifests_in_the_outputs(
    workbook: Path, tmp_path: Path
) -> None:
    before = _files(workbook / "notebooks")
    notebook = workbook / "notebooks" / "runbooks" / "backup_failure.ipynb"
    execute(notebook, tmp_path / "backup.ipynb", {"env": "lab"}, cwd=notebook.parent)
    assert _files(workbook / "notebooks") == before
    assert list((workbook / "outputs" / "backup-manifests").iterdir())
