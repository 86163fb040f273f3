"""What every export shares: where the workbook lives on the target, and portable cron text."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from sreworkbook.schedule.cron import CronExpr
from sreworkbook.schedule.model import Job

__all__ = [
    "ExportOptions",
    "ResponderService",
    "compact",
    "portable_cron",
    "respond_argv",
    "run_job_argv",
]


@dataclass(frozen=True)
class ResponderService:
    """``sreworkbook respond serve`` as a long-running service: its environment and port."""

    env: str
    port: int
    #: The ``${VARS}`` its environment file refers to (the token among them).
    secret_refs: tuple[str, ...] = ()


@dataclass(frozen=True)
class ExportOptions:
    """Where and how the exported jobs run on the target system."""

    #: The workbook folder on the target host or in the image (holds parameters/, notebooks/).
    workdir: str = "/opt/sreworkbook"
    #: The ``sreworkbook`` executable there.
    command: str = "/opt/sreworkbook/.venv/bin/sreworkbook"
    #: The outputs folder there (default ``WORKDIR/outputs``).
    outputs: str | None = None
    #: Container image holding the workbook (Kubernetes); empty: the schedule's ``image:``.
    image: str = ""
    #: Kubernetes Secret holding the environment variables that parameter files refer to.
    secret: str = "sreworkbook-secrets"
    #: Kubernetes ConfigMap holding the parameter files, mounted over ``WORKDIR/parameters``.
    configmap: str = "sreworkbook-parameters"
    #: The parameter files for the ConfigMap: file name → text (read by the caller).
    parameter_files: Mapping[str, str] = field(default_factory=dict)
    #: Kubernetes PersistentVolumeClaim for outputs.
    pvc: str = "sreworkbook-outputs"
    #: systemd ``User=`` (none: the manager's default).
    user: str | None = None
    #: Per job, the ``${VARS}`` its environment file refers to (found by the caller).
    secret_refs: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    #: Source file named in the generated headers.
    source: str = "parameters/schedule.yaml"
    #: The alert responder to run as a service beside the jobs (``--responder-env``).
    responder: ResponderService | None = None

    @property
    def outputs_dir(self) -> str:
        return self.outputs or f"{self.workdir.rstrip('/')}/outputs"


def run_job_argv(options: ExportOptions, job: Job, *, outputs: str | None = None) -> list[str]:
    """``sreworkbook --root W --outputs O schedule run JOB``: lock, timeout, retries, heartbeat."""
    return [
        options.command,
        "--root",
        options.workdir,
        "--outputs",
        outputs or options.outputs_dir,
        "schedule",
        "run",
        job.name,
    ]


def respond_argv(
    options: ExportOptions, service: ResponderService, *, host: str, outputs: str | None = None
) -> list[str]:
    """``sreworkbook --root W --outputs O respond serve --env E --listen HOST:PORT``, its
    journal in the outputs folder (a volume that outlives the process)."""
    folder = outputs or options.outputs_dir
    return [
        options.command, "--root", options.workdir, "--outputs", folder,
        "respond", "serve", "--env", service.env, "--listen", f"{host}:{service.port}",
        "--journal-dir", f"{folder}/.responder",
    ]  # fmt: skip


def compact(values: Iterable[int], *, low: int, high: int, sep: str = "-") -> str:
    """``0,1,2,5`` → ``0-2,5`` (``*`` when every value from ``low`` to ``high`` is there)."""
    ordered = sorted(set(values))
    if ordered == list(range(low, high + 1)):
        return "*"
    runs: list[str] = []
    start = prev = ordered[0]
    for value in [*ordered[1:], None]:
        if value is not None and value == prev + 1:
            prev = value
            continue
        runs.append(str(start) if start == prev else f"{start}{sep}{prev}")
        if value is not None:
            start = prev = value
    return ",".join(runs)


def _dow_text(expr: CronExpr, original: str) -> str:
    """The day-of-week field without ``7`` (robfig/cron refuses it); never widened to ``*``."""
    if "7" not in re.split(r"[,/-]", original):
        return original
    return compact(expr.weekdays, low=0, high=6) if len(expr.weekdays) < 7 else "0-6"


def portable_cron(expr: CronExpr) -> tuple[str, str | None]:
    """The expression as Kubernetes (robfig/cron) and Airflow (croniter) read it, and a note.

    They differ from Vixie cron in two ways: day of week ``7`` is refused, and only a bare
    ``*`` day field means "every day" (Vixie counts anything starting with ``*``, ``*/2``
    too, and then requires the other field instead of OR-ing the two). Both are rewritten
    exactly, except one case their syntax cannot say: a ``*/N`` day field together with a
    restricted other day field. There the ``*/N`` field is widened to ``*``, which runs on
    *more* days than Vixie cron would (never fewer), and the note says so.
    """
    if expr.text.startswith("@"):
        return expr.text, None
    fields = expr.text.split(" ")
    dom_full = len(expr.days) == 31
    dow_full = len(expr.weekdays) == 7
    note: str | None = None
    if not (expr.dom_star or expr.dow_star):  # OR for everyone: keep both restrictions
        fields[4] = _dow_text(expr, fields[4])
    elif dom_full and dow_full:
        fields[2], fields[4] = "*", "*"
    elif dom_full:  # AND with an every-day field: the day of week alone decides
        fields[2], fields[4] = "*", _dow_text(expr, fields[4])
    elif dow_full:
        fields[4] = "*"
    else:
        which = 2 if expr.dom_star else 4
        note = (
            f"{expr.text!r}: Vixie cron reads {fields[which]!r} as 'every day' and then "
            "requires the other day field; this scheduler would OR the two, which cannot say "
            "that, so the field is widened to '*' (the job may run on more days, never fewer)"
        )
        fields[which] = "*"
        fields[4] = _dow_text(expr, fields[4]) if which == 2 else "*"
    return " ".join(fields), note
