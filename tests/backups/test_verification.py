"""Verifying a whole inventory: local manifests, S3 streamed with a local manifest cache."""

from __future__ import annotations

import datetime as dt
import gzip
from pathlib import Path

from sreworkbook.backups.inventory import Inventory, list_local, list_s3
from sreworkbook.backups.report import Verdict
from sreworkbook.backups.verification import verify_backup, verify_inventory
from sreworkbook.backups.writer import CollectionDump, write_archive

from .conftest import S3Server

NOW = dt.datetime(2026, 11, 28, 12, tzinfo=dt.UTC)


def make_set(folder: Path) -> dict[str, Path]:
    """A good, a truncated, a bad-CRC and a foreign file, named like nightly backups."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for day, kind in ((24, "good"), (25, "truncated"), (26, "bad-crc"), (27, "foreign")):
        path = folder / f"tradeai_backup_202611{day}_020000.tar.gz"
        write_archive(
            [CollectionDump("tradeai", "t", [{"_id": i, "s": "abc"} for i in range(300)])], path
        )
        data = path.read_bytes()
        if kind == "truncated":
            path.write_bytes(data[: len(data) // 2])
        elif kind == "bad-crc":
            raw = bytearray(gzip.decompress(data))
            raw[raw.rfind(b"abc")] = ord("X")
            path.write_bytes(gzip.compress(bytes(raw)))
        elif kind == "foreign":
            path.write_bytes(gzip.compress(b"just a tarball of logs"))
        paths[kind] = path
    return paths


def test_local_copies_get_verdicts_and_manifests(tmp_path: Path) -> None:
    make_set(tmp_path / "b")
    inventory = list_local(tmp_path / "b")
    first = verify_inventory(inventory.objects, now=NOW)
    assert [r.label for r in first.results] == ["ok", "incomplete", "corrupt", "not-an-archive"]
    assert first.verified == 4 and first.corrupt == 3
    assert not any(r.from_cache for r in first.results)
    assert (
        len(first.findings()) == 3 and "fails verification: incomplete" in first.findings()[0].title
    )
    assert first.bad_names() == {o.name for o in inventory.objects[1:]}
    again = verify_inventory(inventory.objects, now=NOW)
    assert all(r.from_cache for r in again.results)
    assert [r.label for r in again.results] == [r.label for r in first.results]
    rows = again.rows()
    assert rows[0]["verdict"] == "ok" and rows[0]["documents"] == 300


def test_s3_copies_are_streamed_and_cached_by_etag(
    s3_server: S3Server, s3_env: None, tmp_path: Path
) -> None:
    paths = make_set(tmp_path / "b")
    client = s3_server.client()
    client.create_bucket(Bucket="verify-bk")
    for path in paths.values():
        client.upload_file(str(path), "verify-bk", f"mongodb/{path.name}")
    inventory = list_s3("verify-bk", "mongodb/", client=client)
    cache = tmp_path / "cache"
    first = verify_inventory(inventory.objects, now=NOW, s3_client=client, cache_dir=cache)
    assert [r.label for r in first.results] == ["ok", "incomplete", "corrupt", "not-an-archive"]
    assert len(list(cache.glob("*.manifest.json"))) == 4
    second = verify_inventory(inventory.objects, now=NOW, s3_client=client, cache_dir=cache)
    assert all(r.from_cache for r in second.results)
    # The good object is replaced by a broken one: its ETag changes and it is read again.
    good = paths["good"]
    client.put_object(Bucket="verify-bk", Key=f"mongodb/{good.name}", Body=good.read_bytes()[:100])
    third = verify_inventory(inventory.objects, now=NOW, s3_client=client, cache_dir=cache)
    assert third.results[0].verdict is Verdict.INCOMPLETE and not third.results[0].from_cache


def test_an_unreadable_copy_is_a_result_not_an_exception(
    s3_server: S3Server, s3_env: None, tmp_path: Path
) -> None:
    paths = make_set(tmp_path / "b")
    local = list_local(tmp_path / "b")
    gone = local.objects[0]
    paths["good"].unlink()
    result = verify_backup(gone, now=NOW)
    assert result.verdict is None and result.label == "unreadable" and "not found" in result.error
    client = s3_server.client()
    client.create_bucket(Bucket="empty-bk")
    from dataclasses import replace

    from sreworkbook.backups.inventory import Tier

    ghost = replace(gone, tier=Tier.S3, location="s3://empty-bk/mongodb/nothing.tar.gz")
    assert verify_backup(ghost, now=NOW, s3_client=client).label == "unreadable"
    assert verify_backup(ghost, now=NOW).error == "no S3 client to read it with"
    summary = verify_inventory(Inventory((ghost,)).objects, now=NOW, s3_client=client)
    assert summary.corrupt == 1 and summary.bad_names() == {ghost.name}
