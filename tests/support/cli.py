"""Running the workbook's command line as the scheduler does, and the fixtures tests share."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from types import ModuleType

from support.ci import ROOT

__all__ = ["run_cli", "winston_module"]


def run_cli(
    *args: str, env: dict[str, str] | None = None, timeout_s: float = 1200
) -> subprocess.CompletedProcess[str]:
    """``python -m sreworkbook --root ROOT ARGS...`` with the test's environment (and ``env``)."""
    return subprocess.run(
        [sys.executable, "-m", "sreworkbook", "--root", str(ROOT), *args],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
        env={**os.environ, **(env or {})},
    )


def winston_module() -> ModuleType:
    """``tests/fixtures/winston/fixture.py`` (the real-winston log generator), loaded once."""
    name = "winston_fixture"
    if name not in sys.modules:
        path = ROOT / "tests" / "fixtures" / "winston" / "fixture.py"
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]
