"""The Redis check against a real redis-server with a known maxmemory."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from sreworkbook.checks import judge_info, redis_check, run_checks
from sreworkbook.config import Environment
from sreworkbook.results import CheckResult, Status

from .conftest import RedisServer


def environment(url: str, **thresholds: Any) -> Environment:
    return Environment.model_validate(
        {"name": "t", "redis": {"url": url}, "thresholds": thresholds, "check_timeout_s": 2}
    )


def run(url: str, environ: dict[str, str] | None = None, **thresholds: Any) -> CheckResult:
    check = redis_check(environment(url, **thresholds), environ=environ or {})
    assert check is not None
    (result,) = run_checks([check])
    return result


@pytest.fixture
def client(redis_server: RedisServer) -> Iterator[redis.Redis]:
    with redis.Redis.from_url(redis_server.url) as conn:
        conn.flushall()
        yield conn
        conn.flushall()
        conn.config_set("maxmemory", redis_server.maxmemory)


def test_ping_memory_clients_evictions(redis_server: RedisServer, client: redis.Redis) -> None:
    client.set("payload", "x" * 2_000_000)
    result = run(redis_server.url)
    info = client.info()
    assert result.status is Status.OK, result.detail
    assert (result.component, result.name) == ("redis", "ping")
    assert result.target == redis_server.url
    assert 0 < result.metrics["ping_ms"] < 1000
    assert result.metrics["maxmemory"] == redis_server.maxmemory
    # used_memory moves by a few KiB with each client connection: compare closely.
    assert result.metrics["used_memory"] == pytest.approx(info["used_memory"], rel=0.02)
    expected_pct = info["used_memory"] / redis_server.maxmemory * 100
    assert result.metrics["memory_pct"] == pytest.approx(expected_pct, rel=0.02)
    assert result.metrics["memory_pct"] > 2_000_000 / redis_server.maxmemory * 100
    assert result.metrics["evicted_keys"] == info["evicted_keys"] == 0
    assert result.metrics["connected_clients"] >= 2  # the fixture's and the check's
    assert "% of 64 MiB" in result.detail


def test_memory_thresholds(redis_server: RedisServer, client: redis.Redis) -> None:
    assert run(redis_server.url, redis_memory_warn_pct=0.0).status is Status.WARN
    crit = run(redis_server.url, redis_memory_warn_pct=0.0, redis_memory_crit_pct=0.0)
    assert crit.status is Status.CRIT


def test_no_maxmemory_no_percentage(redis_server: RedisServer, client: redis.Redis) -> None:
    client.config_set("maxmemory", 0)
    result = run(redis_server.url, redis_memory_warn_pct=0.0, redis_memory_crit_pct=0.0)
    assert result.status is Status.OK
    assert "memory_pct" not in result.metrics
    assert "no maxmemory" in result.detail


def test_failed_background_save_warns(
    redis_server: RedisServer, client: redis.Redis, tmp_path: Path
) -> None:
    doomed = tmp_path / "gone"
    doomed.mkdir()
    original = client.config_get("dir")["dir"]
    client.config_set("dir", str(doomed))
    shutil.rmtree(doomed)
    try:
        client.bgsave()
        for _ in range(100):
            info = client.info("persistence")
            if not info["rdb_bgsave_in_progress"] and info["rdb_last_bgsave_status"] == "err":
                break
            time.sleep(0.05)
        assert client.info("persistence")["rdb_last_bgsave_status"] == "err"
        result = run(redis_server.url)
    finally:
        client.config_set("dir", original)
        client.save()  # a good save resets rdb_last_bgsave_status for the other tests
    assert result.status is Status.WARN
    assert "last background save failed" in result.detail


def test_refused_is_crit(closed_port: int) -> None:
    result = run(f"redis://127.0.0.1:{closed_port}/0")
    assert (result.status, result.detail) == (Status.CRIT, "connection refused")


def test_password_resolved_from_reference_and_never_shown(
    redis_server: RedisServer, client: redis.Redis
) -> None:
    env = environment("${REDIS_URL}")
    right = redis_server.url.replace("redis://", "redis://:CANARY-redis-pw@")
    wrong = redis_server.url.replace("redis://", "redis://:CANARY-wrong-pw@")
    client.config_set("requirepass", "CANARY-redis-pw")
    try:
        checks = [redis_check(env, environ={"REDIS_URL": url}) for url in (right, wrong)]
        good, bad = run_checks([c for c in checks if c is not None])
    finally:
        client.config_set("requirepass", "")
    assert checks[0] is not None and checks[0].target == "${REDIS_URL}"
    assert good.status is Status.OK, good.detail
    assert good.target == redis_server.url.replace("redis://", "redis://:***@")
    assert (bad.status, bad.detail) == (Status.CRIT, "authentication failed")
    assert "CANARY" not in repr(good) + repr(bad)


def test_unset_reference_is_unknown() -> None:
    result = run("${NO_SUCH_REDIS}")
    assert result.status is Status.UNKNOWN
    assert "NO_SUCH_REDIS" in result.detail


@pytest.mark.parametrize(
    ("info", "status", "pct"),
    [
        ({"used_memory": 80, "maxmemory": 100}, Status.OK, 80.0),  # exactly at warn
        ({"used_memory": 81, "maxmemory": 100}, Status.WARN, 81.0),
        ({"used_memory": 95, "maxmemory": 100}, Status.WARN, 95.0),  # exactly at crit
        ({"used_memory": 96, "maxmemory": 100}, Status.CRIT, 96.0),
        ({"used_memory": 50, "maxmemory": 0}, Status.OK, None),
    ],
)
def test_judge_info_boundaries(info: dict[str, Any], status: Status, pct: float | None) -> None:
    got, _, metrics = judge_info(info, Environment(name="t"), ping_ms=1.0)
    assert got is status
    assert metrics.get("memory_pct") == pct
