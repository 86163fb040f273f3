"""``sreworkbook doctor`` against the real sandbox: all OK, then an environment full of faults."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pymongo
import pytest
import yaml

from sreworkbook.config import Environment
from sreworkbook.doctor import DoctorLine, Verdict, exit_code
from sreworkbook.doctor.tools import secret_checks, tool_checks

ROOT = Path(__file__).resolve().parents[2]
CANARY_PASSWORD = "canary-redis-pw-5c1f"
CANARY_TOKEN = "canary-token-93ad"


def _doctor(
    env_file: Path, extra_env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sreworkbook", "--root", str(ROOT), "doctor", "--env", str(env_file)],
        capture_output=True, text=True, timeout=300, check=False,
        env={**os.environ, **(extra_env or {})},
    )  # fmt: skip


def _lines(stdout: str) -> dict[str, str]:
    """check name → its whole line."""
    found = {}
    for line in stdout.splitlines()[1:-1]:
        match = re.fullmatch(r"(OK|WARN|FAIL)\s+(\S.*?)\s{2,}(.*)", line)
        assert match, line
        found[match.group(2)] = f"{match.group(1)} {match.group(3)}"
    return found


# ------------------------------------------------------------------------------------ units
def test_secret_lines_never_show_the_value() -> None:
    env = Environment.model_validate(
        {"name": "t", "redis": {"url": "${R_URL}"}, "mongodb": {"uri": "${M_URI}"}}
    )
    lines = secret_checks(env, {"R_URL": "redis://:hunter2@x:6379/0"}, 1.0)
    verdicts = {x.check: x.verdict for x in lines}
    assert verdicts == {"secret R_URL": Verdict.OK, "secret M_URI": Verdict.FAIL}
    assert "hunter2" not in " ".join(map(str, lines))
    missing = next(x for x in lines if x.verdict is Verdict.FAIL)
    assert "export M_URI=..." in str(missing)
    assert exit_code(lines) == 1
    assert exit_code([x for x in lines if x.verdict is Verdict.OK]) == 0


def test_missing_tools_are_warned_with_the_fix(tmp_path: Path) -> None:
    env = Environment.model_validate(
        {"name": "t", "mongodb": {"uri": "mongodb://x/"}, "backups": {"local_dir": "/b"}}
    )
    lines = tool_checks(env, root=tmp_path, which=lambda name: None)
    assert [(x.check, x.verdict) for x in lines] == [
        ("tool mongodump", Verdict.WARN), ("tool mongorestore", Verdict.WARN),
        ("tool promtool", Verdict.WARN)]  # fmt: skip
    assert "pure-pymongo engine" in lines[0].detail and "mongodb-database-tools" in lines[0].fix
    bundled = tmp_path / ".tools" / "bin" / "mongodump"
    bundled.parent.mkdir(parents=True)
    bundled.write_text("#!/bin/sh\n")
    bundled.chmod(0o755)
    again = tool_checks(env, root=tmp_path, which=lambda name: f"/usr/bin/{name}")
    assert again[0] == DoctorLine("tool mongodump", Verdict.OK, str(bundled))
    assert exit_code(lines) == 0  # a WARN is not a FAIL


# ------------------------------------------------------------------------------ the sandbox
@pytest.mark.integration
def test_the_sandbox_environment_is_ready(sandbox: Any) -> None:
    sandbox.require("api", "ai", "mongodb", "redis", "prometheus", "s3", "alertmanager",
                    "receivers")  # fmt: skip
    done = _doctor(sandbox.env_file)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = _lines(done.stdout)
    for check in ("service health", "ai service", "prometheus query", "alertmanager",
                  "mongodb read", "mongodb scratch write", "redis", "s3 list", "s3 get",
                  "backups folder", "logs folder", "smtp", "tool promtool"):  # fmt: skip
        assert lines[check].startswith("OK "), (check, lines[check])
    assert 'up{job="tradeai-backend"} returned 1 series' in lines["prometheus query"]
    assert "wrote and removed a document in tradeai_restore_test" in lines["mongodb scratch write"]
    # The sandbox's bucket: 35 nights planned, one missing → 34 archives (README, sandbox).
    assert ": 34 objects, 34 archives" in lines["s3 list"], lines["s3 list"]
    assert done.stdout.splitlines()[-1].endswith(" 0 FAIL")
    client: pymongo.MongoClient[dict[str, Any]] = pymongo.MongoClient(
        sandbox.env.mongodb.uri, serverSelectionTimeoutMS=5000
    )
    try:
        assert "sreworkbook_doctor" not in client["tradeai_restore_test"].list_collection_names()
        assert "sreworkbook_doctor" not in client["tradeai"].list_collection_names()
    finally:
        client.close()


@pytest.mark.integration
def test_faults_are_fail_lines_with_fixes_and_no_secret(sandbox: Any, tmp_path: Path) -> None:
    sandbox.require("api", "mongodb", "redis")
    base = yaml.safe_load(sandbox.env_file.read_text())
    broken = {
        "extends": str(sandbox.env_file),
        "name": "broken",
        "service": {"headers": {"Authorization": "Bearer ${DOCTOR_TOKEN}"}},
        "ai_service": {"url": "${DOCTOR_UNSET_AI_URL}"},
        "redis": {"url": "${DOCTOR_REDIS_URL}"},
        "prometheus": {"url": "http://127.0.0.1:9"},
        "backups": {"scratch_database": "tradeai", "s3": {"bucket": "no-such-bucket"}},
        "logs": {"dir": str(tmp_path / "nowhere")},
    }
    env_file = tmp_path / "broken.yaml"
    env_file.write_text(yaml.safe_dump(broken))
    redis_url = base["redis"]["url"].replace("redis://", f"redis://doctor:{CANARY_PASSWORD}@")
    done = _doctor(env_file, {"DOCTOR_REDIS_URL": redis_url, "DOCTOR_TOKEN": CANARY_TOKEN})
    assert done.returncode == 1, done.stdout + done.stderr
    out = done.stdout + done.stderr
    assert CANARY_PASSWORD not in out and CANARY_TOKEN not in out
    assert "Traceback" not in out
    lines = _lines(done.stdout)
    expected_fail = {
        "secret DOCTOR_UNSET_AI_URL": "export DOCTOR_UNSET_AI_URL=...",
        "ai service": "DOCTOR_UNSET_AI_URL",
        "redis": "check the password",
        "prometheus query": "cannot connect to 127.0.0.1:9 (connection refused)",
        "mongodb scratch write": "name a throw-away database",
        "s3 list": "no such bucket 'no-such-bucket'",
        "logs folder": "no such folder",
    }
    for check, words in expected_fail.items():
        assert lines[check].startswith("FAIL "), (check, lines[check])
        assert words in lines[check], (check, lines[check])
    assert lines["secret DOCTOR_TOKEN"].startswith("OK set (value not shown)")
    assert lines["service health"].startswith("OK ")  # the demo API ignores the header
    assert lines["mongodb read"].startswith("OK ")
    assert "redis://doctor:***@127.0.0.1" in lines["redis"]
    # Refused before writing: the production database got no doctor collection.
    client: pymongo.MongoClient[dict[str, Any]] = pymongo.MongoClient(
        sandbox.env.mongodb.uri, serverSelectionTimeoutMS=5000
    )
    try:
        assert "sreworkbook_doctor" not in client["tradeai"].list_collection_names()
    finally:
        client.close()


def test_a_bad_environment_file_exits_64(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\nredis: {url: redis://x, tls: yes}\n")
    done = _doctor(bad)
    assert done.returncode == 64
    assert "bad.yaml: redis.tls: unknown key" in done.stderr
