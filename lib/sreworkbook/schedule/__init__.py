"""Scheduled runs: ``parameters/schedule.yaml``, cron times, unattended runs and exports.

- :mod:`~sreworkbook.schedule.model` — the schedule file (``Job``, ``Schedule``, ``load_schedule``);
- :mod:`~sreworkbook.schedule.cron` — five-field cron expressions and when they fire (UTC);
- :mod:`~sreworkbook.schedule.runner` — one job under its lock, timeout, retries, heartbeat;
- :mod:`~sreworkbook.schedule.dispatch` — ``run-due``, ``serve`` and the ``check`` switch;
- :mod:`~sreworkbook.schedule.expectations` — how often each job should run, for the index;
- :mod:`~sreworkbook.schedule.export` — cron, systemd, Kubernetes and Airflow files;
- :mod:`~sreworkbook.schedule.cli` — the ``sreworkbook schedule`` commands.
"""

from sreworkbook.schedule.cron import (
    CronExpr,
    due_between,
    next_after,
    parse_cron,
    previous_at_or_before,
)
from sreworkbook.schedule.expectations import expectations, load_expectations
from sreworkbook.schedule.model import Job, Schedule, load_schedule

__all__ = [
    "CronExpr",
    "Job",
    "Schedule",
    "due_between",
    "expectations",
    "load_expectations",
    "load_schedule",
    "next_after",
    "parse_cron",
    "previous_at_or_before",
]
