"""The runner: concurrency, hard deadlines, failures turned into rows, input order."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from sreworkbook.checks import Check, run_checks
from sreworkbook.checks.http import service_checks
from sreworkbook.config import Environment
from sreworkbook.edges.retry import RUN_DEADLINE_ENV
from sreworkbook.results import CheckResult, Status
from support.http import CannedServer, Route


def sleeper(name: str, seconds: float, status: Status = Status.OK) -> Check:
    def probe(timeout_s: float) -> CheckResult:
        time.sleep(seconds)
        return CheckResult(name, "test", status, detail=f"slept {seconds}")

    return Check(name, "test", f"sleep://{name}", 1.0, probe)


def test_results_come_back_in_input_order_with_runner_latency() -> None:
    checks = [sleeper("slow", 0.3), sleeper("fast", 0.0), sleeper("middle", 0.15)]
    results = run_checks(checks)
    assert [r.name for r in results] == ["slow", "fast", "middle"]
    assert results[0].latency_ms == pytest.approx(300, abs=120)
    assert results[1].latency_ms is not None and results[1].latency_ms < 100
    assert all(r.status is Status.OK for r in results)


def test_a_hanging_probe_is_unknown_at_its_deadline_and_not_waited_for() -> None:
    release = threading.Event()

    def hang(timeout_s: float) -> CheckResult:
        release.wait(30)
        return CheckResult("hang", "test", Status.OK)

    checks = [Check("hang", "test", "t", 0.5, hang), sleeper("quick", 0.0)]
    start = time.monotonic()
    try:
        results = run_checks(checks)
    finally:
        release.set()
    elapsed = time.monotonic() - start
    assert elapsed < 0.9
    assert results[0].status is Status.UNKNOWN
    assert results[0].detail == "timed out after 0.5 s"
    assert results[0].target == "t"
    assert results[0].latency_ms == pytest.approx(500, abs=150)
    assert results[1].status is Status.OK


def test_a_raising_probe_is_unknown_with_type_and_masked_message() -> None:
    def boom(timeout_s: float) -> CheckResult:
        raise RuntimeError("cannot reach mongodb://app:hunter2@db:27017/x")

    (result,) = run_checks([Check("boom", "mongodb", "db", 1.0, boom)])
    assert result.status is Status.UNKNOWN
    assert result.detail.startswith("check failed: RuntimeError: cannot reach")
    assert "hunter2" not in result.detail and "app:***@db" in result.detail


def test_a_probe_returning_nonsense_is_unknown() -> None:
    def wrong(timeout_s: float) -> CheckResult:
        return "OK"  # type: ignore[return-value]

    (result,) = run_checks([Check("wrong", "test", "", 1.0, wrong)])
    assert result.status is Status.UNKNOWN
    assert "probe returned str" in result.detail


def test_a_probe_may_return_several_results_flattened_in_place() -> None:
    def many(timeout_s: float) -> tuple[CheckResult, ...]:
        return (
            CheckResult("endpoint", "service", Status.OK),
            CheckResult("reported", "mongodb", Status.CRIT, latency_ms=12.0),
            CheckResult("reported", "redis", Status.OK),
        )

    results = run_checks([sleeper("first", 0.0), Check("m", "service", "", 1.0, many)])
    assert [(r.name, r.component) for r in results] == [
        ("first", "test"),
        ("endpoint", "service"),
        ("reported", "mongodb"),
        ("reported", "redis"),
    ]
    assert results[2].latency_ms == 12.0  # the component's own figure is kept
    assert results[3].latency_ms == results[1].latency_ms  # none given: the runner's


def test_the_timeout_is_passed_to_the_probe() -> None:
    seen: list[float] = []

    def record(timeout_s: float) -> CheckResult:
        seen.append(timeout_s)
        return CheckResult("r", "test", Status.OK)

    run_checks([Check("r", "test", "", 2.5, record)])
    assert seen == [2.5]


def test_a_check_never_waits_past_the_runs_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    release = threading.Event()
    seen: list[float] = []

    def hang(timeout_s: float) -> CheckResult:
        seen.append(timeout_s)
        release.wait(30)
        return CheckResult("hang", "test", Status.OK)

    monkeypatch.setenv(RUN_DEADLINE_ENV, str(time.time() + 0.4))
    start = time.monotonic()
    try:
        [result] = run_checks([Check("hang", "test", "t", 20.0, hang)])
    finally:
        release.set()
    assert time.monotonic() - start < 1.0  # the run's 0.4 s, not the check's 20 s
    assert seen and seen[0] <= 0.4
    assert result.status is Status.UNKNOWN and result.detail.startswith("timed out after 0.")


def test_max_workers_bounds_concurrency_but_hung_checks_free_their_slot() -> None:
    running = 0
    peak = 0
    lock = threading.Lock()
    release = threading.Event()

    def counted(hang: bool) -> Callable[[float], CheckResult]:
        def probe(timeout_s: float) -> CheckResult:
            nonlocal running, peak
            with lock:
                running += 1
                peak = max(peak, running)
            try:
                if hang:
                    release.wait(30)
                else:
                    time.sleep(0.05)
            finally:
                with lock:
                    running -= 1
            return CheckResult("c", "test", Status.OK)

        return probe

    checks = [Check(f"c{i}", "test", "", 0.4, counted(i < 2)) for i in range(10)]
    start = time.monotonic()
    try:
        results = run_checks(checks, max_workers=2)
    finally:
        release.set()
    elapsed = time.monotonic() - start
    # Two hung checks hold both slots for 0.4 s, then eight quick ones run two at a time.
    assert [r.status for r in results[:2]] == [Status.UNKNOWN, Status.UNKNOWN]
    assert all(r.status is Status.OK for r in results[2:])
    assert 0.4 <= elapsed < 1.2
    assert peak <= 4  # at most max_workers live, plus the two abandoned hung ones


def test_max_workers_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_workers"):
        run_checks([], max_workers=0)


def test_no_checks_no_results() -> None:
    assert run_checks([]) == ()


def test_fifty_real_http_checks_ten_hanging_finish_within_one_and_a_half_timeouts(
    http_server: Callable[[dict[str, Route]], CannedServer],
) -> None:
    server = http_server({"/ok": Route(body={"status": "ok"}), "/hang": Route(hang=True)})
    probes = {f"ok{i}": {"path": "/ok"} for i in range(39)}
    probes.update({f"hang{i}": {"path": "/hang"} for i in range(10)})
    env = Environment.model_validate(
        {
            "name": "t",
            "service": {"base_url": server.url, "health_path": "/ok", "detailed_path": None,
                        "probes": probes},
            "check_timeout_s": 1.0,
        }
    )  # fmt: skip
    checks = service_checks(env, environ={})
    assert len(checks) == 50
    start = time.monotonic()
    results = run_checks(checks)
    elapsed = time.monotonic() - start
    assert elapsed < 1.5
    hung = [r for r in results if r.name.startswith("hang")]
    assert len(hung) == 10
    assert all(r.status is Status.UNKNOWN for r in hung)
    assert all("timed out after 1" in r.detail for r in hung)
    assert all(r.status is Status.OK for r in results if not r.name.startswith("hang"))
