"""Deduplication: one episode per alert group from firing to resolved, whatever is repeated.

Alertmanager re-sends a firing group every ``repeat_interval``, retries a post that failed,
and each replica of a cluster sends the same group. :class:`Episodes` turns that stream into
what the responder must do: open an episode (run its runbook), close it (the resolved reply
and the second run), or nothing. A group that fires again within the dedup window of
resolving is flapping: the same episode reopens, and no new run starts.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import Enum

__all__ = ["Decision", "Episode", "Episodes"]


class Decision(Enum):
    OPEN = "open"  #: a new episode: run the runbook and reply
    CLOSE = "close"  #: the episode resolved (first time): reply with the duration, run again
    REOPEN = "reopen"  #: flapping back to firing within the window: note it, no run
    RECLOSE = "reclose"  #: flapped and resolved again: note it, no run
    REPEAT = "repeat"  #: already known: nothing to do


@dataclass(frozen=True)
class Episode:
    """The latest episode of one group: its number, status and times (epoch seconds)."""

    group_key: str
    number: int
    firing: bool
    opened_at: float
    resolved_at: float | None = None
    closed_once: bool = False
    flaps: int = 0

    def to_dict(self) -> dict[str, object]:
        return {
            "group": self.group_key,
            "episode": self.number,
            "firing": self.firing,
            "opened_at": self.opened_at,
            "resolved_at": self.resolved_at,
            "closed_once": self.closed_once,
            "flaps": self.flaps,
        }

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> Episode:
        resolved = data.get("resolved_at")
        return cls(
            group_key=str(data["group"]),
            number=int(str(data["episode"])),
            firing=bool(data["firing"]),
            opened_at=float(str(data["opened_at"])),
            resolved_at=None if resolved is None else float(str(resolved)),
            closed_once=bool(data.get("closed_once")),
            flaps=int(str(data.get("flaps", 0))),
        )


class Episodes:
    """The episodes of every group; not thread-safe (the receiver holds a lock around it)."""

    def __init__(self, *, window_s: float) -> None:
        self._window_s = window_s
        self._by_group: dict[str, Episode] = {}

    def get(self, group_key: str) -> Episode | None:
        return self._by_group.get(group_key)

    def restore(self, episode: Episode) -> None:
        self._by_group[episode.group_key] = episode

    def all(self) -> list[Episode]:
        return list(self._by_group.values())

    def decide(self, group_key: str, status: str, now: float) -> tuple[Decision, Episode | None]:
        """What a post of ``group_key`` with ``status`` at ``now`` means, and the episode after.

        Nothing changes until :meth:`restore` is called with the returned episode, so that a
        caller can journal the change first.
        """
        last = self._by_group.get(group_key)
        if status == "firing":
            if last is None:
                return Decision.OPEN, Episode(group_key, 1, True, now)
            if last.firing:
                return Decision.REPEAT, last
            assert last.resolved_at is not None
            if now - last.resolved_at <= self._window_s:
                return Decision.REOPEN, replace(
                    last, firing=True, resolved_at=None, flaps=last.flaps + 1
                )
            return Decision.OPEN, Episode(group_key, last.number + 1, True, now)
        if last is None or not last.firing:
            return Decision.REPEAT, last
        closed = replace(last, firing=False, resolved_at=now, closed_once=True)
        return (Decision.RECLOSE if last.closed_once else Decision.CLOSE), closed

    def forget_before(self, cutoff: float) -> None:
        """Drop groups resolved before ``cutoff`` (older than any window that could reopen)."""
        self._by_group = {
            key: ep
            for key, ep in self._by_group.items()
            if ep.firing or (ep.resolved_at or 0) >= cutoff
        }
