"""Real local servers for the check tests: HTTPS with self-signed certificates, Redis,
FerretDB, Prometheus (canned HTTP servers and ``closed_port`` come from ``tests/conftest.py``).
A missing server binary skips its tests, except under ``CI=true`` where it fails.
"""

from __future__ import annotations

import os
import shutil
import ssl
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from support.ci import ROOT, need_binary, unavailable
from support.http import CannedServer, Route, start_http
from support.net import free_port, stop, wait_for_port
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


@pytest.fixture
def https_server(
    tmp_path: Path,
) -> Iterator[Callable[[float], tuple[CannedServer, SelfSigned]]]:
    """A factory: an HTTPS server whose self-signed certificate expires in ``days``."""
    stops: list[Callable[[], None]] = []

    def make(days: float) -> tuple[CannedServer, SelfSigned]:
        cert = make_certificate(tmp_path, days=days, name=f"cert{len(stops)}")
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert.cert_file, cert.key_file)
        canned = start_http({"/health": Route(body={"status": "ok"})}, tls=context)
        stops.append(canned.stop)
        return canned, cert

    yield make
    for shutdown in stops:
        shutdown()


# ------------------------------------------------------------------------------ Redis


@dataclass(frozen=True)
class RedisServer:
    url: str
    port: int
    maxmemory: int


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A real redis-server on a free port with ``maxmemory`` 64 MiB."""
    binary = need_binary("redis-server")
    folder = tmp_path_factory.mktemp("redis")
    port = free_port()
    maxmemory = 64 * 2**20
    process = subprocess.Popen(
        [
            binary,
            "--port", str(port),
            "--bind", "127.0.0.1",
            "--save", "",
            "--appendonly", "no",
            "--dir", str(folder),
            "--maxmemory", str(maxmemory),
            "--protected-mode", "no",
            "--enable-protected-configs", "yes",  # the save-failure test moves "dir"
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        if not wait_for_port(port, timeout_s=10, process=process):
            unavailable(f"redis-server did not start on port {port}")
        yield RedisServer(f"redis://127.0.0.1:{port}/0", port, maxmemory)
    finally:
        stop(process)


# --------------------------------------------------------------------------- MongoDB


@dataclass(frozen=True)
class MongoServer:
    uri: str
    port: int


def _ferretdb_binary() -> str | None:
    override = os.environ.get("SREWORKBOOK_FERRETDB")
    if override:
        return override
    bundled = ROOT / ".tools" / "bin" / "ferretdb"
    return str(bundled) if bundled.exists() else shutil.which("ferretdb")


@pytest.fixture(scope="session")
def mongo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MongoServer]:
    """A real MongoDB-compatible server: FerretDB on SQLite, seeded with one collection.

    The binary is ``.tools/bin/ferretdb`` (or ``$SREWORKBOOK_FERRETDB``, or on PATH).
    """
    binary = need_binary(_ferretdb_binary(), "FerretDB")
    folder = tmp_path_factory.mktemp("ferretdb")
    port = free_port()
    log = folder / "ferretdb.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [
                binary,
                "--handler=sqlite",
                f"--sqlite-url=file:{folder}/",
                f"--listen-addr=127.0.0.1:{port}",
                f"--state-dir={folder}",
                "--debug-addr=-",
                "--telemetry=disable",
                "--log-level=error",
            ],
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    try:
        if not wait_for_port(port, timeout_s=20, process=process):
            tail = log.read_text(errors="replace").strip().splitlines()[:3]
            unavailable(f"FerretDB ({binary}) did not start: {' | '.join(tail)}")
        uri = f"mongodb://127.0.0.1:{port}/"
        from pymongo import MongoClient

        with MongoClient(uri, serverSelectionTimeoutMS=5000) as client:
            client.tradeai.trades.insert_many([{"n": n, "symbol": "ACME"} for n in range(25)])
            client.tradeai.users.insert_one({"name": "ada"})
        yield MongoServer(uri, port)
    finally:
        stop(process)


# ------------------------------------------------------------------------- Prometheus


@dataclass(frozen=True)
class PrometheusServer:
    url: str
    job: str
    memory_pct: float
    cpu_pct: float


@pytest.fixture(scope="session")
def prometheus_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusServer]:
    """A real Prometheus scraping a local ``/metrics`` (memory 80 %, CPU 42.5 %) every second."""
    binary = need_binary("prometheus")
    folder = tmp_path_factory.mktemp("prometheus")
    memory_pct, cpu_pct = 80.0, 42.5
    body = exposition(memory_pct=memory_pct, cpu_pct=cpu_pct)
    target = start_http({"/metrics": Route(body=body, content_type=PROMETHEUS_TEXT)})
    job = "tradeai-backend"
    (folder / "prometheus.yml").write_text(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        f"scrape_configs:\n  - job_name: {job}\n"
        f"    static_configs:\n      - targets: ['127.0.0.1:{target.port}']\n"
    )
    port = free_port()
    process = subprocess.Popen(
        [
            binary,
            f"--config.file={folder / 'prometheus.yml'}",
            f"--storage.tsdb.path={folder / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--log.level=error",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        if not wait_for_port(port, timeout_s=20, process=process):
            unavailable("prometheus did not start")
        import requests

        url = f"http://127.0.0.1:{port}"
        query = f'max(system_memory_usage_percent{{job="{job}"}})'
        deadline = time.monotonic() + 30
        while True:
            try:
                answer = requests.get(f"{url}/api/v1/query", params={"query": query}, timeout=2)
                if answer.ok and answer.json()["data"]["result"]:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                unavailable("prometheus never scraped the local /metrics")
            time.sleep(0.25)
        yield PrometheusServer(url, job, memory_pct, cpu_pct)
    finally:
        stop(process)
        target.stop()
