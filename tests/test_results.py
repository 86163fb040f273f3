"""Result types: status order, exit codes, round trips."""

from __future__ import annotations

import dataclasses

import pytest

from sreworkbook.results import SUMMARY_MIME, CheckResult, Finding, RunSummary, Status, worst


def test_worst_ignores_skipped() -> None:
    assert worst([Status.OK, Status.WARN, Status.SKIPPED]) is Status.WARN
    assert worst([Status.WARN, Status.CRIT, Status.UNKNOWN]) is Status.CRIT
    assert worst([Status.SKIPPED]) is Status.OK
    assert worst([]) is Status.OK


@pytest.mark.parametrize(
    ("status", "code"),
    [(Status.OK, 0), (Status.WARN, 0), (Status.CRIT, 1), (Status.UNKNOWN, 1), (Status.ERROR, 2)],
)
def test_exit_codes(status: Status, code: int) -> None:
    assert status.exit_code == code


def test_results_are_immutable() -> None:
    result = CheckResult("ping", "redis", Status.OK, 1.5)
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.status = Status.CRIT  # type: ignore[misc]
    assert CheckResult.from_dict(result.to_dict()) == result


def test_summary_round_trip_and_mimebundle() -> None:
    summary = RunSummary(
        Status.WARN, "one slow check", {"p95_ms": 2100.0}, (Finding(Status.WARN, "slow", "x"),)
    )
    assert RunSummary.from_dict(summary.to_dict()) == summary
    bundle = summary._repr_mimebundle_()
    assert bundle[SUMMARY_MIME]["status"] == "WARN"
    assert "one slow check" in bundle["text/html"]
