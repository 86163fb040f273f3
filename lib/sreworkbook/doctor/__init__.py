"""``sreworkbook doctor``: is an environment file ready for its first scheduled run?

One line per thing a run will need, each OK, WARN or FAIL with the fix: every secret
reference set; each configured endpoint reachable with its credentials; the permissions the
notebooks use (S3 list and get, MongoDB read, and a write to the scratch database where
backup drills are enabled — never to another database; a Prometheus query); the folders
read; the tools on PATH (``mongodump``, ``mongorestore``, ``promtool``). The checks run at
once, each bounded by the environment's ``check_timeout_s``. Every line is scrubbed of the
resolved secret values before it is returned, so nothing here can print a secret.

    >>> lines = diagnose(env, environ=os.environ, root=root)       # doctor: +SKIP
    >>> exit_code(lines)                                            # 1 on any FAIL
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sreworkbook.config import Environment
from sreworkbook.doctor.data import local_checks, mongodb_checks, s3_checks
from sreworkbook.doctor.endpoints import http_checks, redis_checks, smtp_checks
from sreworkbook.doctor.lines import DoctorLine, Verdict
from sreworkbook.doctor.tools import secret_checks, tool_checks
from sreworkbook.secrets import Scrubber

__all__ = ["DoctorLine", "Verdict", "diagnose", "exit_code"]

#: A group of checks: ``(env, environ, timeout_s) -> lines``.
Group = Callable[[Environment, Mapping[str, str], float], list[DoctorLine]]


def diagnose(
    env: Environment,
    *,
    environ: Mapping[str, str],
    root: Path,
    which: Callable[[str], str | None] | None = None,
) -> list[DoctorLine]:
    """Every check for ``env``, in a stable order; lines are scrubbed of secret values."""
    groups: list[Group] = [
        secret_checks,
        http_checks,
        mongodb_checks,
        redis_checks,
        s3_checks,
        lambda e, en, t: local_checks(e, root=root),
        smtp_checks,
        lambda e, en, t: tool_checks(e, root=root, which=which),
    ]
    timeout_s = env.check_timeout_s
    with ThreadPoolExecutor(max_workers=len(groups), thread_name_prefix="doctor") as pool:
        futures = [pool.submit(group, env, environ, timeout_s) for group in groups]
        lines = [line for future in futures for line in future.result()]
    scrubber = Scrubber.from_references(env.secret_references(), environ)
    return [line.scrubbed(scrubber) for line in lines]


def exit_code(lines: list[DoctorLine]) -> int:
    """1 when any line is FAIL, else 0."""
    return 1 if any(line.verdict is Verdict.FAIL for line in lines) else 0
