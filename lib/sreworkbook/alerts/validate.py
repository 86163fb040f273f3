"""Check an export with the real tools: ``promtool check rules``, ``promtool test rules`` and
``amtool check-config``. A tool that is not installed is *skipped*, never a failure here; the
tests decide whether that is acceptable (it is not under ``CI=true``)."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["ToolCheck", "find_tool", "run_tool", "validate_export"]

_CANDIDATES = {
    "promtool": ("promtool",),
    "amtool": ("amtool", "prometheus-alertmanager-amtool"),
}


@dataclass(frozen=True)
class ToolCheck:
    """One tool run on one file: ``status`` is "passed", "failed" or "skipped"."""

    name: str
    file: str
    status: str
    output: str
    command: tuple[str, ...] = ()

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    def to_dict(self) -> dict[str, str]:
        return {"check": self.name, "file": self.file, "status": self.status, "output": self.output}


def find_tool(name: str) -> str | None:
    """The path of ``promtool`` or ``amtool`` (also looked for in ``/usr/bin``), or None."""
    for candidate in _CANDIDATES.get(name, (name,)):
        found = shutil.which(candidate)
        if found:
            return found
        fallback = Path("/usr/bin") / candidate
        if fallback.is_file():
            return str(fallback)
    return None


def run_tool(
    name: str, argv: Sequence[str], *, file: Path, binary: str | None, timeout_s: float = 300.0
) -> ToolCheck:
    """Run ``binary argv... file`` in ``file``'s folder and keep its output."""
    if binary is None:
        return ToolCheck(name, file.name, "skipped", f"{argv[0] if argv else name} not installed")
    command = (binary, *argv, file.name)
    try:
        done = subprocess.run(
            command,
            cwd=file.parent,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return ToolCheck(name, file.name, "failed", f"no answer within {timeout_s:g} s", command)
    except OSError as exc:
        return ToolCheck(name, file.name, "skipped", f"cannot run {binary}: {exc}", command)
    text = (done.stdout + done.stderr).strip()
    return ToolCheck(name, file.name, "passed" if done.returncode == 0 else "failed", text, command)


def validate_export(
    out_dir: Path,
    *,
    promtool: str | None = None,
    amtool: str | None = None,
    timeout_s: float = 300.0,
) -> tuple[ToolCheck, ...]:
    """Run the three checks on ``out_dir``'s files (tools found on PATH unless given)."""
    promtool = promtool or find_tool("promtool")
    amtool = amtool or find_tool("amtool")
    checks = (
        ("promtool check rules", ["check", "rules"], "rules.yml", promtool),
        ("promtool test rules", ["test", "rules"], "rules.test.yml", promtool),
        ("amtool check-config", ["check-config"], "alertmanager.yml", amtool),
    )
    return tuple(
        run_tool(name, argv, file=out_dir / file, binary=binary, timeout_s=timeout_s)
        for name, argv, file, binary in checks
    )
