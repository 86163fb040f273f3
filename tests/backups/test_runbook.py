"""The backup-failure runbook's steps, each against real files and servers."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from sreworkbook.backups import runbook
from sreworkbook.backups.inventory import BackupObject, Inventory, Tier
from sreworkbook.config import Environment
from sreworkbook.results import RunSummary, Status

from .conftest import MongoServer, S3Server

NOW = dt.datetime(2026, 11, 28, 12, tzinfo=dt.UTC)


def env(tmp_path: Path, **backups: Any) -> Environment:
    return Environment.model_validate({"name": "t", "backups": backups})


@pytest.mark.parametrize(
    ("tail", "status", "said"),
    [
        (["[2026-11-28 02:00:00] Starting", "[2026-11-28 02:00:31] ERROR: mongodump failed"], Status.CRIT, "0 days ago"),
        (["[2026-11-25 02:00:31] ERROR: upload failed", "[2026-11-26 02:00:00] Starting", "[2026-11-26 02:00:09] Uploaded"], Status.WARN, "3 days ago"),
        (["[2026-11-01 02:00:31] ERROR: upload failed", "[2026-11-27 02:00:00] Starting", "[2026-11-27 02:00:09] Uploaded"], Status.OK, "27 days ago"),
        (["[2026-11-27 02:00:00] Starting", "[2026-11-27 02:00:09] Uploaded"], Status.OK, "no error"),
    ],
)  # fmt: skip
def test_the_last_error_of_the_log(
    tmp_path: Path, tail: list[str], status: Status, said: str
) -> None:
    log = tmp_path / "mongodb-backup.log"
    log.write_text("\n".join(["[2026-10-01 02:00:00] Starting", *tail]) + "\n")
    step = runbook.log_errors(env(tmp_path, log_file=str(log)), environ={}, root=tmp_path, now=NOW)
    assert step.status is status and said in step.detail
    assert "ERROR" in step._repr_html_() or status is Status.OK


def test_a_missing_or_unconfigured_log(tmp_path: Path) -> None:
    missing = runbook.log_errors(
        env(tmp_path, log_file="nowhere.log"), environ={}, root=tmp_path, now=NOW
    )
    assert missing.status is Status.WARN and "cannot read" in missing.detail
    assert runbook.log_errors(env(tmp_path), environ={}, root=tmp_path, now=NOW).status is (
        Status.SKIPPED
    )


def test_disk_space_against_the_size_of_a_backup(tmp_path: Path) -> None:
    config = env(tmp_path, local_dir=str(tmp_path))
    small = Inventory((BackupObject("a", Tier.LOCAL, 1000, NOW),))
    ok = runbook.disk_space(config, environ={}, root=tmp_path, inventory=small)
    assert ok.status is Status.OK and ok.metrics["disk_free_gb"] > 0
    huge = Inventory((BackupObject("a", Tier.LOCAL, 10**18, NOW),))
    assert runbook.disk_space(config, environ={}, root=tmp_path, inventory=huge).status is (
        Status.CRIT
    )
    assert runbook.disk_space(env(tmp_path), environ={}, root=tmp_path).status is Status.SKIPPED


@pytest.mark.integration
def test_s3_access(s3_server: S3Server, s3_env: None, tmp_path: Path) -> None:
    s3_server.client().create_bucket(Bucket="rb-bk")
    config = env(tmp_path, s3={"bucket": "rb-bk", "endpoint_url": s3_server.endpoint_url})
    ok = runbook.s3_access(config, environ={})
    assert ok.status is Status.OK and "standard chain (env)" in ok.detail
    assert "testing" not in ok.detail  # the key itself never shows
    missing = env(tmp_path, s3={"bucket": "no-such-bk", "endpoint_url": s3_server.endpoint_url})
    step = runbook.s3_access(missing, environ={})
    assert step.status is Status.CRIT and "does not exist" in step.detail
    assert step.metrics == {"s3_reachable": 0.0}
    gone = env(tmp_path, s3={"bucket": "b", "endpoint_url": "http://127.0.0.1:9"})
    assert runbook.s3_access(gone, environ={}).status is Status.CRIT


@pytest.mark.integration
def test_mongodb_reachable(ferretdb: MongoServer, mongo_client: Any) -> None:
    mongo_client["rb_present"].x.insert_one({})
    try:
        found = Environment.model_validate(
            {"name": "t", "mongodb": {"uri": ferretdb.uri, "database": "rb_present"}}
        )
        assert runbook.mongodb_reachable(found, environ={}).status is Status.OK
        missing = Environment.model_validate(
            {"name": "t", "mongodb": {"uri": ferretdb.uri, "database": "rb_absent"}}
        )
        assert "MISSING" in runbook.mongodb_reachable(missing, environ={}).detail
    finally:
        mongo_client.drop_database("rb_present")
    gone = Environment.model_validate({"name": "t", "mongodb": {"uri": "mongodb://127.0.0.1:9/"}})
    refused = runbook.mongodb_reachable(gone, environ={})
    assert refused.status is Status.CRIT  # measured: nothing listens there
    assert refused.detail == "MongoDB at 127.0.0.1:9 unreachable: connection refused after 3 s"
    unset = Environment.model_validate({"name": "t", "mongodb": {"uri": "${NOT_SET_ANYWHERE}"}})
    assert "NOT_SET_ANYWHERE" in runbook.mongodb_reachable(unset, environ={}).detail


def test_tools_drills_and_summary(tmp_path: Path) -> None:
    tools = runbook.dump_tools(root=tmp_path)
    assert tools.status is Status.OK
    none = runbook.last_drill([])
    assert none.status is Status.WARN
    failed = RunSummary(Status.CRIT, "restore FAILED", finished_at="2026-11-27T03:00:00Z")
    drill = runbook.last_drill([failed])
    assert drill.status is Status.CRIT and "restore FAILED" in drill.detail
    status, headline, metrics, findings = runbook.summarize(
        [tools, none, drill, runbook.Step("x", Status.SKIPPED, "n/a", {"m": 1.0})]
    )
    assert status is Status.CRIT and "last drill" in headline
    assert headline.startswith("The backup runbook found 2 steps need a look — ")
    assert "the drill of 2026-11-27 03:00 UTC failed: restore FAILED" in headline
    assert not headline.endswith(("OK", "WARN", "CRIT"))
    assert metrics == {"m": 1.0} and [f.title for f in findings] == [
        "dump tools",
        "last drill",
        "last drill",
    ]
