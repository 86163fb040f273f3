"""Scheduled-run notifications: the channels a run's environment configures, read when asked."""

from __future__ import annotations

from pathlib import Path

import pytest

from sreworkbook.exceptions import WorkbookError
from sreworkbook.notify import Notification, SlackNotifier, channels_of, notify_all
from sreworkbook.results import Finding, RunSummary, Status
from support.http import Route, canned_server

SUMMARY = RunSummary(
    status=Status.CRIT,
    headline="2 of 9 checks failed: mongodb down",
    findings=(Finding(Status.CRIT, "MongoDB", "connection refused"),),
    notebook="health_inspection",
    env="test",
    run_id="r1",
)


def write_env(root: Path, text: str) -> None:
    (root / "parameters").mkdir(exist_ok=True)
    (root / "parameters" / "test.yaml").write_text(text)


def test_a_crit_run_reaches_the_environments_slack(tmp_path: Path) -> None:
    with canned_server({"/hook": Route(body="ok", content_type="text/plain")}) as server:
        write_env(
            tmp_path, f"name: test\nnotifications:\n  slack:\n    webhook_url: {server.url}/hook\n"
        )
        channels = channels_of(tmp_path, {})
        (slack,) = channels("test")
        assert isinstance(slack, SlackNotifier)
        url = "https://reports.example/runs/r1/report.html"
        (delivery,) = notify_all([slack], Notification.from_summary(SUMMARY, url))
    assert delivery.ok
    (post,) = server.seen
    body = post.json()
    assert body["text"].startswith("CRIT: health_inspection on test — 2 of 9 checks failed")
    assert url in str(body)


def test_the_environment_is_read_when_asked(tmp_path: Path) -> None:
    channels = channels_of(tmp_path, {})
    with pytest.raises(WorkbookError, match="test"):
        channels("test")  # no such file yet
    write_env(tmp_path, "name: test\n")
    assert channels("test") == []
