"""Where the sandbox lives: loopback endpoints read from the environment, and its directories.

The environment file is the single source of truth for ports: each component binds exactly
the host and port found in its URL, and only on loopback.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

from sreworkbook.config import Environment, SandboxConfig
from sreworkbook.exceptions import SandboxError
from sreworkbook.secrets import references

__all__ = ["COMPONENTS", "Context", "Endpoint", "Layout", "Silent", "StepReporter", "endpoint_of"]

#: Every component, in start order.
COMPONENTS = (
    "redis", "mongodb", "ai", "api", "prometheus", "s3", "receivers", "responder", "alertmanager"
)  # fmt: skip

_LOOPBACK = {"127.0.0.1", "localhost"}
_DEFAULT_PORTS = {"http": 80, "https": 443, "redis": 6379, "mongodb": 27017}


@dataclass(frozen=True)
class Endpoint:
    """A component's address: it binds ``host:port``; ``url`` is what the environment says."""

    host: str
    port: int
    url: str

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def http(self) -> str:
        return f"http://{self.host}:{self.port}"


def _url_of(env: Environment, name: str) -> str | None:
    match name:
        case "api":
            return env.service.base_url if env.service else None
        case "ai":
            return env.ai_service.url if env.ai_service else None
        case "prometheus":
            return env.prometheus.url if env.prometheus else None
        case "redis":
            return env.redis.url if env.redis else None
        case "mongodb":
            return env.mongodb.uri if env.mongodb else None
        case "s3":
            s3 = env.backups.s3 if env.backups else None
            return s3.endpoint_url if s3 else None
        case "receivers":
            slack = env.notifications.slack
            return slack.webhook_url if slack else None
        case "alertmanager":
            return env.alertmanager.url if env.alertmanager else None
        case "responder":
            return f"http://{env.responder.listen}/webhook" if env.responder else None
    raise KeyError(
        f"unknown sandbox component {name!r}, did you mean one of: {', '.join(COMPONENTS)}"
    )


def endpoint_of(env: Environment, name: str) -> Endpoint | None:
    """Where component ``name`` must listen; None when the environment has no such section.

    Raises :class:`SandboxError` when the URL holds a secret reference, several hosts, or a
    host that is not loopback: the sandbox never binds anything else.
    """
    url = _url_of(env, name)
    if url is None:
        return None
    if references(url):
        raise SandboxError(
            f"its URL uses a secret reference ({url}); the sandbox needs a literal loopback URL",
            component=name,
        )
    parts = urlsplit(url)
    if "," in parts.netloc:
        raise SandboxError(
            f"its URL names several hosts ({parts.netloc}); the sandbox runs one", component=name
        )
    host = parts.hostname or ""
    if host not in _LOOPBACK:
        raise SandboxError(f"its URL host {host!r} is not loopback (127.0.0.1)", component=name)
    try:
        port = parts.port or _DEFAULT_PORTS.get(parts.scheme)
    except ValueError as exc:
        raise SandboxError(f"its URL has a bad port: {url}", component=name) from exc
    if port is None:
        raise SandboxError(f"its URL has no port: {url}", component=name)
    return Endpoint("127.0.0.1", port, url)


@dataclass(frozen=True)
class Layout:
    """The sandbox's files under ``root / env.sandbox.data_dir``."""

    root: Path
    data_dir: Path
    app_log_dir: Path

    @classmethod
    def of(cls, env: Environment, root: Path) -> Layout:
        config = env.sandbox or SandboxConfig()
        data_dir = (root / config.data_dir).resolve()
        app_logs = (root / env.logs.dir).resolve() if env.logs else data_dir / "logs"
        return cls(root.resolve(), data_dir, app_logs)

    @property
    def state_file(self) -> Path:
        return self.data_dir / "state.json"

    @property
    def incidents_file(self) -> Path:
        return self.data_dir / "incidents.json"

    def out(self, name: str) -> Path:
        """Where component ``name``'s stdout and stderr go."""
        return self.data_dir / "logs" / f"{name}.out"

    def dir(self, name: str) -> Path:
        """Component ``name``'s own data directory (created)."""
        path = self.data_dir / name
        path.mkdir(parents=True, exist_ok=True)
        return path


class StepReporter(Protocol):
    """Where ``sandbox up`` reports its long steps (a terminal's status line, or nowhere)."""

    def step(self, component: str, what: str, done: int = 0, total: int = 0) -> None:
        """``component`` is at step ``what``, ``done`` of ``total`` (total 0: no count)."""

    def finished(self, component: str) -> None:
        """``component`` is up (or failed): nothing more to show for it."""


class Silent:
    """A :class:`StepReporter` that shows nothing."""

    def step(self, component: str, what: str, done: int = 0, total: int = 0) -> None:
        pass

    def finished(self, component: str) -> None:
        pass


@dataclass(frozen=True)
class Context:
    """What a component needs to start: parameters, where things go, the time, a log line."""

    env: Environment
    layout: Layout
    now: datetime
    log: Callable[[str], None]
    history_cache: Path | None = None
    progress: StepReporter = field(default_factory=Silent)

    @property
    def config(self) -> SandboxConfig:
        return self.env.sandbox or SandboxConfig()

    def endpoint(self, name: str) -> Endpoint:
        found = endpoint_of(self.env, name)
        if found is None:
            raise SandboxError("not configured in this environment", component=name)
        return found
