"""Fixtures shared by every test tier (the helpers behind them are in ``tests/support``).

``http_server`` makes canned loopback HTTP servers (stopped after the test); ``closed_port`` is
a port nothing listens on. Every test starts with the process's S3 breaker empty (an endpoint
one test hung is not refused in the next).
``sandbox`` starts the real embedded stack once per session on free loopback ports, in a data
directory of its own. Outside CI a component that cannot start makes the tests that need it
skip (``sandbox.require("mongodb")``); under ``CI=true`` it fails the run.

Generated Prometheus history is cached in ``.sandbox/test-cache`` (git-ignored, like the
rest of ``.sandbox``) and the ports picked are remembered there per slot, so later sessions on
the same day reuse the history instead of regenerating it (about a minute or two).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import socket
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from sreworkbook.config import Environment, load_environment
from sreworkbook.edges import s3
from sreworkbook.sandbox import SandboxState, down, up
from support.ci import IN_CI, ROOT, unavailable
from support.http import CannedServer, Route, start_http
from support.net import free_port, free_ports

SANDBOX_CACHE = ROOT / ".sandbox" / "test-cache"
_PORT_NAMES = (
    "api",
    "ai",
    "mongodb",
    "redis",
    "prometheus",
    "s3",
    "alertmanager",
    "webhook",
    "smtp",
)
_SLOTS = 4


@dataclass(frozen=True)
class SandboxHandle:
    """The running test sandbox: its environment (and file), state and project root."""

    env: Environment
    env_file: Path
    state: SandboxState
    root: Path

    def require(self, *components: str) -> None:
        """Skip the calling test (fail under CI=true) unless ``components`` are running."""
        missing = [
            c for c in self.state.components if c.name in components and c.status != "running"
        ]
        if missing:
            reason = "; ".join(f"{c.name}: {c.status} — {c.detail}" for c in missing)
            unavailable(f"sandbox component not running: {reason}")


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def sandbox_ports(cache: Path, stack: contextlib.ExitStack) -> dict[str, int]:
    """Free loopback ports, one per component.

    Sessions claim a numbered slot (a lock file held until the session ends) and reuse that
    slot's ports from the last time when they are still free, so the cached history, which
    is labelled with the API's address, is found again. Concurrent sessions get other slots.
    """
    cache.mkdir(parents=True, exist_ok=True)
    for slot in range(_SLOTS):
        lock = stack.enter_context((cache / f"slot-{slot}.lock").open("w"))
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            continue
        remembered = cache / f"slot-{slot}.json"
        with contextlib.suppress(OSError, ValueError):
            ports = {k: int(v) for k, v in json.loads(remembered.read_text()).items()}
            if set(ports) == set(_PORT_NAMES) and all(_port_free(p) for p in ports.values()):
                return ports
        ports = dict(zip(_PORT_NAMES, free_ports(len(_PORT_NAMES)), strict=True))
        remembered.write_text(json.dumps(ports))
        return ports
    return dict(zip(_PORT_NAMES, free_ports(len(_PORT_NAMES)), strict=True))


def write_sandbox_env(path: Path, data_dir: Path, ports: dict[str, int]) -> Path:
    """An environment file extending ``parameters/sandbox.yaml`` with ``ports`` and ``data_dir``."""
    doc = {
        "extends": str(ROOT / "parameters" / "sandbox.yaml"),
        "name": "sandbox-test",
        "service": {"base_url": f"http://127.0.0.1:{ports['api']}"},
        "ai_service": {"url": f"http://127.0.0.1:{ports['ai']}/health"},
        "mongodb": {"uri": f"mongodb://127.0.0.1:{ports['mongodb']}/"},
        "redis": {"url": f"redis://127.0.0.1:{ports['redis']}/0"},
        "prometheus": {"url": f"http://127.0.0.1:{ports['prometheus']}"},
        "logs": {"dir": str(data_dir / "logs")},
        "backups": {
            "local_dir": str(data_dir / "backups"),
            "log_file": str(data_dir / "backup-logs" / "mongodb-backup.log"),
            "s3": {"endpoint_url": f"http://127.0.0.1:{ports['s3']}"},
        },
        "alertmanager": {"url": f"http://127.0.0.1:{ports['alertmanager']}"},
        "notifications": {
            "slack": {"webhook_url": f"http://127.0.0.1:{ports['webhook']}/services/sandbox"},
            "email": {"smtp_port": ports["smtp"]},
            "pagerduty": {
                "routing_key": "sandbox-routing-key",
                "events_url": f"http://127.0.0.1:{ports['webhook']}/pagerduty/v2/enqueue",
            },
        },
        "sandbox": {"data_dir": str(data_dir)},
        # The responder has its own stacks (tests/respond); this one would run into outputs/.
        "responder": None,
    }
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxHandle]:
    """The embedded stack, up for the whole session on free ports; stopped at the end."""
    stack = contextlib.ExitStack()
    base = tmp_path_factory.mktemp("sandbox")
    ports = sandbox_ports(SANDBOX_CACHE, stack)
    env_file = write_sandbox_env(base / "sandbox-test.yaml", base / "data", ports)
    env = load_environment(str(env_file), root=ROOT)
    began = time.monotonic()

    def log(line: str) -> None:
        print(f"[sandbox {time.monotonic() - began:6.1f} s] {line}", file=sys.stderr)

    try:
        state = up(env, root=ROOT, strict=IN_CI, log=log, history_cache=SANDBOX_CACHE / "history")
        if not any(c.status == "running" for c in state.components):
            reason = "; ".join(f"{c.name}: {c.detail}" for c in state.components)
            pytest.skip(f"no sandbox component could start: {reason}")
        yield SandboxHandle(env=env, env_file=env_file, state=state, root=ROOT)
    finally:
        down(env, root=ROOT)
        stack.close()


@pytest.fixture
def http_server() -> Iterator[Callable[..., CannedServer]]:
    """A factory of canned HTTP servers (``http_server({"/path": Route(...)})``), all stopped
    after the test."""
    servers: list[CannedServer] = []

    def make(routes: dict[str, Route] | None = None) -> CannedServer:
        servers.append(start_http(routes))
        return servers[-1]

    yield make
    for server in servers:
        server.stop()


@pytest.fixture
def closed_port() -> int:
    """A loopback port nothing listens on: connecting is refused."""
    return free_port()


@pytest.fixture(autouse=True)
def _forget_s3_timeouts() -> None:
    """No S3 endpoint held as timed out from an earlier test (the breaker is per process)."""
    s3.BREAKER.clear()
