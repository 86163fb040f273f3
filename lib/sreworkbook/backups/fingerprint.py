"""Order-independent content fingerprints of collections, in an archive or in a database.

A collection's fingerprint is its document count, byte count and the sum (mod 2**128) of the
BLAKE2b-128 digests of each document's raw BSON. The sum does not depend on the order the
documents come in (a restore, a server and an archive each have their own), yet any changed,
lost or duplicated document changes it. Memory stays flat: documents are streamed.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from sreworkbook.backups.archive import iter_batches, read_prelude
from sreworkbook.edges.mongo import mongo_error

__all__ = [
    "Fingerprint",
    "differences",
    "document_digest",
    "fingerprint_archive",
    "fingerprint_database",
    "fingerprint_documents",
]

_MASK = (1 << 128) - 1


def document_digest(raw: bytes) -> int:
    """The 128-bit BLAKE2b digest of one document's raw BSON, as an integer."""
    return int.from_bytes(hashlib.blake2b(raw, digest_size=16).digest(), "little")


@dataclass(frozen=True)
class Fingerprint:
    """A collection's content: ``documents``, ``bytes`` and the order-free ``digest``."""

    documents: int = 0
    bytes: int = 0
    digest: int = 0

    @property
    def hex(self) -> str:
        """The digest as 32 hex digits (what reports show, shortened)."""
        return f"{self.digest:032x}"

    def __add__(self, other: Fingerprint) -> Fingerprint:
        return Fingerprint(
            self.documents + other.documents,
            self.bytes + other.bytes,
            (self.digest + other.digest) & _MASK,
        )


def fingerprint_documents(raws: Iterable[bytes]) -> Fingerprint:
    """The fingerprint of raw BSON documents."""
    count = size = total = 0
    blake = hashlib.blake2b
    for raw in raws:
        total += int.from_bytes(blake(raw, digest_size=16).digest(), "little")
        count += 1
        size += len(raw)
    return Fingerprint(count, size, total & _MASK)


def fingerprint_archive(
    source: str | os.PathLike[str], *, database: str | None = None
) -> dict[str, Fingerprint]:
    """Per collection of the archive at ``source`` (of ``database`` only, if given).

    Every collection the prelude lists is present, empty ones too. Raises
    :class:`~sreworkbook.exceptions.ArchiveError` if the archive cannot be read to its end.
    """
    prelude = read_prelude(source)
    out = {
        e.collection: Fingerprint()
        for e in prelude.collections
        if database is None or e.db == database
    }
    for entry, batch in iter_batches(source, decode=False):
        if entry.collection in out and (database is None or entry.db == database):
            out[entry.collection] += fingerprint_documents(batch)
    return out


def _collection_fingerprint(db: Any, name: str, batch_size: int) -> Fingerprint:
    from pymongo.errors import PyMongoError

    try:
        cursor = db[name].find({}, batch_size=batch_size)
        return fingerprint_documents(bytes(doc.raw) for doc in cursor)
    except PyMongoError as exc:
        raise mongo_error(exc, query=f"find {db.name}.{name}") from exc


def fingerprint_database(
    client: Any,
    database: str,
    *,
    collections: Sequence[str] | None = None,
    batch_size: int = 5000,
    workers: int = 4,
) -> dict[str, Fingerprint]:
    """Per collection of ``database`` on the server (views and ``system.*`` left out).

    ``collections`` limits the scan (a named collection that does not exist is absent from
    the result). Collections are read concurrently by ``workers`` threads, as raw BSON.
    """
    import bson
    from bson.raw_bson import RawBSONDocument
    from pymongo.errors import PyMongoError

    db = client.get_database(database, codec_options=bson.CodecOptions(RawBSONDocument))
    try:
        listed = list(client.get_database(database).list_collections())
    except PyMongoError as exc:
        raise mongo_error(exc, query=f"list {database}") from exc
    names = sorted(
        str(spec["name"])
        for spec in listed
        if spec.get("type", "collection") == "collection"
        and not str(spec["name"]).startswith("system.")
        and (collections is None or spec["name"] in collections)
    )
    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="fingerprint") as pool:
        prints = list(pool.map(lambda n: _collection_fingerprint(db, n, batch_size), names))
    return dict(zip(names, prints, strict=True))


def differences(
    expected: Mapping[str, Fingerprint], actual: Mapping[str, Fingerprint]
) -> dict[str, tuple[Fingerprint | None, Fingerprint | None]]:
    """The collections whose fingerprints differ (or exist on one side only)."""
    names = sorted(set(expected) | set(actual))
    return {n: (expected.get(n), actual.get(n)) for n in names if expected.get(n) != actual.get(n)}
