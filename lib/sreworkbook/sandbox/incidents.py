"""The incidents planted in the sandbox's history, at known times relative to an anchor.

The anchor is today 00:00 UTC. Every incident's ``start``/``end`` is the window in which the
matching alert condition holds, so an alert backtest can be checked against it. They are
:class:`~sreworkbook.known_incidents.Incident` objects like any others, written with
:func:`~sreworkbook.known_incidents.write_incidents` and read back with ``load_incidents``.
"""

from __future__ import annotations

from datetime import datetime

from sreworkbook.known_incidents import Incident

__all__ = [
    "LEAK_FROM_PCT",
    "LEAK_PEAK_PCT",
    "anchor_for",
    "incidents_for",
    "ramp_start",
]

_DAY = 86_400
_MIN = 60

#: The memory leak ramps linearly from this share of memory up to the peak, then restarts.
LEAK_FROM_PCT = 60.0
LEAK_PEAK_PCT = 97.0
_LEAK_ALERT_PCT = 90.0
_LEAK_MARGIN_S = 300


def ramp_start(incident: Incident) -> int:
    """For a memory leak: when (epoch seconds) the ramp from :data:`LEAK_FROM_PCT` began.

    The steady ramp crosses 90 % a few minutes before ``start``, so that memory is clearly
    above 90 % for the whole incident, and peaks at ``end``.
    """
    crossing = incident.start_s - _LEAK_MARGIN_S
    slope = (LEAK_PEAK_PCT - _LEAK_ALERT_PCT) / (incident.end_s - crossing)
    return crossing - round((_LEAK_ALERT_PCT - LEAK_FROM_PCT) / slope)


def anchor_for(now: datetime) -> int:
    """The anchor for ``now`` (an aware datetime): that day's 00:00 UTC, in epoch seconds."""
    return int(now.timestamp()) // _DAY * _DAY


def _at(anchor: int, days_before: int, hour: int, minute: int) -> int:
    return anchor - days_before * _DAY + hour * 3_600 + minute * _MIN


#: Each planted incident: name, kind, severity, start (days before the anchor, hour, minute)
#: and minutes long. The memory leak's start is when memory has crossed 90 %.
_PLANTED = (
    ("trades-api-error-spike", "error_rate", "critical", (1, 14, 20), 25),
    ("latency-regression", "latency", "warning", (3, 9, 30), 60),
    ("memory-leak", "memory", "critical", (6, 9, 8), 100),
    ("database-slowdown", "database", "critical", (10, 20, 15), 45),
)
_STORIES = {
    "trades-api-error-spike": "GET /api/trades answered HTTP 500 to about 16 % of requests "
    "(about 7 % of all traffic) for 25 minutes after a connection-pool setting was changed; "
    "reverted.",
    "latency-regression": "p95 latency rose to about 3.5 s on every route for 60 minutes after "
    "deploy v2.14.0 (synchronous PDF rendering); rolled back.",
    "memory-leak": "Memory climbed from 60 % to 97 % after a cache without eviction shipped; it "
    "stayed above 90 % for 100 minutes until the process was restarted.",
    "database-slowdown": "MongoDB p95 query time reached about 1.5 s and connections failed for "
    "45 minutes while an index was built on trades in the foreground.",
}


def incidents_for(
    anchor: int, *, start: int | None = None, end: int | None = None
) -> list[Incident]:
    """The planted incidents for ``anchor``, keeping those wholly inside ``[start, end]``."""
    planned = []
    for name, kind, severity, (days, hour, minute), minutes in _PLANTED:
        first = _at(anchor, days, hour, minute)
        planned.append(
            Incident.from_epoch_s(
                name,
                first,
                first + minutes * _MIN,
                severity=severity,
                kind=kind,
                description=_STORIES[name],
            )
        )
    return [
        i
        for i in planned
        if (start is None or _first_time(i) >= start) and (end is None or i.end_s < end)
    ]


def _first_time(incident: Incident) -> int:
    return ramp_start(incident) if incident.kind == "memory" else incident.start_s
