"""What the demo API process needs to know, derived from the environment and passed as JSON.

Kept apart from :mod:`sreworkbook.sandbox.demo_api` so that starting the API does not import
the module that ``python -m`` is about to run.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import urlsplit

from sreworkbook.config import Environment
from sreworkbook.sandbox.layout import Layout, endpoint_of
from sreworkbook.sandbox.model import BASE_RPS

__all__ = ["ApiSettings"]


@dataclass(frozen=True)
class ApiSettings:
    """Everything the demo API process needs, written as JSON by the sandbox."""

    port: int
    log_dir: str
    database: str = "tradeai"
    mongo: tuple[str, int] | None = None
    redis: tuple[str, int, int] | None = None
    ai_url: str | None = None
    rps: float = BASE_RPS

    @classmethod
    def from_env(cls, env: Environment, layout: Layout) -> ApiSettings:
        api = endpoint_of(env, "api")
        if api is None:
            raise ValueError("the environment has no service section")
        mongo = endpoint_of(env, "mongodb")
        redis_at = endpoint_of(env, "redis")
        ai = endpoint_of(env, "ai")
        redis_db = urlsplit(redis_at.url).path.strip("/") if redis_at else ""
        return cls(
            port=api.port,
            log_dir=str(layout.app_log_dir),
            database=env.mongodb.database if env.mongodb else "tradeai",
            mongo=(mongo.host, mongo.port) if mongo else None,
            redis=(redis_at.host, redis_at.port, int(redis_db or 0)) if redis_at else None,
            ai_url=ai.http if ai else None,
        )

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(asdict(self), indent=2) + "\n", encoding="utf-8")

    @classmethod
    def read(cls, path: Path) -> ApiSettings:
        data = json.loads(path.read_text(encoding="utf-8"))
        data["mongo"] = tuple(data["mongo"]) if data.get("mongo") else None
        data["redis"] = tuple(data["redis"]) if data.get("redis") else None
        return cls(**data)
