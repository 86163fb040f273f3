"""The real sandbox: every component up, real pings, backfilled history, the fault switch."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime
from typing import Any

import pymongo
import pytest
import redis

from sreworkbook.known_incidents import load_incidents
from sreworkbook.sandbox import set_fault, status, up
from sreworkbook.sandbox.layout import endpoint_of

pytestmark = pytest.mark.integration


def get(url: str, timeout: float = 5) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def api(sandbox: Any) -> str:
    assert sandbox.env.service is not None
    return str(sandbox.env.service.base_url)


def promql(sandbox: Any, query: str, at: float | None = None) -> list[dict[str, Any]]:
    assert sandbox.env.prometheus is not None
    params = {"query": query, **({"time": str(at)} if at is not None else {})}
    status_code, body = get(
        f"{sandbox.env.prometheus.url}/api/v1/query?{urllib.parse.urlencode(params)}"
    )
    assert status_code == 200 and body["status"] == "success", body
    return list(body["data"]["result"])


def test_detailed_health_is_healthy_with_real_pings(sandbox: Any) -> None:
    sandbox.require("api", "mongodb", "redis", "ai")
    set_fault(sandbox.env)
    code, body = get(api(sandbox) + "/health/detailed")
    assert code == 200 and body["status"] == "healthy", body
    for name in ("mongodb", "redis", "aiService"):
        check = body["checks"][name]
        assert check["status"] == "healthy" and 0 < check["responseTime"] < 1000, check
    assert body["checks"]["memory"]["status"] == "healthy"
    for path in ("/health", "/health/live", "/health/ready", "/health/startup"):
        assert get(api(sandbox) + path)[0] == 200, path


def test_fault_switch_takes_mongodb_down_and_back(sandbox: Any) -> None:
    sandbox.require("api", "mongodb")
    set_fault(sandbox.env, down=["mongodb"])
    try:
        code, body = get(api(sandbox) + "/health")
        assert code == 503 and body["status"] == "unhealthy"
        code, body = get(api(sandbox) + "/health/detailed")
        assert code == 503 and body["checks"]["mongodb"]["status"] == "unhealthy"
        assert get(api(sandbox) + "/health/ready")[0] == 503
        assert get(api(sandbox) + "/health/live")[0] == 200
        assert get(api(sandbox) + "/api/trades")[0] == 500
    finally:
        set_fault(sandbox.env)
    code, body = get(api(sandbox) + "/health")
    assert code == 200 and body["status"] == "healthy"
    assert get(api(sandbox) + "/api/trades?limit=3")[1]["count"] == 3


def test_prometheus_scrapes_the_api(sandbox: Any) -> None:
    sandbox.require("prometheus", "api")
    assert sandbox.env.prometheus is not None
    job = sandbox.env.prometheus.job
    deadline = time.monotonic() + 40
    while True:  # the first scrape comes within one 15 s interval
        result = promql(sandbox, f'up{{job="{job}"}}')
        if result and result[0]["value"][1] == "1":
            break
        assert time.monotonic() < deadline, f"no scrape of {job}: {result}"
        time.sleep(1)
    api_at = endpoint_of(sandbox.env, "api")
    assert api_at is not None and result[0]["metric"]["instance"] == api_at.address


def test_backfilled_error_spike_is_visible_through_the_http_api(sandbox: Any) -> None:
    sandbox.require("prometheus")
    spike = next(i for i in load_incidents(sandbox.state.incidents_file) if i.kind == "error_rate")
    assert spike.end_s - spike.start_s == 25 * 60
    query = (
        'sum(rate(http_request_duration_seconds_count{route="/api/trades",status_code="500"}[10m]))'
        ' / sum(rate(http_request_duration_seconds_count{route="/api/trades"}[10m]))'
    )
    during = promql(sandbox, query, at=spike.end_s - 60)
    assert float(during[0]["value"][1]) == pytest.approx(0.16, abs=0.025)
    before = promql(sandbox, query, at=spike.start_s - 3600)
    assert float(before[0]["value"][1]) < 0.02


def test_thirty_days_of_history_with_all_incidents(sandbox: Any) -> None:
    sandbox.require("prometheus")
    incidents = load_incidents(sandbox.state.incidents_file)
    assert {i.kind for i in incidents} == {"error_rate", "latency", "memory", "database"}
    assert sandbox.env.prometheus is not None
    job = sandbox.env.prometheus.job
    leak = next(i for i in incidents if i.kind == "memory")
    peak = promql(
        sandbox,
        f'max_over_time(system_memory_usage_percent{{job="{job}"}}[100m])',
        at=leak.end_s - 60,
    )
    assert float(peak[0]["value"][1]) > 95
    regression = next(i for i in incidents if i.kind == "latency")
    p95 = promql(
        sandbox,
        "histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket[10m])))",
        at=regression.end_s - 60,
    )
    assert float(p95[0]["value"][1]) == pytest.approx(3.5, abs=0.4)
    oldest = promql(
        sandbox, f'count_over_time(up{{job="{job}"}}[1h])', at=time.time() - 29 * 86_400
    )
    assert oldest, "history reaches back 29 days"


def test_mongodb_holds_the_seeded_documents(sandbox: Any) -> None:
    sandbox.require("mongodb")
    assert sandbox.env.mongodb is not None and sandbox.env.sandbox is not None
    client: pymongo.MongoClient[dict[str, Any]] = pymongo.MongoClient(
        sandbox.env.mongodb.uri, serverSelectionTimeoutMS=3000
    )
    try:
        db = client[sandbox.env.mongodb.database]
        names = {"users", "customers", "promotions", "trades", "audit_logs"}
        assert names <= set(db.list_collection_names())
        counts = {
            n: int(db.command("collStats", n)["count"]) for n in names
        }  # count() scans on FerretDB
        assert sum(counts.values()) >= sandbox.env.sandbox.seed_documents
        trade = db.trades.find_one({"status": "settled"})
        assert trade is not None and isinstance(trade["createdAt"], datetime)
        assert {"amount", "customerId", "product", "aiForecast"} <= set(trade)
    finally:
        client.close()


def test_redis_is_seeded_and_saved(sandbox: Any) -> None:
    sandbox.require("redis")
    assert sandbox.env.redis is not None
    client = redis.Redis.from_url(sandbox.env.redis.url, socket_timeout=3)
    try:
        assert client.dbsize() >= 200  # sessions last 8-12 hours; rate-limit keys only 60 s
        assert client.info("persistence")["rdb_last_bgsave_status"] == "ok"
        assert client.config_get("maxmemory")["maxmemory"] == str(64 * 2**20)
    finally:
        client.close()


def test_winston_logs_are_written_with_correlation_ids(sandbox: Any) -> None:
    sandbox.require("api")
    assert sandbox.env.logs is not None
    time.sleep(1)
    files = sorted((sandbox.root / sandbox.env.logs.dir).glob("combined-*.log"))
    assert files
    records = [json.loads(line) for line in files[-1].read_text().splitlines()[-200:]]
    assert {"timestamp", "level", "message", "service", "correlationId"} <= set(records[-1])
    completed = [r for r in records if r["message"] == "Request completed"]
    assert completed and all(r["duration"].endswith("ms") for r in completed)


def test_up_again_is_idempotent_and_status_agrees(sandbox: Any) -> None:
    running = {c.name: c.pid for c in sandbox.state.components if c.status == "running"}
    began = time.monotonic()
    again = up(sandbox.env, root=sandbox.root)
    assert time.monotonic() - began < 5
    assert {c.name: c.pid for c in again.components if c.status == "running"} == running
    now = status(sandbox.env, root=sandbox.root)
    assert {c.name: c.pid for c in now.components if c.status == "running"} == running
