"""Known incident windows (start, end, name, severity), e.g. the sandbox's ``incidents.json``.

Charts shade them; alert scoring and the incident explorer measure themselves against them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from sreworkbook.config import Environment
from sreworkbook.exceptions import MissingFileError, ParameterError
from sreworkbook.timeutil import parse_time

__all__ = ["Incident", "incidents_for", "load_incidents", "overlapping"]


@dataclass(frozen=True)
class Incident:
    name: str
    start: datetime
    end: datetime
    severity: str = "critical"
    kind: str = ""
    description: str = ""


def load_incidents(path: str | Path) -> tuple[Incident, ...]:
    """Incidents from a JSON or YAML list of ``{name, start, end, severity, ...}``."""
    file = Path(path)
    if not file.is_file():
        raise MissingFileError(str(file), what="incidents file")
    try:
        text = file.read_text(encoding="utf-8")
        data: Any = json.loads(text) if file.suffix == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise ParameterError(f"cannot parse: {exc}", source=str(file)) from None
    if isinstance(data, dict) and "incidents" in data:
        data = data["incidents"]
    if not isinstance(data, list):
        raise ParameterError("must be a list of incidents", source=str(file))
    now = datetime.now(UTC)
    incidents = []
    for index, item in enumerate(data):
        if not isinstance(item, dict) or not {"name", "start", "end"} <= item.keys():
            raise ParameterError(
                "each incident needs name, start and end", source=str(file), key=f"[{index}]"
            )
        start = parse_time(item["start"], now=now, name=f"[{index}].start")
        end = parse_time(item["end"], now=now, name=f"[{index}].end")
        if end <= start:
            raise ParameterError("ends before it starts", source=str(file), key=f"[{index}]")
        incidents.append(
            Incident(
                name=str(item["name"]),
                start=start,
                end=end,
                severity=str(item.get("severity", "critical")),
                kind=str(item.get("kind", "")),
                description=str(item.get("description", "")),
            )
        )
    return tuple(sorted(incidents, key=lambda i: i.start))


def overlapping(
    incidents: Sequence[Incident], start: datetime, end: datetime
) -> tuple[Incident, ...]:
    """The incidents that overlap ``[start, end]``."""
    return tuple(i for i in incidents if i.start < end and i.end > start)


def incidents_for(env: Environment, *, root: Path, path: str = "") -> tuple[Incident, ...]:
    """Incidents from ``path`` if given, else the sandbox's own file if it exists, else none."""
    if path:
        return load_incidents(path if Path(path).is_absolute() else root / path)
    if env.sandbox is not None:
        own = root / env.sandbox.data_dir / "incidents.json"
        if own.is_file():
            return load_incidents(own)
    return ()
