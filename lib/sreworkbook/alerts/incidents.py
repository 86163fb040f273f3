"""Known incidents to score alerts against: ``[{name, start, end, severity, ...}]``.

The file is JSON or YAML (a list, or a mapping with an ``incidents`` list); the sandbox writes
its own. Times are RFC 3339 or epoch seconds. ``kind`` (``error_rate``, ``latency``, ...)
and ``alerts`` (alert names) say which rules are expected to catch an incident.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from sreworkbook.exceptions import MissingFileError, ParameterError

__all__ = ["Incident", "parse_incidents", "read_incidents", "within"]


@dataclass(frozen=True)
class Incident:
    """One incident: ``[start_ms, end_ms]`` in epoch milliseconds."""

    name: str
    start_ms: int
    end_ms: int
    severity: str = ""
    kind: str = ""
    alerts: tuple[str, ...] = field(default_factory=tuple)

    def concerns(self, alert: str, kind: str = "") -> bool:
        """Whether alert ``alert`` (of incident kind ``kind``) is meant to catch this incident."""
        if self.alerts:
            return alert in self.alerts
        if kind and self.kind:
            return kind == self.kind
        return True


def _epoch_ms(value: Any) -> int:
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, int | float) and not isinstance(value, bool):
        return round(float(value) * 1000)
    elif isinstance(value, str):
        text = value.strip()
        try:
            return round(float(text) * 1000)
        except ValueError:
            pass
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    else:
        raise ValueError(f"not a time: {value!r}")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return round(moment.timestamp() * 1000)


class _IncidentSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    start: int
    end: int
    severity: str = ""
    kind: str = ""
    alerts: list[str] = Field(default_factory=list)
    description: str = ""

    _times = field_validator("start", "end", mode="before")(lambda cls, v: _epoch_ms(v))


def parse_incidents(data: Any, *, source: str = "") -> tuple[Incident, ...]:
    """Validate incidents already read from a file; errors name the incident and key."""
    items = data.get("incidents", data) if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise ParameterError("must be a list of incidents", source=source or None)
    out = []
    for index, item in enumerate(items):
        try:
            spec = _IncidentSpec.model_validate(item)
        except ValidationError as exc:
            first = exc.errors()[0]
            name = item.get("name", index) if isinstance(item, dict) else index
            key = ".".join(str(p) for p in first["loc"])
            message = "unknown key" if first["type"] == "extra_forbidden" else first["msg"]
            raise ParameterError(message, source=source or None, key=f"[{name}].{key}") from None
        if spec.end < spec.start:
            raise ParameterError(
                "ends before it starts", source=source or None, key=f"[{spec.name}].end"
            )
        out.append(
            Incident(spec.name, spec.start, spec.end, spec.severity, spec.kind, tuple(spec.alerts))
        )
    return tuple(sorted(out, key=lambda i: i.start_ms))


def read_incidents(path: Path | str) -> tuple[Incident, ...]:
    """The incidents in ``path`` (JSON or YAML)."""
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(str(path), what="incidents file")
    text = path.read_text(encoding="utf-8")
    try:
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise ParameterError(f"cannot be read: {exc}", source=str(path)) from None
    return parse_incidents(data, source=str(path))


def within(incidents: Sequence[Incident], start_ms: int, end_ms: int) -> tuple[Incident, ...]:
    """The incidents that start inside ``[start_ms, end_ms]``."""
    return tuple(i for i in incidents if start_ms <= i.start_ms <= end_ms)
