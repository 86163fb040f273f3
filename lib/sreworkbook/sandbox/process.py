"""Detached processes: start one in its own session, tell whether it lives, stop its group.

A component is started through a tiny launcher interpreter that starts it with
``start_new_session=True`` and exits at once, so the component is re-parented and never left
as a zombie of a long-lived caller (a Jupyter kernel, a test session).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from sreworkbook.exceptions import SandboxError

__all__ = [
    "alive",
    "ensure_port_free",
    "http_ok",
    "last_line",
    "port_open",
    "spawn",
    "start_ticks",
    "stop_group",
    "wait_ready",
]

_LAUNCHER = """\
import subprocess, sys
log = open(sys.argv[1], "ab")
proc = subprocess.Popen(
    sys.argv[3:], stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
    cwd=sys.argv[2] or None, start_new_session=True,
)
print(proc.pid)
"""


def spawn(
    name: str,
    argv: Sequence[str],
    *,
    log_path: Path,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> tuple[int, int | None]:
    """Start ``argv`` detached, output appended to ``log_path``; returns (pid, start ticks)."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    launcher = [sys.executable, "-I", "-S", "-c", _LAUNCHER, str(log_path), str(cwd or "")]
    try:
        done = subprocess.run(
            [*launcher, *argv],
            capture_output=True,
            text=True,
            timeout=30,
            env=dict(env) if env is not None else None,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SandboxError(f"cannot start {argv[0]}: {exc}", component=name) from exc
    if done.returncode != 0 or not done.stdout.strip().isdigit():
        reason = (done.stderr.strip().splitlines() or ["launcher failed"])[-1]
        raise SandboxError(f"cannot start {argv[0]}: {reason}", component=name)
    pid = int(done.stdout.strip())
    return pid, start_ticks(pid)


def _stat_fields(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    return text[text.rfind(")") + 2 :].split()


def start_ticks(pid: int) -> int | None:
    """When process ``pid`` started, in clock ticks since boot (None if it is gone)."""
    fields = _stat_fields(pid)
    return int(fields[19]) if fields and len(fields) > 19 else None


def alive(pid: int) -> bool:
    """True when ``pid`` exists and is not a zombie."""
    fields = _stat_fields(pid)
    return fields is not None and bool(fields) and fields[0] not in ("Z", "X")


def stop_group(pid: int, *, ticks: int | None, timeout_s: float = 10.0) -> bool:
    """Stop the process group led by ``pid`` (SIGTERM, then SIGKILL). False if already gone.

    ``ticks`` guards against a recycled pid: nothing is signalled unless it matches.
    """
    if not alive(pid) or (ticks is not None and start_ticks(pid) != ticks):
        return False
    _signal_group(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not alive(pid):
            _signal_group(pid, signal.SIGKILL)  # stragglers left in the group
            return True
        time.sleep(0.1)
    _signal_group(pid, signal.SIGKILL)
    return True


def _signal_group(pid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        pass
    except PermissionError:
        os.kill(pid, sig)


def port_open(host: str, port: int, *, timeout_s: float = 0.3) -> bool:
    """True when something accepts TCP connections on ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False


def ensure_port_free(host: str, port: int, *, component: str, what: str = "port") -> None:
    """:class:`SandboxError` when something already accepts connections on ``host:port``:
    another process holds it, and the sandbox would talk to that instead of its own server."""
    if port_open(host, port):
        raise SandboxError(
            f"{what} {host}:{port} is already in use by another process", component=component
        )


def http_ok(url: str, *, timeout_s: float = 1.0) -> bool:
    """True when ``GET url`` answers 200."""
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError, ValueError):
        return False


def last_line(path: Path, *, limit: int = 200) -> str:
    """The last non-empty line of ``path`` (shortened), or "" if there is none."""
    try:
        with path.open("rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - 8192))
            lines = [ln for ln in fh.read().decode("utf-8", "replace").splitlines() if ln.strip()]
    except OSError:
        return ""
    text = lines[-1].strip() if lines else ""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def wait_ready(
    name: str,
    ready: Callable[[], bool],
    *,
    pid: int | None,
    timeout_s: float,
    log_path: Path,
    interval_s: float = 0.2,
) -> None:
    """Wait until ``ready()`` is true; raise if process ``pid`` dies or time runs out."""
    deadline = time.monotonic() + timeout_s
    while True:
        if ready():
            return
        if pid is not None and not alive(pid):
            why = last_line(log_path) or "no output"
            raise SandboxError(f"exited during start-up: {why} (see {log_path})", component=name)
        if time.monotonic() >= deadline:
            why = last_line(log_path)
            hint = f": {why}" if why else ""
            raise SandboxError(
                f"not ready after {timeout_s:.0f} s{hint} (see {log_path})", component=name
            )
        time.sleep(interval_s)
