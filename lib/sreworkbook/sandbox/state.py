"""What the sandbox is running: component states, and ``state.json`` that records them."""

from __future__ import annotations

import json
import threading
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sreworkbook.sandbox.process import alive, port_open, start_ticks

__all__ = ["ComponentState", "Record", "SandboxState", "StateFile"]

RUNNING, FAILED, STOPPED, DISABLED = "running", "failed", "stopped", "disabled"


@dataclass(frozen=True)
class ComponentState:
    """One component: ``status`` is "running", "failed", "stopped" or "disabled"."""

    name: str
    status: str
    pid: int | None
    url: str
    detail: str

    def __str__(self) -> str:
        pid = f" pid {self.pid}" if self.pid else ""
        detail = f" — {self.detail}" if self.detail else ""
        return f"{self.name}: {self.status.upper()}{pid} {self.url}{detail}".rstrip()


@dataclass(frozen=True)
class SandboxState:
    """The whole sandbox: its data directory, each component, and the planted incidents."""

    data_dir: Path
    components: tuple[ComponentState, ...]
    incidents_file: Path

    def failed(self) -> tuple[ComponentState, ...]:
        """The components that could not start."""
        return tuple(c for c in self.components if c.status == FAILED)

    def component(self, name: str) -> ComponentState:
        """The component called ``name``; a ``KeyError`` lists the valid names."""
        for c in self.components:
            if c.name == name:
                return c
        names = ", ".join(c.name for c in self.components)
        raise KeyError(f"unknown sandbox component {name!r}, did you mean one of: {names}")

    def running(self, name: str) -> bool:
        return any(c.name == name and c.status == RUNNING for c in self.components)


@dataclass(frozen=True)
class Record:
    """What ``state.json`` keeps per component: enough to find and stop its process again.

    ``ticks`` is the process start time from ``/proc``, so a reused pid is not mistaken for
    ours; ``container`` names a Docker container when the component runs in one.
    """

    name: str
    status: str
    pid: int | None = None
    ticks: int | None = None
    url: str = ""
    detail: str = ""
    container: str | None = None
    backend: str = ""

    def is_alive(self) -> bool:
        """True when the recorded process (or container) still runs."""
        if self.container is not None:
            parts = urlsplit(self.url)
            return bool(parts.hostname and parts.port) and port_open(
                str(parts.hostname), int(parts.port or 0)
            )
        if self.pid is None:
            return False
        return alive(self.pid) and start_ticks(self.pid) == self.ticks

    def current(self) -> Record:
        """This record with its status brought up to date with the process table."""
        if self.status == RUNNING and not self.is_alive():
            return replace(self, status=STOPPED, detail="process exited", pid=None, ticks=None)
        return self

    def to_state(self) -> ComponentState:
        return ComponentState(self.name, self.status, self.pid, self.url, self.detail)


class StateFile:
    """``data_dir/state.json``: records written atomically, one writer at a time."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def read(self) -> dict[str, Record]:
        if not self.path.is_file():
            return {}
        try:
            data: dict[str, Any] = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        fields = set(Record.__dataclass_fields__)
        return {
            name: Record(**{k: v for k, v in raw.items() if k in fields})
            for name, raw in data.get("components", {}).items()
        }

    def put(self, record: Record) -> None:
        """Record ``record``, keeping the others."""
        with self._lock:
            records = self.read()
            records[record.name] = record
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(".tmp")
            body = {"components": {n: asdict(r) for n, r in sorted(records.items())}}
            tmp.write_text(json.dumps(body, indent=2) + "\n", encoding="utf-8")
            tmp.replace(self.path)
