"""Detached processes and the state file that records them."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from sreworkbook.exceptions import SandboxError
from sreworkbook.sandbox.process import alive, last_line, spawn, start_ticks, stop_group, wait_ready
from sreworkbook.sandbox.state import RUNNING, Record, StateFile


def binary(name: str) -> str:
    found = shutil.which(name)
    assert found, f"{name} not on PATH"
    return found


def test_spawned_process_is_detached_and_stopped_with_its_group(tmp_path: Path) -> None:
    out = tmp_path / "sleep.out"
    pid, ticks = spawn("t", [binary("sh"), "-c", "echo started; sleep 60 & sleep 60"], log_path=out)
    try:
        assert alive(pid) and ticks == start_ticks(pid)
        wait_ready("t", lambda: "started" in out.read_text(), pid=pid, timeout_s=5, log_path=out)
        assert Path(f"/proc/{pid}/stat").read_text().split(") ")[1].split()[3] == str(
            pid
        )  # session leader
    finally:
        assert stop_group(pid, ticks=ticks, timeout_s=5)
    deadline = time.monotonic() + 5
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(pid)
    assert not stop_group(pid, ticks=ticks)


def test_a_recycled_pid_is_not_signalled(tmp_path: Path) -> None:
    pid, ticks = spawn("t", [binary("sleep"), "30"], log_path=tmp_path / "x.out")
    try:
        assert ticks is not None
        assert not stop_group(pid, ticks=ticks + 1)
        assert alive(pid)
    finally:
        stop_group(pid, ticks=ticks)


def test_wait_ready_reports_an_early_exit_with_the_last_output_line(tmp_path: Path) -> None:
    out = tmp_path / "fail.out"
    pid, _ = spawn(
        "t", [binary("sh"), "-c", "echo 'bind: address already in use' >&2; exit 1"], log_path=out
    )
    with pytest.raises(SandboxError, match="exited during start-up: bind: address already in use"):
        wait_ready("t", lambda: False, pid=pid, timeout_s=10, log_path=out)
    assert last_line(out) == "bind: address already in use"


def test_missing_executable_is_a_sandbox_error(tmp_path: Path) -> None:
    with pytest.raises(SandboxError, match="cannot start /nonexistent/server") as caught:
        spawn("mongodb", ["/nonexistent/server"], log_path=tmp_path / "m.out")
    assert caught.value.component == "mongodb"


def test_state_file_records_and_notices_dead_processes(tmp_path: Path) -> None:
    states = StateFile(tmp_path / "state.json")
    assert states.read() == {}
    pid, ticks = spawn("t", [binary("sleep"), "30"], log_path=tmp_path / "s.out")
    states.put(Record("redis", RUNNING, pid, ticks, "redis://127.0.0.1:1/0", "ok"))
    states.put(Record("api", RUNNING, 999_999_999, 1, "http://127.0.0.1:2"))
    records = {name: r.current() for name, r in states.read().items()}
    assert records["redis"].status == "running" and records["redis"].pid == pid
    assert records["api"].status == "stopped" and records["api"].detail == "process exited"
    stop_group(pid, ticks=ticks)
