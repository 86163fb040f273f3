"""The archive's low-level structure: a parser over a :class:`~._stream.Cursor` (internal).

:class:`Parser` reads the magic number, the prelude and block headers, and consumes document
runs; anything that stops reading raises :class:`Stop` carrying the verdict and the finding.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import bson
from bson.errors import BSONError

from sreworkbook.backups._stream import (
    MAX_BSON_SIZE,
    PAUSED,
    ByteSource,
    Cursor,
    Shortfall,
    is_terminator,
)
from sreworkbook.backups.report import (
    ArchiveHeader,
    CollectionMetadata,
    CollectionReport,
    Prelude,
    Verdict,
)
from sreworkbook.results import Finding, Status

__all__ = ["DECODE_ERRORS", "MAGIC", "Namespace", "Parser", "Stop", "to_signed64"]

MAGIC = 0x8199E26D
#: What decoding untrusted BSON may raise (deep nesting gives RecursionError).
DECODE_ERRORS = (
    BSONError,
    ValueError,
    TypeError,
    OverflowError,
    KeyError,
    IndexError,
    RecursionError,
)


class Stop(Exception):
    """Reading cannot go on: the verdict and the finding that says why."""

    def __init__(self, verdict: Verdict, title: str, detail: str = "") -> None:
        self.verdict = verdict
        self.finding = Finding(Status.CRIT, title, detail)
        super().__init__(title)


def to_signed64(value: int) -> int:
    """``value`` (an unsigned 64-bit CRC) as Go's ``int64(crc)`` stores it."""
    return value - (1 << 64) if value >= 1 << 63 else value


def text(doc: Mapping[str, Any], key: str) -> str:
    """``doc[key]`` if it is a string, else ``""`` (Go's zero value)."""
    value = doc.get(key, "")
    return value if isinstance(value, str) else ""


@dataclass
class Namespace:
    """Running totals for one namespace while an archive is read."""

    db: str
    collection: str
    listed: bool
    type: str = ""
    documents: int = 0
    bytes: int = 0
    crc: int = 0
    expected: int | None = None
    complete: bool = False

    def report(self) -> CollectionReport:
        actual = to_signed64(self.crc)
        return CollectionReport(
            db=self.db,
            collection=self.collection,
            documents=self.documents,
            bytes=self.bytes,
            crc_expected=self.expected,
            crc_actual=actual,
            crc_ok=self.complete and self.expected == actual,
            complete=self.complete,
            listed=self.listed,
            type=self.type,
        )


#: A block header exactly as mongodump writes it: these fields, these types, in this order.
_HEADER_FIELDS = ("db", "collection", "EOF", "CRC")


def _header_oddity(doc: Mapping[str, Any], eof: bool, crc: int) -> str:
    """What differs from mongodump's own block header (harmless to a restore), or ``""``."""
    if tuple(doc) != _HEADER_FIELDS:
        return f"fields {list(doc)}"
    if type(doc["EOF"]) is not bool or isinstance(doc["CRC"], bool):
        return f"types {type(doc['EOF']).__name__}/{type(doc['CRC']).__name__}"
    if not eof and crc:
        return f"a data block carrying CRC {crc}"
    return ""


@dataclass
class Parser:
    """Reads one archive front to back; fatal problems raise :class:`Stop`.

    Block headers that are not exactly what mongodump writes, yet readable, are noted in
    ``odd_headers`` (``(namespace, what)``): the data may be intact, but the file was altered.
    """

    source: ByteSource
    cursor: Cursor = field(init=False)
    odd_headers: list[tuple[str, str]] = field(init=False, default_factory=list)

    def __post_init__(self) -> None:
        self.cursor = Cursor(self.source.chunks())

    def truncated(self, where: str) -> Stop:
        if self.source.error:
            return Stop(Verdict.CORRUPT, "gzip stream is corrupt", self.source.error)
        detail = f"the data ends {where}, after {self.cursor.offset:,} bytes"
        if self.source.truncated:
            detail += "; the gzip stream is cut short too"
        return Stop(Verdict.INCOMPLETE, "archive is truncated", detail)

    def document_or_terminator(self, where: str) -> bytes | None:
        try:
            size = self.cursor.peek_int32()
            if is_terminator(size):
                self.cursor.take(4)
                return None
            if size < 5 or size > MAX_BSON_SIZE:
                raise Stop(
                    Verdict.CORRUPT,
                    "impossible BSON length",
                    f"{size} {where}, at byte {self.cursor.offset:,}",
                )
            data = self.cursor.take(size)
        except Shortfall:
            raise self.truncated(where) from None
        if data[-1]:
            raise Stop(Verdict.CORRUPT, "BSON document without its final NUL", where)
        return data

    def decode(self, data: bytes, where: str) -> dict[str, Any]:
        try:
            return bson.decode(data)
        except DECODE_ERRORS as exc:
            raise Stop(Verdict.CORRUPT, "undecodable BSON", f"{where}: {exc}") from None

    def prelude(self) -> Prelude:
        try:
            magic = self.cursor.take(4)
        except Shortfall:
            if self.source.error or self.source.truncated:
                raise self.truncated("in the magic number") from None
            raise Stop(
                Verdict.NOT_AN_ARCHIVE, "not a mongodump archive", "shorter than 4 bytes"
            ) from None
        if int.from_bytes(magic, "little") != MAGIC:
            raise Stop(
                Verdict.NOT_AN_ARCHIVE,
                "not a mongodump archive",
                f"starts with {magic.hex()}, not the archive magic number 6de29981",
            )
        raw = self.document_or_terminator("in the archive header")
        if raw is None:
            raise Stop(Verdict.CORRUPT, "archive header is missing")
        doc = self.decode(raw, "archive header")
        concurrent = doc.get("concurrent_collections", 0)
        header = ArchiveHeader(
            version=text(doc, "version"),
            server_version=text(doc, "server_version"),
            tool_version=text(doc, "tool_version"),
            concurrent_collections=concurrent if isinstance(concurrent, int) else 0,
        )
        entries: list[CollectionMetadata] = []
        while (raw := self.document_or_terminator("in the prelude")) is not None:
            doc = self.decode(raw, "prelude entry")
            size = doc.get("size", 0)
            entries.append(
                CollectionMetadata(
                    db=text(doc, "db"),
                    collection=text(doc, "collection"),
                    metadata=text(doc, "metadata"),
                    type=text(doc, "type"),
                    size=size if isinstance(size, int) else 0,
                )
            )
        return Prelude(header, tuple(entries))

    def block_header(self) -> tuple[str, str, bool, int] | None:
        """``(db, collection, eof, crc)`` of the next block, or None at the clean end."""
        if self.cursor.at_end():
            return None
        raw = self.document_or_terminator("at a block header")
        if raw is None:
            raise Stop(Verdict.CORRUPT, "block without a header (two terminators in a row)")
        doc = self.decode(raw, "block header")
        db, collection, eof, crc = (doc.get(k) for k in ("db", "collection", "EOF", "CRC"))
        db = "" if db is None else db
        if not isinstance(db, str) or not isinstance(collection, str) or not collection:
            raise Stop(Verdict.CORRUPT, "block header without a namespace", repr(doc)[:200])
        if not isinstance(eof or False, bool) or not isinstance(crc or 0, int):
            raise Stop(Verdict.CORRUPT, "block header with bad EOF or CRC", repr(doc)[:200])
        if what := _header_oddity(doc, bool(eof), int(crc or 0)):
            self.odd_headers.append((f"{db}.{collection}", what))
        return db, collection, bool(eof), int(crc or 0)

    def documents(
        self, ns: Namespace, on_document: Callable[[bytes], None] | None = None, budget: int = 0
    ) -> bool:
        """Consume documents of ``ns``'s block; True at its terminator, False when paused."""
        try:
            count, size, ns.crc, stop = self.cursor.scan_documents(ns.crc, on_document, budget)
        except Shortfall as short:
            count, size, ns.crc = short.progress
            ns.documents += count
            ns.bytes += size
            raise self.truncated(f"inside a block of {ns.db}.{ns.collection}") from None
        ns.documents += count
        ns.bytes += size
        if stop == PAUSED:
            return False
        if not is_terminator(stop):
            valid = 5 <= stop <= MAX_BSON_SIZE
            problem = "document without its final NUL" if valid else f"impossible length {stop}"
            raise Stop(
                Verdict.CORRUPT,
                f"{ns.db}.{ns.collection}: {problem}",
                f"at byte {self.cursor.offset:,}",
            )
        self.cursor.take(4)
        return True
