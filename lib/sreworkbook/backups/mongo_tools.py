"""The mongo tools (``mongodump``, ``mongorestore``): where they are, what they are told, and
what they said.

Argument lists, never a shell; the URI goes in a ``--config`` file the caller writes, so that no
password shows in the process table. :class:`~sreworkbook.backups.engines.MongorestoreEngine`
runs them.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

from sreworkbook.backups.target import RestorePlan

__all__ = ["find_tool", "mongodump_argv", "mongorestore_argv", "tool_failure", "tool_version"]

_VERSION = re.compile(r"version:?\s*(\S+)")
#: The Go driver's "connection(host:port[-n]) … read: connection reset by peer" chain.
_LOST = re.compile(
    r"connection\((?P<host>[^)\[\s]+)[^)]*\).*?"
    r"(?P<cause>connection reset by peer|broken pipe|i/o timeout|connection refused|EOF)"
)
_NAMESPACE = re.compile(r"^(?P<ns>[\w-]+\.[\w.-]+): ")


def find_tool(name: str, *, root: Path | None) -> str | None:
    """``name`` from ``PATH`` (MongoDB's Database Tools packages), else the project's
    ``.tools/bin`` (``make mongo-tools``), the order ``make setup`` looks in."""
    found = shutil.which(name)
    if found or root is None:
        return found
    bundled = root / ".tools" / "bin" / name
    return str(bundled) if bundled.is_file() and os.access(bundled, os.X_OK) else None


def tool_version(binary: str, *, timeout_s: float = 10.0) -> str:
    """The version ``binary --version`` reports (``100.18.0-8fa3cfc8``), or ``"unknown"``."""
    try:
        done = subprocess.run(
            [binary, "--version"], capture_output=True, text=True, timeout=timeout_s, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    found = _VERSION.search(done.stdout + done.stderr)
    return found.group(1) if found and done.returncode == 0 else "unknown"


def mongodump_argv(binary: str, config: Path, database: str, out: Path, *, gzip: bool) -> list[str]:
    """``mongodump --config=CFG --db=DB --archive=OUT [--gzip]`` (the URI is in CFG)."""
    argv = [binary, f"--config={config}", f"--db={database}", f"--archive={out}"]
    return [*argv, "--gzip"] if gzip else argv


def mongorestore_argv(
    binary: str,
    config: Path,
    archive: Path,
    plan: RestorePlan,
    *,
    target_db: str,
    gzip: bool,
    workers: int = 1,
) -> list[str]:
    """``mongorestore`` restoring ``plan.source_db`` of ``archive`` into ``target_db`` only.

    What the plan leaves out is excluded (``--nsExclude``, ``--noIndexRestore`` — the planned
    indexes are then built afterwards —, ``--noOptionsRestore``).
    """
    src = plan.source_db
    argv = [
        binary,
        f"--config={config}",
        f"--archive={archive}",
        f"--nsInclude={src}.*",
        f"--nsFrom={src}.*",
        f"--nsTo={target_db}.*",
        "--stopOnError",
        "--bypassDocumentValidation",
        f"--numInsertionWorkersPerCollection={max(1, workers)}",
    ]
    if gzip:
        argv.append("--gzip")
    argv += [f"--nsExclude={src}.{name}" for name in plan.skipped]
    if plan.indexes_reduced:
        argv.append("--noIndexRestore")
    if plan.options_reduced:
        argv.append("--noOptionsRestore")
    return argv


def tool_failure(output: str) -> str:
    """What a mongo tool said when it failed, in a line: its own ``Failed:`` line (else its last
    lines), a lost connection as the host and the cause rather than the Go driver's chain."""
    lines = [line.strip() for line in output.strip().splitlines() if line.strip()]
    failed = next((line for line in reversed(lines) if "Failed: " in line), None)
    if failed is None:
        return " | ".join(lines[-3:])[-400:] or "no output"
    text = failed.split("Failed: ", 1)[1]
    lost = _LOST.search(text)
    if lost is None:
        return text[:400]
    namespace = _NAMESPACE.match(text)
    where = f"{namespace['ns']}: " if namespace else ""
    return f"{where}lost the connection to {lost['host']} ({lost['cause']})"
