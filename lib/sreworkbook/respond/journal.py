"""The responder's journal: accepted work is on disk before Alertmanager hears 200.

One JSON line per record, appended and fsynced under a lock:

- ``{"t": "episode", ...}`` — a group's episode changed (opened, resolved, flapped);
- ``{"t": "work", "id": ..., "kind": "firing"|"resolved", "group": {...}, ...}`` — to do;
- ``{"t": "ran", "id": ..., "run": {...}}`` — its notebook run finished (never run it again);
- ``{"t": "done", "id": ...}`` — replied; nothing left to do.

:meth:`Journal.replay` rebuilds the episodes and the work not done; :meth:`Journal.compact`
rewrites the file with only those, atomically. Every line goes through a scrubber, so no
secret value of the environment is ever written.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sreworkbook.exceptions import OutputError
from sreworkbook.respond.episodes import Episode
from sreworkbook.secrets import Scrubber

__all__ = ["Journal", "Replay", "Work"]


@dataclass(frozen=True)
class Work:
    """One thing to do for an episode: run and reply (``firing``) or close (``resolved``)."""

    id: str
    kind: str
    episode: Episode
    group: dict[str, Any]
    received_at: float
    ran: dict[str, Any] | None = None

    def to_record(self) -> dict[str, Any]:
        return {
            "t": "work",
            "id": self.id,
            "kind": self.kind,
            "episode": self.episode.to_dict(),
            "group": self.group,
            "received_at": self.received_at,
        }


@dataclass
class Replay:
    episodes: dict[str, Episode] = field(default_factory=dict)
    pending: list[Work] = field(default_factory=list)


class Journal:
    """An append-only, fsynced JSON-lines file."""

    def __init__(self, path: Path, *, scrubber: Scrubber | None = None) -> None:
        self.path = path
        self._scrubber = scrubber or Scrubber([])
        self._lock = threading.Lock()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(f"cannot create the journal's folder {path.parent}: {exc}") from exc

    def _line(self, record: dict[str, Any]) -> bytes:
        text = json.dumps(record, ensure_ascii=True, separators=(",", ":"))
        return (self._scrubber.scrub(text) + "\n").encode("ascii")

    def append(self, record: dict[str, Any]) -> None:
        """Write ``record`` and wait until it is on disk."""
        line = self._line(record)
        with self._lock:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, line)
                os.fsync(fd)
            finally:
                os.close(fd)

    def episode(self, episode: Episode) -> None:
        self.append({"t": "episode", **episode.to_dict()})

    def work(self, work: Work) -> None:
        self.append(work.to_record())

    def ran(self, work_id: str, run: dict[str, Any]) -> None:
        self.append({"t": "ran", "id": work_id, "run": run})

    def done(self, work_id: str) -> None:
        self.append({"t": "done", "id": work_id})

    def replay(self) -> Replay:
        """The episodes and the work not done, from the file (a torn last line is ignored)."""
        replay = Replay()
        if not self.path.exists():
            return replay
        work: dict[str, Work] = {}
        with self.path.open("rb") as handle:
            for raw in handle:
                try:
                    record = json.loads(raw)
                except ValueError:
                    continue  # a line cut short by a crash: its post was never answered 200
                kind = record.get("t")
                if kind == "episode":
                    episode = Episode.from_dict(record)
                    replay.episodes[episode.group_key] = episode
                elif kind == "work":
                    episode = Episode.from_dict(record["episode"])
                    replay.episodes[episode.group_key] = episode
                    work[record["id"]] = Work(
                        record["id"], record["kind"], episode, record["group"],
                        float(record["received_at"]),
                    )  # fmt: skip
                elif kind == "ran" and record.get("id") in work:
                    item = work[record["id"]]
                    work[item.id] = Work(
                        item.id, item.kind, item.episode, item.group, item.received_at,
                        record["run"],
                    )  # fmt: skip
                elif kind == "done":
                    work.pop(record.get("id"), None)
        replay.pending = sorted(work.values(), key=lambda w: w.received_at)
        return replay

    def compact(self, replay: Replay) -> None:
        """Rewrite the file with only ``replay``'s episodes and pending work, atomically."""
        lines = [self._line({"t": "episode", **ep.to_dict()}) for ep in replay.episodes.values()]
        for item in replay.pending:
            lines.append(self._line(item.to_record()))
            if item.ran is not None:
                lines.append(self._line({"t": "ran", "id": item.id, "run": item.ran}))
        partial = self.path.with_name(f".{self.path.name}.partial")
        with self._lock:
            with partial.open("wb") as handle:
                handle.writelines(lines)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(partial, self.path)
