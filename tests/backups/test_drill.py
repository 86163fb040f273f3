"""The restore drill on a real FerretDB: safety rules, injected failures, an untouched source.

Every drill here, passed, failed or refused, is followed by a check that the source database
has the same collections, indexes, counts and content hashes as before, and that the scratch
database is gone (or, when the drill refused a non-empty one, left exactly as it was).
"""

from __future__ import annotations

import datetime as dt
import gzip
import io
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sreworkbook.backups.drill import DrillOptions, check_scratch, run_drill, select_backup
from sreworkbook.backups.engines import PymongoEngine, RestoreOutcome
from sreworkbook.backups.fingerprint import fingerprint_database
from sreworkbook.backups.inventory import BackupObject, Inventory, Tier, list_local
from sreworkbook.backups.target import RestorePlan
from sreworkbook.backups.writer import CollectionDump, write_archive
from sreworkbook.exceptions import ParameterError
from sreworkbook.results import Status

from .conftest import S3Server

pytestmark = pytest.mark.integration

NAME = "tradeai_backup_20261127_020000.archive.gz"


@pytest.fixture
def source(mongo_client: Any) -> Iterator[str]:
    """A source database of its own: two collections with indexes, an empty one."""
    name = f"drillsrc_{uuid.uuid4().hex[:8]}"
    db = mongo_client[name]
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    db.trades.insert_many(
        [
            {
                "_id": i,
                "sym": ["ACME", "GLOBEX"][i % 2],
                "qty": i % 97,
                "at": start,
                "note": "n" * (i % 40),
            }
            for i in range(1500)
        ]
    )
    db.trades.create_index([("sym", 1), ("qty", -1)])
    db.users.insert_many([{"email": f"u{i}@example.com", "role": "trader"} for i in range(300)])
    db.users.create_index("email", unique=True)
    db.create_collection("empty")
    yield name
    mongo_client.drop_database(name)


def snapshot(client: Any, database: str) -> tuple[Any, ...]:
    """Everything a drill could change in a database: collections, indexes, counts, hashes."""
    db = client[database]
    indexes = {
        name: sorted((ix["name"], tuple(ix["key"].items())) for ix in db[name].list_indexes())
        for name in db.list_collection_names()
    }
    return tuple(sorted(fingerprint_database(client, database).items())), tuple(
        sorted(indexes.items())
    )


@pytest.fixture
def guarded(mongo_client: Any, source: str) -> Iterator[Any]:
    """Asserts, after the test, that the source is unchanged and no scratch database is left."""
    before = snapshot(mongo_client, source)
    scratch_before = set(mongo_client.list_database_names())
    yield before
    assert snapshot(mongo_client, source) == before, "the source database changed"
    left = {n for n in mongo_client.list_database_names() if n.endswith("_restore_test")}
    assert left <= scratch_before, f"scratch databases left behind: {left - scratch_before}"


def backup_of(client: Any, database: str, folder: Path) -> Inventory:
    folder.mkdir(parents=True, exist_ok=True)
    PymongoEngine(client).dump(database, folder / NAME)
    return list_local(folder)


def options(source: str, **changes: Any) -> DrillOptions:
    return DrillOptions(
        source_database=source, scratch_database=f"{source}_restore_test", **changes
    )


def databases(client: Any) -> set[str]:
    return set(client.list_database_names())


def test_a_good_backup_restores_and_matches(
    mongo_client: Any, source: str, guarded: Any, tmp_path: Path
) -> None:
    inventory = backup_of(mongo_client, source, tmp_path / "b")
    result = run_drill(
        inventory,
        client=mongo_client,
        engine=PymongoEngine(mongo_client),
        options=options(source, compare_live=True),
    )
    assert result.status is Status.OK, result.findings
    assert result.succeeded and result.scratch_dropped and not result.refused
    assert [p.name for p in result.phases] == [
        "download",
        "verify",
        "restore",
        "compare",
        "cleanup",
    ]
    assert result.rto_s == pytest.approx(sum(p.seconds for p in result.phases[:4]))
    assert {c.collection: c.restored.documents for c in result.collections if c.restored} == {
        "empty": 0,
        "trades": 1500,
        "users": 300,
    }
    assert all(c.matches and c.live_matches for c in result.collections)
    assert result.metrics()["restored_docs"] == 1800
    assert result.metrics()["mismatched_collections"] == 0
    assert "restore" in result.phase_rows()[2]["phase"]
    assert f"{source}_restore_test" not in databases(mongo_client)


def test_a_changed_source_is_reported_against_the_live_data(
    mongo_client: Any, source: str, tmp_path: Path
) -> None:
    inventory = backup_of(mongo_client, source, tmp_path / "b")
    mongo_client[source].users.insert_one({"email": "late@example.com"})
    result = run_drill(
        inventory,
        client=mongo_client,
        engine=PymongoEngine(mongo_client),
        options=options(source, compare_live=True),
    )
    assert result.succeeded and result.status is Status.OK
    users = next(c for c in result.collections if c.collection == "users")
    assert users.matches and users.live_matches is False and users.live is not None
    assert users.live.documents == 301
    assert any("changed since the backup" in f.title for f in result.findings)


def test_a_corrupt_archive_fails_verification_and_never_reaches_the_server(
    mongo_client: Any, source: str, guarded: Any, tmp_path: Path
) -> None:
    folder = tmp_path / "b"
    backup_of(mongo_client, source, folder)
    data = bytearray(gzip.decompress((folder / NAME).read_bytes()))
    at = data.find(b"GLOBEX", len(data) // 2)
    data[at] = ord("X")  # a flipped byte inside a document: valid BSON, wrong CRC
    (folder / NAME).write_bytes(gzip.compress(bytes(data)))
    result = run_drill(
        list_local(folder),
        client=mongo_client,
        engine=PymongoEngine(mongo_client),
        options=options(source),
    )
    assert result.status is Status.CRIT and not result.succeeded
    assert [p.name for p in result.phases] == ["download", "verify"]
    assert result.phases[-1].status is Status.CRIT
    assert result.verification is not None and result.verification.verdict.value == "corrupt"
    assert "CRC mismatch" in result.findings[0].detail
    assert result.summary() == "verify FAILED"


def test_a_truncated_archive_fails_verification(
    mongo_client: Any, source: str, guarded: Any, tmp_path: Path
) -> None:
    folder = tmp_path / "b"
    backup_of(mongo_client, source, folder)
    data = (folder / NAME).read_bytes()
    (folder / NAME).write_bytes(data[: len(data) // 2])
    result = run_drill(
        list_local(folder), client=mongo_client, engine=PymongoEngine(mongo_client),
        options=options(source),
    )  # fmt: skip
    assert result.status is Status.CRIT
    assert result.verification is not None and result.verification.verdict.value == "incomplete"


def test_a_restore_failing_midway_is_crit_and_the_scratch_is_dropped(
    mongo_client: Any, source: str, guarded: Any, tmp_path: Path
) -> None:
    """The second collection holds a duplicate _id: the server refuses it mid-restore."""
    folder = tmp_path / "b"
    folder.mkdir()
    dumps = [
        CollectionDump(source, "a_first", [{"_id": i} for i in range(500)]),
        CollectionDump(source, "b_dupes", [{"_id": 1}, {"_id": 2}, {"_id": 1}, {"_id": 3}]),
    ]
    write_archive(dumps, folder / NAME)
    result = run_drill(
        list_local(folder), client=mongo_client, engine=PymongoEngine(mongo_client),
        options=options(source),
    )  # fmt: skip
    assert result.status is Status.CRIT and not result.restored
    restore = result.phase("restore")
    assert restore is not None and restore.status is Status.CRIT
    assert "restore failed" in [f.title for f in result.findings]
    assert "duplicate key" in restore.detail and "b_dupes" in restore.detail
    assert result.phases[-1].name == "cleanup" and result.scratch_dropped
    assert result.summary() == "restore FAILED"


class LossyEngine(PymongoEngine):
    """Restores, then loses a document: what the compare phase is there to catch."""

    def restore(self, archive: Path, plan: RestorePlan, *, target_db: str) -> RestoreOutcome:
        outcome = super().restore(archive, plan, target_db=target_db)
        self.client[target_db].trades.delete_one({"_id": 7})
        return outcome


class ExplodingEngine(PymongoEngine):
    """Dies half-way with an error nobody planned for."""

    def restore(self, archive: Path, plan: RestorePlan, *, target_db: str) -> RestoreOutcome:
        self.client[target_db].trades.insert_one({"_id": "half-way"})
        raise RuntimeError("engine bug")


def test_a_compare_mismatch_is_crit(
    mongo_client: Any, source: str, guarded: Any, tmp_path: Path
) -> None:
    inventory = backup_of(mongo_client, source, tmp_path / "b")
    result = run_drill(
        inventory, client=mongo_client, engine=LossyEngine(mongo_client), options=options(source)
    )
    assert result.status is Status.CRIT and result.restored and not result.succeeded
    assert result.mismatched_collections == 1
    crit = [f for f in result.findings if f.severity is Status.CRIT]
    assert [f.title for f in crit] == ["trades: restored data does not match the archive"]
    assert "restored 1,499 documents, the archive holds 1,500" in crit[0].detail
    assert "rto_s" not in result.metrics()
    assert result.scratch_dropped


def test_an_unexpected_engine_error_still_drops_the_scratch(
    mongo_client: Any, source: str, guarded: Any, tmp_path: Path
) -> None:
    inventory = backup_of(mongo_client, source, tmp_path / "b")
    with pytest.raises(RuntimeError, match="engine bug"):
        run_drill(
            inventory, client=mongo_client, engine=ExplodingEngine(mongo_client),
            options=options(source),
        )  # fmt: skip
    assert f"{source}_restore_test" not in databases(mongo_client)


@pytest.mark.parametrize(
    ("scratch", "pattern", "why"),
    [
        ("SOURCE", r".*", "source or system database"),
        ("SOURCE_copy", r".+_restore_test", "does not match the scratch pattern"),
        ("admin", r".*", "source or system database"),
        ("", r".*", "does not match"),
    ],
)
def test_unsafe_scratch_names_are_refused_before_anything_is_read(
    mongo_client: Any,
    source: str,
    guarded: Any,
    tmp_path: Path,
    scratch: str,
    pattern: str,
    why: str,
) -> None:
    inventory = backup_of(mongo_client, source, tmp_path / "b")
    before = databases(mongo_client)
    chosen = DrillOptions(
        source_database=source, scratch_database=scratch.replace("SOURCE", source),
        scratch_pattern=pattern,
    )  # fmt: skip
    result = run_drill(
        inventory, client=mongo_client, engine=PymongoEngine(mongo_client), options=chosen
    )
    assert result.refused and result.status is Status.CRIT and result.phases == ()
    assert why in result.findings[0].detail
    assert databases(mongo_client) == before


def test_a_scratch_name_held_by_the_archive_is_refused_even_with_replace(
    mongo_client: Any, source: str, guarded: Any, tmp_path: Path
) -> None:
    """The configured source name differs from the archive's database: the archive's wins."""
    inventory = backup_of(mongo_client, source, tmp_path / "b")
    chosen = DrillOptions(
        source_database="configured_elsewhere", scratch_database=source, scratch_pattern=r".*",
        replace_scratch=True,
    )  # fmt: skip
    result = run_drill(
        inventory, client=mongo_client, engine=PymongoEngine(mongo_client), options=chosen
    )
    assert result.refused and "source or system database" in result.findings[0].detail
    assert [p.name for p in result.phases] == ["download", "verify"]


def test_a_non_empty_scratch_is_refused_and_left_alone(
    mongo_client: Any, source: str, guarded: Any, tmp_path: Path
) -> None:
    inventory = backup_of(mongo_client, source, tmp_path / "b")
    scratch = mongo_client[f"{source}_restore_test"]
    scratch.someone_elses.insert_one({"_id": 1, "keep": True})
    try:
        result = run_drill(
            inventory, client=mongo_client, engine=PymongoEngine(mongo_client),
            options=options(source),
        )  # fmt: skip
        assert result.refused and "not empty" in result.findings[0].detail
        assert "replace_scratch=True" in result.findings[0].detail
        assert list(scratch.someone_elses.find()) == [{"_id": 1, "keep": True}]
        replaced = run_drill(
            inventory, client=mongo_client, engine=PymongoEngine(mongo_client),
            options=options(source, replace_scratch=True),
        )  # fmt: skip
        assert replaced.succeeded, replaced.findings
        assert f"{source}_restore_test" not in databases(mongo_client)
    finally:
        mongo_client.drop_database(f"{source}_restore_test")


def test_target_limits_are_warnings_and_the_data_still_restores(
    mongo_client: Any, source: str, guarded: Any, tmp_path: Path
) -> None:
    """A TTL index, a partial index, a sparse one and a view, as mongod would have dumped them."""
    folder = tmp_path / "b"
    folder.mkdir()
    id_index = {"v": 2, "key": {"_id": 1}, "name": "_id_"}
    sessions = [{"_id": i, "seen": dt.datetime(2026, 1, 1), "user": f"u{i}"} for i in range(50)]
    dumps = [
        CollectionDump(
            source, "sessions", sessions,
            indexes=[
                id_index,
                {"v": 2, "key": {"seen": 1}, "name": "seen_ttl", "expireAfterSeconds": 3600},
                {"v": 2, "key": {"user": 1}, "name": "user_partial",
                 "partialFilterExpression": {"user": {"$exists": True}}},
                {"v": 2, "key": {"user": -1}, "name": "user_sparse", "sparse": True},
                {"v": 2, "key": {"user": 1, "seen": -1}, "name": "user_seen"},
            ],
        ),
        CollectionDump(source, "active", type="view",
                       options={"viewOn": "sessions", "pipeline": [{"$match": {"user": "u1"}}]}),
    ]  # fmt: skip
    write_archive(dumps, folder / NAME)
    result = run_drill(
        list_local(folder), client=mongo_client, engine=PymongoEngine(mongo_client),
        options=options(source),
    )  # fmt: skip
    assert result.succeeded and result.status is Status.WARN, result.findings
    warned = sorted(f.title for f in result.findings if f.severity is Status.WARN)
    assert warned == [
        "active: view not restored (target limit)",
        "sessions: index seen_ttl built without option expireAfterSeconds (target limit)",
        "sessions: index user_partial built without option partialFilterExpression (target limit)",
        "sessions: index user_sparse built without option sparse (target limit)",
    ]
    assert [c.collection for c in result.collections] == ["sessions"]
    assert result.restored_docs == 50
    restore = result.phase("restore")
    assert restore is not None and "4 indexes" in restore.detail


def test_the_s3_copy_is_downloaded_and_drilled(
    mongo_client: Any, source: str, guarded: Any, tmp_path: Path, s3_server: S3Server, s3_env: None
) -> None:
    local = backup_of(mongo_client, source, tmp_path / "b")
    client = s3_server.client()
    client.create_bucket(Bucket="drill-bk")
    client.upload_file(str(tmp_path / "b" / NAME), "drill-bk", f"mongodb/{NAME}")
    s3_copy = BackupObject(NAME, Tier.S3, local.objects[0].size, local.objects[0].timestamp,
                           f"s3://drill-bk/mongodb/{NAME}")  # fmt: skip
    result = run_drill(
        local + Inventory((s3_copy,)), client=mongo_client, engine=PymongoEngine(mongo_client),
        options=options(source), s3_client=client,
    )  # fmt: skip
    assert result.backup == s3_copy and result.succeeded, result.findings
    download = result.phase("download")
    assert download is not None and f"{local.objects[0].size:,} bytes" == download.detail


def test_select_backup_prefers_the_newest_and_its_s3_copy() -> None:
    t = dt.datetime(2026, 11, 27, 2, tzinfo=dt.UTC)
    objs = (
        BackupObject("old", Tier.S3, 1, t - dt.timedelta(days=1), "s3://b/old"),
        BackupObject("new", Tier.LOCAL, 1, t, "/b/new"),
        BackupObject("new", Tier.S3, 1, t, "s3://b/new"),
    )
    inventory = Inventory(objs)
    assert select_backup(inventory) == objs[2]
    assert select_backup(inventory, tier="local") == objs[1]
    assert select_backup(inventory, name="old") == objs[0]
    assert select_backup(Inventory(())) is None
    with pytest.raises(ParameterError, match="no backup named 'gone'"):
        select_backup(inventory, name="gone")
    with pytest.raises(ParameterError, match="did you mean one of: auto, s3, local"):
        select_backup(inventory, tier="tape")


def test_check_scratch_rules() -> None:
    check_scratch("tradeai_restore_test", pattern=r".+_restore_test", protected={"tradeai"})
    for bad, pattern in (("tradeai", r".*"), ("config", r".*"), ("x", r".+_restore_test")):
        with pytest.raises(ParameterError):
            check_scratch(bad, pattern=pattern, protected={"tradeai"})
    with pytest.raises(ParameterError, match="not a valid pattern"):
        check_scratch("x", pattern="(", protected=set())


def test_no_backup_at_all_is_crit(mongo_client: Any) -> None:
    result = run_drill(
        Inventory(()), client=mongo_client, engine=PymongoEngine(mongo_client),
        options=DrillOptions(source_database="tradeai"),
    )  # fmt: skip
    assert result.status is Status.CRIT and result.summary() == "nothing to restore"


def test_an_unreachable_target_is_crit_not_a_traceback(tmp_path: Path) -> None:
    from pymongo import MongoClient

    archive = io.BytesIO()
    write_archive([CollectionDump("tradeai", "x", [{"_id": 1}])], archive)
    (tmp_path / NAME).write_bytes(archive.getvalue())
    with MongoClient("mongodb://127.0.0.1:9/", serverSelectionTimeoutMS=300) as gone:
        result = run_drill(
            list_local(tmp_path), client=gone, engine=PymongoEngine(gone),
            options=DrillOptions(source_database="tradeai"),
        )  # fmt: skip
    assert result.status is Status.CRIT
    assert result.findings[0].title == "restore target unreachable"
