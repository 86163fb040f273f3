"""Prometheus durations (``5m``, ``1h30m``, ``0s``), strictly, in whole milliseconds and back.

For rule files and Alertmanager configurations, where the workbook must refuse what
Prometheus refuses. Users' own durations (``1.5h`` included) are
:func:`sreworkbook.timeutil.parse_duration`, in seconds. The grammar is Prometheus's own (``model.ParseDuration``): units ``y w d h m s ms`` in that
order, each at most once, integers only; ``0`` alone is allowed. ``5x``, ``1.5m``, ``-1m`` or
``m5`` are errors, so a rule file that Prometheus rejects is rejected here as well.
"""

from __future__ import annotations

import re

__all__ = ["format_duration_ms", "parse_duration_ms"]

_UNITS_MS = {
    "y": 365 * 86_400_000,
    "w": 7 * 86_400_000,
    "d": 86_400_000,
    "h": 3_600_000,
    "m": 60_000,
    "s": 1_000,
    "ms": 1,
}
_PATTERN = re.compile(
    r"^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$"
)
_ORDER = ("y", "w", "d", "h", "m", "s", "ms")


def parse_duration_ms(text: str | int | float) -> int:
    """``text`` (a Prometheus duration) in milliseconds; ``ValueError`` naming it when invalid.

    >>> parse_duration_ms("1h30m")
    5400000
    """
    if isinstance(text, bool):
        raise ValueError(f"not a duration: {text!r}")
    if isinstance(text, int | float):
        # YAML reads a bare `0` as a number; Prometheus accepts "0" and nothing else bare.
        if text == 0:
            return 0
        raise ValueError(f"not a duration: {text!r} (add a unit, e.g. {text}s)")
    value = text.strip()
    if value == "0":
        return 0
    match = _PATTERN.match(value)
    if not value or match is None or not any(match.groups()):
        raise ValueError(f"not a duration: {text!r} (use e.g. 30s, 5m, 1h30m)")
    return sum(int(n) * _UNITS_MS[u] for n, u in zip(match.groups(), _ORDER, strict=True) if n)


def format_duration_ms(ms: int) -> str:
    """``ms`` as Prometheus writes durations: ``0s``, ``90s`` → ``1m30s``, ``1500`` → ``1s500ms``."""
    if ms < 0:
        raise ValueError(f"negative duration: {ms} ms")
    if ms == 0:
        return "0s"
    parts = []
    rest = ms
    for unit in _ORDER:
        size = _UNITS_MS[unit]
        if unit in ("y", "w"):
            # Prometheus prints weeks and years only when they divide exactly.
            if rest % size == 0 and rest >= size:
                parts.append(f"{rest // size}{unit}")
                rest = 0
            continue
        count, rest = divmod(rest, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)
