"""One vocabulary of time: every CLI, notebook and parameter file reads the same forms."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pandas as pd
import pytest

from sreworkbook.exceptions import ParameterError
from sreworkbook.timeutil import (
    format_duration,
    human_span,
    human_time,
    parse_duration,
    parse_time,
    rfc3339,
    window,
)

NOW = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90s", 90),
        ("15m", 900),
        ("1h30m", 5400),
        ("1.5h", 5400),
        ("2d", 172_800),
        ("2w", 1_209_600),
        ("250ms", 0.25),
        ("1y", 31_536_000),
        ("3600", 3600),
        (45, 45),
        (2.5, 2.5),
    ],
)
def test_durations(text: str | float, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "5x", "-1m", "m5", "1h 30m", "soon"])
def test_bad_durations_name_the_parameter(text: str) -> None:
    with pytest.raises(ParameterError, match="window") as caught:
        parse_duration(text, name="window")
    assert caught.value.key == "window"
    with pytest.raises(ParameterError, match="negative"):
        parse_duration(-3)


def test_format_duration_is_prometheus_syntax() -> None:
    assert [format_duration(s) for s in (0, 59.6, 3900, 90_061)] == ["0s", "1m", "1h5m", "1d1h1m1s"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("now", NOW),
        ("now-15m", NOW - timedelta(minutes=15)),
        ("now-1h30m", NOW - timedelta(hours=1, minutes=30)),
        ("now-1.5h", NOW - timedelta(hours=1, minutes=30)),
        ("now - 2w", NOW - timedelta(weeks=2)),
        ("2026-11-20T14:00:00Z", datetime(2026, 11, 20, 14, tzinfo=UTC)),
        ("2026-11-20T16:00:00+02:00", datetime(2026, 11, 20, 14, tzinfo=UTC)),
        ("2026-11-20T14:00", datetime(2026, 11, 20, 14, tzinfo=UTC)),  # naive means UTC
        ("2026-11-20 14:00:00.250", datetime(2026, 11, 20, 14, 0, 0, 250_000, tzinfo=UTC)),
        ("2026-11-20", datetime(2026, 11, 20, tzinfo=UTC)),
        ("20261120", datetime(2026, 11, 20, tzinfo=UTC)),
        ("1795132800", datetime(2026, 11, 20, tzinfo=UTC)),
        ("1795132800.5", datetime(2026, 11, 20, 0, 0, 0, 500_000, tzinfo=UTC)),
        (1795132800, datetime(2026, 11, 20, tzinfo=UTC)),
    ],
)
def test_times(text: str, expected: datetime) -> None:
    parsed = parse_time(text, now=NOW)
    assert parsed == expected and parsed.tzinfo is UTC
    assert parse_time(text, now=lambda: NOW) == expected  # now may be a function


def test_datetimes_come_back_in_utc() -> None:
    eastern = datetime(2026, 11, 20, 9, tzinfo=timezone(timedelta(hours=-5)))
    assert parse_time(eastern).tzinfo is UTC and parse_time(eastern) == eastern
    assert parse_time(datetime(2026, 11, 20, 14)) == datetime(2026, 11, 20, 14, tzinfo=UTC)


def test_bad_times_name_the_parameter_and_the_forms() -> None:
    with pytest.raises(ParameterError, match="--start") as caught:
        parse_time("yesterday", now=NOW, name="--start")
    assert "now-1h30m" in str(caught.value) and "'yesterday'" in str(caught.value)
    with pytest.raises(ParameterError, match="5x"):
        parse_time("now-5x", now=NOW)
    with pytest.raises(ParameterError, match="needs a current time"):
        parse_time("now-1h", name="end")


def test_window_defaults_and_order() -> None:
    assert window(start=None, end=None, length="1h30m", now=NOW) == (
        NOW - timedelta(minutes=90),
        NOW,
    )
    assert window(start="now-2h", end="now-1h", length="", now=NOW) == (
        NOW - timedelta(hours=2),
        NOW - timedelta(hours=1),
    )
    with pytest.raises(ParameterError, match="must be before end") as caught:
        window(start="now", end="now-1h", length="", now=NOW)
    assert caught.value.key == "start"
    with pytest.raises(ParameterError) as missing:
        window(start=None, end=None, length="", now=NOW)
    assert missing.value.key == "window"


def test_rfc3339() -> None:
    assert rfc3339(datetime(2026, 11, 20, 14, tzinfo=UTC)) == "2026-11-20T14:00:00Z"
    assert rfc3339(1795132800.25) == "2026-11-20T00:00:00.250Z"
    assert rfc3339(1795132800, timespec="milliseconds") == "2026-11-20T00:00:00.000Z"
    assert rfc3339(pd.Timestamp("2026-11-20T16:00:00.123456+02:00")) == "2026-11-20T14:00:00.123Z"


def test_times_people_read_are_formatted_in_utc() -> None:
    paris = timezone(timedelta(hours=1))
    moment = datetime(2026, 12, 6, 15, 20, 15, 514000, tzinfo=paris)
    assert human_time(moment) == "2026-12-06 14:20 UTC"
    assert human_time(moment, seconds=True) == "2026-12-06 14:20:15 UTC"
    assert human_time(moment.timestamp()) == "2026-12-06 14:20 UTC"
    assert human_time("2026-11-27T03:00:00Z") == "2026-11-27 03:00 UTC"
    later = moment + timedelta(minutes=25)
    assert human_span(moment, later) == "2026-12-06 14:20 – 14:45 UTC"
    assert human_span(moment, later + timedelta(days=1)) == (
        "2026-12-06 14:20 – 2026-12-07 14:45 UTC"
    )
