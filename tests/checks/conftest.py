"""Real local servers for the check tests: canned HTTP(S), a hanging one, Redis, FerretDB,
Prometheus. A missing server binary skips its tests, except under ``CI=true`` where it fails.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import os
import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

ROOT = Path(__file__).resolve().parents[2]
IN_CI = os.environ.get("CI") == "true"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def need_binary(path: str | None, what: str) -> str:
    """``path`` if it is an executable; else skip (fail under CI=true) naming ``what``."""
    if path and Path(path).is_file() and os.access(path, os.X_OK):
        return path
    message = f"{what} not available ({path or 'not on PATH'})"
    if IN_CI:
        pytest.fail(message + " — required when CI=true")
    pytest.skip(message)


def unavailable(message: str) -> None:
    """A server that should be there could not start: skip, or fail under CI=true."""
    if IN_CI:
        pytest.fail(message + " — required when CI=true")
    pytest.skip(message)


def wait_for_port(port: int, *, timeout_s: float, process: subprocess.Popen[bytes]) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


# ---------------------------------------------------------------------------- HTTP servers


@dataclass
class Route:
    """What a path answers: code, body (bytes, text or JSON-able), delay, or a hang."""

    status: int = 200
    body: Any = b""
    content_type: str = "application/json"
    delay_s: float = 0.0
    hang: bool = False

    def payload(self) -> bytes:
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            return self.body.encode()
        return json.dumps(self.body).encode()


@dataclass
class CannedServer:
    """A real HTTP server on loopback answering each path from ``routes``."""

    url: str
    port: int
    routes: dict[str, Route]
    seen: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256
    canned: CannedServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients that gave up (timeouts) close their end: not a test failure


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        canned = self.server.canned
        path = self.path.split("?", 1)[0]
        canned.seen.append((self.path, {k: v for k, v in self.headers.items()}))
        route = canned.routes.get(path)
        if route is None:
            route = Route(status=404, body={"error": "not found"})
        if route.hang:
            canned.release.wait(30)
            return
        if route.delay_s:
            time.sleep(route.delay_s)
        body = route.payload()
        self.send_response(route.status)
        self.send_header("Content-Type", route.content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@dataclass
class _Running:
    server: _Server
    thread: threading.Thread


def start_http(
    routes: dict[str, Route], *, tls: ssl.SSLContext | None = None
) -> tuple[CannedServer, Callable[[], None]]:
    server = _Server(("127.0.0.1", 0), _Handler)
    port = int(server.server_address[1])
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    scheme = "https" if tls else "http"
    canned = CannedServer(url=f"{scheme}://127.0.0.1:{port}", port=port, routes=routes)
    server.canned = canned
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()

    def shutdown() -> None:
        canned.release.set()
        server.shutdown()
        server.server_close()
        thread.join(5)

    return canned, shutdown


@pytest.fixture
def http_server() -> Iterator[Callable[[dict[str, Route]], CannedServer]]:
    """A factory of canned HTTP servers, all shut down after the test."""
    stops: list[Callable[[], None]] = []

    def make(routes: dict[str, Route]) -> CannedServer:
        canned, shutdown = start_http(routes)
        stops.append(shutdown)
        return canned

    yield make
    for shutdown in stops:
        shutdown()


@pytest.fixture
def closed_port() -> int:
    """A loopback port nothing listens on: connecting is refused."""
    return free_port()


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


# ------------------------------------------------------------------------- TLS certificates


@dataclass(frozen=True)
class SelfSigned:
    cert_file: Path
    key_file: Path
    not_after: dt.datetime


def make_certificate(
    folder: Path,
    *,
    days: float,
    name: str = "cert",
    hosts: tuple[str, ...] = ("localhost", "127.0.0.1"),
) -> SelfSigned:
    """A self-signed certificate for ``hosts`` (its SANs) expiring ``days`` from now."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    not_after = now + dt.timedelta(days=days)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(min(now, not_after) - dt.timedelta(days=30))
        .not_valid_after(not_after)
        .add_extension(
            x509.SubjectAlternativeName([_general_name(host) for host in hosts]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / f"{name}.pem", folder / f"{name}.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return SelfSigned(cert_file, key_file, not_after)


def _general_name(host: str) -> Any:
    from cryptography import x509

    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


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
        canned, shutdown = start_http({"/health": Route(body={"status": "ok"})}, tls=context)
        stops.append(shutdown)
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
    binary = need_binary(shutil.which("redis-server") or "/usr/bin/redis-server", "redis-server")
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
    binary = need_binary(shutil.which("prometheus") or "/usr/bin/prometheus", "prometheus")
    folder = tmp_path_factory.mktemp("prometheus")
    memory_pct, cpu_pct = 80.0, 42.5
    body = exposition(memory_pct=memory_pct, cpu_pct=cpu_pct)
    target, shutdown = start_http({"/metrics": Route(body=body, content_type=PROMETHEUS_TEXT)})
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
        shutdown()
