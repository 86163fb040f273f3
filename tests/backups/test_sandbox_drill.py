"""The backup story on the running sandbox: its S3 bucket and folder, its FerretDB.

Every planted problem of the sandbox's backup set is found, and a drill of a broken backup
fails cleanly before anything reaches the server. (The full-database drill with each engine
runs once, through the notebook: ``tests/notebooks/test_backup_drill.py``.)
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
from sreworkbook.backups.report import Verdict
from sreworkbook.results import Status

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def client(sandbox: Any) -> Iterator[Any]:
    sandbox.require("mongodb", "s3")
    with pymongo.MongoClient(sandbox.env.mongodb.uri, serverSelectionTimeoutMS=5000) as client:
        yield client


@pytest.fixture(scope="module")
def assessed(
    sandbox: Any, client: Any, tmp_path_factory: pytest.TempPathFactory
) -> BackupAssessment:
    """Inventory, verification of every copy and policy; no drill."""
    return assess_backups(
        sandbox.env,
        environ=os.environ,
        root=ROOT,
        now=dt.datetime.now(dt.UTC),
        drill=False,
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
    odd = {a.backup.name for a in assessed.policy.size_anomalies}
    assert f"tradeai_backup_{day[16]}_020000.tar.gz" in odd
    newest = {(nights[-1] - dt.timedelta(days=n)).strftime("%Y%m%d") for n in range(4)}
    assert not [n for n in odd if n[15:23] in newest], odd  # real dumps sized like the rest
    assert any(t == "4 copies in s3 kept beyond 30 days" for t in titles), titles
    assert assessed.verification.verified == 41 and assessed.verification.corrupt == 3
    good = [r for r in assessed.verification.results if r.ok]
    assert max(r.documents for r in good) == 100_000  # the newest nights: the whole database
    assert assessed.status is Status.WARN and assessed.drill is None


def test_drilling_the_broken_backup_fails_cleanly(
    sandbox: Any, client: Any, assessed: BackupAssessment, tmp_path: Path
) -> None:
    corrupt = next(r.backup for r in assessed.verification.bad if r.verdict is Verdict.CORRUPT)
    result = assess_backups(
        sandbox.env, environ=os.environ, root=ROOT, now=dt.datetime.now(dt.UTC),
        backup=corrupt.name, verify_all=False, cache_dir=tmp_path,
    )  # fmt: skip
    assert result.status is Status.CRIT and result.drill is not None
    assert result.drill.summary() == "verify FAILED" and result.drill.scratch_dropped
    assert result.drill.phase("restore") is None  # nothing reached the server
    assert f"the drilled backup {corrupt.name} is corrupt and was not restored" in result.headline()
    assert not [n for n in client.list_database_names() if n.endswith("_restore_test")]
