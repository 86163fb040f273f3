"""The demo API's dependencies and health checks: real pings to MongoDB, Redis and the AI
service with short timeouts, overridden by the fault switch, shaped like the seed's health.js."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pymongo
import pymongo.errors
import redis

from sreworkbook.sandbox.fault import FaultState

__all__ = ["Check", "Dependencies", "detailed_status", "usage_status"]

_TIMEOUT_S = 0.8
#: The check names /health/detailed reports, keyed by fault-switch component name.
CHECK_NAMES = {"mongodb": "mongodb", "redis": "redis", "ai": "aiService"}


@dataclass(frozen=True)
class Check:
    """One dependency check as /health/detailed reports it."""

    healthy: bool
    response_ms: float
    error: str = ""

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "status": "healthy" if self.healthy else "unhealthy",
            "responseTime": round(self.response_ms, 1),
        }
        if self.error:
            body["error"] = self.error
        return body


class Dependencies:
    """Clients for the API's dependencies; ``None`` addresses mean "not configured"."""

    def __init__(
        self,
        *,
        mongo: tuple[str, int] | None,
        database: str,
        redis_at: tuple[str, int, int] | None,
        ai_url: str | None,
    ) -> None:
        self.database = database
        self.mongo: pymongo.MongoClient[dict[str, Any]] | None = None
        if mongo is not None:
            self.mongo = pymongo.MongoClient(
                host=mongo[0],
                port=mongo[1],
                serverSelectionTimeoutMS=int(_TIMEOUT_S * 1000),
                connectTimeoutMS=int(_TIMEOUT_S * 1000),
                socketTimeoutMS=5_000,
            )
        self.redis: redis.Redis | None = None
        if redis_at is not None:
            self.redis = redis.Redis(
                host=redis_at[0],
                port=redis_at[1],
                db=redis_at[2],
                socket_timeout=_TIMEOUT_S,
                socket_connect_timeout=_TIMEOUT_S,
            )
        self.ai_url = ai_url
        self._pool = ThreadPoolExecutor(max_workers=6, thread_name_prefix="health")

    def close(self) -> None:
        self._pool.shutdown(wait=False)
        if self.mongo is not None:
            self.mongo.close()
        if self.redis is not None:
            self.redis.close()

    def ping(self, component: str) -> Check:
        """A real ping of ``component`` ("mongodb", "redis" or "ai")."""
        began = time.perf_counter()
        try:
            self._ping(component)
        except (pymongo.errors.PyMongoError, redis.RedisError, OSError, ValueError) as exc:
            return Check(False, (time.perf_counter() - began) * 1000, _short(exc))
        return Check(True, (time.perf_counter() - began) * 1000)

    def _ping(self, component: str) -> None:
        if component == "mongodb":
            if self.mongo is None:
                raise ValueError("MongoDB is not configured")
            self.mongo.admin.command("ping")
        elif component == "redis":
            if self.redis is None:
                raise ValueError("Redis is not configured")
            self.redis.ping()
        elif component == "ai":
            if self.ai_url is None:
                raise ValueError("the AI service is not configured")
            with urllib.request.urlopen(self.ai_url + "/health", timeout=_TIMEOUT_S) as response:
                if response.status != 200:
                    raise ValueError(f"AI service answered {response.status}")
        else:
            raise ValueError(f"unknown component {component!r}")

    def checks(self, components: tuple[str, ...], fault: FaultState) -> dict[str, Check]:
        """Ping ``components`` concurrently; the ones the fault switch holds down fail."""
        forced = {
            c: Check(False, 0.0, "forced down by the sandbox fault switch")
            for c in components
            if fault.is_down(c)
        }
        futures = {c: self._pool.submit(self.ping, c) for c in components if c not in forced}
        return {c: forced[c] if c in forced else futures[c].result() for c in components}


def _short(exc: BaseException) -> str:
    text = str(exc).split(", Timeout:")[0].split("\n")[0]
    return text[:160] or type(exc).__name__


def usage_status(percent: float) -> str:
    """ "healthy" below 80 %, "warning" below 90 %, else "critical"."""
    return "healthy" if percent < 80 else "warning" if percent < 90 else "critical"


def detailed_status(
    checks: Mapping[str, Check],
    *,
    memory_pct: float,
    cpu_pct: float,
    uptime_s: float,
    version: str,
    now: Callable[[], str],
) -> tuple[int, dict[str, Any]]:
    """The /health/detailed answer: (HTTP status, body).

    MongoDB is critical: without it the status is "unhealthy" (503). Any other failing or
    strained check makes it "degraded" (still 200).
    """
    body_checks: dict[str, Any] = {CHECK_NAMES[c]: check.to_dict() for c, check in checks.items()}
    body_checks["memory"] = {
        "status": usage_status(memory_pct),
        "usagePercent": round(memory_pct, 1),
    }
    body_checks["cpu"] = {"status": usage_status(cpu_pct), "usagePercent": round(cpu_pct, 1)}
    mongo = checks.get("mongodb")
    if mongo is not None and not mongo.healthy:
        status = "unhealthy"
    elif any(v.get("status") != "healthy" for v in body_checks.values()):
        status = "degraded"
    else:
        status = "healthy"
    body = {
        "status": status,
        "timestamp": now(),
        "uptime": round(uptime_s, 1),
        "version": version,
        "checks": body_checks,
    }
    return (503 if status == "unhealthy" else 200), body
