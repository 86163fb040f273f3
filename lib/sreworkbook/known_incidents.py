"""Incidents whose times are known: one :class:`Incident` type and one loader for everyone.

Charts shade them, alert scoring and the incident explorer measure themselves against them,
and the sandbox plants them in its history and writes them to ``incidents.json``. A file is
JSON or YAML: a list, or a mapping with an ``incidents`` list, of::

    {name, start, end, severity?, kind?, description?, alerts?}

Times are any form :func:`sreworkbook.timeutil.parse_time` reads (RFC 3339, a date, epoch
seconds); ``kind`` (``error_rate``, ``latency``, ``memory``, ``database``) and ``alerts``
(alert names) say which rules are meant to catch an incident. Unknown keys are refused,
naming the incident and the key (``strict=False`` skips them, for files that say more about
each incident, like the sandbox's log truth). In memory every time is an aware UTC datetime; the alert
engine's integer milliseconds and the sandbox's epoch seconds are properties that say so.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from sreworkbook.config import Environment
from sreworkbook.exceptions import MissingFileError, ParameterError
from sreworkbook.timeutil import parse_time, rfc3339

__all__ = [
    "Incident",
    "incidents_for",
    "load_incidents",
    "overlapping",
    "parse_incidents",
    "within_ms",
    "write_incidents",
]


@dataclass(frozen=True)
class Incident:
    """One incident over ``[start, end)`` (aware UTC datetimes)."""

    name: str
    start: datetime
    end: datetime
    severity: str = "critical"
    kind: str = ""
    description: str = ""
    alerts: tuple[str, ...] = field(default_factory=tuple)

    @classmethod
    def from_epoch_s(cls, name: str, start_s: float, end_s: float, **fields: Any) -> Incident:
        return cls(
            name, datetime.fromtimestamp(start_s, UTC), datetime.fromtimestamp(end_s, UTC), **fields
        )

    @classmethod
    def from_epoch_ms(cls, name: str, start_ms: int, end_ms: int, **fields: Any) -> Incident:
        return cls.from_epoch_s(name, start_ms / 1000, end_ms / 1000, **fields)

    @property
    def start_s(self) -> int:
        return int(self.start.timestamp())

    @property
    def end_s(self) -> int:
        return int(self.end.timestamp())

    @property
    def start_ms(self) -> int:
        return round(self.start.timestamp() * 1000)

    @property
    def end_ms(self) -> int:
        return round(self.end.timestamp() * 1000)

    @property
    def duration_s(self) -> float:
        return (self.end - self.start).total_seconds()

    def concerns(self, alert: str, kind: str = "") -> bool:
        """Whether alert ``alert`` (of incident kind ``kind``) is meant to catch this incident."""
        if self.alerts:
            return alert in self.alerts
        if kind and self.kind:
            return kind == self.kind
        return True

    def to_dict(self) -> dict[str, Any]:
        """The incident as a file holds it (times in RFC 3339)."""
        data: dict[str, Any] = {
            "name": self.name,
            "kind": self.kind,
            "severity": self.severity,
            "start": rfc3339(self.start),
            "end": rfc3339(self.end),
            "description": self.description,
        }
        if self.alerts:
            data["alerts"] = list(self.alerts)
        return data


class _IncidentSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    start: str | float | datetime
    end: str | float | datetime
    severity: str = "critical"
    kind: str = ""
    alerts: list[str] = Field(default_factory=list)
    description: str = ""


def parse_incidents(data: Any, *, source: str = "", strict: bool = True) -> tuple[Incident, ...]:
    """Incidents from data already read (a list, or ``{incidents: [...]}``), oldest first;
    errors name the file, the incident and the key."""
    where = source or None
    items = data.get("incidents", data) if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise ParameterError("must be a list of incidents", source=where)
    now = datetime.now(UTC)
    found = []
    for index, item in enumerate(items):
        label = item.get("name", index) if isinstance(item, dict) else index
        if not strict and isinstance(item, dict):
            item = {k: v for k, v in item.items() if k in _IncidentSpec.model_fields}
        try:
            spec = _IncidentSpec.model_validate(item)
        except ValidationError as exc:
            first = exc.errors()[0]
            key = ".".join(str(p) for p in first["loc"])
            message = "unknown key" if first["type"] == "extra_forbidden" else first["msg"]
            raise ParameterError(message, source=where, key=f"[{label}].{key}") from None
        start = parse_time(spec.start, now=now, name=f"[{label}].start")
        end = parse_time(spec.end, now=now, name=f"[{label}].end")
        if end < start:
            raise ParameterError("ends before it starts", source=where, key=f"[{label}].end")
        found.append(
            Incident(
                spec.name,
                start,
                end,
                spec.severity,
                spec.kind,
                spec.description,
                tuple(spec.alerts),
            )
        )
    return tuple(sorted(found, key=lambda i: i.start))


def load_incidents(path: str | Path, *, strict: bool = True) -> tuple[Incident, ...]:
    """The incidents in ``path`` (JSON, or YAML for any other suffix)."""
    file = Path(path)
    if not file.is_file():
        raise MissingFileError(str(file), what="incidents file")
    text = file.read_text(encoding="utf-8")
    try:
        data = json.loads(text) if file.suffix == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise ParameterError(f"cannot be read: {exc}", source=str(file)) from None
    return parse_incidents(data, source=str(file), strict=strict)


def write_incidents(path: Path, incidents: Iterable[Incident]) -> None:
    """Write ``incidents`` to ``path`` as a JSON list, oldest first (atomically)."""
    ordered = sorted(incidents, key=lambda i: i.start)
    partial = path.with_suffix(".tmp")
    text = json.dumps([i.to_dict() for i in ordered], indent=2) + "\n"
    partial.write_text(text, encoding="utf-8")
    partial.replace(path)


def overlapping(
    incidents: Sequence[Incident], start: datetime, end: datetime
) -> tuple[Incident, ...]:
    """The incidents that overlap ``[start, end]``."""
    return tuple(i for i in incidents if i.start < end and i.end > start)


def within_ms(incidents: Sequence[Incident], start_ms: int, end_ms: int) -> tuple[Incident, ...]:
    """The incidents that start inside ``[start_ms, end_ms]`` (epoch milliseconds)."""
    return tuple(i for i in incidents if start_ms <= i.start_ms <= end_ms)


def incidents_for(env: Environment, *, root: Path, path: str = "") -> tuple[Incident, ...]:
    """Incidents from ``path`` if given, else the sandbox's own file if it exists, else none."""
    if path:
        return load_incidents(path if Path(path).is_absolute() else root / path)
    if env.sandbox is not None:
        own = root / env.sandbox.data_dir / "incidents.json"
        if own.is_file():
            return load_incidents(own)
    return ()
