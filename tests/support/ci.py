"""Skip where a tool or server is missing, but fail under ``CI=true``, where it must be there."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import NoReturn

import pytest

__all__ = ["IN_CI", "ROOT", "TOOLS", "find_tool", "need_binary", "unavailable"]

ROOT = Path(__file__).resolve().parents[2]
TOOLS = ROOT / ".tools" / "bin"
IN_CI = os.environ.get("CI") == "true"


def unavailable(message: str, *, required: bool = True) -> NoReturn:
    """Skip the calling test; under ``CI=true`` fail it instead (unless not ``required``)."""
    if IN_CI and required:
        pytest.fail(message + " — required when CI=true")
    pytest.skip(message)


def find_tool(name: str) -> str | None:
    """``name`` from the project's ``.tools/bin``, else on ``PATH``, else ``/usr/bin``."""
    bundled = TOOLS / name
    if bundled.is_file() and os.access(bundled, os.X_OK):
        return str(bundled)
    found = shutil.which(name) or (
        f"/usr/bin/{name}" if Path(f"/usr/bin/{name}").exists() else None
    )
    return found if found and os.access(found, os.X_OK) else None


def need_binary(name: str | None, what: str = "") -> str:
    """The executable ``name`` (a name or a path); else skip (fail under CI=true)."""
    path = name if name is None or os.sep in name else find_tool(name)
    if path and Path(path).is_file() and os.access(path, os.X_OK):
        return path
    unavailable(f"{what or name} not available ({path or 'not on PATH'})")
