"""Cron parsing and due times against hand-made cases (UTC)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sreworkbook.exceptions import ParameterError
from sreworkbook.schedule import due_between, next_after, parse_cron, previous_at_or_before


def t(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def brute_force(cron: str, start: datetime, end: datetime) -> list[datetime]:
    """Every minute in (start, end] that matches: the reference for the fast search."""
    expr = parse_cron(cron)
    moment = start.replace(second=0, microsecond=0) + timedelta(minutes=1)
    found = []
    while moment <= end:
        if expr.matches(moment):
            found.append(moment)
        moment += timedelta(minutes=1)
    return found


@pytest.mark.parametrize(
    ("cron", "after", "expected"),
    [
        ("*/15 * * * *", "2026-03-01 10:07:59", "2026-03-01 10:15"),
        ("*/15 * * * *", "2026-03-01 10:15:00", "2026-03-01 10:30"),  # strictly after
        ("0 6 * * *", "2026-12-31 06:00:00", "2027-01-01 06:00"),  # year end
        ("0 0 31 * *", "2026-04-01 00:00:00", "2026-05-31 00:00"),  # April has no 31st
        ("0 0 29 2 *", "2025-03-01 00:00:00", "2028-02-29 00:00"),  # next leap day
        ("0 0 29 2 *", "2096-03-01 00:00:00", "2104-02-29 00:00"),  # 2100 is not a leap year
        ("59 23 L * *".replace("L", "28-31"), "2026-02-27 23:59:00", "2026-02-28 23:59"),
        ("0 7 * * mon", "2026-11-28 12:00:00", "2026-11-30 07:00"),
        ("0 7 * * 7", "2026-11-28 12:00:00", "2026-11-29 07:00"),  # 7 is Sunday too
        ("0 7 * * sun", "2026-11-28 12:00:00", "2026-11-29 07:00"),
        ("30 4 1,15 * 5", "2026-05-02 00:00:00", "2026-05-08 04:30"),  # OR: a Friday first
        ("30 4 1,15 * 5", "2026-05-09 00:00:00", "2026-05-15 04:30"),  # 15th (a Friday too)
        ("30 4 1,15 * 5", "2026-05-16 00:00:00", "2026-05-22 04:30"),
        ("0 0 */10 * mon", "2026-06-01 00:00:00", "2026-08-31 00:00"),  # Vixie: */10 is a "*": AND
        ("0 0 13 * fri", "2026-02-14 00:00:00", "2026-02-20 00:00"),  # OR: not only Fri 13th
        ("0 12 * jan-mar/2 *", "2026-01-31 12:00:00", "2026-03-01 12:00"),  # names, range, step
        ("5/20 * * * *", "2026-01-01 00:06:00", "2026-01-01 00:25"),  # N/STEP = N-59/STEP
        ("0 9-17/4 * * mon-fri", "2026-01-02 13:00:00", "2026-01-02 17:00"),
        ("@hourly", "2026-01-01 00:59:59", "2026-01-01 01:00"),
        ("@weekly", "2026-01-01 00:00:00", "2026-01-04 00:00"),
        ("@monthly", "2026-01-31 23:59:00", "2026-02-01 00:00"),
    ],
)
def test_next_after(cron: str, after: str, expected: str) -> None:
    assert next_after(cron, t(after)) == t(expected)


@pytest.mark.parametrize(
    "cron",
    [
        "*/15 * * * *",
        "0 0 31 * *",
        "0 0 29 2 *",
        "30 4 1,15 * 5",
        "0 0 */10 * mon",
        "0 0 1 * */2",
        "0 0 13 * fri",
        "5,10-12 */6 * * 1-5",
        "0 7 * * mon",
    ],
)
def test_due_between_agrees_with_brute_force(cron: str) -> None:
    start, end = t("2027-12-20 00:00:00"), t("2028-03-10 00:00:00")  # spans Feb 29 2028
    assert due_between(cron, start, end) == brute_force(cron, start, end)


def test_due_between_is_half_open_and_catches_up_after_a_gap() -> None:
    due = due_between("*/15 * * * *", t("2026-03-01 10:00"), t("2026-03-01 11:00"))
    assert [d.strftime("%H:%M") for d in due] == ["10:15", "10:30", "10:45", "11:00"]
    # Down from Friday evening to Monday morning: the daily 03:00 job was due three times.
    daily = due_between("0 3 * * *", t("2026-03-06 18:00"), t("2026-03-09 08:00"))
    assert [d.day for d in daily] == [7, 8, 9]
    assert due_between("0 3 * * *", t("2026-03-09 03:00"), t("2026-03-09 03:00")) == []


def test_previous_at_or_before() -> None:
    assert previous_at_or_before("0 7 * * mon", t("2026-11-30 07:00")) == t("2026-11-30 07:00")
    assert previous_at_or_before("0 7 * * mon", t("2026-11-30 06:59")) == t("2026-11-23 07:00")
    assert previous_at_or_before("0 0 29 2 *", t("2027-01-01 00:00")) == t("2024-02-29 00:00")
    assert previous_at_or_before("0 0 31 * *", t("2026-05-01 00:00")) == t("2026-03-31 00:00")
    assert previous_at_or_before("*/15 * * * *", t("2026-01-01 00:14:59")) == t("2026-01-01 00:00")


def test_naive_and_offset_times_are_utc() -> None:
    from datetime import timezone

    plus2 = datetime(2026, 3, 1, 7, 30, tzinfo=timezone(timedelta(hours=2)))  # 05:30 UTC
    assert next_after("0 6 * * *", plus2) == t("2026-03-01 06:00")
    assert next_after("0 6 * * *", datetime(2026, 3, 1, 5, 30)) == t("2026-03-01 06:00")


def test_day_fields_flags() -> None:
    assert parse_cron("0 0 1 * 1").days_ored
    assert not parse_cron("0 0 * * 1").days_ored
    assert not parse_cron("0 0 */2 * 1").days_ored  # Vixie's star rule


@pytest.mark.parametrize(
    ("cron", "message"),
    [
        ("* * * *", "5 fields, got 4"),
        ("60 * * * *", "minute: 60 is out of range 0-59"),
        ("* 24 * * *", "hour: 24 is out of range 0-23"),
        ("* * 0 * *", "day of month: 0 is out of range 1-31"),
        ("* * * 13 *", "month: 13 is out of range 1-12"),
        ("* * * * 8", "day of week: 8 is out of range 0-7"),
        ("* * * foo *", "month: 'foo' is not a number or a name"),
        ("*/0 * * * *", "step '0' must be a positive number"),
        ("5-1 * * * *", "range '5-1' runs backwards"),
        ("1,,2 * * * *", "empty list item"),
        ("@reboot", "unknown or unsupported nickname"),
        ("0 0 31 4,6,9,11 *", "never fires"),
    ],
)
def test_bad_expressions(cron: str, message: str) -> None:
    with pytest.raises(ParameterError, match=message.replace("(", r"\(").replace("*", r"\*")):
        parse_cron(cron)
