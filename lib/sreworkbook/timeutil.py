"""Times and durations as users write them: RFC 3339, epoch seconds, ``now-24h``, ``1h30m``."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from sreworkbook.exceptions import ParameterError

__all__ = ["format_duration", "parse_duration", "parse_time", "rfc3339"]

_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)")


def parse_duration(text: str | float | int, *, name: str = "duration") -> float:
    """Seconds in a Prometheus-style duration (``90s``, ``1h30m``, ``2d``) or a number."""
    if isinstance(text, int | float) and not isinstance(text, bool):
        if text < 0:
            raise ParameterError(f"must not be negative, got {text}", key=name)
        return float(text)
    value = str(text).strip()
    if re.fullmatch(r"\d+(\.\d+)?", value):
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


def parse_time(text: str | float | datetime, *, now: datetime, name: str = "time") -> datetime:
    """An aware UTC datetime from RFC 3339, epoch seconds, ``now`` or ``now-24h``."""
    if isinstance(text, datetime):
        return text if text.tzinfo else text.replace(tzinfo=UTC)
    if isinstance(text, int | float):
        return datetime.fromtimestamp(float(text), UTC)
    value = str(text).strip()
    if value == "now":
        return now
    relative = re.fullmatch(r"now\s*-\s*(.+)", value)
    if relative:
        return now - timedelta(seconds=parse_duration(relative.group(1), name=name))
    if re.fullmatch(r"\d+(\.\d+)?", value):
        return datetime.fromtimestamp(float(value), UTC)
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ParameterError(
            f"not a time: {value!r} (use RFC 3339 like 2026-11-01T00:00:00Z, epoch seconds, "
            "or now-24h)",
            key=name,
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def rfc3339(moment: datetime | float) -> str:
    """``moment`` as RFC 3339 UTC with a ``Z`` (seconds, or milliseconds when fractional)."""
    if not isinstance(moment, datetime):
        moment = datetime.fromtimestamp(moment, UTC)
    moment = moment.astimezone(UTC)
    spec = "milliseconds" if moment.microsecond else "seconds"
    return moment.isoformat(timespec=spec).replace("+00:00", "Z")
