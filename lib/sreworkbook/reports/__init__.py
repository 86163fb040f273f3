"""The run pipeline: papermill execution, what notebooks emit, code-free HTML, the run ledger.

The index page and the outputs root it is built over are :mod:`sreworkbook.index`.
"""

from sreworkbook.reports.changes import Changes, changes_since, compare
from sreworkbook.reports.ledger import Ledger
from sreworkbook.reports.pipeline import RunOutcome, RunRequest, find_notebook, run_notebook
from sreworkbook.reports.summary import emit, extract

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
