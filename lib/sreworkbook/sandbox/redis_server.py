"""The sandbox's Redis: the Debian ``redis-server``, seeded with sessions and cache entries."""

from __future__ import annotations

import json
import random
import shutil
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

import redis

from sreworkbook.exceptions import SandboxError
from sreworkbook.sandbox.layout import Context
from sreworkbook.sandbox.process import ensure_port_free, spawn, wait_ready
from sreworkbook.sandbox.state import RUNNING, Record

__all__ = ["redis_argv", "seed_redis", "start_redis"]

NAME = "redis"


def redis_argv(
    binary: str, *, host: str, port: int, folder: Path, extra: Sequence[str] = ()
) -> list[str]:
    """The ``redis-server`` command line the sandbox (and the tests) run: no persistence,
    ``maxmemory`` 64 MB with LRU eviction, working directory ``folder``."""
    return [
        binary,
        "--port", str(port),
        "--bind", host,
        "--dir", str(folder),
        "--maxmemory", "64mb",
        "--maxmemory-policy", "allkeys-lru",
        "--save", "",
        "--appendonly", "no",
        "--daemonize", "no",
        *extra,
    ]  # fmt: skip


def start_redis(ctx: Context) -> Record:
    """Start ``redis-server`` on the environment's port, seed it and take one BGSAVE."""
    where = ctx.endpoint(NAME)
    binary = shutil.which("redis-server")
    if binary is None:
        raise SandboxError(
            "no redis-server on PATH (Debian: apt-get install redis-server)", component=NAME
        )
    ensure_port_free(where.host, where.port, component=NAME)
    argv = redis_argv(binary, host=where.host, port=where.port, folder=ctx.layout.dir(NAME))
    out = ctx.layout.out(NAME)
    pid, ticks = spawn(NAME, argv, log_path=out)
    client = redis.Redis(
        host=where.host, port=where.port, socket_timeout=2, socket_connect_timeout=1
    )
    try:
        wait_ready(NAME, lambda: _pings(client), pid=pid, timeout_s=15, log_path=out)
        keys = seed_redis(client)
        _bgsave(client)
    except redis.RedisError as exc:
        raise SandboxError(f"started but failed while seeding: {exc}", component=NAME) from exc
    finally:
        client.close()
    return Record(
        NAME, RUNNING, pid, ticks, where.url, f"redis-server, {keys} keys", backend="redis-server"
    )


def _pings(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False


def seed_redis(client: redis.Redis, *, seed: int = 7) -> int:
    """Write the demo keys (sessions, cached API pages, rate limits); returns the key count."""
    rng = random.Random(seed)
    pipe = client.pipeline(transaction=False)
    for i in range(200):
        sid = uuid.UUID(int=rng.getrandbits(128), version=4)
        pipe.hset(
            f"sess:{sid}",
            mapping={
                "userId": f"u{rng.randrange(5000):05d}",
                "role": rng.choice(["trader", "analyst", "admin"]),
                "createdAt": str(1_700_000_000 + i * 37),
            },
        )
        pipe.expire(f"sess:{sid}", 8 * 3600 + rng.randrange(4 * 3600))  # a trading day
    for page in range(1, 51):
        body = {
            "page": page,
            "items": [
                {"id": f"t{page:03d}{j:02d}", "amount": round(rng.uniform(10, 5000), 2)}
                for j in range(10)
            ],
        }
        pipe.set(f"cache:GET:/api/trades?page={page}", json.dumps(body), ex=300)
    for i in range(100):
        pipe.set(f"ratelimit:u{i:05d}", rng.randrange(1, 60), ex=60)
    pipe.zadd("leaderboard:traders", {f"u{i:05d}": rng.randrange(10_000) for i in range(100)})
    pipe.set("config:feature:ai_forecast", "on")
    pipe.execute()
    return int(client.dbsize())


def _bgsave(client: redis.Redis, *, timeout_s: float = 10.0) -> None:
    try:
        client.bgsave()
    except redis.ResponseError as exc:  # a save already in progress is fine
        if "in progress" not in str(exc):
            raise
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        info = client.info("persistence")
        if not info.get("rdb_bgsave_in_progress"):
            if info.get("rdb_last_bgsave_status") != "ok":
                raise SandboxError(
                    "BGSAVE failed (rdb_last_bgsave_status is not ok)", component=NAME
                )
            return
        time.sleep(0.05)
    raise SandboxError(f"BGSAVE did not finish in {timeout_s:.0f} s", component=NAME)
