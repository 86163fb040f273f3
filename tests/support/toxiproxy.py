"""Shopify's Toxiproxy (``make toxiproxy`` builds it into ``.tools/bin``) and its REST API.

One server per test session; a :class:`Proxy` per dependency under test, listening on its own
loopback port in front of the real server. Faults are the proxy disabled (connections
refused) or toxics: ``reset_peer`` (the connection reset), ``timeout`` with 0 (accepted and
never answered), ``limit_data`` (cut after the first megabytes), ``latency`` plus ``bandwidth``
(slow).
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import requests

from support.ci import ROOT, unavailable
from support.net import free_port, stop, wait_for_port

__all__ = ["FAULTS", "Proxy", "Toxiproxy", "toxiproxy_server"]

BINARY = ROOT / ".tools" / "bin" / "toxiproxy-server"

#: The faults a TCP proxy makes: name → toxics (an empty list with ``enabled=False``: refused).
FAULTS: dict[str, list[dict[str, Any]]] = {
    "refused": [],
    "reset": [{"type": "reset_peer", "attributes": {"timeout": 0}}],
    # upstream: the request never reaches the server (which would time the idle connection
    # out itself and close it: a reset, not a hang)
    "hang": [{"type": "timeout", "stream": "upstream", "attributes": {"timeout": 0}}],
    # upstream: every connection closes after its first 4 MB to the server (a restore target
    # that dies halfway through a restore; the handshake and small requests get through)
    "cut": [{"type": "limit_data", "stream": "upstream", "attributes": {"bytes": 4_000_000}}],
    "slow": [
        {"type": "latency", "attributes": {"latency": 1500, "jitter": 0}},
        {"type": "bandwidth", "attributes": {"rate": 64}},  # KB/s
    ],
}


@dataclass(frozen=True)
class Proxy:
    """One proxy: ``listen`` is where clients connect instead of ``upstream``."""

    api: str
    name: str
    port: int
    upstream: str

    @property
    def listen(self) -> str:
        return f"127.0.0.1:{self.port}"

    def fault(self, fault: str) -> None:
        """Apply ``fault`` (a key of :data:`FAULTS`)."""
        if fault == "refused":
            self._post(f"/proxies/{self.name}", {"enabled": False})
            return
        for number, toxic in enumerate(FAULTS[fault]):
            body = {"name": f"{fault}-{number}", "stream": "downstream", "toxicity": 1.0}
            body.update(toxic)
            self._post(f"/proxies/{self.name}/toxics", body)

    def _post(self, path: str, body: dict[str, Any]) -> None:
        answer = requests.post(self.api + path, json=body, timeout=5)
        answer.raise_for_status()


@dataclass(frozen=True)
class Toxiproxy:
    """A running Toxiproxy server's API."""

    api: str

    def proxy(self, name: str, upstream: str) -> Proxy:
        port = free_port()
        body = {"name": name, "listen": f"127.0.0.1:{port}", "upstream": upstream}
        answer = requests.post(f"{self.api}/proxies", json=body, timeout=5)
        answer.raise_for_status()
        return Proxy(self.api, name, port, upstream)


@contextmanager
def toxiproxy_server() -> Iterator[Toxiproxy]:
    """Toxiproxy on a free loopback port (skipped here, failing under CI=true, if not built)."""
    if not BINARY.is_file():
        unavailable("toxiproxy-server is not built: run `make toxiproxy`")
    port = free_port()
    process = subprocess.Popen(
        [str(BINARY), "-host", "127.0.0.1", "-port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        if not wait_for_port(port, timeout_s=20, process=process):
            unavailable("toxiproxy-server did not start")
        yield Toxiproxy(f"http://127.0.0.1:{port}")
    finally:
        stop(process)
