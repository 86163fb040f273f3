"""parameters/schedule.yaml validation."""

from __future__ import annotations

from pathlib import Path

import pytest

from sreworkbook.exceptions import ParameterError
from sreworkbook.schedule import load_schedule

ROOT = Path(__file__).resolve().parent.parent


def test_shipped_schedule_is_valid() -> None:
    schedule = load_schedule(ROOT / "parameters" / "schedule.yaml")
    assert [job.notebook for job in schedule.daily_jobs()] == ["health_inspection"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            "jobs:\n  - {name: a, notebook: n, cron: '* * *'}\n",
            "jobs.0.cron: Value error, a cron expression has 5 fields",
        ),
        (
            "jobs:\n  - {name: a, notebook: n, cron: '* * * * *', retry: 3}\n",
            "jobs.0.retry: unknown key",
        ),
        (
            "jobs:\n  - {name: a, notebook: n, cron: '* * * * *'}\n  - {name: a, notebook: m, cron: '* * * * *'}\n",
            "duplicate job name(s): a",
        ),
    ],
)
def test_bad_schedules_name_the_key(tmp_path: Path, body: str, message: str) -> None:
    path = tmp_path / "schedule.yaml"
    path.write_text(body)
    with pytest.raises(ParameterError) as info:
        load_schedule(path)
    assert message in str(info.value)
    assert str(path) in str(info.value)
