"""Error rate over time and the incident summary, against the winston truth."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from sreworkbook.exceptions import ParameterError
from sreworkbook.incidents import error_rate, summarise
from sreworkbook.results import Status
from sreworkbook.sources.logs import LocalLogStore
from support.cli import winston_module

W = winston_module()


def incident(truth: dict[str, Any]) -> tuple[datetime, datetime]:
    return W.ts(truth["incident"]["start"]), W.ts(truth["incident"]["end"])


def test_summary_of_the_incident_window(winston: tuple[Path, dict[str, Any]]) -> None:
    folder, truth = winston
    start, end = incident(truth)
    events = W.events(truth, start, end)
    # Error lines that say why; the 5xx completion lines are failed requests, not errors.
    errors = [e for e in events if e["level"] == "error" and e["kind"] != "completed"]
    done = [e for e in events if e["kind"] == "completed"]
    assert len(errors) < len([e for e in events if e["level"] == "error"])
    failed = {e["cid"] for e in done if e["status"] >= 500}
    summary = summarise(LocalLogStore(folder), start, end)
    assert summary.requests == len(done)
    assert summary.failed_requests == len(failed)
    assert summary.errors == len(errors)
    assert summary.first_error_at == min(W.ts(e["ts"]) for e in errors)
    assert len(summary.groups) == len({e["template"] for e in errors})
    routes = Counter(e["route"] for e in done if e["cid"] in failed)
    assert dict(summary.affected_routes) == dict(routes)
    statuses = Counter((e["route"], e["status"]) for e in done if e["status"] >= 500)
    assert {
        (route, code): n for route, codes in summary.route_statuses.items() for code, n in codes
    } == dict(statuses)
    metrics = summary.metrics
    assert metrics == {
        "lines_scanned": float(summary.stats.lines_scanned),
        "malformed_lines": 0.0,
        "errors": float(len(errors)),
        "error_groups": float(len(summary.groups)),
        "failed_requests": float(len(failed)),
        "requests": float(len(done)),
        "first_error_at": min(W.ts(e["ts"]) for e in errors).timestamp(),
    }
    assert summary.stats.lines_scanned <= truth["files"]["combined-2024-03-11.log.gz"]["records"]
    assert f"{len(failed)} of {len(done)} requests failed" in summary.headline
    findings = summary.findings()
    assert findings and all(f.severity is Status.WARN for f in findings)


def test_error_rate_per_minute_matches_the_truth(winston: tuple[Path, dict[str, Any]]) -> None:
    folder, truth = winston
    start, end = incident(truth)
    start, end = start - timedelta(minutes=10), end + timedelta(minutes=10)
    rate = error_rate(LocalLogStore(folder), start, end).frame
    assert len(rate) == 40 and rate["bucket"].iloc[0] == pd.Timestamp(start)
    done = [e for e in W.events(truth, start, end) if e["kind"] == "completed"]
    minute = Counter(W.ts(e["ts"]).replace(second=0, microsecond=0) for e in done)
    bad = Counter(
        W.ts(e["ts"]).replace(second=0, microsecond=0) for e in done if e["status"] >= 500
    )
    for row in rate.itertuples():
        key = row.bucket.to_pydatetime()
        assert row.requests == minute[key]
        assert row.failed == bad[key]
        if row.requests:
            assert row.error_rate == pytest.approx(bad[key] / minute[key])
        else:
            assert pd.isna(row.error_rate)
    assert rate["failed"].iloc[:10].sum() == 0 and rate["failed"].iloc[10:30].sum() > 0


def test_quiet_window_and_bad_bucket(winston: tuple[Path, dict[str, Any]]) -> None:
    folder, truth = winston
    start = datetime(2024, 3, 12, 9, 0, tzinfo=UTC)
    quiet = [e for e in W.events(truth, start, start + timedelta(minutes=2))]
    summary = summarise(LocalLogStore(folder), start, start + timedelta(minutes=2))
    assert not any(e["level"] == "error" for e in quiet)
    assert summary.errors == 0 and summary.first_error_at is None
    assert "first_error_at" not in summary.metrics
    assert summary.headline.startswith("No errors")
    with pytest.raises(ParameterError):
        error_rate(LocalLogStore(folder), start, start + timedelta(hours=1), bucket=timedelta(0))


def test_whole_day_summary_counts_every_line_of_a_gzipped_day(
    winston: tuple[Path, dict[str, Any]],
) -> None:
    folder, truth = winston
    start = datetime(2024, 3, 9, tzinfo=UTC)
    summary = summarise(LocalLogStore(folder), start, start + timedelta(days=1))
    day = truth["files"]["combined-2024-03-09.log.gz"]
    assert summary.stats.malformed_lines == day["malformed"] == 2
    assert summary.stats.lines_scanned >= day["records"] + day["malformed"]
    assert summary.metrics["malformed_lines"] == 2.0
    assert any("malformed" in f.title for f in summary.findings())
