"""The run contract: execute one notebook, keep the executed copy, report, summary and ledger line.

A run writes a start line to the ledger, then works in a hidden staging folder renamed into
place only when every file is complete, and appends its summary line after that: a killed run
never looks finished, and never vanishes either (the index shows it ABORTED once its deadline
has passed; the next run removes its staging folder).
Rebuilding the index after a run is the caller's (:func:`sreworkbook.index.cli.run_to_outputs`).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import nbformat

from sreworkbook.config import Environment, environment_path, load_environment
from sreworkbook.edges.retry import RUN_DEADLINE_ENV
from sreworkbook.exceptions import (
    MissingFileError,
    NotebookError,
    NotebookTimeout,
    OutputError,
    ParameterError,
)
from sreworkbook.reports.assets import ensure_assets
from sreworkbook.reports.budget import Budget, resolve_budget
from sreworkbook.reports.execute import (
    CellStart,
    Limits,
    coerce_parameters,
    declared_parameters,
    execute,
)
from sreworkbook.reports.ledger import Ledger, RunStart
from sreworkbook.reports.render import render_report
from sreworkbook.reports.summary import extract
from sreworkbook.results import Finding, RunSummary, Status
from sreworkbook.secrets import Scrubber

__all__ = ["BAD_INPUT_ERRORS", "RunOutcome", "RunRequest", "find_notebook", "run_notebook"]

#: Errors a notebook raises when its parameters or files are wrong: the run exits 64.
BAD_INPUT_ERRORS = frozenset({"ParameterError", "MissingFileError", "SecretError"})


@dataclass(frozen=True)
class RunRequest:
    """What to run: a notebook on an environment, with ``-p`` overrides as given."""

    notebook: str
    env: str
    root: Path
    outputs: Path
    parameters: Mapping[str, str] = field(default_factory=dict)
    #: Overrides of the notebook's budget (``--cell-timeout``, ``--deadline``).
    cell_timeout_s: float | None = None
    deadline_s: float | None = None
    #: Called as each code cell starts (progress on a terminal); not part of the run's record.
    on_cell: Callable[[CellStart], None] | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class RunOutcome:
    summary: RunSummary
    run_dir: Path

    @property
    def exit_code(self) -> int:
        return self.summary.status.exit_code

    @property
    def report(self) -> Path:
        return self.run_dir / "report.html"


def find_notebook(name: str, *, root: Path) -> Path:
    """``name`` as a path, or ``notebooks/NAME.ipynb`` (also under ``notebooks/runbooks``)."""
    direct = Path(name)
    candidates = [direct if direct.is_absolute() else root / direct]
    stem = name[:-6] if name.endswith(".ipynb") else name
    candidates += [
        root / "notebooks" / f"{stem}.ipynb",
        root / "notebooks/runbooks" / f"{stem}.ipynb",
    ]
    for candidate in candidates:
        if candidate.is_file():
            return candidate.resolve()
    raise MissingFileError(name, what="notebook")


def _utc(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def run_notebook(
    request: RunRequest,
    *,
    environ: Mapping[str, str],
    clock: Callable[[], float] = time.time,
) -> RunOutcome:
    """Run ``request`` under the run contract (README "Exit codes"); bad input raises first.

    :class:`~sreworkbook.exceptions.ParameterError` (exit 64) is raised before anything is
    written. A notebook that fails still yields an outcome: status ERROR, its report says why.
    """
    notebook = find_notebook(request.notebook, root=request.root)
    env_file = environment_path(request.env, root=request.root)
    environment = load_environment(str(env_file), root=request.root)
    declared = declared_parameters(notebook)
    parameters: dict[str, Any] = coerce_parameters(
        declared, request.parameters, notebook=str(notebook)
    )
    if "env" in declared:
        parameters["env"] = str(env_file)
    if "outputs_dir" in declared:
        parameters["outputs_dir"] = str(request.outputs.resolve())
    budget = resolve_budget(
        notebook, environment, deadline_s=request.deadline_s, cell_timeout_s=request.cell_timeout_s
    )

    started = clock()
    limits = Limits(
        cell_timeout_s=budget.cell_timeout_s,
        deadline=time.monotonic() + budget.deadline_s,
        kernel_env={RUN_DEADLINE_ENV: f"{started + budget.sources_s:.3f}"},
        clock=time.monotonic,
    )
    stem = notebook.stem
    run_id = (
        f"{datetime.fromtimestamp(started, UTC):%Y%m%dT%H%M%SZ}-{stem}-{environment.name}-"
        f"{secrets.token_hex(3)}"
    )
    day_dir = request.outputs / "runs" / f"{datetime.fromtimestamp(started, UTC):%Y-%m-%d}"
    staging = day_dir / f".staging-{run_id}"
    final = day_dir / run_id
    ledger = Ledger(request.outputs / "ledger.jsonl")
    _sweep_abandoned(request.outputs, ledger, now=datetime.fromtimestamp(started, UTC))
    try:
        staging.mkdir(parents=True)
    except OSError as exc:
        raise OutputError(f"cannot create {staging}: {exc}") from exc
    ledger.start(
        RunStart(
            run_id=run_id,
            notebook=stem,
            env=environment.name,
            started_at=_utc(started),
            deadline_at=_utc(started + budget.deadline_s),
            staging=staging.relative_to(request.outputs).as_posix(),
        )
    )

    executed_path = staging / f"{stem}.ipynb"
    failure: NotebookError | None = None
    try:
        execute(
            notebook,
            executed_path,
            parameters,
            cwd=request.root,
            limits=limits,
            on_cell=request.on_cell,
        )
    except NotebookError as exc:
        if exc.ename in BAD_INPUT_ERRORS:
            # The notebook refused its parameters: bad input, like a bad -p before the run.
            shutil.rmtree(staging, ignore_errors=True)
            ledger.refused(run_id)
            raise ParameterError(str(exc.evalue), source=str(notebook)) from exc
        failure = exc
    finished = clock()

    scrubber = Scrubber.from_references(environment.secret_references(), environ)
    nb = _read_executed(executed_path, notebook)
    if isinstance(failure, NotebookTimeout):
        _mark_stopped(nb, failure, budget)
    summary = _summarise(nb, failure, budget)
    summary = replace(
        summary,
        notebook=stem,
        env=environment.name,
        run_id=run_id,
        started_at=_utc(started),
        finished_at=_utc(finished),
        duration_s=finished - started,
        parameters=_shown_parameters(environment, parameters),
        report=f"runs/{day_dir.name}/{run_id}/report.html",
    )
    summary = RunSummary.from_dict(json.loads(scrubber.scrub(summary.to_json())))
    try:
        ensure_assets(request.outputs)
        report = render_report(
            nb,
            summary,
            assets_href="../../../assets",
            notebook_href=f"{stem}.ipynb",
            summary_href="summary.json",
        )
        _write(staging / "report.html", scrubber.scrub(report))
        _write(staging / "summary.json", json.dumps(summary.to_dict(), indent=2) + "\n")
        _write(executed_path, scrubber.scrub(nbformat.writes(nb)))
        os.replace(staging, final)
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise OutputError(f"cannot write the run's outputs under {day_dir}: {exc}") from exc
    ledger.append(summary)
    return RunOutcome(summary=summary, run_dir=final)


def _sweep_abandoned(outputs: Path, ledger: Ledger, *, now: datetime) -> None:
    """Remove the staging folders of runs that will never finish (their deadline is past)."""
    if not any(outputs.glob("runs/*/.staging-*")):
        return  # the usual case: no need to read the ledger
    for start in ledger.unfinished():
        if start.staging and start.abandoned(now):
            folder = outputs / start.staging
            if folder.name.startswith(".staging-") and folder.is_dir():
                shutil.rmtree(folder, ignore_errors=True)


def _read_executed(path: Path, source: Path) -> Any:
    """The executed notebook; if the kernel never started, the source marked as not run."""
    try:
        return nbformat.read(str(path), as_version=4)
    except (OSError, ValueError):
        return nbformat.read(str(source), as_version=4)


def _mark_stopped(nb: Any, stopped: NotebookTimeout, budget: Budget) -> None:
    """Say in the running cell's outputs that the run stopped it there (the report shows it)."""
    cells = nb.get("cells", [])
    if stopped.index is None or not 0 <= stopped.index < len(cells):
        return
    nb.cells[stopped.index].setdefault("outputs", []).append(
        nbformat.v4.new_output(
            "display_data",
            data={"text/markdown": f"**Stopped here:** {_stopped_why(stopped, budget)}."},
        )
    )


def _stopped_why(stopped: NotebookTimeout, budget: Budget) -> str:
    cell = f"cell {stopped.cell}" if stopped.cell is not None else "a cell"
    if stopped.first_line:
        cell += f" (`{stopped.first_line[:80]}`)"
    if stopped.deadline:
        return f"{cell} was still running when the run's {budget.deadline_s:g} s deadline passed"
    return f"{cell} ran past its {budget.cell_timeout_s:g} s timeout"


def _summarise(nb: Any, failure: NotebookError | None, budget: Budget) -> RunSummary:
    published = extract(nb)
    if isinstance(failure, NotebookTimeout):
        why = _stopped_why(failure, budget)
        return RunSummary(
            status=Status.TIMEOUT,
            headline=f"The run was stopped: {why}.",
            metrics=published.metrics if published else {},
            findings=(
                Finding(
                    Status.TIMEOUT, "Run stopped by its budget", f"{why} ({budget.describe()})"
                ),
                *(published.findings if published else ()),
            ),
        )
    if failure is not None:
        where = f"at cell {failure.cell}" if failure.cell is not None else ""
        cause = f"{failure.ename}: {failure.evalue}" if failure.ename else str(failure)
        return RunSummary(
            status=Status.ERROR,
            headline=f"The notebook failed {where}: {cause}".replace("  ", " "),
            metrics=published.metrics if published else {},
            findings=(Finding(Status.ERROR, "Notebook failed", str(failure)),),
        )
    if published is None:
        return RunSummary(
            status=Status.UNKNOWN,
            headline="The notebook finished without publishing a summary.",
            findings=(Finding(Status.UNKNOWN, "No summary", "emit() was never displayed"),),
        )
    return published


def _shown_parameters(environment: Environment, parameters: Mapping[str, Any]) -> dict[str, Any]:
    shown = {k: v for k, v in parameters.items() if k not in ("env", "outputs_dir")}
    shown["env"] = environment.name
    shown["environment"] = environment.masked()
    return shown


def _write(path: Path, text: str) -> None:
    partial = path.with_name(f".{path.name}.partial")
    with partial.open("w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(partial, path)
