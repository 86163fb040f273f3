"""``outputs/index.html``: the page a manager opens each morning.

A status grid (jobs × the last 14 days), what changed since yesterday, and per job its latest
status, headline and age, trend sparklines of its key metrics and links to its latest reports;
failing and stale jobs first. Built in one streaming pass over ``ledger.jsonl``
(:mod:`~sreworkbook.index.model`) and drawn as static HTML with inline SVG
(:mod:`~sreworkbook.index.render`). Given the schedule's
:class:`~sreworkbook.index.model.Expectations` (from
:func:`sreworkbook.schedule.load_expectations`) a job is stale after twice its interval;
without, after 26 h.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

from sreworkbook.exceptions import OutputError
from sreworkbook.index.incidents import incidents_section, load_records
from sreworkbook.index.ledger_lines import RunLike, read_ledger
from sreworkbook.index.model import Expectations, summarise
from sreworkbook.index.render import render_page

__all__ = ["build_index", "render_index"]

#: Days in the status grid (today at the right).
DAYS = 14
#: Days in the trend sparklines.
TREND_DAYS = 30
#: Reports listed per job; older ones are reached through the grid.
REPORTS_PER_JOB = 10


def render_index(
    runs: Iterable[RunLike],
    *,
    now: datetime,
    expected: Expectations | None = None,
    days: int = DAYS,
    trend_days: int = TREND_DAYS,
    reports_per_job: int = REPORTS_PER_JOB,
    incidents: str = "",
) -> str:
    """The index page for ``runs`` (read once, in any order) as of ``now``; ``incidents`` is
    the incidents section's HTML (:func:`~sreworkbook.index.incidents.incidents_section`).

    ``runs`` may be :class:`~sreworkbook.results.RunSummary` objects or, faster, the lines of
    :func:`~sreworkbook.index.ledger_lines.read_ledger`.
    """
    expected = expected or Expectations()
    view = summarise(
        runs,
        now=now,
        days=days,
        trend_days=trend_days,
        reports_per_job=reports_per_job,
        expectations=expected.jobs,
    )
    return render_page(view, note=expected.note, incidents=incidents)


def build_index(
    outputs_dir: Path,
    *,
    now: datetime | None = None,
    expected: Expectations | None = None,
    days: int = DAYS,
    reports_per_job: int = REPORTS_PER_JOB,
) -> Path:
    """Rebuild ``outputs_dir/index.html`` from the ledger; returns its path.

    ``now`` defaults to the current time; without ``expected``, stale means older than 26 h.
    """
    moment = now.astimezone(UTC) if now else datetime.now(UTC)
    page = render_index(
        read_ledger(outputs_dir / "ledger.jsonl", now=moment),
        now=moment,
        expected=expected,
        days=days,
        reports_per_job=reports_per_job,
        incidents=incidents_section(load_records(outputs_dir), now=moment),
    )
    target = outputs_dir / "index.html"
    partial = target.with_name(f".index.html.{os.getpid()}.{threading.get_ident()}.partial")
    try:
        outputs_dir.mkdir(parents=True, exist_ok=True)
        partial.write_text(page, encoding="utf-8")
        os.replace(partial, target)
    except OSError as exc:
        raise OutputError(f"cannot write {target}: {exc}") from exc
    return target
