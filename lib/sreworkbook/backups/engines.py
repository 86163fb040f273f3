"""Dump and restore engines behind one interface: pure pymongo, or the real mongo-tools.

:class:`PymongoEngine` dumps with :func:`~sreworkbook.backups.writer.dump_database` and restores
by streaming the archive's raw documents, in batches of ``batch_docs`` (mongorestore's 1000),
into ``insert_many`` on a few threads at once. :class:`MongorestoreEngine` runs
``mongodump``/``mongorestore`` (``PATH`` first — MongoDB's Database Tools packages —, else
``.tools/bin``) as argument lists, the URI passed in a private ``--config`` file so that no
password shows in the process table. Both restore one database of an archive into another
(``--nsFrom``/``--nsTo``) following a :class:`~sreworkbook.backups.target.RestorePlan`, and leave
out what the target cannot hold: where the plan reduces indexes or options, mongorestore is told
to skip them and the workbook creates the collections and builds the indexes itself.
Each engine says which tool and version it is (``version``), for the run's record.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
import time
from collections import deque
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from bson import SON
from bson.raw_bson import RawBSONDocument

from sreworkbook.backups.archive import iter_batches
from sreworkbook.backups.mongo_tools import (
    find_tool,
    mongodump_argv,
    mongorestore_argv,
    tool_failure,
    tool_version,
)
from sreworkbook.backups.target import RestorePlan, index_request
from sreworkbook.backups.writer import dump_database
from sreworkbook.edges.mongo import mongo_error
from sreworkbook.edges.retry import within_run
from sreworkbook.exceptions import ParameterError, SourceError, SourceTimeout
from sreworkbook.results import Finding, Status
from sreworkbook.secrets import mask_text

__all__ = [
    "ENGINE_NAMES",
    "DumpOutcome",
    "Engine",
    "MongorestoreEngine",
    "PymongoEngine",
    "RestoreOutcome",
    "build_indexes",
    "create_collections",
    "find_tool",
    "make_engine",
    "mongodump_argv",
    "mongorestore_argv",
    "open_client",
    "tool_version",
]

ENGINE_NAMES = ("auto", "pymongo", "mongorestore")
_FINISHED = re.compile(
    r"finished restoring `?([^\s.`]+)\.([^\s`]+)`? \((\d+) documents?, (\d+) failures?\)"
)
_DUMPED = re.compile(r"done dumping `?([^\s.`]+)\.([^\s`]+)`? \((\d+) documents?\)")


@dataclass(frozen=True)
class RestoreOutcome:
    """What a restore wrote: documents per collection, indexes built, what went wrong."""

    engine: str
    documents: Mapping[str, int]
    indexes_built: int
    seconds: float
    findings: tuple[Finding, ...] = ()
    #: Of ``seconds``, the time spent building indexes after the data.
    index_seconds: float = 0.0

    @property
    def total_documents(self) -> int:
        return sum(self.documents.values())


@dataclass(frozen=True)
class DumpOutcome:
    """An archive an engine wrote."""

    engine: str
    path: Path
    bytes: int
    seconds: float
    documents: int | None = None


class Engine(Protocol):
    """Dump a database into an archive; restore one database of an archive into another."""

    name: str
    #: Whether timeseries collections are restored (their data lives in bucket collections).
    timeseries: bool
    #: Whether the engine sends ``ns`` with every index it creates (mongorestore does).
    tool_ns: bool

    @property
    def version(self) -> str:
        """The restoring tool and its version: ``mongorestore 100.18.0``, ``pymongo 4.10.1``."""
        ...

    @property
    def dump_version(self) -> str:
        """The dumping tool and its version: ``mongodump 100.18.0``, ``pymongo 4.10.1``."""
        ...

    def dump(self, database: str, out: Path, *, gzip: bool = True) -> DumpOutcome: ...

    def restore(self, archive: Path, plan: RestorePlan, *, target_db: str) -> RestoreOutcome: ...


def create_collections(db: Any, plan: RestorePlan) -> None:
    """Create the plan's collections (not views) in ``db`` with the options the target keeps."""
    for coll in plan.collections:
        if coll.restore and not coll.is_view:
            db.command(SON([("create", coll.name), *coll.options.items()]))


def build_indexes(db: Any, plan: RestorePlan) -> tuple[int, list[Finding]]:
    """Build the plan's indexes in ``db``; one that fails (duplicates...) is a WARN finding."""
    from pymongo.errors import OperationFailure, PyMongoError

    built, findings = 0, []
    for coll in plan.collections:
        if not coll.restore or coll.is_view:
            continue
        for spec in coll.indexes:
            try:
                db.command(SON([("createIndexes", coll.name), ("indexes", [index_request(spec)])]))
                built += 1
            except OperationFailure as exc:
                why = str(exc).split(", full error:")[0][:200]
                findings.append(
                    Finding(Status.WARN, f"{coll.name}: index {spec.get('name')} not built", why)
                )
            except PyMongoError as exc:
                raise mongo_error(exc, query=f"createIndexes {coll.name}") from exc
    return built, findings


class PymongoEngine:
    """Pure pymongo: the library's own archive writer, and a streaming ``insert_many`` restore."""

    name = "pymongo"
    timeseries = False
    tool_ns = False

    def __init__(
        self,
        client: Any,
        *,
        batch_docs: int = 1000,
        batch_bytes: int = 4 << 20,
        workers: int = 2,
        dump_batch: int = 5000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.batch_docs = max(1, batch_docs)
        self.batch_bytes = batch_bytes
        self.workers = max(1, workers)
        self.dump_batch = dump_batch
        self.clock = clock

    @property
    def version(self) -> str:
        import pymongo

        return f"pymongo {pymongo.__version__}"

    @property
    def dump_version(self) -> str:
        return self.version

    def dump(self, database: str, out: Path, *, gzip: bool = True) -> DumpOutcome:
        began = self.clock()
        result = dump_database(self.client, database, out, gzip=gzip, batch_size=self.dump_batch)
        size = out.stat().st_size if out.exists() else result.bytes_written
        return DumpOutcome(self.name, out, size, self.clock() - began, result.documents)

    def _views(self, db: Any, plan: RestorePlan) -> list[Finding]:
        from pymongo.errors import OperationFailure

        findings = []
        for coll in plan.collections:
            if coll.restore and coll.is_view:
                try:
                    db.command(SON([("create", coll.name), *coll.options.items()]))
                except OperationFailure as exc:
                    why = str(exc).split(", full error:")[0][:200]
                    findings.append(Finding(Status.WARN, f"{coll.name}: view not created", why))
        return findings

    def _batches(
        self, archive: Path, plan: RestorePlan, wanted: Collection[str]
    ) -> Iterator[tuple[str, list[RawBSONDocument]]]:
        """``(collection, up to batch_docs raw documents)`` of ``plan.source_db``, in order."""
        size = self.batch_docs
        for entry, batch in iter_batches(archive, decode=False, batch_bytes=self.batch_bytes):
            if entry.db != plan.source_db or entry.collection not in wanted:
                continue
            for start in range(0, len(batch), size):
                yield (
                    entry.collection,
                    [RawBSONDocument(raw) for raw in batch[start : start + size]],
                )

    def restore(self, archive: Path, plan: RestorePlan, *, target_db: str) -> RestoreOutcome:
        """Stream ``plan.source_db``'s documents from ``archive`` into ``target_db``.

        The archive is read in one pass while ``workers`` threads insert its batches (at most
        two batches per worker in flight, so memory stays bounded). Raises
        :class:`~sreworkbook.exceptions.ArchiveError` when the archive breaks mid-way and
        :class:`~sreworkbook.exceptions.SourceError` when the server refuses a write;
        documents inserted before stay (the drill drops the scratch database).
        """
        from pymongo.errors import BulkWriteError, PyMongoError

        began = self.clock()
        db = self.client[target_db]
        counts = dict.fromkeys(plan.restored, 0)
        inflight: deque[tuple[str, int, Future[Any]]] = deque()

        def settle() -> None:
            name, size, future = inflight.popleft()
            try:
                future.result()
            except BulkWriteError as exc:
                errors = exc.details.get("writeErrors") or [{}]
                done = sum(counts.values()) + exc.details.get("nInserted", 0)
                first = str(errors[0].get("errmsg", exc))[:200]
                raise SourceError(
                    f"restore failed after {done:,} documents: {first}",
                    source="mongodb",
                    query=f"insert into {target_db}.{name}",
                ) from exc
            counts[name] += size

        def insert(name: str, documents: list[RawBSONDocument]) -> None:
            db[name].insert_many(documents, ordered=True, bypass_document_validation=True)

        try:
            create_collections(db, plan)
            with ThreadPoolExecutor(self.workers, thread_name_prefix="restore") as pool:
                try:
                    for name, documents in self._batches(archive, plan, counts):
                        future = pool.submit(insert, name, documents)
                        inflight.append((name, len(documents), future))
                        while len(inflight) >= 2 * self.workers:
                            settle()
                    while inflight:
                        settle()
                finally:
                    for _, _, future in inflight:
                        future.cancel()
            indexing = self.clock()
            built, findings = build_indexes(db, plan)
            indexing = self.clock() - indexing
            findings += self._views(db, plan)
        except PyMongoError as exc:
            raise mongo_error(exc, query=f"restore {target_db}") from exc
        took = self.clock() - began
        return RestoreOutcome(self.name, counts, built, took, tuple(findings), indexing)


def _is_gzip(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(2) == b"\x1f\x8b"


class MongorestoreEngine:
    """The real ``mongodump``/``mongorestore``; ``client`` builds what they were told to skip."""

    name = "mongorestore"
    timeseries = True
    tool_ns = True

    def __init__(
        self,
        uri: str,
        *,
        client: Any,
        mongodump: str,
        mongorestore: str,
        timeout_s: float = 3600.0,
        workers: int = 1,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._uri = uri
        self.client = client
        self.mongodump = mongodump
        self.mongorestore = mongorestore
        self.timeout_s = timeout_s
        self.workers = workers
        self.clock = clock
        self._versions: dict[str, str] = {}

    def tool_version(self, binary: str) -> str:
        """``binary``'s version, asked once."""
        if binary not in self._versions:
            self._versions[binary] = tool_version(binary)
        return self._versions[binary]

    @property
    def version(self) -> str:
        return f"mongorestore {self.tool_version(self.mongorestore)}"

    @property
    def dump_version(self) -> str:
        return f"mongodump {self.tool_version(self.mongodump)}"

    def _run(self, argv: Sequence[str], what: str) -> str:
        timeout_s = within_run(self.timeout_s)  # never past the run's own deadline
        try:
            done = subprocess.run(
                list(argv), capture_output=True, text=True, timeout=timeout_s, check=False
            )
        except subprocess.TimeoutExpired as exc:
            raise SourceTimeout(f"no result in {timeout_s:.0f} s", source=what) from exc
        except OSError as exc:
            raise SourceError(f"cannot run {argv[0]}: {exc}", source=what) from exc
        output = mask_text(done.stdout + done.stderr)
        if done.returncode != 0:
            raise SourceError(f"exit {done.returncode}: {tool_failure(output)}", source=what)
        return output

    def _config(self, folder: Path) -> Path:
        config = folder / "tools.yaml"
        fd = os.open(config, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(f"uri: {json.dumps(self._uri)}\n")
        return config

    def dump(self, database: str, out: Path, *, gzip: bool = True) -> DumpOutcome:
        began = self.clock()
        with tempfile.TemporaryDirectory(prefix="sreworkbook-mongodump-") as folder:
            argv = mongodump_argv(
                self.mongodump, self._config(Path(folder)), database, out, gzip=gzip
            )
            output = self._run(argv, "mongodump")
        documents = sum(int(n) for _db, _coll, n in _DUMPED.findall(output))
        return DumpOutcome("mongodump", out, out.stat().st_size, self.clock() - began, documents)

    def restore(self, archive: Path, plan: RestorePlan, *, target_db: str) -> RestoreOutcome:
        from pymongo.errors import PyMongoError

        began = self.clock()
        if plan.options_reduced:  # the tool then creates none: it restores into these
            try:
                create_collections(self.client[target_db], plan)
            except PyMongoError as exc:
                raise mongo_error(exc, query=f"create in {target_db}") from exc
        with tempfile.TemporaryDirectory(prefix="sreworkbook-mongorestore-") as folder:
            argv = mongorestore_argv(
                self.mongorestore,
                self._config(Path(folder)),
                archive,
                plan,
                target_db=target_db,
                gzip=_is_gzip(archive),
                workers=self.workers,
            )
            output = self._run(argv, "mongorestore")
        counts = dict.fromkeys(plan.restored, 0)
        for _db, coll, docs, _failures in _FINISHED.findall(output):
            counts[coll] = int(docs)
        built, findings, indexing = 0, list[Finding](), self.clock()
        if plan.indexes_reduced:
            built, findings = build_indexes(self.client[target_db], plan)
        else:  # the tool built the planned indexes itself
            built = sum(len(c.indexes) for c in plan.collections if c.restore and not c.is_view)
        indexing = self.clock() - indexing
        took = self.clock() - began
        return RestoreOutcome(self.name, counts, built, took, tuple(findings), indexing)


def open_client(uri: str) -> Any:
    """A pymongo client for dumps and restores: quick to fail to connect, patient to read —
    but never past the run's deadline."""
    import pymongo

    read_ms = int(within_run(600.0) * 1000)
    connect_ms = min(5000, read_ms)
    return pymongo.MongoClient(
        uri,
        serverSelectionTimeoutMS=connect_ms,
        connectTimeoutMS=connect_ms,
        socketTimeoutMS=read_ms,
    )


def make_engine(kind: str, *, client: Any, uri: str, root: Path | None) -> Engine:
    """The engine called ``kind``: ``auto`` takes mongo-tools when both are found, else pymongo."""
    if kind not in ENGINE_NAMES:
        raise ParameterError(
            f'unknown engine "{kind}", did you mean one of: {", ".join(ENGINE_NAMES)}', key="engine"
        )
    dump, restore = find_tool("mongodump", root=root), find_tool("mongorestore", root=root)
    if kind == "pymongo" or (kind == "auto" and not (dump and restore)):
        return PymongoEngine(client)
    if not (dump and restore):
        raise ParameterError(
            "mongodump/mongorestore not found on PATH or in .tools/bin (install MongoDB's "
            "Database Tools, or `make mongo-tools` builds them from source)",
            key="engine",
        )
    return MongorestoreEngine(uri, client=client, mongodump=dump, mongorestore=restore)
