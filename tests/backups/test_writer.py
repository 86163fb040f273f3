"""The pure-pymongo archive writer: exact layout, round trips through FerretDB and the real tools."""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import io
import json
import subprocess
import uuid
from pathlib import Path
from typing import Any

import bson
import pytest
from bson.int64 import Int64
from bson.raw_bson import RawBSONDocument

from sreworkbook.backups.archive import iter_documents, read_prelude, verify_archive
from sreworkbook.backups.report import Verdict
from sreworkbook.backups.writer import (
    TOOL_VERSION,
    CollectionDump,
    collection_dumps,
    dump_database,
    write_archive,
)
from sreworkbook.exceptions import OutputError

from ._archives import MAGIC, TERM, signed
from .conftest import MongoServer, MongoTools

ID_INDEX = {"v": 2, "key": {"_id": 1}, "name": "_id_"}


def test_layout_is_byte_for_byte_what_mongodump_writes() -> None:
    """Field order and BSON types follow mongo-tools' Go structs (int32, int64 CRC, bool EOF)."""
    documents = [{"_id": 1, "a": "x"}, {"_id": 2, "a": "y"}]
    out = io.BytesIO()
    dumps = [
        CollectionDump("shop", "orders", documents, indexes=[ID_INDEX]),
        CollectionDump("shop", "empty", [], indexes=[ID_INDEX]),
    ]
    result = write_archive(dumps, out, gzip=False, server_version="7.0.42")
    raw_docs = [bson.encode(d) for d in documents]
    from sreworkbook.backups._stream import crc64_xz

    crc = signed(crc64_xz(b"".join(raw_docs)))
    meta = '{"indexes":[{"v":{"$numberInt":"2"},"key":{"_id":{"$numberInt":"1"}},"name":"_id_"}],"collectionName":"%s"}'
    expected = (
        MAGIC
        + bson.encode(
            {
                "concurrent_collections": 1,
                "version": "0.1",
                "server_version": "7.0.42",
                "tool_version": TOOL_VERSION,
            }
        )
        + bson.encode(
            {
                "db": "shop",
                "collection": "orders",
                "metadata": meta % "orders",
                "size": 0,
                "type": "",
            }
        )
        + bson.encode(
            {"db": "shop", "collection": "empty", "metadata": meta % "empty", "size": 0, "type": ""}
        )
        + TERM
        + bson.encode({"db": "shop", "collection": "orders", "EOF": False, "CRC": Int64(0)})
        + b"".join(raw_docs)
        + TERM
        + bson.encode({"db": "shop", "collection": "orders", "EOF": True, "CRC": Int64(crc)})
        + TERM
        # an empty collection: an empty block, then its EOF block (CRC of nothing is 0)
        + bson.encode({"db": "shop", "collection": "empty", "EOF": False, "CRC": Int64(0)})
        + TERM
        + bson.encode({"db": "shop", "collection": "empty", "EOF": True, "CRC": Int64(0)})
        + TERM
    )
    assert out.getvalue() == expected
    # BSON element types: int32 concurrent_collections (0x10), int64 CRC (0x12), bool EOF (0x08)
    assert b"\x10concurrent_collections\x00" in expected
    assert b"\x12CRC\x00" in expected and b"\x08EOF\x00" in expected
    assert result.uncompressed_bytes == len(expected) == result.bytes_written
    assert [(c.namespace, c.documents, c.crc_expected) for c in result.collections] == [
        ("shop.orders", 2, crc),
        ("shop.empty", 0, 0),
    ]


def test_metadata_json_carries_options_uuid_and_type() -> None:
    dump = CollectionDump(
        "d",
        "c",
        options={"capped": True, "size": 4096},
        indexes=[ID_INDEX],
        uuid="0123456789abcdef0123456789abcdef",
    )
    meta = json.loads(dump.metadata_json())
    assert list(meta) == ["options", "indexes", "uuid", "collectionName"]
    assert meta["options"] == {"capped": True, "size": {"$numberInt": "4096"}}
    assert json.loads(CollectionDump("d", "v", type="view").metadata_json())["type"] == "view"


def test_gzip_output_is_plain_gzip_and_verifies(tmp_path: Path) -> None:
    path = tmp_path / "tradeai_backup_20251110_020000.archive.gz"
    docs = [{"_id": i, "v": "x" * 100} for i in range(5000)]
    result = write_archive([CollectionDump("d", "c", iter(docs))], path)
    assert result.path == path and result.compressed
    assert result.bytes_written == path.stat().st_size
    assert gzip.decompress(path.read_bytes())[:4] == MAGIC
    report = verify_archive(path)
    assert report.verdict is Verdict.OK
    assert report.collections[0].crc_expected == result.collections[0].crc_expected
    assert not list(tmp_path.glob("*.partial"))


def test_accepts_raw_bson_and_bytes() -> None:
    raw = bson.encode({"_id": 1})
    out = io.BytesIO()
    write_archive(
        [CollectionDump("d", "c", [raw, RawBSONDocument(bson.encode({"_id": 2})), {"_id": 3}])],
        out,
        gzip=False,
    )
    assert [d["_id"] for d in iter_documents(io.BytesIO(out.getvalue()), "d.c")] == [1, 2, 3]


def test_interrupted_write_leaves_no_file(tmp_path: Path) -> None:
    def documents() -> Any:
        yield {"_id": 1}
        raise OSError("disk full")

    path = tmp_path / "x.archive.gz"
    with pytest.raises(OutputError):
        write_archive([CollectionDump("d", "c", documents())], path)
    assert list(tmp_path.iterdir()) == []


# ----------------------------------------------------------------- against a real server


def _seed(client: Any, database: str) -> dict[str, int]:
    db = client[database]
    for name in db.list_collection_names():
        db.drop_collection(name)
    db.orders.insert_many(
        [
            {"_id": i, "sym": f"S{i % 13}", "ts": i, "px": i * 0.5, "tags": ["a", "b"]}
            for i in range(3000)
        ]
    )
    db.orders.create_index([("sym", 1), ("ts", -1)], name="sym_ts", unique=True)
    db.users.insert_many(
        [{"name": f"u{i}", "when": dt.datetime(2025, 1, 1, tzinfo=dt.UTC)} for i in range(250)]
    )
    db.create_collection("empty")
    # Near the 16 MB limit: FerretDB (SQLite) accepts a document of 16 MiB - 200 bytes.
    db.blobs.insert_one({"_id": "big", "payload": b"\x07" * (16 * 1024 * 1024 - 200)})
    db.blobs.insert_one({"_id": "small", "payload": b"x"})
    return {name: db[name].count_documents({}) for name in db.list_collection_names()}


def _content_hash(client: Any, database: str, collection: str) -> str:
    """Order-independent: a digest of the sorted digests of each document's BSON bytes."""
    digests = sorted(
        hashlib.sha256(bson.encode(doc)).hexdigest()
        for doc in client[database][collection].find({}, sort=[("_id", 1)])
    )
    return hashlib.sha256("".join(digests).encode()).hexdigest()


@pytest.mark.integration
def test_dump_verify_restore_round_trip_with_pymongo(mongo_client: Any, tmp_path: Path) -> None:
    counts = _seed(mongo_client, "wr_src")
    path = tmp_path / "tradeai_backup_20251110_020000.archive.gz"
    result = dump_database(mongo_client, "wr_src", path)
    assert {c.collection: c.documents for c in result.collections} == counts
    report = verify_archive(path)
    assert report.verdict is Verdict.OK, report.findings
    assert {c.collection: c.documents for c in report.collections} == counts
    assert report.header is not None and report.header.server_version.count(".") == 2

    prelude = read_prelude(path)
    orders = next(e for e in prelude.collections if e.collection == "orders")
    meta = json.loads(orders.metadata)
    assert [ix["name"] for ix in meta["indexes"]] == ["_id_", "sym_ts"]
    assert len(bytes.fromhex(meta["uuid"])) == 16

    scratch = mongo_client["wr_restore_test"]
    for name in scratch.list_collection_names():
        scratch.drop_collection(name)
    for entry in prelude.collections:
        batch = list(iter_documents(path, entry.namespace))
        scratch.create_collection(entry.collection)
        if batch:
            scratch[entry.collection].insert_many(batch)
    for name, count in counts.items():
        assert scratch[name].count_documents({}) == count
        assert _content_hash(mongo_client, "wr_restore_test", name) == _content_hash(
            mongo_client, "wr_src", name
        )


@pytest.mark.integration
def test_collection_dumps_reads_metadata_and_filters(mongo_client: Any) -> None:
    _seed(mongo_client, "wr_meta")
    dumps = collection_dumps(mongo_client, "wr_meta", collections=["orders", "empty"])
    assert [d.collection for d in dumps] == ["empty", "orders"]
    orders = dumps[1]
    assert uuid.UUID(hex=orders.uuid).hex == orders.uuid  # FerretDB reports collection UUIDs
    assert [ix["name"] for ix in orders.indexes] == ["_id_", "sym_ts"]
    assert orders.type == "" and orders.options == {}


@pytest.mark.integration
def test_real_mongodump_archive_verifies_with_exact_counts(
    mongo_tools: MongoTools, ferretdb: MongoServer, mongo_client: Any, tmp_path: Path
) -> None:
    counts = _seed(mongo_client, "wr_tools")
    for compress in (True, False):
        path = tmp_path / f"dump{'.gz' if compress else ''}"
        args = [
            mongo_tools.mongodump,
            f"--uri={ferretdb.uri}",
            "--db=wr_tools",
            f"--archive={path}",
        ]
        subprocess.run([*args, *(["--gzip"] if compress else [])], check=True, timeout=300)
        report = verify_archive(path)
        assert report.verdict is Verdict.OK, report.findings
        assert {c.collection: c.documents for c in report.collections} == counts
        assert all(c.crc_ok for c in report.collections)


@pytest.mark.integration
def test_real_mongorestore_restores_our_archive(
    mongo_tools: MongoTools, ferretdb: MongoServer, mongo_client: Any, tmp_path: Path
) -> None:
    counts = _seed(mongo_client, "wr_ours")
    path = tmp_path / "ours.archive.gz"
    dump_database(mongo_client, "wr_ours", path)
    mongo_client.drop_database("wr_ours_restore_test")
    subprocess.run(
        [
            mongo_tools.mongorestore,
            f"--uri={ferretdb.uri}",
            "--gzip",
            f"--archive={path}",
            "--nsFrom=wr_ours.*",
            "--nsTo=wr_ours_restore_test.*",
            # FerretDB refuses the "ns" mongorestore adds to each index (the engine handles it)
            "--noIndexRestore",
        ],
        check=True,
        timeout=300,
    )
    for name, count in counts.items():
        assert mongo_client["wr_ours_restore_test"][name].count_documents({}) == count
