"""Reports: papermill execution, summaries, code-free HTML, the run ledger and the index."""

from sreworkbook.reports.changes import Changes, changes_since, compare
from sreworkbook.reports.index import build_index
from sreworkbook.reports.ledger import Ledger
from sreworkbook.reports.pipeline import RunOutcome, RunRequest, find_notebook, run_notebook
from sreworkbook.reports.summary import emit, extract

__all__ = [
    "Changes",
    "Ledger",
    "RunOutcome",
    "RunRequest",
    "build_index",
    "changes_since",
    "compare",
    "emit",
    "extract",
    "find_notebook",
    "run_notebook",
]
