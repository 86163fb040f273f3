"""What a notebook emits: one result object with status, headline, metrics and findings."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from sreworkbook.reports import emit
from sreworkbook.results import Conclusion, Finding, RunSummary, Status

FINDING = Finding(Status.WARN, "p95 above 2 s", "2.4 s")


@dataclass
class Methods:
    """Like HealthReport or BackupAssessment: some parts are methods, some properties."""

    @property
    def status(self) -> Status:
        return Status.WARN

    def headline(self) -> str:
        return "slow"

    def metrics(self) -> dict[str, float | None]:
        return {"p95_ms": 2400, "rto_s": None}

    def findings(self) -> tuple[Finding, ...]:
        return (FINDING,)


EXPECTED = RunSummary(Status.WARN, "slow", {"p95_ms": 2400.0}, (FINDING,))


def test_a_conclusion_an_object_and_the_older_form_publish_the_same() -> None:
    assert (
        emit(Conclusion(Status.WARN, "slow", {"p95_ms": 2400, "rto_s": None}, (FINDING,)))
        == EXPECTED
    )  # type: ignore[dict-item]
    assert emit(Methods()) == EXPECTED
    assert (
        emit("WARN", "slow", metrics={"p95_ms": 2400, "rto_s": None}, findings=[FINDING])
        == EXPECTED
    )
    status, headline, metrics, findings = Conclusion(Status.OK, "fine", {}, ())  # unpacks
    assert (status, headline, metrics, findings) == (Status.OK, "fine", {}, ())


def test_an_object_without_the_four_is_refused_naming_what_is_missing() -> None:
    with pytest.raises(TypeError, match="Finding has no status"):
        emit(FINDING)


def test_identical_findings_are_folded_into_one_with_a_count() -> None:
    down = Finding(Status.UNKNOWN, "No data for latency", "prometheus: connection refused")
    other = Finding(Status.UNKNOWN, "No data for latency", "prometheus: HTTP 500")
    published = emit(Conclusion(Status.UNKNOWN, "no data", {}, (down, FINDING, down, other, down)))
    assert published.findings == (
        Finding(Status.UNKNOWN, "No data for latency (×3)", "prometheus: connection refused"),
        FINDING,
        other,  # the same title for another reason is another finding
    )
