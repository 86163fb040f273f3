"""What the schedule expects of each job, for the index page: how often it should have run.

The index (:mod:`sreworkbook.index`) knows nothing of cron; it is handed these
:class:`~sreworkbook.index.model.Expectations`, so that the index never imports the
scheduler and the scheduler can rebuild the index.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from sreworkbook.exceptions import WorkbookError
from sreworkbook.index.model import Expectation, Expectations
from sreworkbook.schedule.cron import previous_at_or_before
from sreworkbook.schedule.model import Schedule, load_schedule

__all__ = ["expectations", "load_expectations"]


def expectations(schedule: Schedule, *, now: datetime) -> Expectations:
    """Per job of ``schedule``: its cron and the time between its last two due times."""
    found = []
    for job in schedule.jobs:
        last = previous_at_or_before(job.expr, now)
        before = previous_at_or_before(job.expr, last - timedelta(minutes=1)) if last else None
        interval = last - before if last and before else None
        found.append(Expectation(job.name, job.notebook_stem, job.env, job.cron, interval))
    return Expectations(tuple(found))


def load_expectations(schedule: Schedule | Path | None, *, now: datetime) -> Expectations:
    """The expectations of ``schedule`` (a file is read if it exists), with a note for readers.

    A schedule that cannot be read does not stop the index: it is built without one, and the
    note says why.
    """
    if schedule is None:
        return Expectations()
    if isinstance(schedule, Path):
        if not schedule.is_file():
            return Expectations()
        try:
            schedule = load_schedule(schedule)
        except WorkbookError as exc:
            note = f"The schedule could not be read ({exc}); stale means older than 26 h."
            return Expectations(note=note)
    return expectations(schedule, now=now)
