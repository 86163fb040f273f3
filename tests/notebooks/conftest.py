"""Helpers for running notebooks through the command line, as the scheduler does."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``python -m sreworkbook --root ROOT ARGS...`` with the test's environment."""
    return subprocess.run(
        [sys.executable, "-m", "sreworkbook", "--root", str(ROOT), *args],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env={**os.environ, **(env or {})},
    )


def latest_run(outputs: Path) -> tuple[dict[str, Any], Path]:
    """The last ledger line under ``outputs`` and its run folder."""
    line = (outputs / "ledger.jsonl").read_text().splitlines()[-1]
    summary = json.loads(line)
    return summary, outputs / summary["report"].rsplit("/", 1)[0]


@pytest.fixture
def cli() -> Callable[..., subprocess.CompletedProcess[str]]:
    return run_cli


@pytest.fixture
def last_run() -> Callable[[Path], tuple[dict[str, Any], Path]]:
    return latest_run
