"""Alertmanager's routing, read from an ``alertmanager.yml``: the route tree, the receivers'
integrations and the inhibit rules, with Alertmanager 0.25's matching semantics.

* A route matches an alert when all its matchers do; its children are tried in order and the
  first one that matches stops the search unless it has ``continue: true``; a route none of
  whose children match is itself the match (``dispatch/route.go``).
* Children inherit ``receiver``, ``group_by``, ``group_wait``, ``group_interval`` and
  ``repeat_interval``; ``group_by: ['...']`` groups by every label.
* Matchers are ``name op "value"`` with ``=``, ``!=``, ``=~``, ``!~``; a regular expression
  must match the whole value; a missing label has the value ``""``. The older ``match`` and
  ``match_re`` maps are read too.
* An alert is muted when an inhibit rule's target matchers match it and a *firing* alert
  matching the source matchers has the same values of the ``equal`` labels; an alert that
  matches both sides cannot be muted by another that does too (``inhibit/inhibit.go``).

This is what :mod:`sreworkbook.alerts.simulate` replays episodes through; the configuration
itself is written by :mod:`sreworkbook.alerts.alertmanager`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from sreworkbook.alerts.durations import parse_duration_ms
from sreworkbook.exceptions import ParameterError

__all__ = [
    "DEFAULT_SEND_RESOLVED",
    "InhibitRule",
    "Integration",
    "Matcher",
    "Receiver",
    "Route",
    "Routing",
    "parse_matcher",
    "routing_from_config",
]

#: Alertmanager 0.25's ``send_resolved`` default per integration.
DEFAULT_SEND_RESOLVED = {
    "slack": False,
    "email": False,
    "pagerduty": True,
    "webhook": True,
    "opsgenie": True,
    "victorops": True,
    "pushover": True,
    "wechat": False,
    "telegram": True,
    "sns": True,
    "discord": True,
    "webex": True,
}
_MATCHER = re.compile(
    r'^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*(?:"((?:[^"\\]|\\.)*)"|([^"\s]*))\s*$'
)
_DEFAULTS_MS = {"group_wait": 30_000, "group_interval": 300_000, "repeat_interval": 14_400_000}


@dataclass(frozen=True)
class Matcher:
    """``name op value``; regular expressions are anchored at both ends, as in Alertmanager."""

    name: str
    op: str
    value: str

    def matches(self, labels: Mapping[str, str]) -> bool:
        got = labels.get(self.name, "")
        if self.op == "=":
            return got == self.value
        if self.op == "!=":
            return got != self.value
        found = re.fullmatch(f"(?:{self.value})", got) is not None
        return found if self.op == "=~" else not found

    def __str__(self) -> str:
        escaped = self.value.replace("\\", "\\\\").replace('"', '\\"')
        return f'{self.name}{self.op}"{escaped}"'


def parse_matcher(text: str) -> Matcher:
    """A matcher from ``severity="critical"`` or ``slo=~".+"``; ``ValueError`` otherwise."""
    found = _MATCHER.match(text.strip().removeprefix("{").removesuffix("}"))
    if found is None:
        raise ValueError(f'not a matcher: {text!r} (use e.g. severity="critical")')
    name, op, quoted, bare = found.groups()
    value = re.sub(r"\\(.)", r"\1", quoted) if quoted is not None else bare
    if op in ("=~", "!~"):
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"bad regular expression in {text!r}: {exc}") from None
    return Matcher(name, op, value)


def _all(matchers: Sequence[Matcher], labels: Mapping[str, str]) -> bool:
    return all(m.matches(labels) for m in matchers)


@dataclass(frozen=True)
class Route:
    """One node of the route tree, with its inherited settings resolved. Times in ms."""

    receiver: str
    matchers: tuple[Matcher, ...] = ()
    group_by: tuple[str, ...] = ("alertname",)
    group_wait_ms: int = _DEFAULTS_MS["group_wait"]
    group_interval_ms: int = _DEFAULTS_MS["group_interval"]
    repeat_interval_ms: int = _DEFAULTS_MS["repeat_interval"]
    continue_: bool = False
    routes: tuple[Route, ...] = ()
    key: str = "{}"

    def match(self, labels: Mapping[str, str]) -> list[Route]:
        """The routes an alert with ``labels`` is delivered through (Alertmanager's order)."""
        if not _all(self.matchers, labels):
            return []
        found: list[Route] = []
        for child in self.routes:
            hits = child.match(labels)
            found.extend(hits)
            if hits and not child.continue_:
                break
        return found or [self]

    def group_labels(self, labels: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
        """The labels that name the alert's group on this route."""
        if self.group_by == ("...",):
            return tuple(sorted(labels.items()))
        return tuple(sorted((n, labels[n]) for n in self.group_by if n in labels))


@dataclass(frozen=True)
class Integration:
    """One notifier of a receiver (``slack``, ``email``, ``pagerduty``, ``webhook``, ...)."""

    kind: str
    send_resolved: bool
    index: int = 0


@dataclass(frozen=True)
class Receiver:
    name: str
    integrations: tuple[Integration, ...] = ()


@dataclass(frozen=True)
class InhibitRule:
    source: tuple[Matcher, ...]
    target: tuple[Matcher, ...]
    equal: tuple[str, ...] = ()

    def mutes(
        self,
        labels: Mapping[str, str],
        firing: Sequence[Mapping[str, str]],
    ) -> bool:
        """Whether ``labels`` is muted while the alerts with ``firing`` labels fire."""
        if not _all(self.target, labels):
            return False
        both_sides = _all(self.source, labels)
        for other in firing:
            if not _all(self.source, other):
                continue
            if any(other.get(n, "") != labels.get(n, "") for n in self.equal):
                continue
            if both_sides and _all(self.target, other):
                continue
            return True
        return False


@dataclass(frozen=True)
class Routing:
    """A whole configuration as far as routing goes."""

    route: Route
    receivers: Mapping[str, Receiver] = field(default_factory=dict)
    inhibit_rules: tuple[InhibitRule, ...] = ()

    def receiver(self, name: str) -> Receiver:
        try:
            return self.receivers[name]
        except KeyError:
            known = ", ".join(sorted(self.receivers)) or "none"
            raise ParameterError(
                f"unknown receiver {name!r}, did you mean one of: {known}", key="receivers"
            ) from None

    def muted(self, labels: Mapping[str, str], firing: Sequence[Mapping[str, str]]) -> bool:
        """Whether an inhibit rule mutes ``labels`` while ``firing`` alerts fire."""
        return any(rule.mutes(labels, firing) for rule in self.inhibit_rules)


# -- reading alertmanager.yml -------------------------------------------------------------------
def _matchers(node: Mapping[str, Any], prefix: str, where: str) -> tuple[Matcher, ...]:
    found: list[Matcher] = []
    try:
        for text in node.get(f"{prefix}matchers") or []:
            found.append(parse_matcher(str(text)))
    except ValueError as exc:
        raise ParameterError(str(exc), key=f"{where}.{prefix}matchers") from None
    short = "match" if not prefix else f"{prefix}match"
    for name, value in (node.get(short) or {}).items():
        found.append(Matcher(str(name), "=", str(value)))
    for name, value in (node.get(f"{short}_re") or {}).items():
        found.append(Matcher(str(name), "=~", str(value)))
    return tuple(found)


def _ms(node: Mapping[str, Any], name: str, inherited: int, where: str) -> int:
    if name not in node:
        return inherited
    try:
        value = parse_duration_ms(node[name])
    except ValueError as exc:
        raise ParameterError(str(exc), key=f"{where}.{name}") from None
    if value <= 0:
        raise ParameterError("must be greater than zero", key=f"{where}.{name}")
    return value


def _route(node: Mapping[str, Any], parent: Route | None, where: str, key: str) -> Route:
    receiver = node.get("receiver") or (parent.receiver if parent else None)
    if not receiver:
        raise ParameterError("the root route needs a receiver", key=f"{where}.receiver")
    group_by = tuple(str(n) for n in node["group_by"]) if "group_by" in node else None
    if group_by and "..." in group_by:
        group_by = ("...",)
    base = parent or Route(str(receiver), group_by=())
    matchers = _matchers(node, "", where)
    own_key = key if parent is None else f"{key}/{{{','.join(str(m) for m in matchers)}}}"
    route = Route(
        receiver=str(receiver),
        matchers=matchers,
        group_by=group_by if group_by is not None else base.group_by,
        group_wait_ms=_ms(node, "group_wait", base.group_wait_ms, where),
        group_interval_ms=_ms(node, "group_interval", base.group_interval_ms, where),
        repeat_interval_ms=_ms(node, "repeat_interval", base.repeat_interval_ms, where),
        continue_=bool(node.get("continue", False)),
        key=own_key,
    )
    children = tuple(
        _route(child, route, f"{where}.routes[{i}]", f"{own_key}/{i}")
        for i, child in enumerate(node.get("routes") or [])
    )
    return replace(route, routes=children)


def routing_from_config(config: Mapping[str, Any]) -> Routing:
    """The routing of an Alertmanager configuration (as loaded from YAML)."""
    if not isinstance(config.get("route"), Mapping):
        raise ParameterError("an Alertmanager configuration needs a route", key="route")
    route = _route(config["route"], None, "route", "{}")
    receivers: dict[str, Receiver] = {}
    for index, node in enumerate(config.get("receivers") or []):
        integrations: list[Integration] = []
        for field_name, items in node.items():
            if not field_name.endswith("_configs"):
                continue
            kind = field_name.removesuffix("_configs")
            for i, item in enumerate(items or []):
                resolved = (item or {}).get("send_resolved", DEFAULT_SEND_RESOLVED.get(kind, True))
                integrations.append(Integration(kind, bool(resolved), i))
        name = str(node.get("name", ""))
        if not name:
            raise ParameterError("a receiver needs a name", key=f"receivers[{index}].name")
        receivers[name] = Receiver(name, tuple(integrations))
    rules = []
    for index, node in enumerate(config.get("inhibit_rules") or []):
        where = f"inhibit_rules[{index}]"
        rules.append(
            InhibitRule(
                source=_matchers(node, "source_", where),
                target=_matchers(node, "target_", where),
                equal=tuple(str(n) for n in node.get("equal") or ()),
            )
        )
    routing = Routing(route, receivers, tuple(rules))
    _check_receivers(route, routing)
    return routing


def _check_receivers(route: Route, routing: Routing) -> None:
    routing.receiver(route.receiver)
    for child in route.routes:
        _check_receivers(child, routing)
