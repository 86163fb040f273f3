"""The whole backup story on the running sandbox: its S3 bucket and folder, its FerretDB.

Every planted problem of the sandbox's backup set is found, the newest backup restores and
matches with each engine available, a drill of a broken backup fails cleanly, and the
sandbox database is the same, collection by collection and hash by hash, after all of it.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pymongo
import pytest

from sreworkbook.backups.assess import BackupAssessment, assess_backups
from sreworkbook.backups.engines import find_tool
from sreworkbook.backups.fingerprint import fingerprint_database
from sreworkbook.backups.report import Verdict
from sreworkbook.results import Status

from .conftest import MONGO_TOOLS_REQUIRED_IN_CI, unavailable

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def live(sandbox: Any) -> Iterator[tuple[Any, Any]]:
    """A client of the sandbox's MongoDB and the source database's fingerprint before."""
    sandbox.require("mongodb", "s3")
    with pymongo.MongoClient(sandbox.env.mongodb.uri, serverSelectionTimeoutMS=5000) as client:
        yield client, fingerprint_database(client, sandbox.env.mongodb.database)


@pytest.fixture(scope="module")
def assessed(sandbox: Any, live: Any, tmp_path_factory: pytest.TempPathFactory) -> BackupAssessment:
    return assess_backups(
        sandbox.env,
        environ=os.environ,
        root=ROOT,
        now=dt.datetime.now(dt.UTC),
        engine="pymongo",
        cache_dir=tmp_path_factory.mktemp("manifests"),
    )


def test_every_planted_problem_is_found(assessed: BackupAssessment) -> None:
    bad = {
        (r.backup.name[15:23], r.backup.tier.value): r.verdict for r in assessed.verification.bad
    }
    nights = sorted(o.timestamp for o in assessed.inventory.objects)
    day = {n: (nights[-1] - dt.timedelta(days=n)).strftime("%Y%m%d") for n in (4, 9, 12, 16)}
    assert bad == {
        (day[4], "local"): Verdict.CORRUPT,
        (day[4], "s3"): Verdict.CORRUPT,
        (day[9], "s3"): Verdict.INCOMPLETE,
    }
    titles = [f.title for f in assessed.policy.findings]
    missing = f"{day[12][:4]}-{day[12][4:6]}-{day[12][6:]}"
    assert any(t == "1 night(s) without a backup in s3" for t in titles), titles
    assert any(f.detail == missing for f in assessed.policy.findings)
    small = [a.backup.name for a in assessed.policy.size_anomalies]
    assert f"tradeai_backup_{day[16]}_020000.tar.gz" in small
    assert assessed.verification.verified == 41 and assessed.verification.corrupt == 3


def test_the_newest_backup_restores_and_matches(assessed: BackupAssessment, live: Any) -> None:
    drill = assessed.drill
    assert drill is not None and drill.succeeded, drill.findings if drill else None
    assert drill.backup is not None and drill.backup.tier.value == "s3"
    assert drill.restored_docs == 5000 and drill.mismatched_collections == 0
    assert drill.scratch_dropped and "tradeai_restore_test" not in live[0].list_database_names()
    assert assessed.status is Status.WARN
    assert assessed.headline().startswith("Latest backup ") and ", verified, restored in " in (
        assessed.headline()
    )
    metrics = assessed.metrics()
    assert metrics["backups_corrupt"] == 3 and metrics["rto_s"] > 0 and metrics["backup_age_h"] < 24


@pytest.mark.parametrize("engine", ["pymongo", "mongorestore"])
def test_each_engine_drills_the_local_copy(
    sandbox: Any, live: Any, engine: str, tmp_path: Path
) -> None:
    if engine == "mongorestore" and not find_tool("mongorestore", root=ROOT):
        unavailable(
            "mongorestore not available (the Go module proxy refuses mongo-tools here)",
            required=MONGO_TOOLS_REQUIRED_IN_CI,
        )
    result = assess_backups(
        sandbox.env, environ=os.environ, root=ROOT, now=dt.datetime.now(dt.UTC),
        engine=engine, tier="local", verify_all=False, cache_dir=tmp_path,
    )  # fmt: skip
    assert result.drill is not None and result.drill.succeeded, result.drill.findings
    assert result.drill.engine == engine and result.metrics()["backups_verified"] == 1


def test_drilling_the_broken_backup_fails_cleanly(
    sandbox: Any, live: Any, assessed: BackupAssessment, tmp_path: Path
) -> None:
    corrupt = next(r.backup for r in assessed.verification.bad if r.verdict is Verdict.CORRUPT)
    result = assess_backups(
        sandbox.env, environ=os.environ, root=ROOT, now=dt.datetime.now(dt.UTC),
        backup=corrupt.name, verify_all=False, cache_dir=tmp_path,
    )  # fmt: skip
    assert result.status is Status.CRIT and result.drill is not None
    assert result.drill.summary() == "verify FAILED" and result.drill.scratch_dropped
    assert "CORRUPT" in result.headline()


def test_the_source_database_is_unchanged_after_every_drill(sandbox: Any, live: Any) -> None:
    client, before = live
    assert fingerprint_database(client, sandbox.env.mongodb.database) == before
    assert not [n for n in client.list_database_names() if n.endswith("_restore_test")]
