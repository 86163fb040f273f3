"""Byte sources and the cursor: CRC-64/XZ, gzip members, bounded chunks, short reads."""

from __future__ import annotations

import gzip
import io
import os

import bson

from sreworkbook.backups._stream import PAUSED, ByteSource, Cursor, crc64_xz


def test_crc64_is_the_xz_variant_go_uses() -> None:
    assert crc64_xz(b"123456789") == 0x995DC9BBDF1939FA  # CRC-64/XZ check value
    assert crc64_xz(b"") == 0
    assert crc64_xz(b"56789", crc64_xz(b"1234")) == crc64_xz(b"123456789")


class Trickle(io.RawIOBase):
    """A stream that returns at most 3 bytes per read, like a slow socket."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        return self._data.read(min(3, size if size >= 0 else 3))


def test_short_reads_still_detect_gzip() -> None:
    payload = os.urandom(1000)
    source = ByteSource(Trickle(gzip.compress(payload)), chunk_size=1)
    assert source.compressed
    assert b"".join(source.chunks()) == payload


def test_chunks_stay_bounded_for_a_highly_compressible_stream() -> None:
    data = gzip.compress(b"\x00" * (8 << 20))
    source = ByteSource(io.BytesIO(data), chunk_size=1 << 16)
    sizes = [len(c) for c in source.chunks()]
    assert sum(sizes) == 8 << 20 and max(sizes) <= 1 << 16
    assert source.error is None and not source.truncated
    assert source.bytes_read == len(data)


def test_cursor_budget_pauses_and_resumes() -> None:
    docs = [bson.encode({"i": i}) for i in range(100)]
    data = b"".join(docs) + b"\xff\xff\xff\xff"
    cursor = Cursor(iter([data[i : i + 10] for i in range(0, len(data), 10)]))
    seen: list[bytes] = []
    crc = total = 0
    while True:
        count, _size, crc, stop = cursor.scan_documents(crc, seen.append, budget=50)
        total += count
        if stop != PAUSED:
            break
    assert stop == -1 and total == 100 and seen == docs
    assert crc == crc64_xz(b"".join(docs))
