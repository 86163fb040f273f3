"""parameters/schedule.yaml: the shipped file and validation errors that name the job."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from sreworkbook.exceptions import ParameterError
from sreworkbook.schedule import Job, Schedule, load_schedule

ROOT = Path(__file__).resolve().parents[2]


def test_shipped_schedule_is_valid_and_has_the_defaults() -> None:
    schedule = load_schedule(ROOT / "parameters" / "schedule.yaml")
    crons = {job.name: (job.notebook, job.cron) for job in schedule.jobs}
    assert crons == {
        "health-inspection": ("health_inspection", "*/15 * * * *"),
        "metrics-dashboard": ("metrics_dashboard", "0 6 * * *"),
        "incident-digest": ("incident_explorer", "0 6 * * *"),
        "nightly-backup": ("backups_take", "0 2 * * *"),
        "backup-drill": ("backup_restore_drill", "0 3 * * *"),
        "alert-tuning": ("alert_tuning", "0 7 * * mon"),
    }
    assert [job.notebook for job in schedule.daily_jobs()] == [
        "health_inspection",
        "metrics_dashboard",
        "incident_explorer",
        "backup_restore_drill",
    ]
    # The drill runs after the seed's 02:00 nightly backup.
    assert schedule.get("backup-drill").expr.hours == (3,)
    nightly = schedule.get("nightly-backup")
    assert nightly.command == "backups-take" and nightly.expr.hours == (2,)
    assert nightly.run_arguments() == ["backups", "take", "--env", "sandbox", "--no-notify"]


def test_a_backups_take_job() -> None:
    job = Job(name="b", command="backups-take", cron="0 2 * * *", parameters={"engine": "pymongo"})
    assert job.notebook == job.notebook_stem == "backups_take"  # its name in the ledger
    assert job.run_arguments(env="prod") == [
        "backups", "take", "--env", "prod", "--engine", "pymongo", "--no-notify",
    ]  # fmt: skip
    refused = {
        "runs no notebook": {"notebook": "health_inspection"},
        "takes only engine as parameters, not verify": {"parameters": {"verify": True}},
        "has no cells": {"cell_timeout_s": 30},
    }
    for message, extra in refused.items():
        with pytest.raises(ValueError, match=message):
            Job.model_validate({"name": "b", "command": "backups-take", "cron": "@daily", **extra})
    with pytest.raises(ValueError, match="a notebook job needs notebook: NAME"):
        Job.model_validate({"name": "n", "cron": "@daily"})
    with pytest.raises(ValueError, match="command"):
        Job.model_validate({"name": "n", "command": "backups-restore", "cron": "@daily"})


def test_job_defaults_and_derived_values() -> None:
    job = Job(name="a", notebook="n", cron="* * * * *", retries=2, backoff_s=10, timeout_s=60)
    assert job.backoffs() == [10.0, 20.0]
    assert job.worst_case_s() == 60 * 3 + 30
    assert job.grace() == job.worst_case_s() + 300
    assert job.run_deadline_s() == 54  # stops itself before the runner kills it at 60 s
    assert job.notify_on == ("failure", "crit")
    assert job.daily is False
    flags = Job(name="b", notebook="x.ipynb", cron="@daily", cell_timeout_s=30, parameters={"a": 1})
    assert flags.notebook_stem == "x"
    assert flags.run_arguments(env="prod") == [
        "run",
        "x.ipynb",
        "--env",
        "prod",
        "--deadline",
        "840",
        "--cell-timeout",
        "30",
        "-p",
        "a",
        "1",
    ]


def test_unknown_job_lists_the_valid_ones() -> None:
    schedule = Schedule(jobs=[Job(name="a", notebook="n", cron="* * * * *")])
    with pytest.raises(ParameterError, match="unknown job 'b', the schedule has: a"):
        schedule.get("b")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            "jobs:\n  - {name: a, notebook: n, cron: '* * *'}\n",
            "jobs.0.cron: a cron expression has 5 fields, got 3",
        ),
        (
            "jobs:\n  - {name: ok, notebook: n, cron: '* * * * *'}\n"
            "  - {name: ok2, notebook: n, cron: '* * * * *'}\n"
            "  - {name: drill, notebook: n, cron: '0 25 * * *'}\n",
            "jobs.2.cron: hour: 25 is out of range 0-23 (in '0 25 * * *') (job 'drill')",
        ),
        (
            "jobs:\n  - {name: feb, notebook: n, cron: '0 0 30 feb *'}\n",
            "never fires",
        ),
        (
            "jobs:\n  - {name: a, notebook: n, cron: '* * * * *', retry: 3}\n",
            "jobs.0.retry: unknown key (job 'a')",
        ),
        (
            "jobs:\n  - {name: a, notebook: n, cron: '* * * * *', notify_on: [sometimes]}\n",
            "jobs.0.notify_on.0",
        ),
        (
            "jobs:\n  - {name: Bad_Name, notebook: n, cron: '* * * * *'}\n",
            "jobs.0.name",
        ),
        (
            "jobs:\n  - {name: a, notebook: n, cron: '* * * * *'}\n"
            "  - {name: a, notebook: m, cron: '* * * * *'}\n",
            "duplicate job name(s): a",
        ),
    ],
)
def test_bad_schedules_name_the_key_and_the_job(tmp_path: Path, body: str, message: str) -> None:
    path = tmp_path / "schedule.yaml"
    path.write_text(body)
    with pytest.raises(ParameterError) as info:
        load_schedule(path)
    assert message in str(info.value)
    assert str(path) in str(info.value)


def test_bad_cron_exits_64_naming_the_job(
    workbook: Path,
    write_schedule: Callable[[str], Path],
    schedule_command: Callable[..., list[str]],
) -> None:
    write_schedule(
        "jobs:\n  - {name: fine, notebook: probe, env: test, cron: '* * * * *'}\n"
        "  - {name: broken, notebook: probe, env: test, cron: '61 * * * *'}\n"
    )
    done = subprocess.run(
        schedule_command(workbook, "run-due"), capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 64
    assert "jobs.1.cron" in done.stderr
    assert "'broken'" in done.stderr
    assert "minute: 61 is out of range 0-59" in done.stderr


def test_image_and_resources_default_and_per_job(tmp_path: Path) -> None:
    schedule = load_schedule(ROOT / "parameters" / "schedule.yaml")
    assert schedule.image == "localhost/sreworkbook:0.1.0"
    assert schedule.resources_of(schedule.get("health-inspection")).memory_limit == "2Gi"
    assert schedule.resources_of(schedule.get("backup-drill")).memory_limit == "4Gi"
    bare = Schedule(jobs=[Job(name="a", notebook="n", cron="@daily")])
    assert bare.image is None and bare.resources_of(bare.jobs[0]).cpu == "250m"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            "resources: {memory: 2GB}\njobs: []\n",
            "resources.memory: '2GB' is not a Kubernetes quantity",
        ),
        (
            "jobs:\n  - {name: a, notebook: n, cron: '@daily', resources: {cpu: lots}}\n",
            "jobs.0.resources.cpu: 'lots' is not a Kubernetes quantity (e.g. 250m, 1, 512Mi, 2Gi) (job 'a')",
        ),
        ("image: 3\njobs: []\n", "image:"),
    ],
)
def test_bad_resources_or_image_name_the_key(tmp_path: Path, body: str, message: str) -> None:
    path = tmp_path / "schedule.yaml"
    path.write_text(body)
    with pytest.raises(ParameterError) as caught:
        load_schedule(path)
    assert message in str(caught.value)
