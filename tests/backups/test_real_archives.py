"""The verifier on archives written by the real ``mongodump`` from a real FerretDB.

One database is built for the module: several collections, an empty one, a document near the
16 MB limit between two small ones, and enough small documents (~34 MB) to fill three of
mongodump's 16 MB write buffers; a second database sits beside it. It is dumped plain and
``--gzip`` (``--db``: the other database must stay out) and as a ``--collection`` subset. Then
random mutations of a real archive: always a finding, never an exception.

mongodump starts a new block header only when the namespace changes, and FerretDB serves one
collection at a time, so these real archives hold one data block per collection: the
interleaved and empty blocks of a busier server are covered by the hand-built archives of
``test_archive.py``. Here the buffers' contents follow each other inside the block, and the
verifier reads them across thousands of small read chunks.
"""

from __future__ import annotations

import gzip
import io
import random
import subprocess
import uuid
import zlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import bson
import pytest
from hypothesis import HealthCheck, given, settings

from sreworkbook.backups.archive import iter_batches, iter_documents, read_prelude, verify_archive
from sreworkbook.backups.engines import tool_version
from sreworkbook.backups.fingerprint import fingerprint_archive, fingerprint_database
from sreworkbook.backups.report import ArchiveReport, Verdict
from sreworkbook.exceptions import ArchiveError

from ._archives import mutate, mutations
from .conftest import MongoServer, MongoTools

pytestmark = pytest.mark.integration

ORDERS = 30_000  # ~1.15 KB each: ~34.6 MB, more than two 16 MiB buffers
USERS = 300
BIG = 16 * 1024 * 1024 - 2048  # bytes of payload: the document is just under 16 MiB


@dataclass(frozen=True)
class Dumps:
    db: str
    other: str
    plain: Path
    gzip: Path
    users_plain: Path
    users_gzip: Path
    tool_version: str
    server: Any


def _mongodump(tools: MongoTools, uri: str, out: Path, *args: str) -> Path:
    subprocess.run(
        [tools.mongodump, f"--uri={uri}", f"--archive={out}", *args],
        check=True, capture_output=True, timeout=600,
    )  # fmt: skip
    return out


def _orders(n: int) -> Iterator[dict[str, Any]]:
    rng = random.Random(7)
    for i in range(n):
        yield {
            "_id": i,
            "sku": f"SKU-{rng.randrange(10_000):05d}",
            "qty": rng.randrange(1, 50),
            "note": "".join(rng.choice("abcdefghij ") for _ in range(1100)),
        }


@pytest.fixture(scope="module")
def dumps(
    mongo_tools: MongoTools, ferretdb: MongoServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Dumps]:
    from pymongo import MongoClient

    name, other = f"shapes_{uuid.uuid4().hex[:6]}", f"other_{uuid.uuid4().hex[:6]}"
    folder = tmp_path_factory.mktemp("real-archives")
    with MongoClient(ferretdb.uri, serverSelectionTimeoutMS=5000) as client:
        db = client[name]
        batch: list[dict[str, Any]] = []
        for doc in _orders(ORDERS):
            batch.append(doc)
            if len(batch) == 2000:
                db.orders.insert_many(batch)
                batch = []
        db.users.insert_many([{"_id": i, "email": f"u{i}@x.example"} for i in range(USERS)])
        db.users.create_index("email", unique=True)
        db.create_collection("empty")
        payload = bson.Binary(random.Random(3).randbytes(BIG))  # incompressible
        db.blobs.insert_many(
            [{"_id": 1, "kind": "small"}, {"_id": 2, "kind": "big", "data": payload},
             {"_id": 3, "kind": "small"}]
        )  # fmt: skip
        client[other].noise.insert_many([{"_id": i} for i in range(10)])
        uri = ferretdb.uri
        made = Dumps(
            name,
            other,
            _mongodump(mongo_tools, uri, folder / "all.archive", f"--db={name}"),
            _mongodump(mongo_tools, uri, folder / "all.archive.gz", f"--db={name}", "--gzip"),
            _mongodump(mongo_tools, uri, folder / "users.archive", f"--db={name}",
                       "--collection=users"),
            _mongodump(mongo_tools, uri, folder / "users.archive.gz", f"--db={name}",
                       "--collection=users", "--gzip"),
            tool_version(mongo_tools.mongodump),
            client,
        )  # fmt: skip
        try:
            yield made
        finally:
            client.drop_database(name)
            client.drop_database(other)


def blocks(data: bytes) -> tuple[int, Counter[str]]:
    """Where the prelude ends, and the number of data blocks per namespace (independent walk)."""
    at = 4
    while (size := int.from_bytes(data[at : at + 4], "little", signed=True)) != -1:
        at += size
    at += 4
    prelude_end, counts = at, Counter[str]()
    while at < len(data):
        size = int.from_bytes(data[at : at + 4], "little")
        header = bson.decode(data[at : at + size])
        at += size
        if not header["EOF"]:
            counts[f"{header['db']}.{header['collection']}"] += 1
        while (size := int.from_bytes(data[at : at + 4], "little", signed=True)) != -1:
            at += size
        at += 4
    return prelude_end, counts


def check_whole_database(report: ArchiveReport, made: Dumps, *, compressed: bool) -> None:
    assert report.verdict is Verdict.OK and report.findings == (), report.findings
    assert report.compressed is compressed
    counts = {c.namespace: c.documents for c in report.collections}
    assert counts == {
        f"{made.db}.orders": ORDERS,
        f"{made.db}.users": USERS,
        f"{made.db}.empty": 0,
        f"{made.db}.blobs": 3,
    }
    assert all(c.crc_ok and c.complete and c.listed for c in report.collections)
    assert report.header is not None and report.header.tool_version == made.tool_version
    blobs = next(c for c in report.collections if c.collection == "blobs")
    assert blobs.bytes > BIG


def test_a_plain_dump_of_one_database(dumps: Dumps) -> None:
    report = verify_archive(dumps.plain)
    check_whole_database(report, dumps, compressed=False)
    assert report.uncompressed_bytes == dumps.plain.stat().st_size
    orders = next(c for c in report.collections if c.collection == "orders")
    assert orders.bytes > 2 * 16 * 1024 * 1024  # three of mongodump's 16 MB write buffers
    _, per_namespace = blocks(dumps.plain.read_bytes())
    assert set(per_namespace) == {c.namespace for c in report.collections}
    assert not [ns for ns in per_namespace if ns.startswith(dumps.other)]  # --db left it out


def test_a_gzip_dump_of_one_database(dumps: Dumps) -> None:
    report = verify_archive(dumps.gzip)
    check_whole_database(report, dumps, compressed=True)
    plain = gzip.decompress(dumps.gzip.read_bytes())
    assert report.uncompressed_bytes == len(plain)
    assert {e.db for e in read_prelude(dumps.gzip).collections} == {dumps.db}


@pytest.mark.parametrize("chunk_size", [4096, 65_537])
def test_small_read_chunks_give_the_same_verdict(dumps: Dumps, chunk_size: int) -> None:
    """Documents (the 16 MB one too) and gzip members cross chunk boundaries."""
    for path in (dumps.plain, dumps.gzip):
        again = verify_archive(path, chunk_size=chunk_size)
        assert again.collections == verify_archive(path).collections


def test_the_dumps_hold_exactly_what_the_server_holds(dumps: Dumps) -> None:
    on_server = fingerprint_database(dumps.server, dumps.db)
    assert fingerprint_archive(dumps.plain) == on_server
    assert fingerprint_archive(dumps.gzip) == on_server
    big = next(d for d in iter_documents(dumps.gzip, f"{dumps.db}.blobs") if d["_id"] == 2)
    assert bytes(big["data"]) == random.Random(3).randbytes(BIG)


@pytest.mark.parametrize("which", ["users_plain", "users_gzip"])
def test_a_collection_subset(dumps: Dumps, which: str) -> None:
    path: Path = getattr(dumps, which)
    report = verify_archive(path)
    assert report.verdict is Verdict.OK and report.findings == ()
    assert [(c.namespace, c.documents) for c in report.collections] == [
        (f"{dumps.db}.users", USERS)
    ]
    meta = read_prelude(path).collections[0].metadata
    assert '"email_1"' in meta and '"unique":true' in meta


# Mutations of a real archive (the --collection users dump, plain and gzip).


def _verdict_holds(mutated: bytes) -> None:
    report = verify_archive(io.BytesIO(mutated), chunk_size=97)
    assert report.findings, "a changed archive passed without a finding"
    try:
        restored = sum(len(b) for _, b in iter_batches(io.BytesIO(mutated), decode=False))
    except ArchiveError:
        assert report.verdict is not Verdict.OK  # what a restore trips over, verify reports
    else:
        assert restored == report.documents


@pytest.fixture(scope="module")
def users_plain(dumps: Dumps) -> tuple[bytes, int]:
    data = dumps.users_plain.read_bytes()
    return data, blocks(data)[0]


def test_mutating_the_real_plain_archive_always_gives_a_finding(
    users_plain: tuple[bytes, int],
) -> None:
    data, prelude_end = users_plain

    @settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
    @given(mutations(len(data), start=prelude_end))
    def check(mutation: tuple[str, int, bytes]) -> None:
        _verdict_holds(mutate(data, *mutation))

    check()


def test_mutating_the_real_gzip_archive_always_gives_a_finding(dumps: Dumps) -> None:
    data = dumps.users_gzip.read_bytes()

    @settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
    @given(mutations(len(data), start=10))  # past the gzip header (its mtime and OS byte are free)
    def check(mutation: tuple[str, int, bytes]) -> None:
        mutated = mutate(data, *mutation)
        try:  # a flip in the last byte's unused padding bits decodes to the same archive
            if gzip.decompress(mutated) == gzip.decompress(data):
                return
        except (OSError, EOFError, ValueError, zlib.error):
            pass
        _verdict_holds(mutated)

    check()
