"""``parameters/schedule.yaml``: which notebooks run on which environment, when, and how hard.

A job runs a notebook (``notebook: NAME``) or, with ``command: backups-take``, the nightly
backup (``sreworkbook backups take``), which records its run in the same ledger under
``backups_take``. Validated like every parameter file: unknown keys are errors, and an error
names the file, the dotted key (``jobs.2.cron``) and the job's name.
"""

from __future__ import annotations

import re
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from sreworkbook.config import load_yaml, validation_error
from sreworkbook.exceptions import ParameterError
from sreworkbook.schedule.cron import CronExpr, parse_cron

__all__ = ["Job", "NotifyOn", "Resources", "Schedule", "load_schedule"]

NotifyOn = Literal["failure", "crit", "always"]
Command = Literal["notebook", "backups-take"]
#: What a ``backups-take`` job is called in the ledger, and the parameters it takes.
_TAKE_STEM = "backups_take"
_TAKE_PARAMETERS = {"engine"}
#: Job names become file, unit and Kubernetes object names: DNS-1123 labels, ≤ 40 characters.
_NAME = re.compile(r"[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?")
#: A Kubernetes quantity: ``250m``, ``1``, ``512Mi``, ``2Gi``, ``1.5``.
_QUANTITY = re.compile(r"\d+(\.\d+)?(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?")


class Resources(BaseModel):
    """What one run may use where a scheduler enforces it (Kubernetes requests and limits)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    cpu: str = "250m"
    memory: str = "512Mi"
    cpu_limit: str | None = None
    memory_limit: str = "2Gi"

    @field_validator("cpu", "memory", "cpu_limit", "memory_limit")
    @classmethod
    def _quantity(cls, value: str | None) -> str | None:
        if value is not None and not _QUANTITY.fullmatch(value):
            raise ValueError(f"{value!r} is not a Kubernetes quantity (e.g. 250m, 1, 512Mi, 2Gi)")
        return value


class Job(BaseModel):
    """One scheduled notebook run and the rules it runs under when nobody is watching."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    #: ``notebook`` runs ``notebook``; ``backups-take`` runs ``sreworkbook backups take``.
    command: Command = "notebook"
    notebook: str = ""
    env: str = "sandbox"
    cron: str
    description: str = ""
    parameters: dict[str, str | int | float | bool] = Field(default_factory=dict)
    #: Whole run, per attempt: the run's process group is killed after this many seconds.
    timeout_s: float = Field(default=900.0, gt=0)
    #: papermill's per-cell timeout (``sreworkbook run --cell-timeout``); none when unset.
    cell_timeout_s: float | None = Field(default=None, gt=0)
    #: Extra attempts after a *transient* failure (a source refused or timed out).
    retries: int = Field(default=0, ge=0, le=10)
    #: Wait before the first retry; each later wait is multiplied by ``backoff_factor``.
    backoff_s: float = Field(default=30.0, ge=0)
    backoff_factor: float = Field(default=2.0, ge=1)
    notify_on: tuple[NotifyOn, ...] = ("failure", "crit")
    #: Part of ``sreworkbook daily`` (the suite run all at once).
    daily: bool = False
    #: How late a run may be before ``schedule check`` calls the job stale (default: derived).
    grace_s: float | None = Field(default=None, ge=0)
    #: Requests and limits for this job (default: the schedule's ``resources``).
    resources: Resources | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _NAME.fullmatch(value):
            raise ValueError(
                f"{value!r} must be lower-case letters, digits and '-' (at most 40, "
                "starting and ending with a letter or digit)"
            )
        return value

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str) -> str:
        try:
            parse_cron(value)
        except ParameterError as exc:
            raise ValueError(str(exc)) from None
        return value

    @field_validator("notify_on")
    @classmethod
    def _unique(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(dict.fromkeys(value))

    @model_validator(mode="before")
    @classmethod
    def _command(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        if data.get("command", "notebook") == "notebook":
            if not data.get("notebook"):
                raise ValueError("a notebook job needs notebook: NAME")
            return data
        if data.get("notebook") not in (None, "", _TAKE_STEM):  # its own name: a round trip
            raise ValueError("a backups-take job runs no notebook: leave notebook out")
        unknown = sorted(set(data.get("parameters") or {}) - _TAKE_PARAMETERS)
        if unknown:
            raise ValueError(
                f"backups-take takes only {', '.join(sorted(_TAKE_PARAMETERS))} as parameters, "
                f"not {', '.join(unknown)}"
            )
        if data.get("cell_timeout_s") is not None:
            raise ValueError("a backups-take job has no cells: leave cell_timeout_s out")
        return {**data, "notebook": _TAKE_STEM}

    @cached_property
    def expr(self) -> CronExpr:
        """The parsed cron expression."""
        return parse_cron(self.cron)

    @property
    def notebook_stem(self) -> str:
        """The notebook's name as the run ledger records it (``health_inspection``)."""
        return Path(self.notebook).name.removesuffix(".ipynb")

    def backoffs(self) -> list[float]:
        """The waits before each retry, in seconds."""
        return [self.backoff_s * self.backoff_factor**i for i in range(self.retries)]

    def worst_case_s(self) -> float:
        """The longest a job can take: every attempt timing out, plus the waits between."""
        return self.timeout_s * (self.retries + 1) + sum(self.backoffs())

    def grace(self) -> float:
        """How long after a due time a success may still arrive: ``grace_s`` or derived."""
        return self.grace_s if self.grace_s is not None else self.worst_case_s() + 300.0

    def run_deadline_s(self) -> float:
        """The deadline the run itself keeps: a little inside ``timeout_s`` (10 %, 5 s to
        60 s), so that it stops itself as TIMEOUT with a report before the runner kills it."""
        return self.timeout_s - min(max(self.timeout_s * 0.1, 5.0), 60.0, self.timeout_s / 2)

    def run_arguments(self, *, env: str | None = None) -> list[str]:
        """``run NOTEBOOK --env ENV --deadline S [--cell-timeout S] [-p NAME VALUE]...``, or
        ``backups take --env ENV [--engine E] --no-notify`` (the scheduler notifies)."""
        if self.command == "backups-take":
            args = ["backups", "take", "--env", env or self.env]
            if "engine" in self.parameters:
                args += ["--engine", _parameter_text(self.parameters["engine"])]
            return [*args, "--no-notify"]
        args = ["run", self.notebook, "--env", env or self.env]
        args += ["--deadline", _number(round(self.run_deadline_s(), 3))]
        if self.cell_timeout_s is not None:
            args += ["--cell-timeout", _number(self.cell_timeout_s)]
        for name, value in self.parameters.items():
            args += ["-p", name, _parameter_text(value)]
        return args


def _number(value: float) -> str:
    return str(int(value)) if value == int(value) else str(value)


def _parameter_text(value: str | int | float | bool) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class Schedule(BaseModel):
    """Every job of the workbook."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: The container image the Kubernetes export runs (``$SREWORKBOOK_IMAGE`` overrides it).
    image: str | None = None
    #: Default requests and limits of every job.
    resources: Resources = Field(default_factory=Resources)
    jobs: list[Job]

    def resources_of(self, job: Job) -> Resources:
        """``job``'s own resources, else the schedule's."""
        return job.resources or self.resources

    def daily_jobs(self) -> list[Job]:
        """The jobs ``sreworkbook daily`` runs."""
        return [job for job in self.jobs if job.daily]

    def get(self, name: str) -> Job:
        """The job called ``name``; the error lists the valid names."""
        for job in self.jobs:
            if job.name == name:
                return job
        valid = ", ".join(job.name for job in self.jobs) or "none"
        raise ParameterError(f"unknown job {name!r}, the schedule has: {valid}", key="job")


def _job_name(data: dict[str, Any], loc: tuple[Any, ...]) -> str | None:
    if len(loc) < 2 or loc[0] != "jobs" or not isinstance(loc[1], int):
        return None
    jobs = data.get("jobs")
    if isinstance(jobs, list) and loc[1] < len(jobs) and isinstance(jobs[loc[1]], dict):
        name = jobs[loc[1]].get("name")
        return str(name) if name is not None else None
    return None


def load_schedule(path: Path) -> Schedule:
    """Load and validate a schedule file; errors name the file, the key and the job."""
    data = load_yaml(path)
    try:
        schedule = Schedule.model_validate(data)
    except ValidationError as exc:
        error = validation_error(exc, source=str(path))
        name = _job_name(data, tuple(exc.errors()[0]["loc"]))
        if name is None:
            raise error from None
        message = str(error).removeprefix(f"{path}: {error.key}: ")
        raise ParameterError(f"{message} (job {name!r})", source=str(path), key=error.key) from None
    names = [job.name for job in schedule.jobs]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ParameterError(f"duplicate job name(s): {', '.join(duplicates)}", source=str(path))
    return schedule
