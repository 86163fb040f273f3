"""``outputs/index.html``: the page a manager opens each morning.

A status grid (jobs × the last 14 days), what changed since yesterday, and per job its latest
status, headline and age, trend sparklines of its key metrics and links to its latest reports;
failing and stale jobs first. Built in one streaming pass over ``ledger.jsonl``
(:mod:`~sreworkbook.reports.index_model`) and drawn as static HTML with inline SVG
(:mod:`~sreworkbook.reports.index_render`). With ``parameters/schedule.yaml`` a job is stale
after twice its interval; without, after 26 h.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sreworkbook.exceptions import OutputError, WorkbookError
from sreworkbook.reports.index_ledger import RunLike, read_ledger
from sreworkbook.reports.index_model import Expectation, summarise
from sreworkbook.reports.index_render import render_page
from sreworkbook.schedule import Schedule, load_schedule, previous_at_or_before

__all__ = ["build_index", "expectations", "load_expectations", "render_index"]

#: Days in the status grid (today at the right).
DAYS = 14
#: Days in the trend sparklines.
TREND_DAYS = 30
#: Reports listed per job; older ones are reached through the grid.
REPORTS_PER_JOB = 10


def expectations(schedule: Schedule, *, now: datetime) -> list[Expectation]:
    """Per job of ``schedule``: its cron and the time between its last two due times."""
    found = []
    for job in schedule.jobs:
        last = previous_at_or_before(job.expr, now)
        before = previous_at_or_before(job.expr, last - timedelta(minutes=1)) if last else None
        interval = last - before if last and before else None
        found.append(Expectation(job.name, job.notebook_stem, job.env, job.cron, interval))
    return found


def load_expectations(
    schedule: Schedule | Path | None, *, now: datetime
) -> tuple[list[Expectation], str]:
    """The expectations of ``schedule`` (a file is read if it exists) and a note for readers.

    A schedule that cannot be read does not stop the index: it is built without one, and the
    note says why.
    """
    if schedule is None:
        return [], ""
    if isinstance(schedule, Path):
        if not schedule.is_file():
            return [], ""
        try:
            schedule = load_schedule(schedule)
        except WorkbookError as exc:
            return [], f"The schedule could not be read ({exc}); stale means older than 26 h."
    return expectations(schedule, now=now), ""


def render_index(
    runs: Iterable[RunLike],
    *,
    now: datetime,
    schedule: Schedule | Path | None = None,
    days: int = DAYS,
    trend_days: int = TREND_DAYS,
    reports_per_job: int = REPORTS_PER_JOB,
) -> str:
    """The index page for ``runs`` (read once, in any order) as of ``now``.

    ``runs`` may be :class:`~sreworkbook.results.RunSummary` objects or, faster, the lines of
    :func:`~sreworkbook.reports.index_model.read_ledger`.
    """
    found, note = load_expectations(schedule, now=now)
    view = summarise(
        runs,
        now=now,
        days=days,
        trend_days=trend_days,
        reports_per_job=reports_per_job,
        expectations=found,
    )
    return render_page(view, note=note)


def build_index(
    outputs_dir: Path,
    *,
    now: datetime | None = None,
    schedule: Schedule | Path | None = None,
    days: int = DAYS,
    reports_per_job: int = REPORTS_PER_JOB,
) -> Path:
    """Rebuild ``outputs_dir/index.html`` from the ledger; returns its path.

    ``now`` defaults to the current time. ``schedule`` defaults to
    ``parameters/schedule.yaml`` beside ``outputs_dir`` (the workbook's layout), if present.
    """
    moment = now.astimezone(UTC) if now else datetime.now(UTC)
    if schedule is None:
        schedule = outputs_dir.parent / "parameters" / "schedule.yaml"
    page = render_index(
        read_ledger(outputs_dir / "ledger.jsonl"),
        now=moment,
        schedule=schedule,
        days=days,
        reports_per_job=reports_per_job,
    )
    target = outputs_dir / "index.html"
    partial = target.with_name(f".index.html.{os.getpid()}.partial")
    try:
        outputs_dir.mkdir(parents=True, exist_ok=True)
        partial.write_text(page, encoding="utf-8")
        os.replace(partial, target)
    except OSError as exc:
        raise OutputError(f"cannot write {target}: {exc}") from exc
    return target
