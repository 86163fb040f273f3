"""The run pipeline: papermill execution, what notebooks emit, code-free HTML, the run ledger.

The index page and the outputs root it is built over are :mod:`sreworkbook.index`.

A notebook's kernel only emits, reads the ledger and compares runs: the pipeline (papermill,
nbformat, and jsonschema's format checkers behind them, seconds to import in a JupyterLab
install) is imported when :func:`run_notebook` and its types are first used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sreworkbook.reports.changes import Changes, changes_since, compare
from sreworkbook.reports.ledger import Ledger
from sreworkbook.reports.summary import emit, extract

if TYPE_CHECKING:
    from sreworkbook.reports.pipeline import RunOutcome, RunRequest, find_notebook, run_notebook

__all__ = [
    "Changes",
    "Ledger",
    "RunOutcome",
    "RunRequest",
    "changes_since",
    "compare",
    "emit",
    "extract",
    "find_notebook",
    "run_notebook",
]

_PIPELINE = frozenset({"RunOutcome", "RunRequest", "find_notebook", "run_notebook"})


def __getattr__(name: str) -> Any:
    if name in _PIPELINE:
        from sreworkbook.reports import pipeline

        return getattr(pipeline, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
