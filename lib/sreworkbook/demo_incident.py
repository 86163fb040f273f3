"""``sreworkbook demo --incident``: the responder's whole loop on the sandbox, narrated.

Sandbox up (with its responder), a fault (30 % of the requests fail), then — with nothing
else typed — Prometheus fires HighErrorRate, Alertmanager posts it to the responder, the
high_error_rate runbook runs and its reply with the report reaches the local Slack receiver;
the fault is cleared and the resolved reply follows. Sandbox down at the end.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests

from sreworkbook.config import Environment, load_environment
from sreworkbook.exceptions import ParameterError, SandboxError

__all__ = ["demo_incident"]

FIRING_WAIT_S = 300
RESOLVED_WAIT_S = 420


def _replies(env: Environment, alertname: str) -> Callable[[], list[str]]:
    slack = env.notifications.slack
    if slack is None:
        raise ParameterError("the demo needs notifications.slack (the local receiver)",
                             key="notifications.slack")  # fmt: skip
    received = urlsplit(slack.webhook_url)._replace(path="/received", query="").geturl()
    needle = f"{alertname} on {env.name}"

    def texts() -> list[str]:
        try:
            posts: list[dict[str, Any]] = requests.get(received, timeout=5).json()
        except (requests.RequestException, ValueError):
            return []
        return [
            str(p["body"].get("text", ""))
            for p in posts
            if isinstance(p.get("body"), dict) and needle in str(p["body"].get("text", ""))
        ]

    return texts


def _wait(what: str, probe: Callable[[], str | None], timeout_s: float) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(1)
    raise SandboxError(f"{what} did not arrive within {timeout_s:.0f} s", component="responder")


def demo_incident(
    env_name: str,
    root: Path,
    outputs: str,
    *,
    up: Callable[[Environment], object],
    say: Callable[[str], None],
) -> int:
    """Run the narrated loop; 0 when both replies arrived."""
    from sreworkbook.sandbox import down, set_fault

    env = load_environment(env_name, root=root)
    if env.responder is None:
        raise ParameterError("has no responder: section", source=env.source_file,
                             key="responder")  # fmt: skip
    os.environ["SREWORKBOOK_OUTPUTS"] = outputs  # the responder started by `sandbox up`
    replies = _replies(env, "HighErrorRate")
    say("Starting the sandbox with its alert responder...")
    up(env)
    began = time.monotonic()
    try:
        seen = len(replies())
        set_fault(env, error_ratio=0.3)
        say("sandbox fault --error-ratio 0.3: 30 % of the demo API's requests now fail.")
        say("Waiting for Prometheus → Alertmanager → responder → high_error_rate → Slack...")
        firing = _wait("the responder's reply", lambda: next(iter(replies()[seen:]), None),
                       FIRING_WAIT_S)  # fmt: skip
        say(f"[{time.monotonic() - began:4.0f} s] Slack: {firing}")
        set_fault(env)
        say("sandbox fault: all clear. Waiting for the resolution...")
        resolved = _wait(
            "the resolved reply",
            lambda: next((t for t in replies()[seen:] if t.startswith("RESOLVED")), None),
            RESOLVED_WAIT_S,
        )
        say(f"[{time.monotonic() - began:4.0f} s] Slack: {resolved}")
    finally:
        with contextlib.suppress(SandboxError):  # the API may be gone already
            set_fault(env)
        down(env, root=root)
    say(f"\nThe incident's page: {Path(outputs) / 'incidents'}/ ; the index: "
        f"{Path(outputs) / 'index.html'}")  # fmt: skip
    return 0
