"""Redis: ping latency, memory used against ``maxmemory``, evictions, clients, last save.

No PONG → CRIT (refused, authentication failed) or UNKNOWN (timed out, unset secret, bad
URL). Memory used as a percentage of ``maxmemory`` above ``redis_memory_crit_pct`` → CRIT,
above ``redis_memory_warn_pct`` → WARN; with no ``maxmemory`` (0) there is no percentage.
A failed last background save (``rdb_last_bgsave_status:err``) → at least WARN.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import redis as redis_py
from redis.backoff import NoBackoff
from redis.exceptions import AuthenticationError, RedisError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry

from sreworkbook.checks._common import budget, connection_probe, error_text, grade_above
from sreworkbook.checks.runner import Check
from sreworkbook.config import Environment
from sreworkbook.results import CheckResult, Status
from sreworkbook.secrets import Scrubber, mask_uri

__all__ = ["judge_info", "redis_check"]

NAME = "ping"
COMPONENT = "redis"


def _number(info: Mapping[str, Any], key: str) -> float | None:
    value = info.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        return float(value)
    except ValueError:
        return None


def judge_info(
    info: Mapping[str, Any], env: Environment, *, ping_ms: float
) -> tuple[Status, str, dict[str, float]]:
    """Status, detail and metrics from an ``INFO`` answer and the measured ping."""
    limits = env.thresholds
    metrics: dict[str, float] = {"ping_ms": ping_ms}
    for key in ("used_memory", "maxmemory", "evicted_keys", "connected_clients"):
        value = _number(info, key)
        if value is not None:
            metrics[key] = value
    words = [f"PONG in {ping_ms:.1f} ms"]
    status = Status.OK
    used, limit = metrics.get("used_memory"), metrics.get("maxmemory")
    if used is not None and limit:
        pct = used / limit * 100.0
        metrics["memory_pct"] = pct
        status = grade_above(
            pct, warn=limits.redis_memory_warn_pct, crit=limits.redis_memory_crit_pct
        )
        words.append(f"memory {pct:.1f} % of {limit / 2**20:.0f} MiB")
    elif used is not None:
        words.append(f"memory {used / 2**20:.1f} MiB, no maxmemory")
    if "connected_clients" in metrics:
        words.append(f"{metrics['connected_clients']:.0f} clients")
    if "evicted_keys" in metrics:
        words.append(f"{metrics['evicted_keys']:.0f} evicted keys")
    if str(info.get("rdb_last_bgsave_status", "ok")).lower() != "ok":
        words.append("last background save failed")
        metrics["rdb_last_bgsave_failed"] = 1.0
        if status is Status.OK:
            status = Status.WARN
    return status, ", ".join(words), metrics


def _failure(exc: RedisError, timeout_s: float, scrubber: Scrubber) -> tuple[Status, str]:
    if isinstance(exc, AuthenticationError):
        return Status.CRIT, "authentication failed"
    if isinstance(exc, RedisTimeoutError):
        return Status.UNKNOWN, f"timed out after {budget(timeout_s):.1f} s"
    if isinstance(exc, RedisConnectionError):
        text = str(exc).lower()
        if "refused" in text:
            return Status.CRIT, "connection refused"
        if "timeout" in text or "timed out" in text:
            return Status.UNKNOWN, f"timed out after {budget(timeout_s):.1f} s"
        if "reset" in text or "closed by server" in text or "error while reading" in text:
            return Status.CRIT, "connection reset"
    return Status.CRIT, error_text(exc, scrubber)


def redis_check(
    env: Environment,
    *,
    environ: Mapping[str, str],
    clock: Callable[[], float] = time.perf_counter,
) -> Check | None:
    """The Redis check, or ``None`` when the environment has no ``redis``."""
    config = env.redis
    if config is None:
        return None

    def probe(timeout_s: float, url: str, target: str, scrubber: Scrubber) -> CheckResult:
        wait = budget(timeout_s)
        client: redis_py.Redis | None = None
        try:
            client = redis_py.Redis.from_url(
                url,
                socket_timeout=wait,
                socket_connect_timeout=wait,
                retry=Retry(NoBackoff(), 0),
                health_check_interval=0,
                single_connection_client=True,  # connects here
            )
            client.ping()
            start = clock()
            client.ping()
            ping_ms = (clock() - start) * 1000.0
            info = client.info()
        except ValueError as exc:
            detail = f"bad Redis URL: {error_text(exc, scrubber)}"
            return CheckResult(NAME, COMPONENT, Status.UNKNOWN, detail=detail, target=target)
        except RedisError as exc:
            status, detail = _failure(exc, timeout_s, scrubber)
            return CheckResult(NAME, COMPONENT, status, detail=detail, target=target)
        finally:
            if client is not None:
                client.close()
        status, detail, metrics = judge_info(info, env, ping_ms=ping_ms)
        return CheckResult(
            NAME, COMPONENT, status, detail=scrubber.scrub(detail), target=target, metrics=metrics
        )

    run = connection_probe(NAME, COMPONENT, env, environ, config.url, key="redis.url", probe=probe)
    return Check(NAME, COMPONENT, mask_uri(config.url), env.check_timeout_s, run)
