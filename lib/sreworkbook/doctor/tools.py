"""Doctor checks that need no network: secret references set, the tools on PATH."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path

from sreworkbook.config import Environment
from sreworkbook.doctor.lines import DoctorLine, Verdict

__all__ = ["secret_checks", "tool_checks"]


def secret_checks(
    env: Environment, environ: Mapping[str, str], timeout_s: float
) -> list[DoctorLine]:
    """One line per ``${NAME}`` the file refers to: set (never shown) or not."""
    lines = []
    responder = env.responder.token if env.responder is not None else ""
    for name in dict.fromkeys(env.secret_references()):
        if environ.get(name):
            lines.append(DoctorLine(f"secret {name}", Verdict.OK, "set (value not shown)"))
        elif responder == f"${{{name}}}":
            # Only `respond serve` reads it (it refuses to start without it); runs do not.
            lines.append(
                DoctorLine(
                    f"secret {name}",
                    Verdict.WARN,
                    "not set here: the alert responder's token (responder.token), needed only "
                    "where `sreworkbook respond serve` runs",
                    f"export {name}=... for the responder's service (Kubernetes: a key of "
                    "the Secret)",
                )
            )
        else:
            lines.append(
                DoctorLine(
                    f"secret {name}",
                    Verdict.FAIL,
                    "not set in the environment",
                    f"export {name}=... where the runs start (Kubernetes: a key of the Secret)",
                )
            )
    return lines


def _find(name: str, root: Path, which: Callable[[str], str | None]) -> str | None:
    """Where the workbook would take ``name`` from: ``.tools/bin`` (make), else PATH."""
    built = root / ".tools" / "bin" / name
    if built.is_file() and os.access(built, os.X_OK):
        return str(built)
    return which(name)


def tool_checks(
    env: Environment, *, root: Path, which: Callable[[str], str | None] | None = None
) -> list[DoctorLine]:
    """``mongodump``/``mongorestore`` (where drills are enabled) and ``promtool``."""
    look = which or shutil.which
    lines = []
    if env.backups is not None and env.mongodb is not None:
        for tool in ("mongodump", "mongorestore"):
            found = _find(tool, root, look)
            if found:
                lines.append(DoctorLine(f"tool {tool}", Verdict.OK, found))
            else:
                lines.append(
                    DoctorLine(
                        f"tool {tool}",
                        Verdict.WARN,
                        "not on PATH: drills fall back to the pure-pymongo engine",
                        "install MongoDB's database tools (Debian/Ubuntu: mongodb-database-tools,"
                        " or `make mongo-tools`)",
                    )
                )
    found = _find("promtool", root, look)
    if found:
        lines.append(DoctorLine("tool promtool", Verdict.OK, found))
    else:
        lines.append(
            DoctorLine(
                "tool promtool",
                Verdict.WARN,
                "not on PATH: alert exports and the alert-tuning notebook cannot validate rules",
                "apt-get install prometheus (it ships promtool)",
            )
        )
    return lines
