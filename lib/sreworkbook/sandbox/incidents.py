"""The incidents planted in the sandbox's history, at known times relative to an anchor.

The anchor is today 00:00 UTC. Every incident's ``start``/``end`` is the window in which the
matching alert condition holds, so an alert backtest can be checked against it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

__all__ = [
    "LEAK_FROM_PCT",
    "LEAK_PEAK_PCT",
    "Incident",
    "anchor_for",
    "incidents_for",
    "read_incidents",
    "rfc3339",
    "write_incidents",
]

_DAY = 86_400
_MIN = 60

#: The memory leak ramps linearly from this share of memory up to the peak, then restarts.
LEAK_FROM_PCT = 60.0
LEAK_PEAK_PCT = 97.0
_LEAK_ALERT_PCT = 90.0
_LEAK_MARGIN_S = 300


@dataclass(frozen=True)
class Incident:
    """One planted incident. Times are epoch seconds; ``kind`` says which signal it moves."""

    name: str
    kind: str  # "error_rate" | "latency" | "memory" | "database"
    severity: str  # "critical" | "warning"
    start: int
    end: int
    description: str

    @property
    def duration_s(self) -> int:
        return self.end - self.start

    def ramp_start(self) -> int:
        """For a memory leak: when the ramp from :data:`LEAK_FROM_PCT` began.

        The steady ramp crosses 90 % a few minutes before ``start``, so that memory is
        clearly above 90 % for the whole incident, and peaks at ``end``.
        """
        crossing = self.start - _LEAK_MARGIN_S
        slope = (LEAK_PEAK_PCT - _LEAK_ALERT_PCT) / (self.end - crossing)
        return crossing - round((_LEAK_ALERT_PCT - LEAK_FROM_PCT) / slope)

    def to_dict(self) -> dict[str, str]:
        return {
            "name": self.name,
            "kind": self.kind,
            "severity": self.severity,
            "start": rfc3339(self.start),
            "end": rfc3339(self.end),
            "description": self.description,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Incident:
        return cls(
            name=str(data["name"]),
            kind=str(data["kind"]),
            severity=str(data["severity"]),
            start=_parse_rfc3339(str(data["start"])),
            end=_parse_rfc3339(str(data["end"])),
            description=str(data.get("description", "")),
        )


def rfc3339(epoch_s: float) -> str:
    """``epoch_s`` as an RFC 3339 UTC timestamp, e.g. ``2026-11-27T14:20:00Z``."""
    return datetime.fromtimestamp(epoch_s, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_rfc3339(text: str) -> int:
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp())


def anchor_for(now: datetime) -> int:
    """The anchor for ``now`` (an aware datetime): that day's 00:00 UTC, in epoch seconds."""
    return int(now.timestamp()) // _DAY * _DAY


def _at(anchor: int, days_before: int, hour: int, minute: int) -> int:
    return anchor - days_before * _DAY + hour * 3_600 + minute * _MIN


def incidents_for(
    anchor: int, *, start: int | None = None, end: int | None = None
) -> list[Incident]:
    """The planted incidents for ``anchor``, keeping those wholly inside ``[start, end]``."""
    leak_start = _at(anchor, 6, 9, 8)
    planned = [
        Incident(
            "trades-api-error-spike",
            "error_rate",
            "critical",
            _at(anchor, 1, 14, 20),
            _at(anchor, 1, 14, 45),
            "GET /api/trades answered HTTP 500 to about 16 % of requests (about 7 % of all "
            "traffic) for 25 minutes after a connection-pool setting was changed; reverted.",
        ),
        Incident(
            "latency-regression",
            "latency",
            "warning",
            _at(anchor, 3, 9, 30),
            _at(anchor, 3, 10, 30),
            "p95 latency rose to about 3.5 s on every route for 60 minutes after deploy "
            "v2.14.0 (synchronous PDF rendering); rolled back.",
        ),
        Incident(
            "memory-leak",
            "memory",
            "critical",
            leak_start,
            leak_start + 100 * _MIN,
            "Memory climbed from 60 % to 97 % after a cache without eviction shipped; it "
            "stayed above 90 % for 100 minutes until the process was restarted.",
        ),
        Incident(
            "database-slowdown",
            "database",
            "critical",
            _at(anchor, 10, 20, 15),
            _at(anchor, 10, 21, 0),
            "MongoDB p95 query time reached about 1.5 s and connections failed for 45 "
            "minutes while an index was built on trades in the foreground.",
        ),
    ]
    return [
        i
        for i in planned
        if (start is None or _first_time(i) >= start) and (end is None or i.end < end)
    ]


def _first_time(incident: Incident) -> int:
    return incident.ramp_start() if incident.kind == "memory" else incident.start


def write_incidents(path: Path, incidents: Iterable[Incident]) -> None:
    """Write ``incidents`` to ``path`` as a JSON list, oldest first."""
    ordered = sorted(incidents, key=lambda i: i.start)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps([i.to_dict() for i in ordered], indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)


def read_incidents(path: Path) -> Sequence[Incident]:
    """The incidents written by :func:`write_incidents`; none when the file does not exist."""
    if not path.is_file():
        return ()
    return tuple(Incident.from_dict(d) for d in json.loads(path.read_text(encoding="utf-8")))
