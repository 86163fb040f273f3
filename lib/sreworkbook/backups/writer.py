"""A pure-pymongo writer of the mongodump archive format, byte-compatible with ``mongodump``.

It writes what ``mongodump --archive [--gzip] --numParallelCollections=1`` writes: the prelude
(header, one metadata entry per collection with its options and indexes as canonical extended
JSON), then per collection one block of its documents (an empty block for an empty collection)
and an EOF block carrying the CRC-64/XZ of the document bytes. ``mongorestore --archive`` reads
it, and so does :func:`~sreworkbook.backups.archive.verify_archive`.
"""

from __future__ import annotations

import contextlib
import gzip as gzip_module
import os
import uuid as uuid_module
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Protocol

import bson
from bson import json_util
from bson.int64 import Int64
from bson.raw_bson import RawBSONDocument

from sreworkbook.backups._stream import crc64_xz
from sreworkbook.backups.archive import MAGIC, to_signed64
from sreworkbook.backups.report import CollectionReport
from sreworkbook.edges.mongo import mongo_error
from sreworkbook.exceptions import OutputError

__all__ = [
    "TOOL_VERSION",
    "CollectionDump",
    "WriteResult",
    "collection_dumps",
    "dump_database",
    "write_archive",
]

#: What the archive header names as the dumping tool.
TOOL_VERSION = "sreworkbook-archive-writer/1"
_TERMINATOR = b"\xff\xff\xff\xff"
_FLUSH_AT = 1 << 20
_JSON = json_util.JSONOptions(json_mode=json_util.JSONMode.CANONICAL)
Document = Mapping[str, Any] | RawBSONDocument | bytes


@dataclass(frozen=True)
class CollectionDump:
    """One collection to write: its documents (mappings, raw BSON, or bytes) and metadata.

    ``indexes`` are index specifications as ``listIndexes`` returns them; ``options`` the
    collection options as ``listCollections`` returns them; ``type`` is ``""`` for a regular
    collection, or ``"view"`` / ``"timeseries"``.
    """

    db: str
    collection: str
    documents: Iterable[Document] = ()
    indexes: Sequence[Mapping[str, Any]] = ()
    options: Mapping[str, Any] = field(default_factory=dict)
    uuid: str = ""
    type: str = ""

    def metadata_json(self) -> str:
        """The collection's metadata as ``mongodump`` writes it (canonical extended JSON)."""
        meta: dict[str, Any] = {}
        if self.options:
            meta["options"] = dict(self.options)
        meta["indexes"] = [dict(ix) for ix in self.indexes]
        if self.uuid:
            meta["uuid"] = self.uuid
        meta["collectionName"] = self.collection
        if self.type:
            meta["type"] = self.type
        return json_util.dumps(meta, json_options=_JSON, separators=(",", ":"))


@dataclass(frozen=True)
class WriteResult:
    """What was written: per-collection counts and CRCs, sizes, and the path if there is one."""

    collections: tuple[CollectionReport, ...]
    bytes_written: int
    uncompressed_bytes: int
    compressed: bool
    path: Path | None = None

    @property
    def documents(self) -> int:
        return sum(c.documents for c in self.collections)


class _Writable(Protocol):
    def write(self, data: bytes | bytearray, /) -> object: ...


class _CountingWriter:
    """Buffers small writes and counts the bytes that reach ``out``."""

    def __init__(self, out: _Writable) -> None:
        self._out = out
        self._buf = bytearray()
        self.written = 0

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self._buf += data
        if len(self._buf) >= _FLUSH_AT:
            self.flush()

    def flush(self) -> None:
        if self._buf:
            self._out.write(self._buf)
            self.written += len(self._buf)
            self._buf.clear()


def _raw(document: Document) -> bytes:
    if isinstance(document, bytes | bytearray | memoryview):
        return bytes(document)
    if isinstance(document, RawBSONDocument):
        return bytes(document.raw)
    return bson.encode(document)


def _write_stream(
    collections: Sequence[CollectionDump],
    sink: _CountingWriter,
    *,
    server_version: str,
    tool_version: str,
) -> tuple[CollectionReport, ...]:
    sink.write(MAGIC.to_bytes(4, "little"))
    sink.write(
        bson.encode(
            {
                "concurrent_collections": 1,
                "version": "0.1",
                "server_version": server_version,
                "tool_version": tool_version,
            }
        )
    )
    for dump in collections:
        entry = {
            "db": dump.db,
            "collection": dump.collection,
            "metadata": dump.metadata_json(),
            "size": 0,
            "type": dump.type,
        }
        sink.write(bson.encode(entry))
    sink.write(_TERMINATOR)
    reports = []
    for dump in collections:
        names = {"db": dump.db, "collection": dump.collection}
        sink.write(bson.encode({**names, "EOF": False, "CRC": Int64(0)}))
        crc = count = size = 0
        for document in dump.documents:
            raw = _raw(document)
            crc = crc64_xz(raw, crc)
            count += 1
            size += len(raw)
            sink.write(raw)
        signed = to_signed64(crc)
        sink.write(_TERMINATOR)
        sink.write(bson.encode({**names, "EOF": True, "CRC": Int64(signed)}))
        sink.write(_TERMINATOR)
        reports.append(
            CollectionReport(dump.db, dump.collection, count, size, signed, signed, True, True)
        )
    sink.flush()
    return tuple(reports)


@contextlib.contextmanager
def _target(out: str | os.PathLike[str] | BinaryIO) -> Iterator[tuple[BinaryIO, Path | None]]:
    """``out`` opened for writing; a path is written as ``NAME.partial`` and renamed at the end."""
    if not isinstance(out, str | os.PathLike):
        yield out, None
        return
    path = Path(out)
    partial = path.with_name(path.name + ".partial")
    try:
        with partial.open("wb") as handle:
            yield handle, path
        partial.replace(path)
    except OSError as exc:
        raise OutputError(f"cannot write archive {path}: {exc}") from exc
    finally:
        partial.unlink(missing_ok=True)


def write_archive(
    collections: Iterable[CollectionDump],
    out: str | os.PathLike[str] | BinaryIO,
    *,
    gzip: bool = True,
    compresslevel: int = 6,
    server_version: str = "7.0.0",
    tool_version: str = TOOL_VERSION,
) -> WriteResult:
    """Write ``collections`` as one archive to ``out`` (a path, or a binary stream).

    Documents are streamed: each collection's iterable is consumed once, in order, and never
    held. ``server_version`` goes into the header (``mongorestore`` parses it; keep it a real
    ``X.Y.Z``). A path is only created complete: an interrupted write leaves nothing behind.
    """
    dumps = list(collections)
    with _target(out) as (handle, path):
        if gzip:
            tell = _Tell(handle)
            with gzip_module.GzipFile(
                fileobj=handle, mode="wb", compresslevel=compresslevel, mtime=0
            ) as zipped:
                sink = _CountingWriter(zipped)
                reports = _write_stream(
                    dumps, sink, server_version=server_version, tool_version=tool_version
                )
            written = tell.end()
        else:
            sink = _CountingWriter(handle)
            reports = _write_stream(
                dumps, sink, server_version=server_version, tool_version=tool_version
            )
            written = sink.written
    return WriteResult(reports, written, sink.written, gzip, path)


class _Tell:
    """The number of bytes written to ``handle`` between creation and :meth:`end`."""

    def __init__(self, handle: BinaryIO) -> None:
        self._handle = handle
        try:
            self._start: int | None = handle.tell()
        except (OSError, AttributeError, ValueError):
            self._start = None

    def end(self) -> int:
        if self._start is None:
            return 0
        try:
            return self._handle.tell() - self._start
        except (OSError, ValueError):
            return 0


def _uuid_hex(info: Mapping[str, Any]) -> str:
    value = info.get("uuid")
    if isinstance(value, uuid_module.UUID):
        return value.hex
    if isinstance(value, bson.Binary) and len(value) == 16:
        return bytes(value).hex()
    return ""


def collection_dumps(
    client: Any,
    database: str,
    *,
    collections: Sequence[str] | None = None,
    batch_size: int = 1000,
) -> list[CollectionDump]:
    """A :class:`CollectionDump` per collection of ``database`` (``system.*`` excluded).

    Documents are read lazily as raw BSON, in natural order, when the archive is written.
    """
    from pymongo.errors import PyMongoError

    db = client.get_database(database)
    raw_db = client.get_database(database, codec_options=bson.CodecOptions(RawBSONDocument))
    try:
        listed = list(db.list_collections())
        dumps = []
        for spec in sorted(listed, key=lambda s: str(s["name"])):
            name = str(spec["name"])
            if name.startswith("system.") or (collections is not None and name not in collections):
                continue
            kind = str(spec.get("type", "collection"))
            kind = "" if kind == "collection" else kind
            view = kind == "view"
            indexes = [] if view else list(db[name].list_indexes())
            dumps.append(
                CollectionDump(
                    db=database,
                    collection=name,
                    documents=() if view else _find_all(raw_db[name], batch_size),
                    indexes=indexes,
                    options=dict(spec.get("options") or {}),
                    uuid=_uuid_hex(spec.get("info") or {}),
                    type=kind,
                )
            )
    except PyMongoError as exc:
        raise mongo_error(exc, query=f"list {database}") from exc
    return dumps


def _find_all(collection: Any, batch_size: int) -> Iterator[RawBSONDocument]:
    from pymongo.errors import PyMongoError

    try:
        yield from collection.find({}, batch_size=batch_size)
    except PyMongoError as exc:
        raise mongo_error(exc, query=f"find {collection.name}") from exc


def dump_database(
    client: Any,
    database: str,
    out: str | os.PathLike[str] | BinaryIO,
    *,
    collections: Sequence[str] | None = None,
    gzip: bool = True,
    batch_size: int = 1000,
) -> WriteResult:
    """``mongodump --db DATABASE --archive=OUT [--gzip]`` with pymongo alone."""
    from pymongo.errors import PyMongoError

    try:
        version = str(client.server_info().get("version", "7.0.0"))
    except PyMongoError as exc:
        raise mongo_error(exc, query="buildInfo") from exc
    dumps = collection_dumps(client, database, collections=collections, batch_size=batch_size)
    return write_archive(dumps, out, gzip=gzip, server_version=version)
