"""Result types: status order, exit codes, round trips."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping

import pytest

from sreworkbook.results import (
    SUMMARY_MIME,
    CheckResult,
    Finding,
    RunSummary,
    Status,
    record,
    worst,
)


def test_worst_ignores_skipped() -> None:
    assert worst([Status.OK, Status.WARN, Status.SKIPPED]) is Status.WARN
    assert worst([Status.WARN, Status.CRIT, Status.UNKNOWN]) is Status.CRIT
    assert worst([Status.SKIPPED]) is Status.OK
    assert worst([]) is Status.OK


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (Status.OK, 0),
        (Status.WARN, 0),
        (Status.CRIT, 1),
        (Status.UNKNOWN, 1),
        (Status.ERROR, 2),
        (Status.TIMEOUT, 124),
        (Status.ABORTED, 2),
    ],
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


def test_metric_order_survives_sorted_json() -> None:
    import json

    from sreworkbook.results import format_metric

    summary = RunSummary(Status.OK, "x", {"p95_ms": 1.0, "availability": 0.999, "budget_left": 0.5})
    stored = json.loads(json.dumps(summary._repr_mimebundle_()[SUMMARY_MIME], sort_keys=True))
    assert list(RunSummary.from_dict(stored).metrics) == ["p95_ms", "availability", "budget_left"]
    assert format_metric("availability", 0.99961) == "99.961 %"
    assert format_metric("error_rate", 0.0004) == "0.04 %"
    assert format_metric("p95_ms", 548.4) == "548 ms"
    assert format_metric("mem_pct", 64.96) == "65.0 %"
    # An epoch-seconds time reads as a time, not as 1,796,492,079.
    assert format_metric("first_error_at", 1796492079.5) == "2026-12-05 17:34:39 UTC"


def test_record_is_the_fields_in_order_as_json_ready_data() -> None:
    @dataclasses.dataclass(frozen=True)
    class Row:
        status: Status
        findings: tuple[Finding, ...]
        labels: Mapping[str, str] = dataclasses.field(default_factory=dict)
        waited_s: float = 0.0

    row = Row(Status.WARN, (Finding(Status.CRIT, "down", "api"),), {"a": "b"}, 1.23456)
    data = record(row, waited_s=round(row.waited_s, 2))
    assert list(data) == ["status", "findings", "labels", "waited_s"]
    assert data == {
        "status": "WARN",
        "findings": [{"severity": "CRIT", "title": "down", "detail": "api"}],
        "labels": {"a": "b"},
        "waited_s": 1.23,
    }
    assert json.loads(json.dumps(data)) == data
