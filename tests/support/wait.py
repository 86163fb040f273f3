"""Waiting in tests for something a real stack does in its own time."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

__all__ = ["wait_for"]


def wait_for(what: str, probe: Callable[[], Any], timeout_s: float = 150.0) -> Any:
    """``probe()``'s first truthy answer (asked every half second); fail after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(0.5)
    pytest.fail(f"{what} did not happen within {timeout_s:.0f} s")
