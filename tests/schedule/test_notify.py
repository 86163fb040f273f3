"""Scheduled-run notifications through the channels an environment configures."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from sreworkbook.exceptions import WorkbookError
from sreworkbook.results import Finding, RunSummary, Status
from sreworkbook.schedule.notify import ChannelNotifier


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[dict[str, object]], list[int]]]:
    """A loopback Slack-compatible webhook: records JSON bodies, answers with ``codes[0]``."""
    bodies: list[dict[str, object]] = []
    codes = [200]

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            bodies.append(json.loads(self.rfile.read(length)))
            self.send_response(codes[0])
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", bodies, codes
    server.shutdown()
    server.server_close()


SUMMARY = RunSummary(
    status=Status.CRIT,
    headline="2 of 9 checks failed: mongodb down",
    findings=(Finding(Status.CRIT, "MongoDB", "connection refused"),),
    notebook="health_inspection",
    env="test",
    run_id="r1",
)


def test_a_crit_run_reaches_the_slack_receiver(
    tmp_path: Path, receiver: tuple[str, list[dict[str, object]], list[int]]
) -> None:
    url, bodies, _ = receiver
    (tmp_path / "parameters").mkdir()
    (tmp_path / "parameters" / "test.yaml").write_text(
        f"name: test\nnotifications:\n  slack:\n    webhook_url: {url}\n"
    )
    ChannelNotifier(tmp_path, {}).send(SUMMARY, "https://reports.example/runs/r1/report.html")
    text = json.dumps(bodies)
    assert len(bodies) == 1
    assert "2 of 9 checks failed: mongodb down" in text
    assert "https://reports.example/runs/r1/report.html" in text


def test_failures_and_missing_channels_are_raised_for_the_history(
    tmp_path: Path, receiver: tuple[str, list[dict[str, object]], list[int]]
) -> None:
    url, _, codes = receiver
    (tmp_path / "parameters").mkdir()
    (tmp_path / "parameters" / "test.yaml").write_text("name: test\n")
    with pytest.raises(WorkbookError, match="configures no notification channel"):
        ChannelNotifier(tmp_path, {}).send(SUMMARY, "u")
    (tmp_path / "parameters" / "test.yaml").write_text(
        f"name: test\nnotifications:\n  slack:\n    webhook_url: {url}\n"
    )
    codes[0] = 404  # not retried: a wrong URL stays wrong
    with pytest.raises(WorkbookError, match="slack"):
        ChannelNotifier(tmp_path, {}).send(SUMMARY, "u")
