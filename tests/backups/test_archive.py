"""The archive reader and verifier: sound, interleaved, corrupt, truncated and foreign archives."""

from __future__ import annotations

import gzip
import io
import random
import zlib
from pathlib import Path

import bson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sreworkbook.backups import archive as archive_module
from sreworkbook.backups.archive import (
    ArchiveError,
    iter_batches,
    iter_documents,
    read_prelude,
    verify_archive,
)
from sreworkbook.backups.report import Verdict
from sreworkbook.exceptions import MissingFileError, WorkbookError
from sreworkbook.results import Status

from ._archives import TERM, Builder, docs, header, int32, interleaved, mutate, mutations


def verify(data: bytes, chunk_size: int = 1 << 20) -> archive_module.ArchiveReport:
    return verify_archive(io.BytesIO(data), chunk_size=chunk_size)


def titles(report: archive_module.ArchiveReport) -> list[str]:
    return [f.title for f in report.findings]


@pytest.mark.parametrize("compress", [False, True])
def test_interleaved_archive_with_empty_blocks_is_ok(compress: bool) -> None:
    built = interleaved()
    report = verify(built.gzipped() if compress else built.bytes())
    assert report.verdict is Verdict.OK, report.findings
    assert report.compressed is compress
    assert [(c.namespace, c.documents, c.crc_ok, c.complete) for c in report.collections] == [
        ("shop.orders", 51, True, True),
        ("shop.users", 5, True, True),
        ("shop.empty", 0, True, True),
    ]
    assert report.collections[2].crc_expected == 0  # Go's CRC of nothing
    assert report.uncompressed_bytes == len(built.bytes())
    assert report.header is not None and report.header.tool_version == "100.12.0"
    assert report.status is Status.OK


def test_json_dict_has_exactly_the_documented_shape() -> None:
    data = interleaved().bytes()
    flipped = bytearray(data)
    flipped[interleaved().document_spans[3][0] + 10] ^= 0x20
    report = verify(bytes(flipped))
    out = report.to_json_dict()
    assert list(out) == ["verdict", "collections", "findings"]
    assert out["verdict"] == "corrupt"
    for item in out["collections"]:
        assert {"db", "collection", "documents", "crc_ok"} <= set(item)
    assert out["collections"][0]["crc_ok"] is False
    assert all(set(f) == {"severity", "title", "detail"} for f in out["findings"])


@pytest.mark.parametrize("chunk_size", [1, 3, 7, 64, 4096])
def test_chunk_boundaries_do_not_change_the_result(chunk_size: int) -> None:
    data = interleaved().bytes()
    expected = verify(data)
    got = verify(data, chunk_size=chunk_size)
    assert got.collections == expected.collections
    assert got.verdict is Verdict.OK
    gz = verify(interleaved().gzipped(), chunk_size=chunk_size)
    assert gz.collections == expected.collections


def test_document_crossing_chunks_near_16_mb() -> None:
    big = {"_id": 1, "blob": b"\x01" * (16 * 1024 * 1024 - 100)}
    b = Builder([("db", "big")]).block("db", "big", [{"_id": 0}, big, {"_id": 2}]).eof("db", "big")
    report = verify(b.bytes(), chunk_size=1 << 20)
    assert report.verdict is Verdict.OK
    assert report.collections[0].documents == 3
    flipped = bytearray(b.bytes())
    flipped[b.document_spans[1][0] + 8 * 1024 * 1024] ^= 1
    assert verify(bytes(flipped)).verdict is Verdict.CORRUPT


@pytest.mark.parametrize(
    "data",
    [b"", b"\x6d\xe2", b"hello world, this is not an archive", random.Random(7).randbytes(4096)],
    ids=["empty", "short", "text", "random"],
)
def test_foreign_input_is_not_an_archive(data: bytes) -> None:
    report = verify(data)
    assert report.verdict is Verdict.NOT_AN_ARCHIVE
    assert report.collections == ()
    assert titles(report) == ["not a mongodump archive"]


def test_bad_magic_in_a_gzip_stream_is_not_an_archive() -> None:
    report = verify(gzip.compress(b"PK\x03\x04 a zip file, say", mtime=0))
    assert report.verdict is Verdict.NOT_AN_ARCHIVE
    assert report.compressed


def test_flipped_document_byte_is_a_crc_mismatch_naming_the_collection() -> None:
    built = interleaved()
    data = bytearray(built.bytes())
    start, _end = built.document_spans[31]  # a users document (after 30 orders)
    data[start + 12] ^= 0x01
    report = verify(bytes(data))
    assert report.verdict is Verdict.CORRUPT
    users = report.collection("shop.users")
    assert users is not None and not users.crc_ok and users.documents == 5
    orders = report.collection("shop.orders")
    assert orders is not None and orders.crc_ok
    assert "shop.users: CRC mismatch" in titles(report)


def test_wrong_crc_in_eof_header_is_corrupt() -> None:
    b = Builder([("d", "c")]).block("d", "c", docs(3)).eof("d", "c", crc=12345)
    report = verify(b.bytes())
    assert report.verdict is Verdict.CORRUPT
    assert report.collections[0].crc_expected == 12345


@pytest.mark.parametrize("cut", [4, 30, 200, -60, -5, -1])
def test_truncated_plain_archive_is_incomplete(cut: int) -> None:
    data = interleaved().bytes()
    report = verify(data[:cut])
    assert report.verdict is Verdict.INCOMPLETE, report.findings
    assert "archive is truncated" in titles(report)


def test_truncated_inside_a_block_keeps_partial_counts() -> None:
    built = interleaved()
    cut = built.document_spans[10][0] + 3  # inside the 11th orders document
    report = verify(built.bytes()[:cut])
    assert report.verdict is Verdict.INCOMPLETE
    orders = report.collection("shop.orders")
    assert orders is not None and orders.documents == 10 and not orders.complete
    assert "shop.orders: no EOF block" in titles(report)


def test_truncated_gzip_file_is_incomplete() -> None:
    data = interleaved().gzipped()
    report = verify(data[: len(data) // 2])
    assert report.verdict is Verdict.INCOMPLETE
    assert report.compressed
    assert any("cut short" in f.detail or "cut short" in f.title for f in report.findings)


def test_gzip_missing_only_its_trailer_is_incomplete() -> None:
    data = interleaved().gzipped()
    report = verify(data[:-4])
    assert report.verdict is Verdict.INCOMPLETE
    assert "gzip stream is cut short (no trailer)" in titles(report)


def test_valid_gzip_holding_a_truncated_archive_is_incomplete() -> None:
    """The case gzip -t cannot see: a complete gzip stream of an archive missing an EOF block."""
    b = Builder([("d", "a"), ("d", "b")]).block("d", "a", docs(4)).eof("d", "a")
    b.block("d", "b", docs(2))  # mongodump died here: no EOF for d.b
    data = b.gzipped()
    assert gzip.decompress(data)  # gzip itself is fine
    report = verify(data)
    assert report.verdict is Verdict.INCOMPLETE
    assert titles(report) == ["d.b: no EOF block"]
    b_report = report.collection("d.b")
    assert b_report is not None and b_report.documents == 2 and not b_report.crc_ok


def test_collection_listed_but_never_seen_is_incomplete() -> None:
    b = Builder([("d", "a"), ("d", "ghost")]).block("d", "a", docs(2)).eof("d", "a")
    report = verify(b.bytes())
    assert report.verdict is Verdict.INCOMPLETE
    ghost = report.collection("d.ghost")
    assert ghost is not None and ghost.documents == 0 and not ghost.complete


def test_gzip_payload_corruption_is_corrupt() -> None:
    data = bytearray(interleaved().gzipped())
    data[-6] ^= 0xFF  # inside the CRC-32 trailer
    report = verify(bytes(data))
    assert report.verdict is Verdict.CORRUPT
    assert "gzip stream is corrupt" in titles(report)


def test_concatenated_gzip_members_are_one_stream() -> None:
    raw = interleaved().bytes()
    data = gzip.compress(raw[:1000], mtime=0) + gzip.compress(raw[1000:], mtime=0)
    assert verify(data).verdict is Verdict.OK


def test_trailing_garbage_after_gzip_is_corrupt() -> None:
    report = verify(interleaved().gzipped() + b"\x00" * 16)
    assert report.verdict is Verdict.CORRUPT


@pytest.mark.parametrize(
    ("tail", "title"),
    [
        (TERM, "block without a header (two terminators in a row)"),
        (int32(3) + b"\x00" * 8, "impossible BSON length"),
        (header("shop", "orders") + TERM, "shop.orders: a block after its EOF block"),
        (
            header("shop", "stray") + TERM,
            "shop.stray: data for a collection the prelude does not list",
        ),
        (bson.encode({"db": "shop"}) + TERM, "block header without a namespace"),
        (
            bson.encode({"db": "shop", "collection": "x", "EOF": "yes"}) + TERM,
            "block header with bad EOF or CRC",
        ),
    ],
)
def test_structural_damage_after_the_data_is_corrupt(tail: bytes, title: str) -> None:
    report = verify(interleaved().bytes() + tail)
    assert report.verdict is Verdict.CORRUPT
    assert title in titles(report)


def test_document_without_final_nul_is_corrupt() -> None:
    b = Builder([("d", "c")]).raw(header("d", "c") + int32(6) + b"\x00\x0a" + TERM)
    report = verify(b.bytes())
    assert report.verdict is Verdict.CORRUPT
    assert report.findings[0].title == "d.c: document without its final NUL"


def test_documents_inside_an_eof_block_are_corrupt() -> None:
    b = Builder([("d", "c")]).raw(header("d", "c", eof=True) + bson.encode({"a": 1}) + TERM)
    assert verify(b.bytes()).verdict is Verdict.CORRUPT


def test_missing_file_raises_and_directory_is_bad_input(tmp_path: Path) -> None:
    with pytest.raises(MissingFileError):
        verify_archive(tmp_path / "nope.archive.gz")
    with pytest.raises(WorkbookError):
        verify_archive(tmp_path)


def test_reading_from_a_path(tmp_path: Path) -> None:
    path = tmp_path / "a.archive.gz"
    path.write_bytes(interleaved().gzipped())
    report = verify_archive(path)
    assert report.verdict is Verdict.OK
    assert report.bytes_read == path.stat().st_size


def test_read_prelude_and_iter_documents() -> None:
    data = interleaved().gzipped()
    prelude = read_prelude(io.BytesIO(data))
    assert [e.namespace for e in prelude.collections] == ["shop.orders", "shop.users", "shop.empty"]
    got = list(iter_documents(io.BytesIO(data), "shop.orders"))
    assert got == docs(51)
    raw = list(iter_documents(io.BytesIO(data), "shop.users", decode=False))
    assert [bson.decode(r) for r in raw] == docs(5, pad=3)
    assert list(iter_documents(io.BytesIO(data), "shop.empty")) == []


def test_iter_documents_batches_stay_bounded() -> None:
    b = Builder([("d", "c")]).block("d", "c", docs(2000)).eof("d", "c")
    got = list(iter_documents(io.BytesIO(b.bytes()), "d.c", batch_bytes=512))
    assert len(got) == 2000


def test_iter_documents_raises_on_bad_crc_unknown_namespace_and_truncation() -> None:
    b = Builder([("d", "c")]).block("d", "c", docs(3)).eof("d", "c", crc=1)
    with pytest.raises(ArchiveError, match="CRC mismatch") as info:
        list(iter_documents(io.BytesIO(b.bytes()), "d.c"))
    assert info.value.verdict is Verdict.CORRUPT
    with pytest.raises(ArchiveError, match="not in the archive"):
        list(iter_documents(io.BytesIO(b.bytes()), "d.other"))
    data = interleaved().bytes()
    with pytest.raises(ArchiveError) as info:
        list(iter_documents(io.BytesIO(data[:-80]), "shop.orders"))
    assert info.value.verdict is Verdict.INCOMPLETE
    with pytest.raises(ArchiveError) as info:
        read_prelude(io.BytesIO(b"garbage!"))
    assert info.value.verdict is Verdict.NOT_AN_ARCHIVE


def test_iter_batches_streams_everything_in_one_pass_in_archive_order() -> None:
    batches = list(iter_batches(io.BytesIO(interleaved().gzipped()), batch_bytes=300))
    order = [entry.namespace for entry, _ in batches]
    assert order[0] == "shop.orders" and "shop.users" in order
    assert all(batch for _, batch in batches)  # empty blocks yield nothing
    by_ns: dict[str, list[object]] = {}
    for entry, batch in batches:
        by_ns.setdefault(entry.namespace, []).extend(batch)
    assert by_ns == {"shop.orders": docs(51), "shop.users": docs(5, pad=3)}
    assert max(len(b) for _, b in batches) < 51  # bounded batches


@pytest.mark.parametrize(
    ("data", "verdict"),
    [
        (
            Builder([("d", "c")]).block("d", "c", docs(3)).eof("d", "c", crc=7).bytes(),
            Verdict.CORRUPT,
        ),
        (Builder([("d", "c")]).block("d", "c", docs(3)).bytes(), Verdict.INCOMPLETE),
        (interleaved().gzipped()[:-4], Verdict.INCOMPLETE),
        (interleaved().bytes() + header("x", "y") + TERM, Verdict.CORRUPT),
    ],
    ids=["bad-crc", "no-eof", "gzip-cut", "unlisted"],
)
def test_iter_batches_raises_what_verification_would_find(data: bytes, verdict: Verdict) -> None:
    with pytest.raises(ArchiveError) as info:
        list(iter_batches(io.BytesIO(data)))
    assert info.value.verdict is verdict


# ------------------------------------------------------------------ property-based mutations

_BASE = interleaved()
_PLAIN = _BASE.bytes()
_GZIP = _BASE.gzipped()
_VERDICTS = set(Verdict)


def _in_document(at: int) -> bool:
    return any(start <= at < end for start, end in _BASE.document_spans)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutations(len(_PLAIN)), st.sampled_from([5, 64, 1 << 20]))
def test_mutations_of_a_plain_archive_are_reported_never_raised(
    mutation: tuple[str, int, bytes], chunk_size: int
) -> None:
    kind, at, payload = mutation
    mutated = mutate(_PLAIN, kind, at, payload)
    report = verify(mutated, chunk_size=chunk_size)
    assert report.verdict in _VERDICTS
    if mutated == _PLAIN:
        assert report.verdict is Verdict.OK
    if kind == "truncate" or (kind == "flip" and _in_document(at)):
        assert report.verdict is not Verdict.OK, (kind, at, report.findings)
    # The restore path agrees: it streams an ok archive whole and fails any other cleanly.
    try:
        count = sum(len(batch) for _, batch in iter_batches(io.BytesIO(mutated), decode=False))
    except ArchiveError:
        assert report.verdict is not Verdict.OK
    else:
        assert report.verdict is Verdict.OK and count == report.documents


@settings(max_examples=200, deadline=None)
@given(mutations(len(_GZIP)))
def test_mutations_of_a_gzip_archive_never_raise(mutation: tuple[str, int, bytes]) -> None:
    kind, at, payload = mutation
    mutated = mutate(_GZIP, kind, at, payload)
    report = verify(mutated, chunk_size=97)
    assert report.verdict in _VERDICTS
    if kind == "truncate":
        assert report.verdict is not Verdict.OK
    if kind == "flip" and 10 <= at < len(_GZIP) - 9 and report.verdict is Verdict.OK:
        # Deflate data: only a change to unused padding bits of the last byte can be benign.
        assert zlib.decompress(mutated[10:-8], -15) == _PLAIN
