"""run-due over a simulated day, catch-up after downtime, serve's loop, and the check switch."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sreworkbook.results import Status
from sreworkbook.schedule import Job, Schedule, load_schedule
from sreworkbook.schedule.dispatch import check, longest_first, plan_due, run_due, serve
from sreworkbook.schedule.runner import JobResult
from sreworkbook.schedule.state import SchedulerFiles

ROOT = Path(__file__).resolve().parents[2]
MONDAY = datetime(2026, 3, 2, tzinfo=UTC)  # a Monday


class FakeRunner:
    """Records each start; every run succeeds at once (the real runner is tested elsewhere)."""

    def __init__(self, files: SchedulerFiles | None = None) -> None:
        self.calls: list[tuple[str, datetime | None]] = []
        self.files = files

    def __call__(self, job: Job, *, due: datetime | None = None) -> JobResult:
        self.calls.append((job.name, due))
        if self.files is not None and due is not None:
            self.files.beat(job.name, at=due + timedelta(seconds=30), status="OK", run_id="r",
                            success=True)  # fmt: skip
        return JobResult(job.name, exit_code=0, status=Status.OK, message="ok")

    def counts(self) -> Counter[str]:
        return Counter(name for name, _ in self.calls)


#: What the shipped schedule starts over one Monday: inspections every quarter hour, each
#: daily job once, and the weekly alert tuning (Mondays).
A_MONDAY = {
    "health-inspection": 96,
    "metrics-dashboard": 1,
    "incident-digest": 1,
    "nightly-backup": 1,
    "backup-drill": 1,
    "alert-tuning": 1,
}


def shipped() -> Schedule:
    return load_schedule(ROOT / "parameters" / "schedule.yaml")


def test_run_due_every_minute_for_a_simulated_day(tmp_path: Path) -> None:
    files, runner = SchedulerFiles(tmp_path), FakeRunner()
    schedule = shipped()
    for minute in range(24 * 60):
        # cron starts the command a little after the minute
        run_due(schedule, files, now=MONDAY + timedelta(minutes=minute, seconds=2), runner=runner)
    assert runner.counts() == A_MONDAY
    dues = {name: due for name, due in runner.calls if name != "health-inspection"}
    assert dues == {
        "metrics-dashboard": MONDAY.replace(hour=6),
        "incident-digest": MONDAY.replace(hour=6),
        "nightly-backup": MONDAY.replace(hour=2),
        "backup-drill": MONDAY.replace(hour=3),
        "alert-tuning": MONDAY.replace(hour=7),
    }
    health = [due for name, due in runner.calls if name == "health-inspection"]
    assert health[0] == MONDAY and health[-1] == MONDAY.replace(hour=23, minute=45)
    # Tuesday: no alert tuning
    runner.calls.clear()
    for minute in range(24 * 60):
        now = MONDAY + timedelta(days=1, minutes=minute, seconds=2)
        run_due(schedule, files, now=now, runner=runner)
    assert runner.counts()["alert-tuning"] == 0
    assert runner.counts()["backup-drill"] == 1


def test_run_due_is_idempotent(tmp_path: Path) -> None:
    files, runner = SchedulerFiles(tmp_path), FakeRunner()
    now = MONDAY.replace(hour=6, second=1)
    run_due(shipped(), files, now=now, runner=runner)
    plan, results = run_due(shipped(), files, now=now, runner=runner)
    plan2, _ = run_due(shipped(), files, now=now + timedelta(seconds=20), runner=runner)
    assert runner.counts() == {"health-inspection": 1, "metrics-dashboard": 1, "incident-digest": 1}
    assert results == [] and plan.notes == ("nothing new: this window was already claimed",)
    assert plan2.jobs == ()


def test_catch_up_after_downtime_runs_each_job_once_and_says_so(tmp_path: Path) -> None:
    files, runner = SchedulerFiles(tmp_path), FakeRunner()
    schedule = shipped()
    run_due(schedule, files, now=MONDAY.replace(hour=2, minute=50, second=2), runner=runner)
    runner.calls.clear()
    # The host was down from 02:50 to 06:30.
    plan, _ = run_due(schedule, files, now=MONDAY.replace(hour=6, minute=30, second=2),
                      runner=runner)  # fmt: skip
    assert runner.counts() == {
        "health-inspection": 1,
        "backup-drill": 1,
        "metrics-dashboard": 1,
        "incident-digest": 1,
    }
    assert dict(runner.calls)["health-inspection"] == MONDAY.replace(hour=6, minute=30)
    assert plan.notes[0].startswith("no call for 3h40m")
    health_note = next(n for n in plan.notes if "health-inspection" in n)
    assert "due 15 time(s)" in health_note and "running it once now" in health_note
    assert any("backup-drill was due 1 time(s)" in n for n in plan.notes)
    catch_ups = [e["job"] for e in files.events() if e["event"] == "catch-up"]
    assert sorted(catch_ups) == [
        "backup-drill",
        "health-inspection",
        "incident-digest",
        "metrics-dashboard",
    ]


def test_first_call_looks_back_one_minute(tmp_path: Path) -> None:
    files = SchedulerFiles(tmp_path)
    plan = plan_due(shipped(), files, MONDAY.replace(hour=3, second=30))
    assert {item.job.name for item in plan.jobs} == {"health-inspection", "backup-drill"}
    assert plan.notes[0].startswith("first call")


def test_serve_with_an_injected_clock(tmp_path: Path) -> None:
    files, runner = SchedulerFiles(tmp_path), FakeRunner()
    now = [MONDAY.timestamp() + 5]
    naps: list[float] = []
    lines: list[str] = []

    def sleep(seconds: float) -> None:
        naps.append(seconds)
        now[0] += seconds

    schedule = shipped()
    serve(
        lambda: schedule,
        files,
        runner=runner,
        clock=lambda: now[0],
        sleep=sleep,
        log=lines.append,
        stop=lambda: now[0] >= MONDAY.timestamp() + 86_400,
    )
    assert runner.counts() == A_MONDAY
    assert max(naps) <= 60 and len(naps) == 24 * 60  # the schedule is re-read every minute
    assert sum("OK      health-inspection: ok" in line for line in lines) == 96


def test_check_turns_missed_runs_into_stale_jobs(tmp_path: Path) -> None:
    files = SchedulerFiles(tmp_path)
    schedule = Schedule(
        jobs=[
            Job(name="quarter", notebook="n", cron="*/15 * * * *", grace_s=120),
            Job(name="nightly", notebook="n", cron="0 3 * * *", grace_s=3600),
        ]
    )
    runner = FakeRunner(files)
    day = MONDAY + timedelta(days=7)
    # Everything ran on time until 04:00; then the quarter-hourly job stopped.
    for minute in range(4 * 60 + 1):
        run_due(schedule, files, now=day + timedelta(minutes=minute, seconds=1), runner=runner)
    assert check(schedule, files, now=day.replace(hour=4, minute=2)) == []
    stale = check(schedule, files, now=day.replace(hour=4, minute=20))
    assert [s.job.name for s in stale] == ["quarter"]
    assert stale[0].due == day.replace(hour=4, minute=15)
    assert stale[0].last_success == day.replace(hour=4, second=30)
    assert "last success 2026-03-09T04:00:30Z" in stale[0].line()
    # The next night nothing ran at all.
    stale = check(schedule, files, now=day + timedelta(days=1, hours=4, minutes=30))
    assert [s.job.name for s in stale] == ["quarter", "nightly"]


def test_check_ignores_due_times_before_the_scheduler_started(tmp_path: Path) -> None:
    files = SchedulerFiles(tmp_path)
    schedule = Schedule(jobs=[Job(name="nightly", notebook="n", cron="0 3 * * *", grace_s=60)])
    files.claim_window(MONDAY.replace(hour=12))  # first run-due call at noon
    assert check(schedule, files, now=MONDAY.replace(hour=20)) == []
    assert check(schedule, files, now=MONDAY.replace(hour=20), since=MONDAY) != []
    stale = check(schedule, files, now=MONDAY + timedelta(days=1, hours=3, minutes=5))
    assert [s.job.name for s in stale] == ["nightly"]
    assert stale[0].last_success is None


def test_the_daily_suite_starts_the_longest_job_first() -> None:
    jobs = [Job(name=n, notebook=n, cron="0 6 * * *") for n in ("health", "dash", "drill", "new")]
    last = {"health": 9.0, "dash": 12.5, "drill": 48.0}
    assert [j.name for j in longest_first(jobs, lambda j: last.get(j.notebook))] == [
        "drill", "dash", "health", "new"
    ]  # fmt: skip
    assert longest_first(jobs, lambda j: None) == jobs  # nothing known: the schedule's order
