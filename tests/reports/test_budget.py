"""A run's budget: where it comes from, how the data sources feel it, and TIMEOUT when it fires."""

from __future__ import annotations

import json
import time
from pathlib import Path

import nbformat
import pytest
from tests.support.http import Route, canned_server

from sreworkbook.config import load_environment
from sreworkbook.exceptions import ParameterError
from sreworkbook.reports import Ledger, RunRequest, run_notebook
from sreworkbook.reports.budget import DEFAULT_BUDGET, Budget, declared_budget, resolve_budget
from sreworkbook.results import Status
from support.workbook import probe_workbook


@pytest.fixture
def workbook(tmp_path: Path) -> Path:
    return probe_workbook(tmp_path)


def _declare(notebook: Path, budget: object) -> None:
    nb = nbformat.read(str(notebook), as_version=4)
    nb.metadata["sreworkbook"] = {"budget": budget}
    nbformat.write(nb, str(notebook))


def test_a_notebook_without_a_budget_gets_the_default(workbook: Path) -> None:
    assert declared_budget(workbook / "notebooks" / "probe.ipynb") == DEFAULT_BUDGET


def test_environment_and_command_line_override_the_notebook(workbook: Path) -> None:
    probe = workbook / "notebooks" / "probe.ipynb"
    _declare(probe, {"deadline_s": 120, "cell_timeout_s": 60})
    (workbook / "parameters" / "test.yaml").write_text(
        "name: test\nbudgets:\n  '*': {cell_timeout_s: 50}\n  probe: {deadline_s: 90}\n"
    )
    env = load_environment("test", root=workbook)
    assert declared_budget(probe) == Budget(120, 60)
    assert resolve_budget(probe, env) == Budget(90, 50)
    assert resolve_budget(probe, env, deadline_s=30) == Budget(30, 50)
    assert resolve_budget(probe, env, cell_timeout_s=5) == Budget(90, 5)


@pytest.mark.parametrize(
    ("declared", "message"),
    [
        ({"deadline_s": -1}, "sreworkbook.budget.deadline_s: expected a positive number"),
        ({"deadline": 10}, "sreworkbook.budget.deadline: expected deadline_s or cell_timeout_s"),
        ("ten minutes", "sreworkbook.budget: must be a mapping"),
    ],
)
def test_a_bad_declared_budget_names_the_key(
    workbook: Path, declared: object, message: str
) -> None:
    probe = workbook / "notebooks" / "probe.ipynb"
    _declare(probe, declared)
    with pytest.raises(ParameterError, match=message):
        declared_budget(probe)


def test_the_sources_stop_before_the_run_does() -> None:
    assert Budget(600, 300).sources_s == 480  # a fifth kept for the rest of the run
    assert Budget(20, 10).sources_s == 15  # at least 5 s kept
    assert Budget(6, 6).sources_s == 3  # never more than half


def _run(root: Path, **options: object) -> object:
    params = options.pop("parameters", {})
    request = RunRequest(
        notebook="probe",
        env="test",
        root=root,
        outputs=root / "outputs",
        parameters=params,  # type: ignore[arg-type]
        **options,  # type: ignore[arg-type]
    )
    return run_notebook(request, environ={})


def test_a_hanging_source_ends_at_the_sources_deadline_not_the_runs(workbook: Path) -> None:
    with canned_server({"/": Route(hang=True)}) as server:
        started = time.monotonic()
        outcome = _run(
            workbook, deadline_s=24.0, parameters={"mode": "source", "url": server.url + "/"}
        )
        took = time.monotonic() - started
    summary = outcome.summary  # type: ignore[attr-defined]
    # The edge's own policy would wait 4 × 60 s; the run's sources had 24 - 5 = 19 s.
    assert summary.status is Status.UNKNOWN, summary.headline
    assert took < 24
    assert len(server.seen) == 1
    executed = (outcome.run_dir / "probe.ipynb").read_text()  # type: ignore[attr-defined]
    assert "no answer from 127.0.0.1" in executed


def test_the_deadline_stops_the_run_as_timeout_with_the_cells_so_far(workbook: Path) -> None:
    started = time.monotonic()
    outcome = _run(workbook, deadline_s=15.0, parameters={"mode": "sleep"})
    took = time.monotonic() - started
    summary = outcome.summary  # type: ignore[attr-defined]
    assert summary.status is Status.TIMEOUT
    assert outcome.exit_code == 124  # type: ignore[attr-defined]
    assert took < 15 + 10  # the kernel's shutdown and the report
    # cell 5 of the executed notebook: papermill's injected parameters come first
    assert 'cell 5 (`if mode == "fail":`) was still running' in summary.headline
    assert "15 s deadline" in summary.headline
    report = (outcome.run_dir / "report.html").read_text()  # type: ignore[attr-defined]
    assert "Stopped here:" in report
    assert "Plotly.newPlot" in report  # the chart cell ran before the deadline
    assert "Traceback" not in report
    ledger = Ledger(workbook / "outputs" / "ledger.jsonl").runs()
    assert [(run.run_id, run.status) for run in ledger] == [(summary.run_id, Status.TIMEOUT)]
    saved = json.loads((outcome.run_dir / "summary.json").read_text())  # type: ignore[attr-defined]
    assert saved["status"] == "TIMEOUT"


def test_a_cell_past_its_own_timeout_is_a_timeout_too(workbook: Path) -> None:
    outcome = _run(workbook, cell_timeout_s=4.0, parameters={"mode": "sleep"})
    summary = outcome.summary  # type: ignore[attr-defined]
    assert summary.status is Status.TIMEOUT
    assert "ran past its 4 s timeout" in summary.headline
