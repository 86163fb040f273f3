"""Real servers and tools for the backup tests: FerretDB, a moto S3 server, mongodump/mongorestore.

A missing FerretDB, moto or mongo-tools fails under ``CI=true`` and skips elsewhere. The real
mongo-tools are looked up on PATH, then in ``.tools/bin`` (``make mongo-tools`` builds them there
from the source in ``../shared/third_party``).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
TOOLS = ROOT / ".tools" / "bin"
IN_CI = os.environ.get("CI") == "true"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def unavailable(message: str, *, required: bool = True) -> None:
    """Skip, or fail under CI=true when ``required``."""
    if IN_CI and required:
        pytest.fail(message + " — required when CI=true")
    pytest.skip(message)


def find_tool(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    bundled = TOOLS / name
    return str(bundled) if bundled.is_file() and os.access(bundled, os.X_OK) else None


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


@dataclass(frozen=True)
class MongoTools:
    mongodump: str
    mongorestore: str


@pytest.fixture(scope="session")
def mongo_tools() -> MongoTools:
    """The real mongodump and mongorestore (PATH, else ``.tools/bin``); required in CI."""
    dump, restore = find_tool("mongodump"), find_tool("mongorestore")
    if not dump or not restore:
        unavailable(
            "mongodump/mongorestore not available (`make mongo-tools` builds them from "
            "../shared/third_party/mongo-tools-*.tar.gz, or install MongoDB's Database Tools)"
        )
    assert dump and restore
    return MongoTools(dump, restore)


@dataclass(frozen=True)
class MongoServer:
    uri: str
    port: int


@pytest.fixture(scope="session")
def ferretdb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MongoServer]:
    """A real MongoDB-compatible server: FerretDB on SQLite, empty, on a free loopback port."""
    binary = os.environ.get("SREWORKBOOK_FERRETDB") or find_tool("ferretdb")
    if not binary:
        unavailable("FerretDB not available (`make ferretdb` builds it)")
    assert binary
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
            unavailable(f"FerretDB did not start: {log.read_text(errors='replace')[:300]}")
        yield MongoServer(f"mongodb://127.0.0.1:{port}/", port)
    finally:
        stop(process)


@pytest.fixture
def mongo_client(ferretdb: MongoServer) -> Iterator[Any]:
    from pymongo import MongoClient

    with MongoClient(ferretdb.uri, serverSelectionTimeoutMS=5000) as client:
        yield client


@dataclass(frozen=True)
class S3Server:
    endpoint_url: str

    def client(self) -> Any:
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """A real S3 endpoint: moto's server on a free loopback port."""
    try:
        from moto.server import ThreadedMotoServer
    except ImportError as exc:
        unavailable(f"moto[server] not installed: {exc}")
        raise
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield S3Server(f"http://127.0.0.1:{port}")
    finally:
        server.stop()


@pytest.fixture
def s3_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Credentials for moto through the standard chain (environment variables)."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_CONFIG_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
