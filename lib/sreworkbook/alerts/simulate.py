"""Replay backtested alert episodes through Alertmanager's routing and count what was sent.

The model follows Alertmanager 0.25 (``dispatch/dispatch.go``, ``notify/notify.go``,
``inhibit/inhibit.go``), in event time, to the millisecond:

* Prometheus sends an alert when it starts firing (``StartsAt`` is then) and sends it
  resolved at the first evaluation it no longer fires.
* Each alert joins one aggregation group per route it matches (:meth:`Route.match`), keyed by
  the route and its ``group_by`` labels. A new group is flushed ``group_wait`` after it was
  created (at once if an alert in it started more than ``group_wait`` ago), then every
  ``group_interval`` while it holds alerts. After a flush its resolved alerts are dropped; an
  empty group ends (Alertmanager removes it at its next 30 s maintenance; here at once).
* At a flush the muted alerts are removed (an inhibit rule with a firing source). If nothing
  is left the flush does nothing. Otherwise each integration of the route's receiver decides
  with the notification log: it notifies when it never did and something fires, when an
  alert fires that was not in its last notification, when everything resolved after a
  notification with firing alerts, when (``send_resolved``) an alert resolved that it did
  not report yet, or when ``repeat_interval`` has passed since its last notification.
  Without ``send_resolved`` an all-resolved notification is logged but not sent.
* PagerDuty: a trigger for a group key opens an incident (a *page*) unless one is open; a
  resolve closes it. Other integrations count messages.

Delivery is assumed to succeed at once (no retries, no rate limits).
"""

from __future__ import annotations

import heapq
from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import pandas as pd

from sreworkbook.alerts.backtest import AlertInstance
from sreworkbook.alerts.routing import Route, Routing

__all__ = [
    "IntegrationCount",
    "Notification",
    "SimAlert",
    "SimulationResult",
    "alerts_from_instances",
    "simulate",
]

WEEK_MS = 7 * 86_400_000
Labels = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class SimAlert:
    """One firing episode as Alertmanager receives it: labels include ``alertname``."""

    labels: Mapping[str, str]
    firing_ms: int
    resolved_ms: int | None = None  # None: still firing at the end
    starts_ms: int | None = None  # StartsAt; Prometheus sends the time it started firing

    @property
    def fingerprint(self) -> Labels:
        return tuple(sorted(self.labels.items()))

    def firing_at(self, t: int) -> bool:
        return self.firing_ms <= t and (self.resolved_ms is None or t < self.resolved_ms)


@dataclass(frozen=True)
class Notification:
    """One message an integration sent."""

    at_ms: int
    receiver: str
    integration: str
    group: Labels
    firing: int
    resolved: int
    page: bool = False


@dataclass(frozen=True)
class IntegrationCount:
    """What one integration of one receiver got over the replayed span."""

    receiver: str
    integration: str
    messages: int
    firing_messages: int
    resolved_messages: int
    pages: int
    per_week: float


@dataclass(frozen=True)
class SimulationResult:
    """Every notification sent, counts per integration, and how many alert episodes were
    muted at least once by an inhibit rule."""

    notifications: tuple[Notification, ...]
    counts: tuple[IntegrationCount, ...]
    muted: int
    span_ms: int

    @property
    def pages(self) -> int:
        return sum(c.pages for c in self.counts)

    @property
    def messages(self) -> int:
        return sum(c.messages for c in self.counts)

    def count(self, receiver: str, integration: str) -> IntegrationCount:
        """The count of ``receiver``'s ``integration`` (``slack``, ``email``, ``pagerduty``)."""
        for c in self.counts:
            if c.receiver == receiver and c.integration == integration:
                return c
        names = ", ".join(f"{c.receiver}/{c.integration}" for c in self.counts) or "none"
        raise KeyError(f"no {receiver}/{integration}, did you mean one of: {names}")

    def by_integration(self) -> dict[str, int]:
        """Messages per integration kind, all receivers together."""
        out: dict[str, int] = {}
        for c in self.counts:
            kind = c.integration.split("#")[0]
            out[kind] = out.get(kind, 0) + c.messages
        return out

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame([c.__dict__ for c in self.counts])


def alerts_from_instances(
    name: str, instances: Iterable[AlertInstance], *, interval_ms: int, end_ms: int | None = None
) -> list[SimAlert]:
    """The alerts Prometheus sends for a backtest's episodes (resolved one evaluation later;
    an episode still firing at ``end_ms`` stays unresolved)."""
    out = []
    for instance in instances:
        labels = {**instance.labels, "alertname": name}
        for episode in instance.episodes:
            resolved: int | None = episode.last_ms + interval_ms
            if end_ms is not None and episode.last_ms >= end_ms:
                resolved = None
            out.append(SimAlert(labels, episode.first_ms, resolved, episode.first_ms))
    return out


@dataclass
class _Group:
    route: Route
    key: tuple[str, Labels]
    generation: int
    store: dict[Labels, int] = field(default_factory=dict)
    flushed: bool = False
    next_ms: int = 0


@dataclass
class _Log:
    firing: frozenset[Labels]
    resolved: frozenset[Labels]
    at_ms: int
    open_incident: bool = False


def _needs_update(
    entry: _Log | None,
    firing: frozenset[Labels],
    resolved: frozenset[Labels],
    *,
    send_resolved: bool,
    repeat_ms: int,
    now: int,
) -> bool:
    if entry is None:
        return bool(firing)
    if not firing <= entry.firing:
        return True
    if not firing:
        return bool(entry.firing)
    if send_resolved and not resolved <= entry.resolved:
        return True
    return entry.at_ms < now - repeat_ms


class _Replay:
    def __init__(self, routing: Routing, alerts: Sequence[SimAlert]) -> None:
        self.routing = routing
        self.alerts = sorted(alerts, key=lambda a: a.firing_ms)
        self._starts = [a.firing_ms for a in self.alerts]
        self.groups: dict[tuple[str, Labels], _Group] = {}
        self.flushes: list[tuple[int, int, tuple[str, Labels], int]] = []
        self.log: dict[tuple[tuple[str, Labels], str, str], _Log] = {}
        self.sent: list[Notification] = []
        self.muted: set[int] = set()
        self._seq = 0
        self._generation = 0

    def firing_labels(self, t: int) -> list[Mapping[str, str]]:
        upto = bisect_right(self._starts, t)
        return [a.labels for a in self.alerts[:upto] if a.firing_at(t)]

    def _schedule(self, group: _Group, at: int) -> None:
        group.next_ms = at
        self._seq += 1
        heapq.heappush(self.flushes, (at, self._seq, group.key, group.generation))

    def arrive(self, index: int) -> None:
        alert = self.alerts[index]
        now = alert.firing_ms
        for route in self.routing.route.match(alert.labels):
            key = (route.key, route.group_labels(alert.labels))
            group = self.groups.get(key)
            started = alert.starts_ms if alert.starts_ms is not None else now
            if group is None:
                self._generation += 1
                group = _Group(route, key, self._generation)
                self.groups[key] = group
                wait = 0 if started + route.group_wait_ms < now else route.group_wait_ms
                self._schedule(group, now + wait)
            elif not group.flushed and started + route.group_wait_ms < now < group.next_ms:
                self._schedule(group, now)
            group.store[alert.fingerprint] = index

    def flush(self, group: _Group, now: int) -> None:
        group.flushed = True
        stored = [(fp, i, self.alerts[i]) for fp, i in group.store.items()]
        firing_now = self.firing_labels(now) if self.routing.inhibit_rules else []
        kept = []
        for fp, index, alert in stored:
            if self.routing.inhibit_rules and self.routing.muted(alert.labels, firing_now):
                self.muted.add(index)
                continue
            kept.append((fp, alert))
        firing = frozenset(fp for fp, a in kept if a.firing_at(now))
        resolved = frozenset(fp for fp, a in kept if not a.firing_at(now))
        if firing or resolved:
            self._notify(group, now, firing, resolved)
        for fp, _, alert in stored:
            if not alert.firing_at(now):
                del group.store[fp]
        if group.store:
            self._schedule(group, now + group.route.group_interval_ms)
        else:
            del self.groups[group.key]

    def _notify(
        self, group: _Group, now: int, firing: frozenset[Labels], resolved: frozenset[Labels]
    ) -> None:
        receiver = self.routing.receiver(group.route.receiver)
        for integration in receiver.integrations:
            name = integration.kind + (f"#{integration.index}" if integration.index else "")
            slot = (group.key, receiver.name, name)
            entry = self.log.get(slot)
            if not _needs_update(
                entry,
                firing,
                resolved,
                send_resolved=integration.send_resolved,
                repeat_ms=group.route.repeat_interval_ms,
                now=now,
            ):
                continue
            was_open = entry.open_incident if entry else False
            self.log[slot] = _Log(firing, resolved, now, was_open)
            if not firing and not integration.send_resolved:
                continue
            page = False
            if integration.kind == "pagerduty":
                page = bool(firing) and not was_open
                self.log[slot].open_incident = bool(firing)
            self.sent.append(
                Notification(
                    now,
                    receiver.name,
                    name,
                    group.key[1],
                    len(firing),
                    len(resolved) if integration.send_resolved else 0,
                    page,
                )
            )

    def run(self, end_ms: int | None) -> None:
        index = 0
        while index < len(self.alerts) or self.flushes:
            next_arrival = self.alerts[index].firing_ms if index < len(self.alerts) else None
            next_flush = self.flushes[0][0] if self.flushes else None
            if next_arrival is not None and (next_flush is None or next_arrival <= next_flush):
                if end_ms is not None and next_arrival > end_ms:
                    index = len(self.alerts)
                    continue
                self.arrive(index)
                index += 1
                continue
            assert next_flush is not None
            if end_ms is not None and next_flush > end_ms:
                break
            at, _, key, generation = heapq.heappop(self.flushes)
            group = self.groups.get(key)
            if group is None or group.generation != generation or group.next_ms != at:
                continue
            self.flush(group, at)


def _integrations(routing: Routing) -> list[tuple[str, str]]:
    out = []
    for receiver in routing.receivers.values():
        for integration in receiver.integrations:
            suffix = f"#{integration.index}" if integration.index else ""
            out.append((receiver.name, integration.kind + suffix))
    return out


def _longest_wait(route: Route) -> int:
    own = route.group_wait_ms + route.group_interval_ms
    return max([own, *(_longest_wait(child) for child in route.routes)])


def _horizon(route: Route, alerts: Sequence[SimAlert]) -> int:
    """Without an end: every alert's last event, plus time for one more flush."""
    last = max((a.resolved_ms or a.firing_ms for a in alerts), default=0)
    return last + _longest_wait(route)


def simulate(
    routing: Routing,
    alerts: Sequence[SimAlert],
    *,
    start_ms: int | None = None,
    end_ms: int | None = None,
) -> SimulationResult:
    """Replay ``alerts`` through ``routing``; what each integration would have received.

    Flushes after ``end_ms`` are not replayed (default: one flush after the last alert event,
    so an alert that never resolves is not repeated forever); ``start_ms``/``end_ms`` also
    give the span for the per-week rates (default: first alert to last event).
    """
    replay = _Replay(routing, alerts)
    replay.run(end_ms if end_ms is not None else _horizon(routing.route, alerts))
    first = start_ms
    if first is None:
        first = min((a.firing_ms for a in alerts), default=0)
    last = end_ms
    if last is None:
        times = [n.at_ms for n in replay.sent] + [a.resolved_ms or a.firing_ms for a in alerts]
        last = max(times, default=first)
    span = max(last - first, 1)
    counts = []
    for receiver, integration in _integrations(routing):
        mine = [n for n in replay.sent if n.receiver == receiver and n.integration == integration]
        counts.append(
            IntegrationCount(
                receiver=receiver,
                integration=integration,
                messages=len(mine),
                firing_messages=sum(1 for n in mine if n.firing),
                resolved_messages=sum(1 for n in mine if not n.firing),
                pages=sum(1 for n in mine if n.page),
                per_week=len(mine) / (span / WEEK_MS),
            )
        )
    return SimulationResult(tuple(replay.sent), tuple(counts), len(replay.muted), span)
