"""A literal, one-evaluation-at-a-time port of Prometheus 2.42's ``AlertingRule.Eval``.

Slow and obvious on purpose: the vectorised backtester is checked against it, and it is
checked against promtool.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

__all__ = ["replay"]

PENDING, FIRING, INACTIVE = "pending", "firing", "inactive"
RESOLVED_RETENTION_MS = 15 * 60_000


@dataclass
class _Alert:
    state: str
    active_at: int
    resolved_at: int | None = None
    keep_firing_since: int | None = None


def replay(
    present: Mapping[str, Sequence[bool]],
    *,
    start_ms: int,
    step_ms: int,
    for_ms: int,
    keep_firing_for_ms: int,
) -> dict[str, list[bool]]:
    """For each identity, whether its alert is firing after each evaluation."""
    count = len(next(iter(present.values()))) if present else 0
    active: dict[str, _Alert] = {}
    firing: dict[str, list[bool]] = {key: [] for key in present}
    for k in range(count):
        ts = start_ms + k * step_ms
        result = {key for key, flags in present.items() if flags[k]}
        for key in result:
            alert = active.get(key)
            if alert is not None and alert.state != INACTIVE:
                continue
            active[key] = _Alert(PENDING, ts)
        for key, alert in list(active.items()):
            if key not in result:
                keep = False
                if alert.state == FIRING and keep_firing_for_ms > 0:
                    if alert.keep_firing_since is None:
                        alert.keep_firing_since = ts
                    if ts - alert.keep_firing_since < keep_firing_for_ms:
                        keep = True
                if alert.state == PENDING or (
                    alert.resolved_at is not None and ts - alert.resolved_at > RESOLVED_RETENTION_MS
                ):
                    del active[key]
                if alert.state != INACTIVE and not keep:
                    alert.state = INACTIVE
                    alert.resolved_at = ts
                if not keep:
                    continue
            else:
                alert.keep_firing_since = None
            if alert.state == PENDING and ts - alert.active_at >= for_ms:
                alert.state = FIRING
        for key in present:
            alert = active.get(key)
            firing[key].append(alert is not None and alert.state == FIRING)
    return firing
