"""Unattended runs for real: locks between processes, timeouts, retries, notifications."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import psutil
import pytest

from sreworkbook.notify import Delivery, Notification, Notifier
from sreworkbook.reports import Ledger
from sreworkbook.results import RunSummary, Status
from sreworkbook.schedule import Job, load_schedule
from sreworkbook.schedule.lock import JobLock, JobLocked
from sreworkbook.schedule.runner import SubprocessRunner
from sreworkbook.schedule.state import SchedulerFiles
from support.http import CannedServer, Route

pytestmark = pytest.mark.notebook


def _runner(root: Path, **kwargs: object) -> SubprocessRunner:
    return SubprocessRunner(root=root, outputs=root / "outputs", environ=os.environ, **kwargs)  # type: ignore[arg-type]


def _left_behind(root: Path) -> list[psutil.Process]:
    """Processes still working in the workbook (the run, papermill, the kernel)."""
    found = []
    for proc in psutil.process_iter(["cwd"]):
        try:
            if proc.info["cwd"] and Path(proc.info["cwd"]) == root:
                found.append(proc)
        except psutil.Error:
            continue
    return found


class Recorder:
    """A notifier keeping what it is sent; a failing one says its webhook is down."""

    name = "recorder"

    def __init__(self, fail: bool = False) -> None:
        self.sent: list[tuple[RunSummary, str]] = []
        self.fail = fail

    def send(self, message: Notification) -> Delivery:
        self.sent.append((RunSummary.from_dict(dict(message.details)), message.report_url))
        if self.fail:
            return Delivery(self.name, False, 1, None, "the webhook is down")
        return Delivery(self.name, True, 1, 200, "HTTP 200")

    def channels(self, env: str) -> list[Notifier]:
        return [self]


def test_a_notebook_that_sleeps_ends_as_timeout_within_the_jobs_limit(
    workbook: Path, write_schedule: Callable[[str], Path]
) -> None:
    path = write_schedule(
        "jobs:\n  - name: sleeper\n    notebook: probe\n    env: test\n    cron: '* * * * *'\n"
        "    parameters: {mode: sleep}\n    timeout_s: 6\n    retries: 2\n"
        "    notify_on: [failure]\n"
    )
    notifier = Recorder()
    started = time.monotonic()
    result = _runner(workbook, channels=notifier.channels, kill_grace_s=3)(
        load_schedule(path).get("sleeper")
    )
    elapsed = time.monotonic() - started
    assert result.status is Status.TIMEOUT and result.exit_code == 124
    assert len(result.attempts) == 1  # a timeout is not retried
    assert elapsed < 20
    last = Ledger(workbook / "outputs" / "ledger.jsonl").runs()[-1]
    assert last.status is Status.TIMEOUT
    assert (last.notebook, last.env) == ("probe", "test")
    # The run is given a deadline of 3 s inside the job's 6 s and normally stops itself there,
    # with a report; a run slow to start its kernel is killed at 6 s and recorded by the runner.
    if result.attempts[0].timed_out:
        assert last.headline == "timed out after 6 s"
        assert 6 <= last.duration_s < 15
    else:
        assert last.headline.startswith("The run was stopped:"), last.headline
        assert "3 s deadline" in last.headline
        assert last.duration_s < 6
    time.sleep(1)
    assert _left_behind(workbook) == []
    beat = SchedulerFiles(workbook / "outputs").heartbeat("sleeper")
    assert beat.last_status == "TIMEOUT" and beat.last_success is None and beat.last_run
    assert [s.headline for s, _ in notifier.sent] == [last.headline]
    assert notifier.sent[0][1].endswith("/outputs/index.html")


class DeafRunner(SubprocessRunner):
    """Runs a job with a deadline far beyond its ``timeout_s``: a run that does not stop
    itself in time (a kernel stuck in C code), so the runner has to kill it."""

    def command(self, job: Job) -> list[str]:
        args = super().command(job)
        at = args.index("--deadline")
        return [*args[: at + 1], "600", *args[at + 2 :]]


def test_a_run_killed_at_the_jobs_limit_is_recorded_under_its_own_id(
    workbook: Path, write_schedule: Callable[[str], Path]
) -> None:
    path = write_schedule(
        "jobs:\n  - name: sleeper\n    notebook: probe\n    env: test\n    cron: '* * * * *'\n"
        "    parameters: {mode: sleep}\n    timeout_s: 12\n"
    )
    runner = DeafRunner(root=workbook, outputs=workbook / "outputs", environ=os.environ,
                        kill_grace_s=3)  # fmt: skip
    result = runner(load_schedule(path).get("sleeper"))
    assert result.attempts[0].timed_out and result.exit_code == 124
    ledger = Ledger(workbook / "outputs" / "ledger.jsonl")
    [run] = ledger.runs()
    assert (run.status, run.headline) == (Status.TIMEOUT, "timed out after 12 s")
    assert ledger.unfinished() == []  # its start line is closed: it is not ABORTED later
    assert not list((workbook / "outputs").glob("runs/*/.staging-*"))


@pytest.fixture
def flaky_server(http_server: Callable[..., CannedServer]) -> tuple[str, CannedServer]:
    """A loopback source that answers 503 twice, then 200 with a JSON document."""
    server = http_server({"/value": Route(body={"value": 42})})
    server.then(Route(503, "busy"), Route(503, "busy"))
    return f"{server.url}/value", server


def test_a_source_that_fails_twice_then_works_is_retried_with_backoff(
    workbook: Path, write_schedule: Callable[[str], Path], flaky_server: tuple[str, CannedServer]
) -> None:
    url, server = flaky_server
    path = write_schedule(
        "jobs:\n  - name: flaky\n    notebook: flaky\n    env: test\n    cron: '* * * * *'\n"
        f"    parameters: {{url: '{url}'}}\n    retries: 3\n    backoff_s: 0.5\n"
        "    backoff_factor: 2\n    notify_on: [always]\n"
    )
    waits: list[float] = []
    notifier = Recorder(fail=True)
    result = _runner(workbook, sleep=waits.append, channels=notifier.channels)(
        load_schedule(path).get("flaky")
    )
    assert server.paths == ["/value"] * 3  # 503, 503, then 200
    assert waits == [0.5, 1.0]
    assert [a.status for a in result.attempts] == [Status.ERROR, Status.ERROR, Status.OK]
    assert [a.transient for a in result.attempts] == ["HTTPError (503)", "HTTPError (503)", None]
    assert result.status is Status.OK and result.exit_code == 0
    assert "(attempt 3 of 4)" in result.line()
    runs = Ledger(workbook / "outputs" / "ledger.jsonl").runs()
    assert [r.status for r in runs] == [Status.ERROR, Status.ERROR, Status.OK]  # each attempt
    files = SchedulerFiles(workbook / "outputs")
    events = [(e["event"], e.get("attempt")) for e in files.events(job="flaky")]
    assert events == [
        ("attempt", 1),
        ("retry", None),
        ("attempt", 2),
        ("retry", None),
        ("attempt", 3),
        ("notify-failed", None),  # the delivery failed; the run still succeeded
    ]
    assert "the webhook is down" in files.events(job="flaky")[-1]["error"]
    assert files.heartbeat("flaky").last_success is not None
    summary, url_sent = notifier.sent[0]
    assert summary.status is Status.OK and url_sent.startswith("file://")
    assert url_sent.endswith(f"{summary.run_id}/report.html")


def test_a_failing_notebook_is_not_retried_and_notifies(
    workbook: Path, write_schedule: Callable[[str], Path]
) -> None:
    path = write_schedule(
        "jobs:\n  - name: broken\n    notebook: probe\n    env: test\n    cron: '* * * * *'\n"
        "    parameters: {mode: fail}\n    retries: 2\n    backoff_s: 0\n"
        "  - name: crit\n    notebook: probe\n    env: test\n    cron: '* * * * *'\n"
        "    parameters: {mode: crit}\n    notify_on: [failure]\n"
    )
    notifier = Recorder()
    runner = _runner(
        workbook, channels=notifier.channels, report_base_url="https://reports.example/"
    )
    broken = runner(load_schedule(path).get("broken"))
    assert len(broken.attempts) == 1 and broken.attempts[0].transient is None
    assert "ValueError: the probe was asked to fail" in broken.message
    crit = runner(load_schedule(path).get("crit"))
    assert crit.status is Status.CRIT and crit.exit_code == 1
    assert [(s.status, u.split("/runs/")[0]) for s, u in notifier.sent] == [
        (Status.ERROR, "https://reports.example")  # crit is not in the second job's notify_on
    ]
    # A CRIT run did run: it counts for the dead-man's switch.
    assert SchedulerFiles(workbook / "outputs").heartbeat("crit").last_success is not None


def _lock_holder(fd_ready: Path) -> str:
    return (
        "import sys, time\n"
        "from datetime import UTC, datetime\n"
        "from pathlib import Path\n"
        "from sreworkbook.schedule.lock import JobLock\n"
        f"lock = JobLock(Path({str(fd_ready.parent)!r}), 'job')\n"
        "lock.acquire(now=datetime.now(UTC))\n"
        f"Path({str(fd_ready)!r}).write_text('held')\n"
        "time.sleep(120)\n"
    )


def test_a_lock_held_by_a_killed_process_is_released(tmp_path: Path) -> None:
    ready = tmp_path / "ready"
    holder = subprocess.Popen([sys.executable, "-c", _lock_holder(ready)])
    try:
        deadline = time.monotonic() + 30
        while not ready.exists() and time.monotonic() < deadline:
            assert holder.poll() is None, "the lock holder died"
            time.sleep(0.05)
        with pytest.raises(JobLocked, match=f"job job is already running by pid {holder.pid}"):
            JobLock(tmp_path, "job").acquire(now=_now())
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=10)
        with JobLock(tmp_path, "job") as lock:
            lock.acquire(now=_now())
    finally:
        holder.kill()


def _now() -> datetime:
    return datetime.now(UTC)


def test_two_real_processes_never_run_the_same_job_at_once(
    workbook: Path,
    write_schedule: Callable[[str], Path],
    schedule_command: Callable[..., list[str]],
) -> None:
    write_schedule(
        "jobs:\n  - name: sleeper\n    notebook: probe\n    env: test\n    cron: '* * * * *'\n"
        "    parameters: {mode: sleep}\n    timeout_s: 90\n"
    )
    lock_file = workbook / "outputs" / "schedule" / "locks" / "sleeper.lock"
    first = subprocess.Popen(
        schedule_command(workbook, "run", "sleeper"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if lock_file.exists() and str(first.pid) in lock_file.read_text():
                break
            time.sleep(0.1)
        started = time.monotonic()
        second = subprocess.run(
            schedule_command(workbook, "run", "sleeper"),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert time.monotonic() - started < 10  # at once, not after the first run
        assert second.returncode == 0
        assert f"job sleeper is already running by pid {first.pid}" in second.stderr
        assert first.poll() is None
        # Kill the first run outright (its scheduler, papermill and kernel): the lock goes too.
        tree = [psutil.Process(first.pid), *psutil.Process(first.pid).children(recursive=True)]
        for proc in tree:
            proc.kill()
        psutil.wait_procs(tree, timeout=10)
        with JobLock(lock_file.parent, "sleeper") as lock:
            lock.acquire(now=_now())
    finally:
        if first.poll() is None:
            first.kill()
    events = SchedulerFiles(workbook / "outputs").events(job="sleeper")
    assert [e["event"] for e in events] == ["locked"]
    assert events[0]["pid"] == first.pid


def test_run_due_check_and_list_from_the_command_line(
    workbook: Path,
    write_schedule: Callable[[str], Path],
    schedule_command: Callable[..., list[str]],
) -> None:
    write_schedule(
        "jobs:\n  - name: probe\n    notebook: probe\n    env: test\n    cron: '* * * * *'\n"
        "    parameters: {mode: crit}\n    cell_timeout_s: 60\n"
        "  - name: yearly\n    notebook: probe\n    env: test\n    cron: '0 0 1 1 *'\n"
    )

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            schedule_command(workbook, *args), capture_output=True, text=True, timeout=180
        )

    minute = _now().replace(second=0, microsecond=0)
    first = run("run-due")
    assert first.returncode == 1, first.stderr  # the probe reported CRIT
    assert "run-due: first call" in first.stdout
    assert "CRIT    probe: probe ran in mode crit" in first.stdout
    again = run("run-due")
    if _now().replace(second=0, microsecond=0) == minute:  # no minute began since the first call
        assert again.returncode == 0 and "run-due: nothing due" in again.stdout
    checked = run("check")
    assert checked.returncode == 0, checked.stdout  # the yearly job was due before run-due began
    assert run("check", "--since", "2000-01-01T00:00:00Z").returncode == 1
    listed = run("list")
    assert listed.returncode == 0
    assert "probe" in listed.stdout and "last success 20" in listed.stdout
    assert "yearly" in listed.stdout and "last success never" in listed.stdout
