"""``sreworkbook outputs ...``: retention of the outputs root, local or ``s3://``.

Wired into the main command by ``register(subparsers, expected=...)``, where ``expected``
gives the schedule's expectations for the index (the caller knows the schedule; the index
does not); each handler takes ``(args, root, outputs)`` and returns the exit code (README,
"Exit codes"). :func:`resolve_outputs` and :func:`run_to_outputs` are for the main command's
``--outputs`` (or ``$SREWORKBOOK_OUTPUTS``): a folder, or an S3 URL.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sreworkbook.exceptions import ParameterError
from sreworkbook.index.model import Expectations
from sreworkbook.index.page import build_index
from sreworkbook.index.retention import RetentionPolicy, prune
from sreworkbook.index.storage import LocalOutputs, S3Outputs, open_outputs

if TYPE_CHECKING:
    from sreworkbook.reports.pipeline import RunOutcome, RunRequest
    from sreworkbook.results import RunSummary

__all__ = ["ENV_VAR", "record_summary", "register", "resolve_outputs", "run_to_outputs"]

#: Names the outputs root when ``--outputs`` is not given: a folder or ``s3://bucket/prefix``.
ENV_VAR = "SREWORKBOOK_OUTPUTS"


#: The schedule's expectations of the jobs under a workbook root, as of a moment.
Expected = Callable[[Path, datetime], Expectations]


def register(subparsers: Any, *, expected: Expected) -> None:
    """Add ``outputs`` and its subcommands to the ``sreworkbook`` parser."""
    outputs = subparsers.add_parser("outputs", help="the outputs root (local or s3://): retention")
    sub = outputs.add_subparsers(dest="outputs_command", required=True)
    defaults = RetentionPolicy()
    cut = sub.add_parser(
        "prune",
        help="remove old runs; never a job's latest run or a baseline",
        description="Keep every run of the last KEEP_DAYS days and at least the newest "
        "KEEP_RUNS runs of each job; never remove a job's latest run or a run referenced as "
        "a baseline. Removes .staging-* folders of killed runs, rewrites the ledger and "
        "rebuilds the index.",
    )
    cut.add_argument("--keep-days", type=int, default=defaults.keep_days, metavar="N")
    cut.add_argument("--keep-runs", type=int, default=defaults.keep_runs, metavar="N")
    cut.add_argument("--dry-run", action="store_true", help="say what would go; remove nothing")
    cut.set_defaults(handler=partial(_prune, expected=expected))


def resolve_outputs(value: str | Path | None, *, root: Path, environ: Mapping[str, str]) -> str:
    """The outputs root: ``--outputs``, else ``$SREWORKBOOK_OUTPUTS``, else ``ROOT/outputs``.

    An ``s3://`` URL is returned as given; a folder as an absolute path.
    """
    chosen = str(value) if value else environ.get(ENV_VAR, "")
    if chosen.startswith("s3://"):
        return chosen
    if chosen.startswith("s3:/"):  # went through pathlib, which folds "//"
        raise ParameterError(f"{chosen!r}: pass the S3 URL as a string", key="--outputs")
    return str(Path(chosen).resolve() if chosen else (root / "outputs").resolve())


def run_to_outputs(
    outputs: LocalOutputs | S3Outputs,
    request: RunRequest,
    *,
    environ: Mapping[str, str],
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    expected: Expectations | None = None,
) -> tuple[RunOutcome, str]:
    """Run ``request`` under the run contract into ``outputs``, then rebuild the index.

    Returns the outcome and where its report is: a path, or the ``s3://`` URL it was
    published to. For S3 the run is produced in a temporary folder and published
    (:meth:`~sreworkbook.index.storage.S3Outputs.publish_run`).
    """
    from sreworkbook.reports.pipeline import run_notebook  # papermill: only when running

    if isinstance(outputs, LocalOutputs):
        outcome = run_notebook(replace(request, outputs=outputs.root), environ=environ)
        build_index(outputs.root, now=now(), expected=expected)
        return outcome, str(outcome.report)
    with outputs.staged() as local:
        outcome = run_notebook(replace(request, outputs=local), environ=environ)
        line = (outcome.summary.to_json() + "\n").encode("utf-8")
        url = outputs.publish_run(local, outcome.run_dir, line, now=now(), expected=expected)
    return outcome, url


def record_summary(
    outputs: LocalOutputs | S3Outputs,
    summary: RunSummary,
    *,
    now: datetime,
    expected: Expectations | None = None,
) -> str:
    """Add a run that wrote no report (``backups take``) to the ledger; rebuild the index.

    Returns where the index is (a path or an ``s3://`` URL).
    """
    if isinstance(outputs, LocalOutputs):
        from sreworkbook.reports.ledger import Ledger

        Ledger(outputs.root / "ledger.jsonl").append(summary)
    else:
        outputs.append_line((summary.to_json() + "\n").encode("utf-8"))
    return outputs.rebuild_index(now=now, expected=expected)


def _prune(args: argparse.Namespace, root: Path, outputs: Path, *, expected: Expected) -> int:
    where = resolve_outputs(getattr(args, "outputs", None), root=root, environ=os.environ)
    policy = RetentionPolicy(keep_days=args.keep_days, keep_runs=args.keep_runs)
    now = datetime.now(UTC)
    result = prune(
        open_outputs(where),
        policy,
        now=now,
        dry_run=args.dry_run,
        expected=expected(root, now),
    )
    print(
        f"prune {where}: keep {policy.keep_days} days and at least {policy.keep_runs} run(s) "
        f"per job{' (dry run: nothing removed)' if args.dry_run else ''}"
    )
    for line in result.lines():
        print(line)
    return 0
