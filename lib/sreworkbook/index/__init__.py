"""The index: ``outputs/index.html`` for managers, and the outputs root it is built over.

- :mod:`~sreworkbook.index.page` — :func:`build_index` and :func:`render_index`, from the
  ledger (:mod:`~sreworkbook.index.ledger_lines`) through :mod:`~sreworkbook.index.model`
  to HTML (:mod:`~sreworkbook.index.render`); :mod:`~sreworkbook.index.sample` makes ledgers
  for tests and benchmarks;
- :mod:`~sreworkbook.index.storage` — the outputs root, a folder or ``s3://bucket/prefix``;
- :mod:`~sreworkbook.index.retention` — ``sreworkbook outputs prune``;
- :mod:`~sreworkbook.index.cli` — the ``outputs`` command and running into an outputs root.

The schedule's expectations of each job come in as :class:`Expectations` (from
:func:`sreworkbook.schedule.load_expectations`): the index never imports the scheduler.
"""

from sreworkbook.index.model import Expectation, Expectations
from sreworkbook.index.page import build_index, render_index
from sreworkbook.index.retention import RetentionPolicy, prune
from sreworkbook.index.storage import LocalOutputs, S3Outputs, open_outputs

__all__ = [
    "Expectation",
    "Expectations",
    "LocalOutputs",
    "RetentionPolicy",
    "S3Outputs",
    "build_index",
    "open_outputs",
    "prune",
    "render_index",
]
