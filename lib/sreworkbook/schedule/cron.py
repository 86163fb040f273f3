"""Five-field cron expressions as Vixie cron reads them, and when they fire (UTC, minute steps).

Fields: minute (0-59), hour (0-23), day of month (1-31), month (1-12 or ``jan``-``dec``) and
day of week (0-7, 0 and 7 both Sunday, or ``sun``-``sat``). Each field is a comma-separated
list of ``*``, ``N``, ``A-B``, each optionally followed by ``/STEP``; ``N/STEP`` means
``N-MAX/STEP``. ``@hourly``, ``@daily`` (``@midnight``), ``@weekly``, ``@monthly`` and
``@yearly`` (``@annually``) stand for their usual expansions; ``@reboot`` is refused.

Day of month and day of week follow Vixie cron's rule: when both fields are restricted a day
matches if *either* matches; when one of them starts with ``*`` (``*/2`` included) both must
match, which makes the other field alone decide.

Every time here is UTC, at minute resolution: :func:`due_between` is half-open, ``(t0, t1]``.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sreworkbook.exceptions import ParameterError

__all__ = [
    "CronExpr",
    "due_between",
    "iter_due",
    "next_after",
    "parse_cron",
    "previous_at_or_before",
]

_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_NICKNAMES = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
# (name, low, high, names): names map to low + index.
_FIELDS: tuple[tuple[str, int, int, tuple[str, ...]], ...] = (
    ("minute", 0, 59, ()),
    ("hour", 0, 23, ()),
    ("day of month", 1, 31, ()),
    ("month", 1, 12, _MONTHS),
    ("day of week", 0, 7, _DAYS),
)
_MINUTE = timedelta(minutes=1)
#: How far :func:`next_after` looks: a Feb 29 job may wait 8 years (2096 → 2104).
_HORIZON_YEARS = 30


@dataclass(frozen=True)
class CronExpr:
    """A parsed expression: the allowed values of each field, sorted, and Vixie's star flags."""

    text: str
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    days: tuple[int, ...]
    months: tuple[int, ...]
    weekdays: tuple[int, ...]  # 0 = Sunday … 6 = Saturday
    dom_star: bool
    dow_star: bool

    def day_matches(self, day: date) -> bool:
        """Whether ``day`` is a firing day (month and the day-of-month/day-of-week rule)."""
        if day.month not in self.months:
            return False
        dom = day.day in self.days
        dow = (day.isoweekday() % 7) in self.weekdays
        if self.dom_star or self.dow_star:
            return dom and dow
        return dom or dow

    def matches(self, moment: datetime) -> bool:
        """Whether the expression fires at ``moment``'s minute (UTC)."""
        moment = _utc(moment)
        return (
            moment.minute in self.minutes
            and moment.hour in self.hours
            and self.day_matches(moment.date())
        )

    @property
    def days_ored(self) -> bool:
        """True when both day fields are restricted, so that either one fires the job."""
        return not (self.dom_star or self.dow_star)


def _number(token: str, field: int) -> int:
    name, low, high, names = _FIELDS[field]
    lowered = token.lower()
    if lowered in names:
        return low + names.index(lowered)
    if not token.isdigit():
        raise ValueError(f"{name}: {token!r} is not a number" + (" or a name" if names else ""))
    value = int(token)
    if not low <= value <= high:
        raise ValueError(f"{name}: {value} is out of range {low}-{high}")
    return value


def _parse_field(text: str, field: int) -> set[int]:
    name, low, high, _ = _FIELDS[field]
    values: set[int] = set()
    for part in text.split(","):
        if not part:
            raise ValueError(f"{name}: empty list item in {text!r}")
        base, _, step_text = part.partition("/")
        step = 1
        if step_text:
            if not step_text.isdigit() or int(step_text) == 0:
                raise ValueError(f"{name}: step {step_text!r} must be a positive number")
            step = int(step_text)
        if base == "*":
            start, end = low, high
        elif "-" in base:
            first, _, last = base.partition("-")
            start, end = _number(first, field), _number(last, field)
            if start > end:
                raise ValueError(f"{name}: range {base!r} runs backwards")
        else:
            start = _number(base, field)
            end = high if step_text else start
        values.update(range(start, end + 1, step))
    return values


def parse_cron(text: str) -> CronExpr:
    """Parse a five-field expression or an ``@`` nickname; raise :class:`ParameterError`."""
    stripped = " ".join(text.split())
    expanded = _NICKNAMES.get(stripped.lower(), stripped)
    if expanded.startswith("@"):
        raise ParameterError(f"unknown or unsupported nickname {stripped!r}")
    fields = expanded.split(" ")
    if len(fields) != len(_FIELDS):
        raise ParameterError(f"a cron expression has 5 fields, got {len(fields)} in {text!r}")
    try:
        sets = [_parse_field(value, i) for i, value in enumerate(fields)]
    except ValueError as exc:
        raise ParameterError(f"{exc} (in {text!r})") from None
    weekdays = {d % 7 for d in sets[4]}
    expr = CronExpr(
        text=stripped,
        minutes=tuple(sorted(sets[0])),
        hours=tuple(sorted(sets[1])),
        days=tuple(sorted(sets[2])),
        months=tuple(sorted(sets[3])),
        weekdays=tuple(sorted(weekdays)),
        dom_star=fields[2].startswith("*"),
        dow_star=fields[4].startswith("*"),
    )
    if next_after(expr, datetime(2000, 1, 1, tzinfo=UTC)) is None:
        raise ParameterError(f"{text!r} never fires (no such day in the months it names)")
    return expr


def _utc(moment: datetime) -> datetime:
    """``moment`` in UTC; a naive datetime is taken to be UTC already."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _expr(cron: CronExpr | str) -> CronExpr:
    return cron if isinstance(cron, CronExpr) else parse_cron(cron)


def _next_month(moment: datetime) -> datetime:
    year, month = (moment.year + 1, 1) if moment.month == 12 else (moment.year, moment.month + 1)
    return moment.replace(year=year, month=month, day=1, hour=0, minute=0)


def _at_or_after(cron: CronExpr, moment: datetime) -> datetime | None:
    limit = moment.year + _HORIZON_YEARS
    while moment.year <= limit:
        if moment.month not in cron.months:
            moment = _next_month(moment)
            continue
        if not cron.day_matches(moment.date()):
            moment = moment.replace(hour=0, minute=0) + timedelta(days=1)
            continue
        i = bisect.bisect_left(cron.hours, moment.hour)
        if i == len(cron.hours):
            moment = moment.replace(hour=0, minute=0) + timedelta(days=1)
            continue
        if cron.hours[i] != moment.hour:
            moment = moment.replace(hour=cron.hours[i], minute=0)
        j = bisect.bisect_left(cron.minutes, moment.minute)
        if j == len(cron.minutes):
            moment = moment.replace(minute=0) + timedelta(hours=1)
            continue
        return moment.replace(minute=cron.minutes[j])
    return None


def next_after(cron: CronExpr | str, moment: datetime) -> datetime | None:
    """The first firing time strictly after ``moment`` (UTC), or ``None`` if it never fires."""
    start = _utc(moment).replace(second=0, microsecond=0) + _MINUTE
    return _at_or_after(_expr(cron), start)


def previous_at_or_before(cron: CronExpr | str, moment: datetime) -> datetime | None:
    """The last firing time at or before ``moment`` (UTC), or ``None`` within the horizon."""
    expr = _expr(cron)
    moment = _utc(moment).replace(second=0, microsecond=0)
    limit = moment.year - _HORIZON_YEARS
    while moment.year >= limit:
        if moment.month not in expr.months:
            moment = moment.replace(day=1, hour=0, minute=0) - _MINUTE
            continue
        if not expr.day_matches(moment.date()):
            moment = moment.replace(hour=0, minute=0) - _MINUTE
            continue
        i = bisect.bisect_right(expr.hours, moment.hour) - 1
        if i < 0:
            moment = moment.replace(hour=0, minute=0) - _MINUTE
            continue
        if expr.hours[i] != moment.hour:
            moment = moment.replace(hour=expr.hours[i], minute=59)
        j = bisect.bisect_right(expr.minutes, moment.minute) - 1
        if j < 0:
            moment = moment.replace(minute=0) - _MINUTE
            continue
        return moment.replace(minute=expr.minutes[j])
    return None


def iter_due(cron: CronExpr | str, start: datetime, end: datetime) -> Iterator[datetime]:
    """Firing times in ``(start, end]``, in order, computed lazily."""
    expr = _expr(cron)
    end = _utc(end)
    moment = next_after(expr, start)
    while moment is not None and moment <= end:
        yield moment
        moment = next_after(expr, moment)


def due_between(cron: CronExpr | str, start: datetime, end: datetime) -> list[datetime]:
    """Every firing time in ``(start, end]`` (UTC)."""
    return list(iter_due(cron, start, end))
