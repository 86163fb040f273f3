"""Real promtool and Prometheus for the alert tests. A missing binary skips its tests, except
under ``CI=true`` where it fails them.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import pytest
import requests

IN_CI = os.environ.get("CI") == "true"


def need_binary(name: str) -> str:
    """The path of executable ``name``; else skip (fail under CI=true)."""
    found = shutil.which(name) or (
        f"/usr/bin/{name}" if Path(f"/usr/bin/{name}").exists() else None
    )
    if found and os.access(found, os.X_OK):
        return found
    message = f"{name} not available (not on PATH)"
    if IN_CI:
        pytest.fail(message + " — required when CI=true")
    pytest.skip(message)


def unavailable(message: str) -> None:
    if IN_CI:
        pytest.fail(message + " — required when CI=true")
    pytest.skip(message)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def promtool() -> str:
    return need_binary("promtool")


@dataclass(frozen=True)
class PrometheusTSDB:
    """A real Prometheus serving a TSDB backfilled from an OpenMetrics file."""

    url: str
    data_dir: Path


def _ready(url: str, process: subprocess.Popen[bytes], timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            if requests.get(f"{url}/-/ready", timeout=1).status_code == 200:
                return True
        except requests.RequestException:
            pass
        time.sleep(0.1)
    return False


@pytest.fixture
def prometheus_from_openmetrics(
    tmp_path: Path, promtool: str
) -> Iterator[Callable[[Path], PrometheusTSDB]]:
    """A factory: backfill an OpenMetrics file with promtool, serve it with a real Prometheus."""
    binary = need_binary("prometheus")
    processes: list[subprocess.Popen[bytes]] = []
    logs: list[IO[bytes]] = []

    def start(openmetrics: Path) -> PrometheusTSDB:
        data = tmp_path / f"tsdb{len(processes)}"
        data.mkdir()
        done = subprocess.run(
            [promtool, "tsdb", "create-blocks-from", "openmetrics", str(openmetrics), str(data)],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        config = tmp_path / f"prometheus{len(processes)}.yml"
        config.write_text("global:\n  scrape_interval: 1h\nscrape_configs: []\n", encoding="utf-8")
        port = free_port()
        log = (tmp_path / f"prometheus{len(processes)}.log").open("wb")
        logs.append(log)
        process = subprocess.Popen(
            [
                binary,
                f"--config.file={config}",
                f"--storage.tsdb.path={data}",
                "--storage.tsdb.retention.time=100y",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        processes.append(process)
        url = f"http://127.0.0.1:{port}"
        if not _ready(url, process, timeout_s=60):
            unavailable(f"prometheus did not become ready on port {port}")
        return PrometheusTSDB(url, data)

    yield start
    for process in processes:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=15)
    for log in logs:
        log.close()
