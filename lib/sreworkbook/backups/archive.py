"""Streaming reader and verifier of the mongodump archive format (plain and ``--gzip``).

The layout, as the real ``mongodump`` writes it (its own spec is wrong in places)::

    magic 0x8199E26D (int32 LE)
    prelude:  header {concurrent_collections, version, server_version, tool_version}
              one {db, collection, metadata (extended JSON), size (always 0), type} per collection
              terminator 0xFFFFFFFF
    blocks:   header {db, collection, EOF: false, CRC: 0}, documents..., terminator
              (collections interleave; a block may hold no document)
              per collection, last: {db, collection, EOF: true, CRC}, terminator

``CRC`` is the CRC-64/XZ (Go's ECMA table) of the collection's document bytes in archive order,
stored as a signed int64. Verification never raises for bad input: it returns a verdict
(:class:`~sreworkbook.backups.report.Verdict`) with findings, reading in bounded chunks.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import bson
from bson.codec_options import CodecOptions, DatetimeConversion

from sreworkbook.backups._format import (
    DECODE_ERRORS,
    MAGIC,
    Namespace,
    Parser,
    Stop,
    to_signed64,
)
from sreworkbook.backups._stream import ByteSource, Readable
from sreworkbook.backups.report import (
    ArchiveReport,
    CollectionMetadata,
    CollectionReport,
    Prelude,
    Verdict,
)
from sreworkbook.exceptions import ArchiveError, MissingFileError, ParameterError
from sreworkbook.results import Finding, Status

__all__ = [
    "MAGIC",
    "ArchiveError",
    "iter_batches",
    "iter_documents",
    "read_prelude",
    "to_signed64",
    "verify_archive",
]

#: A path, or anything with ``read(size)`` (an open file, an S3 body stream).
Source = str | os.PathLike[str] | Readable
#: Decoded documents keep out-of-range dates instead of failing (restores must not lose them).
DOCUMENT_CODEC: CodecOptions[dict[str, Any]] = CodecOptions(
    datetime_conversion=DatetimeConversion.DATETIME_AUTO, tz_aware=True
)


@contextlib.contextmanager
def _opened(source: Source) -> Iterator[tuple[Readable, str]]:
    if not isinstance(source, str | os.PathLike):
        yield source, getattr(source, "name", "<stream>")
        return
    path = Path(source)
    if not path.exists():
        raise MissingFileError(str(path), what="archive")
    if not path.is_file():
        raise ParameterError("not a file", source=str(path))
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise ParameterError(f"cannot read: {exc.strerror or exc}", source=str(path)) from exc
    with handle:
        yield handle, str(path)


class _Verification:
    """The state of one verification: namespaces seen, findings, verdicts."""

    def __init__(self, prelude: Prelude) -> None:
        self.prelude = prelude
        self.namespaces: dict[tuple[str, str], Namespace] = {}
        self.findings: list[Finding] = []
        self.verdicts: set[Verdict] = set()
        if prelude.header.version not in ("0.1", ""):
            self.findings.append(
                Finding(Status.WARN, "unknown archive format version", prelude.header.version)
            )

    def problem(self, verdict: Verdict, title: str, detail: str = "") -> None:
        self.verdicts.add(verdict)
        self.findings.append(Finding(Status.CRIT, title, detail))

    def namespace(self, db: str, collection: str) -> Namespace:
        key = (db, collection)
        if key not in self.namespaces:
            entry = self.prelude.find(db, collection)
            if entry is None:
                self.problem(
                    Verdict.CORRUPT,
                    f"{db}.{collection}: data for a collection the prelude does not list",
                    "mongorestore refuses such an archive",
                )
            self.namespaces[key] = Namespace(
                db, collection, listed=entry is not None, type=entry.type if entry else ""
            )
        return self.namespaces[key]

    def run(self, parser: Parser) -> None:
        while (block := parser.block_header()) is not None:
            db, collection, eof, crc = block
            ns = self.namespace(db, collection)
            if ns.complete:
                raise Stop(Verdict.CORRUPT, f"{db}.{collection}: a block after its EOF block")
            if not eof:
                parser.documents(ns)
                continue
            ns.complete, ns.expected = True, crc
            before = ns.documents
            parser.documents(ns)
            if ns.documents != before:
                raise Stop(Verdict.CORRUPT, f"{db}.{collection}: documents in its EOF block")
            if to_signed64(ns.crc) != crc:
                self.problem(
                    Verdict.CORRUPT,
                    f"{db}.{collection}: CRC mismatch",
                    f"archive says {crc}, documents give {to_signed64(ns.crc)}",
                )
        if parser.odd_headers:
            where, what = parser.odd_headers[0]
            more = (
                f" (and {len(parser.odd_headers) - 1} more)" if len(parser.odd_headers) > 1 else ""
            )
            self.findings.append(
                Finding(
                    Status.WARN,
                    "block headers not as mongodump writes them: the file was altered",
                    f"{where}: {what}{more}",
                )
            )
        source = parser.source
        if source.error:
            self.problem(Verdict.CORRUPT, "gzip stream is corrupt", source.error)
        elif source.truncated:
            self.problem(Verdict.INCOMPLETE, "gzip stream is cut short (no trailer)")

    def reports(self) -> tuple[CollectionReport, ...]:
        """Prelude collections in prelude order (missing ones noted), then unlisted ones."""
        out: list[CollectionReport] = []
        used: set[tuple[str, str]] = set()
        for entry in self.prelude.collections:
            key = next(
                (k for c in entry.data_collections if (k := (entry.db, c)) in self.namespaces),
                None,
            )
            ns = self.namespaces[key] if key else Namespace(entry.db, entry.collection, True)
            ns.type = entry.type
            if key:
                used.add(key)
            if not ns.complete:
                self.problem(
                    Verdict.INCOMPLETE,
                    f"{entry.namespace}: no EOF block",
                    f"the archive ends before this collection was complete "
                    f"({ns.documents:,} documents so far)",
                )
            out.append(ns.report())
        out.extend(ns.report() for k, ns in self.namespaces.items() if k not in used)
        return tuple(out)


def _verdict(verdicts: set[Verdict]) -> Verdict:
    for verdict in (Verdict.NOT_AN_ARCHIVE, Verdict.CORRUPT, Verdict.INCOMPLETE):
        if verdict in verdicts:
            return verdict
    return Verdict.OK


def verify_archive(source: Source, *, chunk_size: int = 1 << 20) -> ArchiveReport:
    """Read the whole archive at ``source`` (a path or a binary stream) and judge it.

    Never raises for what the bytes contain; a missing path raises
    :class:`~sreworkbook.exceptions.MissingFileError`. Memory stays within a few chunks and
    the largest document, however large the archive.
    """
    with _opened(source) as (raw, _name):
        byte_source = ByteSource(raw, chunk_size=chunk_size)
        parser = Parser(byte_source)
        try:
            prelude = parser.prelude()
        except Stop as stop:
            return ArchiveReport(
                verdict=stop.verdict,
                collections=(),
                findings=(stop.finding,),
                bytes_read=byte_source.bytes_read,
                compressed=byte_source.compressed,
                uncompressed_bytes=byte_source.uncompressed_bytes,
            )
        state = _Verification(prelude)
        try:
            state.run(parser)
        except Stop as stop:
            state.verdicts.add(stop.verdict)
            state.findings.append(stop.finding)
        collections = state.reports()
        return ArchiveReport(
            verdict=_verdict(state.verdicts),
            collections=collections,
            findings=tuple(state.findings),
            bytes_read=byte_source.bytes_read,
            compressed=byte_source.compressed,
            uncompressed_bytes=byte_source.uncompressed_bytes,
            header=prelude.header,
        )


def read_prelude(source: Source) -> Prelude:
    """The header and collection list of an archive; :class:`ArchiveError` if unreadable."""
    with _opened(source) as (raw, name):
        try:
            return Parser(ByteSource(raw)).prelude()
        except Stop as stop:
            raise ArchiveError(stop.finding.title, source=name, verdict=stop.verdict) from None


def iter_documents(
    source: Source,
    namespace: str,
    *,
    decode: bool = True,
    codec_options: CodecOptions[Any] = DOCUMENT_CODEC,
    batch_bytes: int = 4 << 20,
) -> Iterator[Any]:
    """The documents of ``namespace`` (``db.collection`` as the prelude lists it), in order.

    Yields decoded documents (``decode=True``) or raw BSON ``bytes``. Memory is bounded by
    ``batch_bytes`` plus one document. The collection's CRC is checked when its EOF block is
    reached, and reading stops there; any problem raises :class:`ArchiveError`, possibly after
    some documents were yielded, so verify an archive before restoring from it.
    """
    db, _, collection = namespace.partition(".")
    with _opened(source) as (raw, name):
        parser = Parser(ByteSource(raw))
        try:
            entry = parser.prelude().find(db, collection)
            if entry is None:
                raise Stop(Verdict.OK, f"{namespace} is not in the archive")
            yield from _namespace_documents(parser, entry, decode, codec_options, batch_bytes)
        except Stop as stop:
            raise _archive_error(stop, name) from None


def iter_batches(
    source: Source,
    *,
    decode: bool = True,
    codec_options: CodecOptions[Any] = DOCUMENT_CODEC,
    batch_bytes: int = 4 << 20,
) -> Iterator[tuple[CollectionMetadata, list[Any]]]:
    """Every document of the archive in one pass: ``(prelude entry, batch)`` in archive order.

    The batches of interleaved collections arrive interleaved, each at most ``batch_bytes``
    (plus one document): what a streaming restore needs. Each collection's CRC is checked at
    its EOF block and a missing EOF block is noticed at the end; any problem raises
    :class:`ArchiveError`, possibly after batches were yielded.
    """
    with _opened(source) as (raw, name):
        parser = Parser(ByteSource(raw))
        try:
            prelude = parser.prelude()
            seen: dict[tuple[str, str], Namespace] = {}
            while (block := parser.block_header()) is not None:
                db, collection, eof, crc = block
                entry = prelude.find(db, collection)
                if entry is None:
                    raise Stop(Verdict.CORRUPT, f"{db}.{collection} is not in the prelude")
                ns = seen.setdefault((db, collection), Namespace(db, collection, listed=True))
                if ns.complete:
                    raise Stop(Verdict.CORRUPT, f"{db}.{collection}: a block after its EOF block")
                if eof:
                    ns.complete, before = True, ns.documents
                    parser.documents(ns)
                    if ns.documents != before or to_signed64(ns.crc) != crc:
                        raise Stop(Verdict.CORRUPT, f"{entry.namespace}: CRC mismatch")
                    continue
                batch: list[bytes] = []
                while True:
                    done = parser.documents(ns, batch.append, batch_bytes)
                    if batch:
                        yield entry, list(_emit(batch, decode, codec_options))
                    if done:
                        break
            for entry in prelude.collections:
                if not any(
                    seen.get((entry.db, c), Namespace("", "", True)).complete
                    for c in entry.data_collections
                ):
                    raise Stop(Verdict.INCOMPLETE, f"{entry.namespace}: no EOF block")
            if parser.source.error or parser.source.truncated:
                raise parser.truncated("at the end of the gzip stream")
        except Stop as stop:
            raise _archive_error(stop, name) from None


def _archive_error(stop: Stop, name: str) -> ArchiveError:
    detail = f": {stop.finding.detail}" if stop.finding.detail else ""
    return ArchiveError(f"{stop.finding.title}{detail}", source=name, verdict=stop.verdict)


def _namespace_documents(
    parser: Parser,
    entry: CollectionMetadata,
    decode: bool,
    codec_options: CodecOptions[Any],
    batch_bytes: int,
) -> Iterator[Any]:
    ns: Namespace | None = None
    skipped = Namespace("", "", listed=True)
    batch: list[bytes] = []
    while (block := parser.block_header()) is not None:
        db, collection, eof, crc = block
        if db != entry.db or collection not in entry.data_collections:
            parser.documents(skipped)
            continue
        ns = ns or Namespace(db, collection, listed=True)
        if eof:
            parser.documents(ns)
            if to_signed64(ns.crc) != crc:
                raise Stop(Verdict.CORRUPT, f"{entry.namespace}: CRC mismatch")
            return
        while not parser.documents(ns, batch.append, batch_bytes):
            yield from _emit(batch, decode, codec_options)
        yield from _emit(batch, decode, codec_options)
    raise parser.truncated(f"before the EOF block of {entry.namespace}")


def _emit(batch: list[bytes], decode: bool, codec_options: CodecOptions[Any]) -> Iterator[Any]:
    for raw in batch:
        if not decode:
            yield raw
            continue
        try:
            yield bson.decode(raw, codec_options=codec_options)
        except DECODE_ERRORS as exc:
            raise Stop(Verdict.CORRUPT, "undecodable document", str(exc)) from None
    batch.clear()
