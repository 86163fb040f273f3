"""Helpers for running notebooks through the command line, as the scheduler does."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from support.cli import run_cli

ROOT = Path(__file__).resolve().parents[2]


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
