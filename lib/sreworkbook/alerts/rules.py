"""Alert rules: read from ``parameters/alerts.yaml`` or any Prometheus rule file, validated.

A Prometheus rule file (``groups`` → ``name``, ``interval``, ``limit``, ``rules`` → ``alert``
or ``record``, ``expr``, ``for``, ``keep_firing_for``, ``labels``, ``annotations``) is read as
Prometheus 2.42 reads it: unknown keys, bad durations, bad label names, a rule that is both or
neither ``alert`` and ``record``, duplicate group names are errors. The workbook's own
``alerts.yaml`` is such a file with a few more top-level keys (``evaluation_interval``,
``tuning``). Every error is a :class:`~sreworkbook.exceptions.ParameterError` that names the
file, and the group, rule and key where it can.

Each alerting rule becomes an immutable :class:`AlertRule`; one whose ``expr`` is
``<signal> <op> <number>`` also carries the split :class:`~sreworkbook.alerts.expr.Comparison`
so its threshold can be swept.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from sreworkbook.alerts.durations import format_duration_ms, parse_duration_ms
from sreworkbook.alerts.expr import Comparison, format_number, split_threshold
from sreworkbook.config import load_yaml, validation_message
from sreworkbook.exceptions import ParameterError

__all__ = [
    "DEFAULT_INTERVAL_MS",
    "AlertRule",
    "RecordingRule",
    "RuleSet",
    "SweepGrid",
    "load_rules",
    "parse_rules",
]

#: Prometheus's default ``global.evaluation_interval``.
DEFAULT_INTERVAL_MS = 60_000
_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_METRIC_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def _duration(value: Any) -> int:
    try:
        return parse_duration_ms(value)
    except ValueError as exc:
        raise ValueError(str(exc)) from None


def _interval_ms(value: Any) -> int:
    """An evaluation interval: a duration greater than zero."""
    ms = _duration(value)
    if ms <= 0:
        raise ValueError("must be greater than zero")
    return ms


def _label_names(value: Mapping[str, Any]) -> dict[str, str]:
    out = {}
    for name, text in value.items():
        if not _LABEL_NAME.match(str(name)):
            raise ValueError(f"invalid label name {name!r}")
        if isinstance(text, Mapping | list):
            raise ValueError(f"label {name!r} must be a string")
        out[str(name)] = "" if text is None else str(text)
    return out


class _RuleSpec(_Model):
    alert: str | None = None
    record: str | None = None
    expr: str
    for_: int = Field(default=0, alias="for")
    keep_firing_for: int = 0
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)

    _durations = field_validator("for_", "keep_firing_for", mode="before")(
        lambda cls, v: _duration(v)
    )
    _labels = field_validator("labels", "annotations", mode="before")(
        lambda cls, v: _label_names(v or {})
    )

    @field_validator("expr", mode="before")
    @classmethod
    def _expr(cls, value: Any) -> Any:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return format_number(float(value))
        if isinstance(value, str) and not value.strip():
            raise ValueError("must not be empty")
        return value

    @model_validator(mode="after")
    def _kind(self) -> _RuleSpec:
        if (self.alert is None) == (self.record is None):
            raise ValueError("a rule needs exactly one of 'alert' and 'record'")
        if self.record is not None:
            if not _METRIC_NAME.match(self.record):
                raise ValueError(f"invalid recording rule name {self.record!r}")
            if self.for_ or self.keep_firing_for or self.annotations:
                raise ValueError("a recording rule takes no for, keep_firing_for or annotations")
        elif not self.alert:
            raise ValueError("alert name must not be empty")
        return self


class _GroupSpec(_Model):
    name: str = Field(min_length=1)
    interval: int | None = None
    limit: int = Field(default=0, ge=0)
    rules: list[_RuleSpec] = Field(default_factory=list)

    @field_validator("interval", mode="before")
    @classmethod
    def _interval(cls, value: Any) -> int | None:
        return None if value is None else _interval_ms(value)


class SweepGrid(_Model):
    """How to tune one alert: the incident ``kind`` it should catch and the candidates to try."""

    kind: str = ""
    thresholds: list[float] = Field(default_factory=list)
    for_: list[int] = Field(default_factory=list, alias="for")
    keep_firing_for: list[int] = Field(default_factory=list)

    _durations = field_validator("for_", "keep_firing_for", mode="before")(
        lambda cls, v: [_duration(item) for item in (v or [])]
    )


class _AlertsFile(_Model):
    evaluation_interval: int = DEFAULT_INTERVAL_MS
    groups: list[_GroupSpec] = Field(default_factory=list)
    tuning: dict[str, SweepGrid] = Field(default_factory=dict)

    @field_validator("evaluation_interval", mode="before")
    @classmethod
    def _interval(cls, value: Any) -> int:
        return _interval_ms(value)

    @field_validator("groups")
    @classmethod
    def _unique_groups(cls, groups: list[_GroupSpec]) -> list[_GroupSpec]:
        seen: set[str] = set()
        for group in groups:
            if group.name in seen:
                raise ValueError(f"group name {group.name!r} is repeated")
            seen.add(group.name)
        return groups


@dataclass(frozen=True)
class AlertRule:
    """One alerting rule as Prometheus evaluates it. Durations are in milliseconds."""

    name: str
    expr: str
    for_ms: int = 0
    keep_firing_for_ms: int = 0
    interval_ms: int = DEFAULT_INTERVAL_MS
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    group: str = ""
    source: str = ""
    limit: int = 0

    @property
    def comparison(self) -> Comparison | None:
        """``signal op threshold`` when ``expr`` has that shape, else ``None``."""
        return split_threshold(self.expr)

    @property
    def signal(self) -> str:
        """What to ask Prometheus for: the split signal, or the whole expression."""
        split = self.comparison
        return split.signal if split else self.expr

    @property
    def threshold(self) -> float | None:
        split = self.comparison
        return split.threshold if split else None

    def tuned(
        self,
        *,
        threshold: float | None = None,
        for_ms: int | None = None,
        keep_firing_for_ms: int | None = None,
    ) -> AlertRule:
        """A copy with another threshold (threshold rules only), ``for`` or ``keep_firing_for``."""
        expr = self.expr
        if threshold is not None:
            split = self.comparison
            if split is None:
                raise ParameterError(
                    "has no '<signal> <op> <number>' threshold to change", key=self.name
                )
            expr = split.expr(threshold)
        return replace(
            self,
            expr=expr,
            for_ms=self.for_ms if for_ms is None else for_ms,
            keep_firing_for_ms=(
                self.keep_firing_for_ms if keep_firing_for_ms is None else keep_firing_for_ms
            ),
        )

    def to_prometheus(self) -> dict[str, Any]:
        """The rule as a Prometheus rule-file entry."""
        out: dict[str, Any] = {"alert": self.name, "expr": self.expr}
        if self.for_ms:
            out["for"] = format_duration_ms(self.for_ms)
        if self.keep_firing_for_ms:
            out["keep_firing_for"] = format_duration_ms(self.keep_firing_for_ms)
        if self.labels:
            out["labels"] = dict(self.labels)
        if self.annotations:
            out["annotations"] = dict(self.annotations)
        return out


@dataclass(frozen=True)
class RecordingRule:
    """One recording rule (kept so exports and alert expressions can refer to it)."""

    record: str
    expr: str
    labels: Mapping[str, str] = field(default_factory=dict)
    group: str = ""


@dataclass(frozen=True)
class RuleSet:
    """Everything read from one rule file."""

    alerts: tuple[AlertRule, ...]
    recording: tuple[RecordingRule, ...] = ()
    tuning: Mapping[str, SweepGrid] = field(default_factory=dict)
    source: str = ""

    def get(self, name: str) -> AlertRule:
        """The alert called ``name``; the error lists the names there are."""
        for rule in self.alerts:
            if rule.name == name:
                return rule
        known = ", ".join(sorted({r.name for r in self.alerts})) or "none"
        raise ParameterError(f"unknown alert {name!r}, did you mean one of: {known}", key=name)

    def names(self) -> list[str]:
        return [rule.name for rule in self.alerts]


def _where(data: Any, loc: Sequence[int | str]) -> str:
    """A readable key for a pydantic error location: groups[api].rules[HighErrorRate].for."""
    parts: list[str] = []
    node = data
    for step in loc:
        if isinstance(step, int) and isinstance(node, list) and 0 <= step < len(node):
            node = node[step]
            label = ""
            if isinstance(node, Mapping):
                label = str(node.get("alert") or node.get("record") or node.get("name") or "")
            parts[-1:] = [f"{parts[-1] if parts else ''}[{label or step}]"]
        else:
            node = node.get(step) if isinstance(node, Mapping) else None
            parts.append(str(step))
    return ".".join(parts)


def parse_rules(
    data: Mapping[str, Any], *, source: str = "", interval_ms: int | None = None
) -> RuleSet:
    """Validate a rule file's content; ``interval_ms`` overrides every group's interval."""
    try:
        parsed = _AlertsFile.model_validate(dict(data))
    except ValidationError as exc:
        raise ParameterError(
            validation_message(exc),
            source=source or None,
            key=_where(data, exc.errors()[0]["loc"]) or None,
        ) from None
    alerts: list[AlertRule] = []
    recording: list[RecordingRule] = []
    for group in parsed.groups:
        every = interval_ms or group.interval or parsed.evaluation_interval
        for spec in group.rules:
            if spec.record is not None:
                recording.append(RecordingRule(spec.record, spec.expr, spec.labels, group.name))
                continue
            alerts.append(
                AlertRule(
                    name=spec.alert or "",
                    expr=spec.expr.strip(),
                    for_ms=spec.for_,
                    keep_firing_for_ms=spec.keep_firing_for,
                    interval_ms=every,
                    labels=dict(spec.labels),
                    annotations=dict(spec.annotations),
                    group=group.name,
                    source=source,
                    limit=group.limit,
                )
            )
    names = {rule.name for rule in alerts}
    for name in parsed.tuning:
        if name not in names:
            known = ", ".join(sorted(names)) or "none"
            raise ParameterError(
                f"no alert of that name, did you mean one of: {known}",
                source=source,
                key=f"tuning.{name}",
            )
    return RuleSet(tuple(alerts), tuple(recording), dict(parsed.tuning), source)


def load_rules(path: Path | str, *, interval_ms: int | None = None) -> RuleSet:
    """The rules in ``path`` (``alerts.yaml`` or a Prometheus rule file), validated."""
    path = Path(path)
    return parse_rules(load_yaml(path), source=str(path), interval_ms=interval_ms)
