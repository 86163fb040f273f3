"""Nothing vanishes: a run killed from outside shows as ABORTED and its staging folder goes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sreworkbook.index import build_index
from sreworkbook.index.ledger_lines import read_ledger
from sreworkbook.index.retention import RetentionPolicy, prune
from sreworkbook.index.storage import LocalOutputs
from sreworkbook.reports import Ledger, RunRequest, run_notebook
from sreworkbook.reports.execute import CellStart
from sreworkbook.reports.ledger import ABORT_GRACE_S, RunStart
from sreworkbook.results import Status
from support.workbook import probe_workbook


@pytest.fixture
def workbook(tmp_path: Path) -> Path:
    return probe_workbook(tmp_path)


def test_a_run_writes_its_start_before_it_runs_a_cell(workbook: Path) -> None:
    ledger = Ledger(workbook / "outputs" / "ledger.jsonl")
    seen: list[list[str]] = []

    def on_cell(cell: CellStart) -> None:
        seen.append([start.run_id for start in ledger.unfinished()])

    request = RunRequest(
        notebook="probe",
        env="test",
        root=workbook,
        outputs=workbook / "outputs",
        deadline_s=120.0,
        on_cell=on_cell,
    )
    outcome = run_notebook(request, environ={})
    run_id = outcome.summary.run_id
    assert seen and all(ids == [run_id] for ids in seen)  # started, not yet finished
    assert ledger.unfinished() == []
    assert [run.run_id for run in ledger.runs()] == [run_id]  # one run, not two
    start = json.loads(ledger.path.read_text().splitlines()[0])
    assert start["event"] == "start" and start["run_id"] == run_id
    began = datetime.fromisoformat(start["started_at"])
    assert datetime.fromisoformat(start["deadline_at"]) - began == timedelta(seconds=120)


def _kill_mid_run(workbook: Path) -> tuple[str, Path]:
    """``sreworkbook run`` killed with SIGKILL (its kernel too) while a cell sleeps."""
    outputs = workbook / "outputs"
    process = subprocess.Popen(
        [sys.executable, "-m", "sreworkbook", "--root", str(workbook), "--outputs", str(outputs),
         "run", "probe", "--env", "test", "--deadline", "60", "-p", "mode", "sleep"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    try:
        executed: list[Path] = []
        limit = time.monotonic() + 120
        while not executed and time.monotonic() < limit:  # the executed copy: cells are running
            executed = list(outputs.glob("runs/*/.staging-*/probe.ipynb"))
            time.sleep(0.2)
        assert executed, "the run never started its cells"
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)
    staging = executed[0].parent
    return staging.name.removeprefix(".staging-"), staging


def test_a_killed_run_is_aborted_once_past_its_deadline_and_its_staging_is_swept(
    workbook: Path,
) -> None:
    run_id, staging = _kill_mid_run(workbook)
    outputs = workbook / "outputs"
    ledger = Ledger(outputs / "ledger.jsonl")
    [start] = ledger.unfinished()
    assert start.run_id == run_id and start.staging == staging.relative_to(outputs).as_posix()
    deadline = datetime.fromisoformat(start.deadline_at)

    before = deadline + timedelta(seconds=ABORT_GRACE_S - 1)  # may still write its summary
    assert list(read_ledger(ledger.path, now=before)) == []
    after = deadline + timedelta(seconds=ABORT_GRACE_S + 1)
    [aborted] = read_ledger(ledger.path, now=after)
    assert (aborted.status, aborted.run_id, aborted.notebook) == (Status.ABORTED, run_id, "probe")
    assert "never finished" in aborted.headline
    page = build_index(outputs, now=after).read_text()
    assert "ABORTED" in page and "never finished" in page

    # Before its deadline, the next run leaves the folder alone (the run may be alive).
    run_notebook(
        RunRequest(notebook="probe", env="test", root=workbook, outputs=outputs), environ={}
    )
    assert staging.is_dir()
    # Past it, prune removes it, and keeps the ABORTED run on the index like any run.
    result = prune(LocalOutputs(outputs), RetentionPolicy(), now=after)
    assert [r.reason for r in result.removed] == ["left by a run that never finished (ABORTED)"]
    assert not staging.exists()
    assert "ABORTED" in (outputs / "index.html").read_text()


def test_the_next_run_sweeps_a_staging_folder_past_its_deadline(workbook: Path) -> None:
    outputs = workbook / "outputs"
    ledger = Ledger(outputs / "ledger.jsonl")
    old = "20260101T000000Z-probe-test-abcdef"
    staging = outputs / "runs" / "2026-01-01" / f".staging-{old}"
    staging.mkdir(parents=True)
    (staging / "probe.ipynb").write_text("{}")
    ledger.start(
        RunStart(old, "probe", "test", "2026-01-01T00:00:00Z", "2026-01-01T00:05:00Z",
                 staging.relative_to(outputs).as_posix())
    )  # fmt: skip
    outcome = run_notebook(
        RunRequest(notebook="probe", env="test", root=workbook, outputs=outputs), environ={}
    )
    assert not staging.exists()
    assert outcome.run_dir.is_dir()
    now = datetime.now(UTC)
    statuses = {line.run_id: line.status for line in read_ledger(ledger.path, now=now)}
    assert statuses == {old: Status.ABORTED, outcome.summary.run_id: Status.OK}
