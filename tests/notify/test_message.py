"""The channel-neutral message: built from a run summary, scrubbed, with a severity."""

from __future__ import annotations

import json

from sreworkbook.notify import Notification, severity_of
from sreworkbook.results import Finding, Status
from sreworkbook.secrets import Scrubber

from .conftest import REPORT_URL, summary


def test_from_summary_builds_the_job_message(message: Notification) -> None:
    assert message.title == "health_inspection on prod"
    assert message.status is Status.CRIT and not message.resolved
    assert message.label == "CRIT"
    assert message.fields == (
        ("error_rate", "0.0724"),
        ("p95_ms", "2,412.5"),
        ("requests", "182,340"),
    )
    assert message.summary.splitlines() == [
        "CRIT — Error rate above 5 %: 7.2 % for 9 min",
        "WARN — p95 latency above 2 s: 2.41 s for 12 min",
    ]
    assert message.dedup_key == "sreworkbook:prod:health_inspection"
    assert message.source == "prod"
    assert "parameters" not in message.details
    assert message.details["run_id"] == "20240501T0600-ab12"


def test_from_summary_resolves_ok_runs_and_cuts_long_lists() -> None:
    ok = Notification.from_summary(summary(Status.OK), REPORT_URL)
    assert ok.resolved and ok.label == "RESOLVED"
    assert ok.dedup_key == "sreworkbook:prod:health_inspection"
    many = tuple(Finding(Status.WARN, f"finding {i}") for i in range(8))
    cut = Notification.from_summary(summary(findings=many), REPORT_URL, max_findings=3)
    assert cut.summary.splitlines()[-1] == "… and 5 more findings in the report"
    assert not Notification.from_summary(summary(Status.OK), "", resolved=False).resolved


def test_scrubbed_masks_secret_values_everywhere() -> None:
    leaky = summary(
        headline="login failed for mongodb://app:hunter2-pw@db/tradeai",
        findings=(Finding(Status.CRIT, "auth", "password hunter2-pw refused"),),
    )
    message = Notification.from_summary(leaky, REPORT_URL).scrubbed(Scrubber(["hunter2-pw"]))
    assert "hunter2-pw" not in json.dumps(message.to_dict())
    assert message.headline == "login failed for mongodb://app:***@db/tradeai"
    assert message.details["findings"][0]["detail"] == "password *** refused"


def test_severity_follows_status() -> None:
    assert [severity_of(s) for s in Status] == [
        "info",  # OK
        "warning",  # WARN
        "critical",  # CRIT
        "error",  # UNKNOWN
        "info",  # SKIPPED
        "error",  # TIMEOUT (the run passed its deadline)
        "error",  # ABORTED (the run never finished)
        "error",  # ERROR (the notebook itself failed)
    ]
