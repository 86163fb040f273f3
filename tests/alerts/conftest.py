"""Real promtool and Prometheus for the alert tests. A missing binary skips its tests, except
under ``CI=true`` where it fails them.
"""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from support import servers
from support.ci import need_binary


@pytest.fixture(scope="session")
def promtool() -> str:
    return need_binary("promtool")


@dataclass(frozen=True)
class PrometheusTSDB:
    """A real Prometheus serving a TSDB backfilled from an OpenMetrics file."""

    url: str
    data_dir: Path


@pytest.fixture
def prometheus_from_openmetrics(
    tmp_path: Path, promtool: str
) -> Iterator[Callable[[Path], PrometheusTSDB]]:
    """A factory: backfill an OpenMetrics file with promtool, serve it with a real Prometheus."""
    started: list[str] = []
    with contextlib.ExitStack() as stack:

        def start(openmetrics: Path) -> PrometheusTSDB:
            folder = tmp_path / f"prometheus{len(started)}"
            data = folder / "tsdb"
            data.mkdir(parents=True)
            done = subprocess.run(
                [
                    promtool,
                    "tsdb",
                    "create-blocks-from",
                    "openmetrics",
                    str(openmetrics),
                    str(data),
                ],
                capture_output=True,
                text=True,
                timeout=300,
                check=False,
            )
            assert done.returncode == 0, done.stdout + done.stderr
            config = "global:\n  scrape_interval: 1h\nscrape_configs: []\n"
            url = stack.enter_context(
                servers.prometheus(folder, config, tsdb=data, retention="100y")
            )
            started.append(url)
            return PrometheusTSDB(url, data)

        yield start
