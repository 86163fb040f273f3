"""The real-winston logs and their truth, shared with tests/sources/test_logs.py (same folder)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from support.cli import winston_module


@pytest.fixture(scope="session")
def winston(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    result: tuple[Path, dict[str, Any]] = winston_module().generate(
        tmp_path_factory.getbasetemp() / "winston-logs"
    )
    return result


@pytest.fixture(scope="session")
def sandbox_logs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """The sandbox's generated log history for yesterday and today (the error spike is
    yesterday's), with its truth: the same generator ``sandbox up`` runs, for a fixed day."""
    from datetime import UTC, datetime

    from sreworkbook.sandbox.log_history import LogHistorySpec, ensure_log_history

    out = tmp_path_factory.mktemp("sandbox-logs")
    now = datetime(2026, 11, 28, 20, 41, 39, tzinfo=UTC)
    ensure_log_history(
        out / "logs", LogHistorySpec.ending(now, days=1), truth_file=out / "truth.json"
    )
    truth: dict[str, Any] = json.loads((out / "truth.json").read_text())
    return out / "logs", truth
