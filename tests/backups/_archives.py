"""Hand-built archives for the tests, and an independent walker that maps an archive's bytes.

The builder writes the layout byte by byte, following the Go structs of mongo-tools
(``common/archive``: field order, int32/int64/bool types), separately from the library's
writer, so that the two check each other.
"""

from __future__ import annotations

import gzip
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import bson
from bson.int64 import Int64
from hypothesis import strategies as st

from sreworkbook.backups._stream import crc64_xz

MAGIC = b"\x6d\xe2\x99\x81"
TERM = b"\xff\xff\xff\xff"


def signed(crc: int) -> int:
    return crc - (1 << 64) if crc >= 1 << 63 else crc


def header(db: str, coll: str, *, eof: bool = False, crc: int = 0) -> bytes:
    return bson.encode({"db": db, "collection": coll, "EOF": eof, "CRC": Int64(crc)})


def prelude(namespaces: Sequence[tuple[str, str]], *, server_version: str = "7.0.0") -> bytes:
    out = MAGIC + bson.encode(
        {
            "concurrent_collections": 4,
            "version": "0.1",
            "server_version": server_version,
            "tool_version": "100.12.0",
        }
    )
    for db, coll in namespaces:
        meta = f'{{"indexes":[],"collectionName":"{coll}"}}'
        out += bson.encode({"db": db, "collection": coll, "metadata": meta, "size": 0, "type": ""})
    return out + TERM


@dataclass
class Builder:
    """Appends blocks the way mongodump's multiplexer does, keeping each namespace's CRC."""

    namespaces: Sequence[tuple[str, str]]
    data: bytearray = field(default_factory=bytearray)
    crcs: dict[tuple[str, str], int] = field(default_factory=dict)
    #: (start, end) of every document's bytes, for mutation tests.
    document_spans: list[tuple[int, int]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.data += prelude(self.namespaces)

    def block(self, db: str, coll: str, docs: Iterable[dict[str, object]]) -> Builder:
        self.data += header(db, coll)
        for doc in docs:
            raw = bson.encode(doc)
            self.crcs[(db, coll)] = crc64_xz(raw, self.crcs.get((db, coll), 0))
            self.document_spans.append((len(self.data), len(self.data) + len(raw)))
            self.data += raw
        self.data += TERM
        return self

    def eof(self, db: str, coll: str, *, crc: int | None = None) -> Builder:
        value = signed(self.crcs.get((db, coll), 0)) if crc is None else crc
        self.data += header(db, coll, eof=True, crc=value) + TERM
        return self

    def raw(self, data: bytes) -> Builder:
        self.data += data
        return self

    def bytes(self) -> bytes:
        return bytes(self.data)

    def gzipped(self) -> bytes:
        return gzip.compress(bytes(self.data), mtime=0)


def docs(n: int, *, start: int = 0, pad: int = 20) -> list[dict[str, object]]:
    return [
        {"_id": i, "sym": "ACME", "qty": i % 7, "note": "x" * (i % pad)}
        for i in range(start, start + n)
    ]


def interleaved() -> Builder:
    """Three collections interleaved like a parallel mongodump, with empty blocks."""
    ns = [("shop", "orders"), ("shop", "users"), ("shop", "empty")]
    b = Builder(ns)
    b.block("shop", "orders", docs(30))
    b.block("shop", "users", docs(5, pad=3))
    b.block("shop", "empty", [])
    b.block("shop", "orders", docs(20, start=30))
    b.block("shop", "users", [])  # an empty block: the buffer flushed at close
    b.eof("shop", "users")
    b.eof("shop", "empty")
    b.block("shop", "orders", docs(1, start=50))
    b.eof("shop", "orders")
    return b


def int32(value: int) -> bytes:
    return struct.pack("<i", value)


def mutations(size: int, *, start: int = 0) -> st.SearchStrategy[tuple[str, int, bytes]]:
    """Byte flips, insertions and deletions at ``start`` or later; truncations anywhere."""
    return st.one_of(
        st.tuples(
            st.just("flip"), st.integers(start, size - 1),
            st.integers(1, 255).map(lambda b: bytes([b])),
        ),
        st.tuples(st.just("truncate"), st.integers(0, size - 1), st.just(b"")),
        st.tuples(st.just("insert"), st.integers(start, size), st.binary(min_size=1, max_size=40)),
        st.tuples(
            st.just("delete"), st.integers(start, size - 1),
            st.integers(1, 40).map(lambda n: b"\x00" * n),
        ),
    )  # fmt: skip


def mutate(data: bytes, kind: str, at: int, payload: bytes) -> bytes:
    """``data`` with one mutation from :func:`mutations` applied."""
    if kind == "flip":
        mutated = bytearray(data)
        mutated[at] ^= payload[0]
        return bytes(mutated)
    if kind == "truncate":
        return data[:at]
    if kind == "insert":
        return data[:at] + payload + data[at:]
    return data[:at] + data[at + len(payload) :]
