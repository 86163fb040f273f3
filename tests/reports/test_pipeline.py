"""The run contract end to end with a tiny probe notebook (a real kernel, real papermill)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from sreworkbook.exceptions import MissingFileError, ParameterError
from sreworkbook.reports import Ledger, RunRequest, run_notebook
from sreworkbook.results import Status

FIXTURES = Path(__file__).parent.parent / "fixtures"


@pytest.fixture
def workbook(tmp_path: Path) -> Path:
    (tmp_path / "parameters").mkdir()
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "parameters" / "test.yaml").write_text(
        "name: test\nmongodb:\n  uri: ${SWB_TEST_MONGO_URI}\n"
    )
    shutil.copy(FIXTURES / "notebooks" / "probe.ipynb", tmp_path / "notebooks")
    return tmp_path


def _run(root: Path, environ: dict[str, str] | None = None, **params: str):  # type: ignore[no-untyped-def]
    request = RunRequest(
        notebook="probe", env="test", root=root, outputs=root / "outputs", parameters=params
    )
    return run_notebook(request, environ=environ or {})


def test_ok_run_writes_the_contract(workbook: Path) -> None:
    outcome = _run(workbook, repeat="3")
    assert outcome.exit_code == 0
    files = sorted(p.name for p in outcome.run_dir.iterdir())
    assert files == ["probe.ipynb", "report.html", "summary.json"]
    summary = json.loads((outcome.run_dir / "summary.json").read_text())
    for key in (
        "notebook",
        "env",
        "run_id",
        "started_at",
        "finished_at",
        "duration_s",
        "status",
        "headline",
        "metrics",
        "findings",
        "parameters",
    ):
        assert key in summary
    assert summary["status"] == "OK"
    assert summary["metrics"] == {"repeat": 3.0}
    assert summary["parameters"]["repeat"] == 3
    ledger = Ledger(workbook / "outputs" / "ledger.jsonl").runs()
    assert [run.run_id for run in ledger] == [summary["run_id"]]
    report = (outcome.run_dir / "report.html").read_text()
    assert "import plotly" not in report  # no code
    assert "Plotly.newPlot" in report
    assert "../../../assets/plotly.min.js" in report
    assert (workbook / "outputs" / "assets" / "plotly.min.js").stat().st_size > 1_000_000
    assert len(report.encode()) < 500_000
    assert not (workbook / "outputs" / "index.html").exists()  # the index is the caller's


def test_crit_run_exits_1(workbook: Path) -> None:
    outcome = _run(workbook, mode="crit")
    assert outcome.summary.status is Status.CRIT
    assert outcome.exit_code == 1


def test_failing_notebook_is_kept_with_an_error_report(workbook: Path) -> None:
    outcome = _run(workbook, mode="fail")
    assert outcome.summary.status is Status.ERROR
    assert outcome.exit_code == 2
    assert "ValueError: the probe was asked to fail" in outcome.summary.headline
    report = (outcome.run_dir / "report.html").read_text()
    assert "This step failed" in report
    assert "Traceback" not in report
    executed = json.loads((outcome.run_dir / "probe.ipynb").read_text())
    assert any(
        o.get("output_type") == "error" for c in executed["cells"] for o in c.get("outputs", [])
    )


def test_notebook_refusing_its_parameters_is_bad_input(workbook: Path) -> None:
    with pytest.raises(ParameterError, match="repeat: must be positive"):
        _run(workbook, mode="bad")
    assert not list((workbook / "outputs").rglob("*.html"))
    ledger = Ledger(workbook / "outputs" / "ledger.jsonl")
    assert ledger.runs() == [] and ledger.unfinished() == []  # started, refused: no run


def test_silent_notebook_is_unknown(workbook: Path) -> None:
    outcome = _run(workbook, mode="silent")
    assert outcome.summary.status is Status.UNKNOWN


def test_secret_values_are_scrubbed_from_every_file(workbook: Path) -> None:
    canary = "canary-4f1e9b2c-secret"
    environ = {
        "SWB_TEST_CANARY": canary,
        "SWB_TEST_MONGO_URI": f"mongodb://app:{canary}@db:27017/",
    }
    # The notebook prints the value it read from its environment: the pipeline must scrub it.
    import os

    os.environ["SWB_TEST_CANARY"] = canary
    try:
        outcome = _run(workbook, environ, mode="secret")
    finally:
        del os.environ["SWB_TEST_CANARY"]
    hits = [
        p
        for p in (workbook / "outputs").rglob("*")
        if p.is_file() and canary in p.read_text(errors="ignore")
    ]
    assert hits == []
    assert "value is ***" in (outcome.run_dir / "report.html").read_text()


def test_unknown_parameter_is_bad_input_and_writes_nothing(workbook: Path) -> None:
    with pytest.raises(ParameterError, match="colour.*unknown parameter"):
        _run(workbook, colour="blue")
    with pytest.raises(ParameterError, match="repeat.*expected int"):
        _run(workbook, repeat="many")
    assert not (workbook / "outputs").exists()


def test_missing_notebook_and_environment(workbook: Path) -> None:
    with pytest.raises(MissingFileError):
        run_notebook(
            RunRequest(notebook="nope", env="test", root=workbook, outputs=workbook / "o"),
            environ={},
        )
    with pytest.raises(MissingFileError, match="nope.yaml"):
        run_notebook(
            RunRequest(notebook="probe", env="nope", root=workbook, outputs=workbook / "o"),
            environ={},
        )
    assert not (workbook / "o").exists()


def test_the_kernels_own_stderr_never_reaches_the_terminal(
    workbook: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    outcome = _run(workbook, mode="noise")
    assert outcome.summary.status is Status.OK
    assert "kernel noise" not in capfd.readouterr().err
