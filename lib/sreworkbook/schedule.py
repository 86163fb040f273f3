"""``parameters/schedule.yaml``: which notebooks run on which environment, and when."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from sreworkbook.config import load_yaml, validation_error
from sreworkbook.exceptions import ParameterError

__all__ = ["Job", "Schedule", "load_schedule"]

_CRON_FIELDS = 5


class Job(BaseModel):
    """One scheduled notebook run."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    notebook: str
    env: str = "sandbox"
    cron: str
    daily: bool = True
    timeout_s: float = Field(default=900.0, gt=0)
    parameters: dict[str, str | int | float | bool] = Field(default_factory=dict)

    @field_validator("cron")
    @classmethod
    def _five_fields(cls, value: str) -> str:
        if len(value.split()) != _CRON_FIELDS:
            raise ValueError(f"a cron expression has 5 fields, got {value!r}")
        return value


class Schedule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    jobs: list[Job]

    def daily_jobs(self) -> list[Job]:
        return [job for job in self.jobs if job.daily]


def load_schedule(path: Path) -> Schedule:
    """Load and validate a schedule file; errors name the file and the job's key."""
    data = load_yaml(path)
    try:
        schedule = Schedule.model_validate(data)
    except ValidationError as exc:
        raise validation_error(exc, source=str(path)) from None
    names = [job.name for job in schedule.jobs]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ParameterError(f"duplicate job name(s): {', '.join(duplicates)}", source=str(path))
    return schedule
