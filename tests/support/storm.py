"""An Alertmanager storm on loopback: many webhook posts for many groups, repeated, from
several "replicas" at once, some groups flapping — and what each post's acceptance took.

Shared by the responder's load test and ``bench/bench_respond.py``.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import requests

__all__ = ["Storm", "StormResult", "group_body", "plan_storm", "run_storm"]


def group_body(group: int, status: str, *, starts: str = "2026-12-07T01:00:00Z") -> bytes:
    name = f"Storm{group:02d}"
    labels = {"alertname": name, "severity": "critical", "job": "tradeai-backend"}
    return json.dumps({
        "version": "4", "groupKey": f'{{}}:{{alertname="{name}"}}', "status": status,
        "receiver": "responder", "groupLabels": {"alertname": name},
        "commonLabels": labels, "commonAnnotations": {}, "externalURL": "http://am",
        "alerts": [{"status": status, "labels": labels, "annotations": {"summary": "storm"},
                    "startsAt": starts, "endsAt": "0001-01-01T00:00:00Z",
                    "generatorURL": "http://prom", "fingerprint": f"{group:016x}"}],
    }).encode()  # fmt: skip


@dataclass(frozen=True)
class Storm:
    """Per sender thread, the posts it makes in order: (group, status)."""

    senders: tuple[tuple[tuple[int, str], ...], ...]
    groups: int
    resolving: frozenset[int]  #: groups whose last word is "resolved"
    flapping: frozenset[int]  #: groups that resolve and fire again within the window

    @property
    def posts(self) -> int:
        return sum(len(s) for s in self.senders)


def plan_storm(*, posts: int = 1000, groups: int = 50, senders: int = 8, seed: int = 7) -> Storm:
    """``posts`` posts over ``groups`` groups: every group fires, is repeated (replicas,
    repeat_interval, retries); a fifth flap (firing, resolved, firing, resolved) and another
    fifth resolve once. Each group's posts stay in order on one sender."""
    rng = random.Random(seed)
    flapping = frozenset(range(0, groups, 5))
    resolving = frozenset(set(range(1, groups, 5)) | flapping)
    sequences: dict[int, list[str]] = {}
    for group in range(groups):
        if group in flapping:
            sequences[group] = ["firing", "resolved", "firing", "resolved"]
        elif group in resolving:
            sequences[group] = ["firing", "resolved"]
        else:
            sequences[group] = ["firing"]
    extra = posts - sum(len(s) for s in sequences.values())
    for _ in range(extra):  # duplicates: a repeat of a group's current word, anywhere
        group = rng.randrange(groups)
        seq = sequences[group]
        at = rng.randrange(len(seq))
        seq.insert(at, seq[at])
    lanes: list[list[tuple[int, str]]] = [[] for _ in range(senders)]
    for group, seq in sequences.items():
        lanes[group % senders].extend((group, status) for status in seq)
    return Storm(tuple(tuple(lane) for lane in lanes), groups, resolving, flapping)


@dataclass
class StormResult:
    latencies_s: list[float] = field(default_factory=list)
    codes: list[int] = field(default_factory=list)
    wall_s: float = 0.0

    def quantile(self, q: float) -> float:
        ordered = sorted(self.latencies_s)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run_storm(url: str, token: str, storm: Storm, *, pace_s: float = 0.0) -> StormResult:
    """Send ``storm`` to ``url`` (the webhook), each sender on its own keep-alive session;
    a sender's posts start ``pace_s`` apart (0: each as soon as the last is answered)."""
    result = StormResult()
    lock = threading.Lock()

    def sender(lane: Sequence[tuple[int, str]]) -> None:
        with requests.Session() as session:
            session.headers["Authorization"] = f"Bearer {token}"
            start = time.perf_counter()
            for number, (group, status) in enumerate(lane):
                if pace_s:
                    time.sleep(max(0.0, start + number * pace_s - time.perf_counter()))
                began = time.perf_counter()
                answer = session.post(url, data=group_body(group, status), timeout=30)
                took = time.perf_counter() - began
                with lock:
                    result.latencies_s.append(took)
                    result.codes.append(answer.status_code)

    began = time.perf_counter()
    threads = [threading.Thread(target=sender, args=(lane,)) for lane in storm.senders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    result.wall_s = time.perf_counter() - began
    return result
