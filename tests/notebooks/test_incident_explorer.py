"""The incident explorer end to end through `sreworkbook run` on the sandbox.

The sandbox lays down a week of Winston logs when its API starts, with the incidents of the
Prometheus history and a truth file (``log_truth.json``) saying what the logs hold; the
explorer must find the same from the logs, and line them up with the real Prometheus.
"""

from __future__ import annotations

import html
import json
import os
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from sreworkbook.incidents import normalise_message
from sreworkbook.sandbox.log_history import TRUTH_FILE
from support.ledger import summaries

pytestmark = [pytest.mark.notebook, pytest.mark.integration]
THRESHOLD = 0.05  # parameters/sandbox.yaml keeps the seed's 5 % error-rate threshold


def truth_of(sandbox: Any) -> dict[str, Any]:
    sandbox.require("api")
    path = Path(sandbox.state.data_dir) / TRUTH_FILE
    if not path.is_file():
        message = f"the sandbox wrote no log history ({path})"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    truth: dict[str, Any] = json.loads(path.read_text())
    return truth


def spike_of(truth: dict[str, Any]) -> dict[str, Any]:
    return next(i for i in truth["incidents"] if i["kind"] == "error_rate")


def run(cli: Any, outputs: Path, env: Path | str, *params: str) -> Any:
    pairs = [part for name, value in zip(params[::2], params[1::2], strict=True)
             for part in ("-p", name, value)]  # fmt: skip
    return cli("--outputs", str(outputs), "run", "incident_explorer", "--env", str(env), *pairs)


def warn_titles(summary: dict[str, Any]) -> list[str]:
    return [f["title"] for f in summary["findings"] if f["severity"] == "WARN"]


def test_error_spike_by_name_matches_the_truth(
    cli: Any, last_run: Any, sandbox: Any, tmp_path: Path
) -> None:
    truth = truth_of(sandbox)
    sandbox.require("prometheus")
    spike = spike_of(truth)
    done = run(cli, tmp_path, sandbox.env_file, "incident", spike["name"])
    share = spike["failed_requests"] / spike["requests"]
    assert done.returncode == (1 if share > THRESHOLD else 0), done.stdout + done.stderr
    summary, run_dir = last_run(tmp_path)
    assert summary["status"] == ("CRIT" if share > THRESHOLD else "WARN") == "CRIT"
    m = summary["metrics"]
    assert m["errors"] == spike["cause_lines"]  # completion lines are failed requests
    assert m["failed_requests"] == spike["failed_requests"]
    assert m["requests"] == spike["requests"]
    assert m["error_groups"] == len(spike["groups"])
    dominant = spike["dominant"]
    assert (
        warn_titles(summary)[0] == f"{dominant['count']} × {normalise_message(dominant['message'])}"
    )
    first = spike["first_failed_request"]
    assert m["first_error_at"] == pytest.approx(
        datetime.fromisoformat(first["at"].replace("Z", "+00:00")).timestamp()
    )
    assert m["trace_lines"] == len(first["messages"])
    report = (run_dir / "report.html").read_text()
    table = re.search(
        rf'data-correlation-id="{first["correlation_id"]}".*?<tbody>(.*?)</tbody>', report
    )
    assert table is not None
    messages = re.findall(r"<tr>(?:<td>.*?</td>){4}<td>(.*?)</td>", table.group(1))
    assert messages == [html.escape(m) for m in first["messages"]]
    # lined up with the real Prometheus: its error rate over the incident agrees with the logs'
    assert not any(f["title"] == "Metrics not lined up" for f in summary["findings"])
    assert m["error_rate"] == pytest.approx(share)
    assert m["error_rate_metrics"] == pytest.approx(share, abs=0.01)
    assert "prometheus: error rate" in report and report.count("Plotly.newPlot") == 2
    assert "<details><summary>stack</summary>" in report
    assert "incidents.explore" not in report  # no code in the report


def test_finds_the_spike_from_logs_alone(
    cli: Any, last_run: Any, sandbox: Any, tmp_path: Path
) -> None:
    truth = truth_of(sandbox)
    spike = spike_of(truth)
    (tmp_path / "none.json").write_text("[]")
    start = datetime.fromisoformat(spike["start"].replace("Z", "+00:00"))
    end = datetime.fromisoformat(spike["end"].replace("Z", "+00:00"))
    done = run(
        cli, tmp_path / "out", sandbox.env_file,
        "incidents_file", str(tmp_path / "none.json"),
        "start", (start - timedelta(hours=6)).isoformat(),
        "end", (end + timedelta(hours=6)).isoformat(),
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    summary, _ = last_run(tmp_path / "out")
    assert summary["status"] == "WARN"  # over 12 hours the failed share stays under 5 %
    # The minute reads as a time in UTC, not as RFC 3339.
    worst = re.match(r"Worst error minute (\d{4}-\d\d-\d\d \d\d:\d\d) UTC in ", summary["headline"])
    assert worst is not None, summary["headline"]
    minute = datetime.strptime(worst.group(1), "%Y-%m-%d %H:%M").replace(tzinfo=UTC)
    assert start.replace(second=0, microsecond=0) <= minute < end
    pool = truth["error_lines_by_kind"]["pool"]
    assert warn_titles(summary)[0].startswith(f"{pool} × MongoWaitQueueTimeoutError")


def test_default_window_is_quick_and_judges_the_spike_only_when_it_is_in_it(
    cli: Any, last_run: Any, sandbox: Any, tmp_path: Path
) -> None:
    # The default window is the last 24 hours; the planted spike is yesterday 14:20–14:45 UTC,
    # so before 14:45 the window overlaps it (CRIT: about 7 % of requests failed) and after
    # 14:20 plus the run's length it does not (the quiet hours since: OK or WARN).
    truth = truth_of(sandbox)
    spike = spike_of(truth)
    spike_end = datetime.fromisoformat(spike["end"].replace("Z", "+00:00"))
    before = datetime.now(UTC)
    done = run(cli, tmp_path, sandbox.env_file)
    after = datetime.now(UTC)
    summary, _ = last_run(tmp_path)
    if spike_end > after - timedelta(hours=24):  # in focus: the spike's own lines are judged
        assert summary["status"] == "CRIT", summary["headline"]
        assert done.returncode == 1
        assert spike["name"] in summary["headline"]
        assert summary["metrics"]["requests"] == spike["requests"]
    elif spike_end <= before - timedelta(hours=24):  # the whole quiet day is read
        assert summary["status"] in ("OK", "WARN"), summary["findings"]
        assert done.returncode == 0, done.stdout + done.stderr
        assert summary["metrics"]["lines_scanned"] > 50_000
    assert summary["duration_s"] < 120


def test_incident_older_than_the_logs_is_unknown(
    cli: Any, last_run: Any, sandbox: Any, tmp_path: Path
) -> None:
    truth_of(sandbox)
    sandbox.require("prometheus")  # it writes incidents.json, which knows the old incident
    done = run(cli, tmp_path, sandbox.env_file, "incident", "database-slowdown")
    assert done.returncode == 1, done.stdout + done.stderr
    summary, _ = last_run(tmp_path)
    assert summary["status"] == "UNKNOWN"
    assert "no log file covers it" in json.dumps(summary["findings"])


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("start", "yesterday"),
        ("window", "24x"),
        ("incident", "no-such-incident"),
        ("level", "loud"),
    ],
)
def test_bad_parameters_are_bad_input(
    cli: Any, sandbox: Any, tmp_path: Path, name: str, value: str
) -> None:
    done = run(cli, tmp_path, sandbox.env_file, name, value)
    assert done.returncode == 64, done.stdout + done.stderr
    said = done.stderr.strip().splitlines()[-1]
    assert said.startswith("sreworkbook: error:") and f"{name}: " in said, done.stderr
    # jupyter_client may log a ZMQ callback traceback while the refused kernel shuts down
    assert "Traceback" not in done.stderr or "ZMQStream callback" in done.stderr, done.stderr
    # no run recorded: the ledger holds at most the run's start line and its "refused" close
    assert summaries(tmp_path / "ledger.jsonl") == []
    assert not list(tmp_path.glob("runs/*/2*"))


def test_missing_log_dir_is_unknown_with_a_report(cli: Any, last_run: Any, tmp_path: Path) -> None:
    env_file = tmp_path / "nologs.yaml"
    env_file.write_text(
        f"name: nologs\nlogs:\n  dir: {tmp_path / 'missing'}\n"
        "prometheus:\n  url: http://127.0.0.1:9\n  timeout_s: 1\n"
    )
    done = run(cli, tmp_path / "out", env_file, "window", "1h")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    summary, run_dir = last_run(tmp_path / "out")
    assert summary["status"] == "UNKNOWN"
    titles = {f["title"]: f for f in summary["findings"]}
    assert "log directory not found" in titles["Logs unreadable"]["detail"]
    assert titles["Metrics not lined up"]["severity"] == "SKIPPED"
    report = (run_dir / "report.html").read_text()
    assert "This step failed" not in report and "No failing request to trace" in report
