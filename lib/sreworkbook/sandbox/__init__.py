"""The embedded default environment: a small copy of the TradeAI stack on loopback.

``up`` starts Redis, a MongoDB-compatible server (seeded), a stand-in AI service, the demo
TradeAI backend and a Prometheus holding weeks of backfilled history with planted incidents,
each on the port its environment file names. ``set_fault`` injects latency, errors, a
component outage or memory pressure into the running demo API.

    >>> state = up(env, root=root, log=print)          # doctest: +SKIP
    >>> set_fault(env, down=["mongodb"])               # doctest: +SKIP
    >>> down(env, root=root)                           # doctest: +SKIP
"""

from __future__ import annotations

from sreworkbook.sandbox.fault import FaultState, set_fault
from sreworkbook.sandbox.layout import COMPONENTS
from sreworkbook.sandbox.stack import down, status, up
from sreworkbook.sandbox.state import ComponentState, SandboxState

__all__ = [
    "COMPONENTS",
    "ComponentState",
    "FaultState",
    "SandboxState",
    "down",
    "set_fault",
    "status",
    "up",
]
