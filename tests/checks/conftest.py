"""Real local servers for the check tests: HTTPS with self-signed certificates, Redis,
FerretDB, Prometheus (canned HTTP servers and ``closed_port`` come from ``tests/conftest.py``).
A missing server binary skips its tests, except under ``CI=true`` where it fails.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from sreworkbook.sandbox.prometheus_server import prometheus_config
from support import servers
from support.ci import unavailable
from support.http import CannedServer, Route, canned_server, start_http
from support.servers import MongoServer, RedisServer
from support.tls import SelfSigned, make_certificate


def exposition(*, memory_pct: float = 80.0, cpu_pct: float = 42.5, extra: bool = True) -> bytes:
    """A small real exposition written by prometheus_client, as the TradeAI backend's."""
    registry = CollectorRegistry()
    requests_hist = Histogram(
        "http_request_duration_seconds",
        "Request duration",
        ["route", "status"],
        registry=registry,
    )
    requests_hist.labels("/api/trades", "200").observe(0.12)
    requests_hist.labels("/api/trades", "500").observe(2.5)
    Histogram("db_query_duration_seconds", "DB query time", registry=registry).observe(0.01)
    Gauge("process_resident_memory_bytes", "RSS", registry=registry).set(123456789)
    Counter("process_cpu_seconds", "CPU seconds", registry=registry).inc(12.5)
    if extra:
        Gauge("active_users", "Active users", registry=registry).set(17)
    Gauge("system_memory_usage_percent", "Memory %", registry=registry).set(memory_pct)
    Gauge("system_cpu_usage_percent", "CPU %", registry=registry).set(cpu_pct)
    return generate_latest(registry)


PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8"


def health_routes(detailed: object) -> dict[str, Route]:
    """The TradeAI backend's health endpoints, all up, with ``detailed`` as
    ``/health/detailed``."""
    return {
        "/health": Route(body={"status": "ok"}),
        "/health/detailed": Route(body=detailed),
        "/health/live": Route(body={"status": "alive"}),
        "/health/ready": Route(body={"status": "ready"}),
        "/health/startup": Route(body={"status": "started"}),
    }


@pytest.fixture
def https_server(
    tmp_path: Path,
) -> Iterator[Callable[[float], tuple[CannedServer, SelfSigned]]]:
    """A factory: an HTTPS server whose self-signed certificate expires in ``days``, for
    ``hosts`` (default localhost and 127.0.0.1)."""
    stops: list[Callable[[], None]] = []

    def make(
        days: float, hosts: tuple[str, ...] = ("localhost", "127.0.0.1")
    ) -> tuple[CannedServer, SelfSigned]:
        cert = make_certificate(tmp_path, days=days, name=f"cert{len(stops)}", hosts=hosts)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert.cert_file, cert.key_file)
        canned = start_http({"/health": Route(body={"status": "ok"})}, tls=context)
        stops.append(canned.stop)
        return canned, cert

    yield make
    for shutdown in stops:
        shutdown()


# ------------------------------------------------------------------------------ servers


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A real redis-server on a free port with ``maxmemory`` 64 MiB."""
    # The save-failure test moves "dir", a protected setting.
    extra = ["--protected-mode", "no", "--enable-protected-configs", "yes"]
    with servers.redis(tmp_path_factory.mktemp("redis"), extra=extra) as server:
        yield server


@pytest.fixture(scope="session")
def mongo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MongoServer]:
    """A real MongoDB-compatible server (FerretDB on SQLite), seeded with one collection."""
    with servers.ferretdb(tmp_path_factory.mktemp("ferretdb")) as server:
        from pymongo import MongoClient

        with MongoClient(server.uri, serverSelectionTimeoutMS=5000) as client:
            client.tradeai.trades.insert_many([{"n": n, "symbol": "ACME"} for n in range(25)])
            client.tradeai.users.insert_one({"name": "ada"})
        yield server


@dataclass(frozen=True)
class PrometheusServer:
    url: str
    job: str
    memory_pct: float
    cpu_pct: float


@pytest.fixture(scope="session")
def prometheus_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusServer]:
    """A real Prometheus scraping a local ``/metrics`` (memory 80 %, CPU 42.5 %) every second."""
    memory_pct, cpu_pct = 80.0, 42.5
    body = exposition(memory_pct=memory_pct, cpu_pct=cpu_pct)
    job = "tradeai-backend"
    with canned_server({"/metrics": Route(body=body, content_type=PROMETHEUS_TEXT)}) as target:
        config = prometheus_config(job, [f"127.0.0.1:{target.port}"], scrape_interval="1s")
        with servers.prometheus(tmp_path_factory.mktemp("prometheus"), config) as url:
            query = f'max(system_memory_usage_percent{{job="{job}"}})'
            deadline = time.monotonic() + 30
            while not _scraped(url, query):
                if time.monotonic() > deadline:
                    unavailable("prometheus never scraped the local /metrics")
                time.sleep(0.25)
            yield PrometheusServer(url, job, memory_pct, cpu_pct)


def _scraped(url: str, query: str) -> bool:
    try:
        answer = requests.get(f"{url}/api/v1/query", params={"query": query}, timeout=2)
        return bool(answer.ok and answer.json()["data"]["result"])
    except requests.RequestException:
        return False
