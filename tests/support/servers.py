"""Real servers for the tests, started with the sandbox's own command lines.

Each starter runs the same ``redis-server``, FerretDB or ``prometheus`` command line the
sandbox runs (``redis_argv``, ``ferretdb_argv``, ``prometheus_argv``), on a free loopback port,
in a folder of the test's; and moto's threaded S3 server. A server that cannot start skips
the test, or fails it under ``CI=true`` (:func:`support.ci.unavailable`).
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from sreworkbook.sandbox.mongo_server import ferretdb_argv, ferretdb_binary
from sreworkbook.sandbox.prometheus_server import prometheus_argv
from sreworkbook.sandbox.redis_server import redis_argv
from support.ci import ROOT, need_binary, unavailable
from support.net import free_port, stop, wait_for_port

__all__ = [
    "MongoServer",
    "RedisServer",
    "ferretdb",
    "moto",
    "prometheus",
    "redis",
    "running",
    "s3_client",
]


@contextmanager
def running(
    argv: Sequence[str], port: int, *, what: str, log: Path, timeout_s: float = 20
) -> Iterator[subprocess.Popen[bytes]]:
    """``argv`` started with its output in ``log``, once ``port`` accepts connections."""
    with log.open("wb") as sink:
        process = subprocess.Popen(list(argv), stdout=sink, stderr=subprocess.STDOUT)
    try:
        if not wait_for_port(port, timeout_s=timeout_s, process=process):
            tail = " | ".join(log.read_text(errors="replace").strip().splitlines()[:3])
            unavailable(f"{what} did not start on port {port}: {tail}")
        yield process
    finally:
        stop(process)


@dataclass(frozen=True)
class RedisServer:
    url: str
    port: int
    maxmemory: int


@contextmanager
def redis(folder: Path, *, extra: Sequence[str] = ()) -> Iterator[RedisServer]:
    """A real ``redis-server`` (``maxmemory`` 64 MiB, no persistence)."""
    binary = need_binary("redis-server")
    port = free_port()
    argv = redis_argv(binary, host="127.0.0.1", port=port, folder=folder, extra=extra)
    with running(argv, port, what="redis-server", log=folder / "redis.log", timeout_s=10):
        yield RedisServer(f"redis://127.0.0.1:{port}/0", port, 64 * 2**20)


@dataclass(frozen=True)
class MongoServer:
    uri: str
    port: int


@contextmanager
def ferretdb(folder: Path) -> Iterator[MongoServer]:
    """A real MongoDB-compatible server: FerretDB on SQLite, empty (``make ferretdb`` builds
    it into ``.tools/bin``; ``$SREWORKBOOK_FERRETDB`` overrides)."""
    import os

    binary = need_binary(
        os.environ.get("SREWORKBOOK_FERRETDB") or ferretdb_binary(ROOT), "FerretDB"
    )
    port = free_port()
    argv = ferretdb_argv(binary, address=f"127.0.0.1:{port}", state_dir=folder)
    with running(argv, port, what=f"FerretDB ({binary})", log=folder / "ferretdb.log"):
        yield MongoServer(f"mongodb://127.0.0.1:{port}/", port)


@contextmanager
def prometheus(
    folder: Path, config: str, *, tsdb: Path | None = None, retention: str = "15d"
) -> Iterator[str]:
    """A real Prometheus with ``config`` (the text of a ``prometheus.yml``), ready; its URL."""
    binary = need_binary("prometheus")
    port = free_port()
    (folder / "prometheus.yml").write_text(config, encoding="utf-8")
    argv = prometheus_argv(
        binary,
        config=folder / "prometheus.yml",
        address=f"127.0.0.1:{port}",
        tsdb=tsdb or folder / "data",
        retention=retention,
    )
    url = f"http://127.0.0.1:{port}"
    with running(argv, port, what="prometheus", log=folder / "prometheus.log") as process:
        deadline = time.monotonic() + 60
        while not _ready(url):
            if process.poll() is not None or time.monotonic() > deadline:
                unavailable(f"prometheus did not become ready on port {port}")
            time.sleep(0.1)
        yield url


def _ready(url: str) -> bool:
    try:
        return requests.get(f"{url}/-/ready", timeout=1).status_code == 200
    except requests.RequestException:
        return False


@contextmanager
def moto() -> Iterator[str]:
    """A real S3 endpoint: moto's threaded server on a free loopback port; its URL."""
    try:
        from moto.server import ThreadedMotoServer
    except ImportError as exc:
        unavailable(f"moto[server] not installed: {exc}")
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def s3_client(endpoint: str) -> Any:
    """A boto3 S3 client for a moto endpoint (moto takes any keys)."""
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
