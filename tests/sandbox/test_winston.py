"""Winston-format log lines and the daily files they go to."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sreworkbook.sandbox.winston import DailyLog, format_duration, iso_ms, log_line

ISO_MS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def test_line_has_winston_fields_in_winston_order() -> None:
    when = datetime(2026, 11, 28, 14, 20, 1, 123456, tzinfo=UTC)
    line = log_line(
        "info",
        "Request completed",
        when,
        correlationId="5f0c3b5e-8a8e-4c1e-9a53-3c1b4f3e2a11",
        method="GET",
        url="/api/trades",
        statusCode=200,
        duration=format_duration(0.1654),
        userId="6ab645f2cd8ddd6bcce39a9b",
        stack=None,
    )
    record = json.loads(line)
    assert list(record) == [
        "level",
        "message",
        "correlationId",
        "method",
        "url",
        "statusCode",
        "duration",
        "userId",
        "service",
        "timestamp",
    ]
    assert record["timestamp"] == "2026-11-28T14:20:01.123Z"
    assert record["duration"] == "165ms"
    assert record["service"] == "tradeai-backend"
    assert "\n" not in line


def test_iso_ms_converts_to_utc() -> None:
    from datetime import timezone

    local = datetime(2026, 11, 28, 16, 0, 0, 5000, tzinfo=timezone(timedelta(hours=2)))
    assert iso_ms(local) == "2026-11-28T14:00:00.005Z"
    assert ISO_MS.match(iso_ms(local))


def test_unknown_level_is_refused() -> None:
    with pytest.raises(ValueError, match="did you mean one of"):
        log_line("fatal", "x", datetime.now(UTC))


def test_daily_files_by_utc_date_and_errors_twice(tmp_path: Path) -> None:
    clock = [datetime(2026, 11, 27, 23, 59, 59, 900000, tzinfo=UTC)]
    log = DailyLog(tmp_path, clock=lambda: clock[0])
    log.write("info", "Incoming request", correlationId="a")
    log.write("error", "boom", correlationId="a", stack="Error: boom\n    at x (/app/x.js:1:1)")
    clock[0] += timedelta(seconds=1)
    log.write("info", "Request completed", correlationId="b")
    log.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "combined-2026-11-27.log",
        "combined-2026-11-28.log",
        "error-2026-11-27.log",
    ]
    day1 = [json.loads(x) for x in (tmp_path / "combined-2026-11-27.log").read_text().splitlines()]
    assert [r["message"] for r in day1] == ["Incoming request", "boom"]
    errors = [json.loads(x) for x in (tmp_path / "error-2026-11-27.log").read_text().splitlines()]
    assert errors[0]["stack"].startswith("Error: boom\n    at ")
    day2 = json.loads((tmp_path / "combined-2026-11-28.log").read_text())
    assert day2["timestamp"] == "2026-11-28T00:00:00.900Z"
