"""Alertmanager's webhook body (``version: "4"``), read strictly: a bad one is refused with why.

Labels and annotations stay data: names must be Prometheus label names, values are strings
of at most :data:`MAX_VALUE_CHARS` characters with no lone surrogates (they could not be
written as UTF-8). Nothing here evaluates a value.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sreworkbook.exceptions import ParameterError
from sreworkbook.timeutil import parse_time

__all__ = ["MAX_VALUE_CHARS", "Alert", "AlertGroup", "parse_group"]

#: A label or annotation value longer than this is refused (a page is not a file upload).
MAX_VALUE_CHARS = 16_384
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_STATUSES = ("firing", "resolved")
#: Alertmanager's "no end yet" (``0001-01-01T00:00:00Z``) and Go's zero time.
_ZERO_YEAR = 1


@dataclass(frozen=True)
class Alert:
    status: str
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    starts_at: datetime
    ends_at: datetime | None
    fingerprint: str
    generator_url: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "labels": dict(self.labels),
            "annotations": dict(self.annotations),
            "startsAt": self.starts_at.isoformat(),
            "endsAt": self.ends_at.isoformat() if self.ends_at else None,
            "fingerprint": self.fingerprint,
            "generatorURL": self.generator_url,
        }


@dataclass(frozen=True)
class AlertGroup:
    """One webhook post: a group of alerts with the group's status."""

    group_key: str
    status: str
    receiver: str
    group_labels: Mapping[str, str]
    alerts: tuple[Alert, ...]

    @property
    def alertname(self) -> str:
        return self.group_labels.get("alertname") or self.alerts[0].labels.get("alertname", "")

    @property
    def starts_at(self) -> datetime:
        return min(a.starts_at for a in self.alerts)

    @property
    def ends_at(self) -> datetime | None:
        ends = [a.ends_at for a in self.alerts if a.ends_at is not None]
        return max(ends) if ends else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "groupKey": self.group_key,
            "status": self.status,
            "receiver": self.receiver,
            "groupLabels": dict(self.group_labels),
            "alerts": [a.to_dict() for a in self.alerts],
        }


def _fail(reason: str, key: str | None = None) -> ParameterError:
    return ParameterError(reason, source="webhook body", key=key)


def _text(value: Any, key: str, *, required: bool = True) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise _fail("must be a string", key)
    if len(value) > MAX_VALUE_CHARS:
        raise _fail(f"longer than {MAX_VALUE_CHARS} characters", key)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise _fail("not valid Unicode (a lone surrogate)", key) from None
    return value


def _pairs(value: Any, key: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise _fail("must be a mapping of names to strings", key)
    pairs: dict[str, str] = {}
    for name, text in value.items():
        if not isinstance(name, str) or not _NAME.fullmatch(name) or len(name) > 256:
            raise _fail(f"{str(name)[:40]!r} is not a label name", key)
        pairs[name] = _text(text, f"{key}.{name}")
    return pairs


def _time(value: Any, key: str, *, required: bool) -> datetime | None:
    text = _text(value, key, required=required)
    if not text:
        if required:
            raise _fail("required", key)
        return None
    try:
        when = parse_time(text, name=key)
    except ParameterError:
        raise _fail(f"not an RFC 3339 time: {text[:40]!r}", key) from None
    return None if when.year <= _ZERO_YEAR else when


def _alert(data: Any, key: str) -> Alert:
    if not isinstance(data, Mapping):
        raise _fail("must be an object", key)
    status = _text(data.get("status", "firing"), f"{key}.status")
    if status not in _STATUSES:
        raise _fail(f"must be firing or resolved, got {status[:20]!r}", f"{key}.status")
    if "labels" not in data:
        raise _fail("required", f"{key}.labels")
    starts = _time(data.get("startsAt"), f"{key}.startsAt", required=True)
    assert starts is not None
    return Alert(
        status=status,
        labels=_pairs(data["labels"], f"{key}.labels"),
        annotations=_pairs(data.get("annotations"), f"{key}.annotations"),
        starts_at=starts,
        ends_at=_time(data.get("endsAt"), f"{key}.endsAt", required=False),
        fingerprint=_text(data.get("fingerprint"), f"{key}.fingerprint", required=False),
        generator_url=_text(data.get("generatorURL"), f"{key}.generatorURL", required=False),
    )


def parse_group(body: bytes) -> AlertGroup:
    """The group in a webhook body; :class:`ParameterError` saying what is wrong otherwise."""
    try:
        data = json.loads(body.decode("utf-8"))
    except UnicodeDecodeError:
        raise _fail("the body is not UTF-8") from None
    except json.JSONDecodeError as exc:
        raise _fail(f"not JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}") from None
    if not isinstance(data, Mapping):
        raise _fail("must be a JSON object")
    if data.get("version") != "4":
        raise _fail(f'unsupported version {str(data.get("version"))[:20]!r} (want "4")', "version")
    for required in ("groupKey", "status", "alerts"):
        if required not in data:
            raise _fail("required", required)
    status = _text(data["status"], "status")
    if status not in _STATUSES:
        raise _fail(f"must be firing or resolved, got {status[:20]!r}", "status")
    alerts = data["alerts"]
    if not isinstance(alerts, list) or not alerts:
        raise _fail("must be a non-empty list", "alerts")
    group_key = _text(data["groupKey"], "groupKey")
    if not group_key:
        raise _fail("must not be empty", "groupKey")
    return AlertGroup(
        group_key=group_key,
        status=status,
        receiver=_text(data.get("receiver"), "receiver", required=False),
        group_labels=_pairs(data.get("groupLabels"), "groupLabels"),
        alerts=tuple(_alert(a, f"alerts[{i}]") for i, a in enumerate(alerts)),
    )
