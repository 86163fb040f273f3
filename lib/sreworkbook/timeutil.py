"""Times and durations as users write them, the same in every CLI, notebook and parameter file.

A time is any of::

    now   now-15m   now-1h30m   now-1.5h   now-2w        relative to the caller's ``now``
    2026-11-20T14:00:00Z   2026-11-20T16:00:00+02:00    RFC 3339 / ISO 8601 (naive means UTC)
    2026-11-20   20261120                               a date: its 00:00 UTC
    1795132800   1795132800.5                           epoch seconds

and a duration any of ``90s``, ``15m``, ``1h30m``, ``1.5h``, ``2d``, ``2w``, ``250ms`` or a
number of seconds. Times come back as aware UTC datetimes, durations in seconds (a float).
:func:`window` turns a start, an end and a length into ``[start, end)``; :func:`rfc3339`
writes a time back. Prometheus's own, stricter duration grammar (integers only, units in
order, used in rule files) is :mod:`sreworkbook.alerts.durations`, in milliseconds.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Literal

from sreworkbook.exceptions import ParameterError

__all__ = [
    "epoch",
    "format_duration",
    "human_span",
    "human_time",
    "parse_duration",
    "parse_time",
    "rfc3339",
    "window",
]

_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)")
_RELATIVE = re.compile(r"now\s*(?:-\s*(.+))?")
_EPOCH = re.compile(r"\d+(\.\d+)?")
_FORMS = "RFC 3339 like 2026-11-20T14:00:00Z, a date, epoch seconds, now or now-1h30m"

Now = datetime | Callable[[], datetime]


def parse_duration(text: str | float | int, *, name: str = "duration") -> float:
    """Seconds in a duration (``90s``, ``1h30m``, ``1.5h``, ``2w``) or a number of seconds."""
    if isinstance(text, int | float) and not isinstance(text, bool):
        if text < 0:
            raise ParameterError(f"must not be negative, got {text}", key=name)
        return float(text)
    value = str(text).strip()
    if _EPOCH.fullmatch(value):
        return float(value)
    pos, total = 0, 0.0
    for match in _DURATION.finditer(value):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    if pos != len(value) or not value:
        raise ParameterError(f"not a duration: {value!r} (use e.g. 15s, 5m, 1h30m, 7d)", key=name)
    return total


def format_duration(seconds: float) -> str:
    """``seconds`` in Prometheus duration syntax (``3900`` → ``1h5m``)."""
    if seconds <= 0:
        return "0s"
    parts: list[str] = []
    rest = round(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if rest >= size:
            parts.append(f"{rest // size}{unit}")
            rest %= size
    return "".join(parts) or "0s"


def epoch(moment: datetime | float) -> float:
    """``moment`` in epoch seconds (a number is taken as already one)."""
    return moment.timestamp() if isinstance(moment, datetime) else float(moment)


def _utc(moment: datetime) -> datetime:
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)


def parse_time(
    text: str | float | datetime, *, now: Now | None = None, name: str = "time"
) -> datetime:
    """An aware UTC datetime from any form in the module notes.

    ``now`` (a datetime, or a function giving one) anchors ``now`` and ``now-…``; without it
    those are refused. A ``ParameterError`` names ``name`` and the accepted forms.
    """
    if isinstance(text, datetime):
        return _utc(text)
    if isinstance(text, int | float) and not isinstance(text, bool):
        return datetime.fromtimestamp(float(text), UTC)
    value = str(text).strip()
    relative = _RELATIVE.fullmatch(value)
    if relative:
        if now is None:
            raise ParameterError(f"{value!r} needs a current time here; use {_FORMS}", key=name)
        anchor = _utc(now() if callable(now) else now)
        back = parse_duration(relative.group(1), name=name) if relative.group(1) else 0.0
        return anchor - timedelta(seconds=back)
    if _EPOCH.fullmatch(value) and len(value.partition(".")[0]) != 8:  # 20261120 is a date
        return datetime.fromtimestamp(float(value), UTC)
    try:
        return _utc(datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00")))
    except ValueError:
        raise ParameterError(f"not a time: {value!r} (use {_FORMS})", key=name) from None


def window(
    *,
    start: str | datetime | None,
    end: str | datetime | None,
    length: str | float | None,
    now: Now,
) -> tuple[datetime, datetime]:
    """``[start, end)`` from the usual parameters: ``end`` defaults to now, ``start`` to
    ``end − length``. Errors name the parameter (``start``, ``end``, ``window``)."""
    end_at = parse_time(end or "now", now=now, name="end")
    if start:
        start_at = parse_time(start, now=now, name="start")
    else:
        start_at = end_at - timedelta(seconds=parse_duration(length or "", name="window"))
    if start_at >= end_at:
        raise ParameterError(
            f"start ({rfc3339(start_at)}) must be before end ({rfc3339(end_at)})", key="start"
        )
    return start_at, end_at


def rfc3339(
    moment: datetime | float,
    *,
    timespec: Literal["auto", "seconds", "milliseconds"] = "auto",
) -> str:
    """``moment`` (a datetime, a pandas Timestamp, or epoch seconds) as RFC 3339 UTC with a
    ``Z``: whole seconds, or milliseconds when fractional (``timespec`` forces one)."""
    if not isinstance(moment, datetime):
        moment = datetime.fromtimestamp(moment, UTC)
    moment = _utc(moment)
    if timespec == "auto":
        timespec = "milliseconds" if moment.microsecond else "seconds"
    return moment.isoformat(timespec=timespec).replace("+00:00", "Z")


def human_time(moment: datetime | float | str, *, seconds: bool = False) -> str:
    """``moment`` as a person reads it in a report, in the reports' time zone (UTC):
    ``2026-12-06 14:20 UTC``, or ``2026-12-06 14:20:15 UTC`` with ``seconds``. A string is
    read as :func:`parse_time` reads it (the ledger's RFC 3339 times)."""
    if isinstance(moment, str):
        moment = parse_time(moment, name="time")
    elif not isinstance(moment, datetime):
        moment = datetime.fromtimestamp(moment, UTC)
    return f"{_utc(moment):%Y-%m-%d %H:%M{':%S' if seconds else ''}} UTC"


def human_span(start: datetime, end: datetime, *, seconds: bool = False) -> str:
    """``[start, end)`` as a person reads it: ``2026-12-06 14:20 – 14:45 UTC`` within a day,
    ``2026-12-05 14:20 – 2026-12-06 14:20 UTC`` across days."""
    first, last = _utc(start), _utc(end)
    clock = "%H:%M:%S" if seconds else "%H:%M"
    tail = f"{last:{clock}}" if first.date() == last.date() else f"{last:%Y-%m-%d {clock}}"
    return f"{first:%Y-%m-%d {clock}} – {tail} UTC"
