"""``backups take`` end to end on the running sandbox: its FerretDB, its S3 endpoint, its receiver.

The nightly job runs as the scheduler runs it (``schedule run nightly-backup``) and dumps the
whole seeded database with the real mongodump; a dump failing verification leaves the previous
good backup alone and uploads nothing; a failed backup exits 1 and notifies.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pymongo
import pytest
import requests
import yaml

from sreworkbook.backups.archive import read_prelude, verify_archive
from sreworkbook.backups.engines import MongorestoreEngine, tool_version
from sreworkbook.backups.inventory import list_local
from sreworkbook.backups.report import Verdict
from sreworkbook.backups.s3 import client_for, list_objects
from sreworkbook.backups.take import backup_name, take_backup
from sreworkbook.config import load_environment
from sreworkbook.results import Status

from .conftest import MongoTools
from .test_take import Corrupting

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sreworkbook", "--root", str(ROOT), *args],
        capture_output=True, text=True, timeout=900, check=False, env=dict(os.environ),
    )  # fmt: skip


def env_file(path: Path, doc: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


def objects(env: Any) -> dict[str, int]:
    s3 = env.backups.s3
    listed = list_objects(s3.bucket, s3.prefix, client=client_for(s3))
    return {o.key.removeprefix(s3.prefix): o.size for o in listed}


@pytest.fixture(scope="module")
def client(sandbox: Any) -> Iterator[Any]:
    sandbox.require("mongodb", "s3")
    with pymongo.MongoClient(sandbox.env.mongodb.uri, serverSelectionTimeoutMS=5000) as client:
        yield client


def test_the_scheduled_nightly_backup_dumps_the_whole_database(
    sandbox: Any, client: Any, mongo_tools: MongoTools, tmp_path: Path
) -> None:
    """schedule run nightly-backup: mongodump of all 100,000 documents, verified, in S3."""
    path = env_file(
        tmp_path / "take-test.yaml",
        {
            "extends": str(sandbox.env_file),
            "name": "take-test",
            "backups": {"local_dir": str(tmp_path / "backups"), "s3": {"prefix": "take-test/"}},
        },
    )
    outputs = tmp_path / "outputs"
    done = cli("--outputs", str(outputs), "schedule", "run", "nightly-backup", "--env", str(path))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "OK      nightly-backup: Backup tradeai_backup_" in done.stdout, done.stdout
    line = json.loads((outputs / "ledger.jsonl").read_text().splitlines()[-1])
    assert (line["notebook"], line["env"], line["status"]) == ("backups_take", "take-test", "OK")
    assert line["metrics"]["backup_documents"] == 100_000
    version = tool_version(mongo_tools.mongodump)
    assert {"severity": "OK", "title": f"dump engine: mongodump (mongodump {version})",
            "detail": ""} in line["findings"]  # fmt: skip
    history = [
        json.loads(x) for x in (outputs / "schedule" / "history.jsonl").read_text().splitlines()
    ]
    attempt = next(h for h in history if h["event"] == "attempt")
    assert (attempt["job"], attempt["status"], attempt["run_id"]) == (
        "nightly-backup", "OK", line["run_id"],
    )  # fmt: skip
    env = load_environment(str(path), root=ROOT)
    local = list_local(tmp_path / "backups")
    assert len(local.objects) == 1
    taken = local.objects[0]
    assert abs((dt.datetime.now(dt.UTC) - taken.timestamp).total_seconds()) < 900
    report = verify_archive(taken.location)
    assert report.verdict is Verdict.OK and report.documents == 100_000 and report.compressed
    assert read_prelude(taken.location).header.tool_version == version
    assert objects(env) == {
        taken.name: taken.size,
        taken.name + ".manifest.json": (tmp_path / "backups" / (taken.name + ".manifest.json"))
        .stat()
        .st_size,
    }
    assert (outputs / "index.html").is_file()


def test_a_dump_failing_verification_keeps_the_last_good_backup(
    sandbox: Any, client: Any, mongo_tools: MongoTools, tmp_path: Path
) -> None:
    """On the sandbox server and bucket: a good backup, then a corrupt dump that changes nothing."""
    database = f"take_{uuid.uuid4().hex[:6]}"
    client[database].orders.insert_many([{"_id": i, "sku": f"sku-{i}"} for i in range(2000)])
    prefix = f"take-verify-{database}/"
    path = env_file(
        tmp_path / "env.yaml",
        {
            "extends": str(sandbox.env_file),
            "name": "take-verify",
            "mongodb": {"database": database},
            "backups": {
                "local_dir": str(tmp_path / "backups"),
                "name_pattern": r"take_\w+_backup_(\d{8})_(\d{6})\.tar\.gz",
                "s3": {"prefix": prefix},
            },
        },
    )
    env = load_environment(str(path), root=ROOT)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    try:
        good = take_backup(env, environ=os.environ, root=ROOT, now=now)
        assert good.status is Status.OK and good.engine == "mongodump", good.findings
        kept, uploaded = sorted((tmp_path / "backups").iterdir()), objects(env)
        assert sorted(uploaded) == [
            backup_name(database, now),
            backup_name(database, now) + ".manifest.json",
        ]
        tools = MongorestoreEngine(
            env.mongodb.uri, client=client, mongodump=mongo_tools.mongodump,
            mongorestore=mongo_tools.mongorestore,
        )  # fmt: skip
        bad = take_backup(
            env, environ=os.environ, root=ROOT, now=now + dt.timedelta(hours=24),
            dump_engine=Corrupting(tools),
        )  # fmt: skip
        assert bad.status is Status.CRIT and not bad.kept
        assert bad.findings[0].title == "dump fails verification: corrupt"
        assert objects(env) == uploaded  # nothing uploaded
        assert sorted((tmp_path / "backups").iterdir()) == kept  # the good one stays, no partial
        assert verify_archive(kept[0]).verdict is Verdict.OK
    finally:
        client.drop_database(database)


def test_a_failed_backup_exits_1_and_notifies(sandbox: Any, client: Any, tmp_path: Path) -> None:
    """The database is down: exit 1, a CRIT ledger line, a message on the team's Slack."""
    webhook = sandbox.env.notifications.slack.webhook_url
    path = env_file(
        tmp_path / "take-down.yaml",
        {
            "name": "take-down",
            "mongodb": {"uri": "mongodb://127.0.0.1:9/", "database": "tradeai"},
            "backups": {"local_dir": str(tmp_path / "backups")},
            "notifications": {"slack": {"webhook_url": webhook, "channel": "#tradeai-alerts"}},
        },
    )
    outputs = tmp_path / "outputs"
    done = cli("--outputs", str(outputs), "backups", "take", "--env", str(path))
    assert done.returncode == 1, done.stdout + done.stderr
    assert (
        "CRIT  The backup failed (dump failed): nothing was uploaded and the earlier backups are kept."
        in done.stdout
    )
    line = json.loads((outputs / "ledger.jsonl").read_text().splitlines()[-1])
    assert line["status"] == "CRIT" and line["notebook"] == "backups_take"
    assert list((tmp_path / "backups").iterdir()) == []
    base = webhook.split("/services/")[0]
    posts = requests.get(base + "/received", timeout=5).json()
    ours = [p for p in posts if "backups_take on take-down" in json.dumps(p["body"])]
    assert len(ours) == 1, posts[-3:]
    assert "dump failed" in json.dumps(ours[0]["body"])
