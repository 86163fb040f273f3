"""``sreworkbook doctor --env ENV``: one line per check, exit 1 on any FAIL.

Wired into the main command by ``register(subparsers)``; the handler takes
``(args, root, outputs)`` and returns the exit code (a bad environment file exits 64 as
everywhere else).
"""

from __future__ import annotations

import argparse
import os
from collections import Counter
from pathlib import Path
from typing import Any

from sreworkbook.config import environment_path, load_environment
from sreworkbook.doctor import Verdict, diagnose, exit_code

__all__ = ["register"]


def register(subparsers: Any) -> None:
    """Add ``doctor`` to the ``sreworkbook`` parser."""
    doctor = subparsers.add_parser(
        "doctor",
        help="check an environment before its first scheduled run (exit 1 on any FAIL)",
        description="Checks every secret reference, endpoint (with its credentials), the "
        "permissions the notebooks use (S3 list/get, MongoDB read and a scratch-database "
        "write where drills are enabled, a Prometheus query), the folders and the tools "
        "(mongodump, mongorestore, promtool). One line each: OK, WARN or FAIL with the fix. "
        "Never prints a secret.",
    )
    doctor.add_argument("--env", default="sandbox", help="environment name or parameter file")
    doctor.set_defaults(handler=_doctor)


def _doctor(args: argparse.Namespace, root: Path, outputs: Path) -> int:
    env = load_environment(args.env, root=root)
    lines = diagnose(env, environ=os.environ, root=root)
    print(f"doctor: {environment_path(args.env, root=root)} (environment {env.name})")
    for line in lines:
        print(line)
    counts = Counter(line.verdict for line in lines)
    print(
        f"{counts[Verdict.OK]} OK, {counts[Verdict.WARN]} WARN, {counts[Verdict.FAIL]} FAIL"
        + (": fix the FAIL lines before the first scheduled run" if counts[Verdict.FAIL] else "")
    )
    return exit_code(lines)
