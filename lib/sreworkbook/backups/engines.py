"""Dump and restore engines behind one interface: pure pymongo, or the real mongo-tools.

:class:`PymongoEngine` dumps with :func:`~sreworkbook.backups.writer.dump_database` and restores
by streaming the archive's raw documents into ``insert_many``. :class:`MongorestoreEngine`
runs ``mongodump``/``mongorestore`` (from ``.tools/bin`` or ``PATH``) as argument lists, the URI
passed in a private ``--config`` file so that no password shows in the process table. Both
restore one database of an archive into another (``--nsFrom``/``--nsTo``) following a
:class:`~sreworkbook.backups.target.RestorePlan`, and leave out what the target cannot hold.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from bson import SON
from bson.raw_bson import RawBSONDocument

from sreworkbook.backups.archive import iter_batches
from sreworkbook.backups.target import RestorePlan, index_request
from sreworkbook.backups.writer import dump_database
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
    "find_tool",
    "make_engine",
    "mongodump_argv",
    "mongorestore_argv",
]

ENGINE_NAMES = ("auto", "pymongo", "mongorestore")
_FINISHED = re.compile(r"finished restoring ([^\s.]+)\.(\S+) \((\d+) documents?, (\d+) failures?\)")


@dataclass(frozen=True)
class RestoreOutcome:
    """What a restore wrote: documents per collection, indexes built, what went wrong."""

    engine: str
    documents: Mapping[str, int]
    indexes_built: int
    seconds: float
    findings: tuple[Finding, ...] = ()

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

    def dump(self, database: str, out: Path, *, gzip: bool = True) -> DumpOutcome: ...

    def restore(self, archive: Path, plan: RestorePlan, *, target_db: str) -> RestoreOutcome: ...


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
                raise SourceError(
                    str(exc), source="mongodb", query=f"createIndexes {coll.name}"
                ) from exc
    return built, findings


class PymongoEngine:
    """Pure pymongo: the library's own archive writer, and a streaming ``insert_many`` restore."""

    name = "pymongo"
    timeseries = False

    def __init__(
        self,
        client: Any,
        *,
        batch_bytes: int = 4 << 20,
        workers: int = 2,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.batch_bytes = batch_bytes
        self.workers = max(1, workers)
        self.clock = clock

    def dump(self, database: str, out: Path, *, gzip: bool = True) -> DumpOutcome:
        began = self.clock()
        result = dump_database(self.client, database, out, gzip=gzip, batch_size=5000)
        size = out.stat().st_size if out.exists() else result.bytes_written
        return DumpOutcome(self.name, out, size, self.clock() - began, result.documents)

    def _create(self, db: Any, plan: RestorePlan) -> None:
        for coll in plan.collections:
            if coll.restore and not coll.is_view:
                db.command(SON([("create", coll.name), *coll.options.items()]))

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
            self._create(db, plan)
            with ThreadPoolExecutor(self.workers, thread_name_prefix="restore") as pool:
                try:
                    batches = iter_batches(archive, decode=False, batch_bytes=self.batch_bytes)
                    for entry, batch in batches:
                        if entry.db != plan.source_db or entry.collection not in counts:
                            continue
                        documents = [RawBSONDocument(raw) for raw in batch]
                        future = pool.submit(insert, entry.collection, documents)
                        inflight.append((entry.collection, len(documents), future))
                        while len(inflight) >= 2 * self.workers:
                            settle()
                    while inflight:
                        settle()
                finally:
                    for _, _, future in inflight:
                        future.cancel()
            built, findings = build_indexes(db, plan)
            findings += self._views(db, plan)
        except PyMongoError as exc:
            raise SourceError(str(exc), source="mongodb", query=f"restore {target_db}") from exc
        return RestoreOutcome(self.name, counts, built, self.clock() - began, tuple(findings))


def find_tool(name: str, *, root: Path | None) -> str | None:
    """``name`` from the project's ``.tools/bin`` (``make mongo-tools``) or from ``PATH``."""
    if root is not None:
        bundled = root / ".tools" / "bin" / name
        if bundled.is_file() and os.access(bundled, os.X_OK):
            return str(bundled)
    return shutil.which(name)


def mongodump_argv(binary: str, config: Path, database: str, out: Path, *, gzip: bool) -> list[str]:
    """``mongodump --config=CFG --db=DB --archive=OUT [--gzip]`` (the URI is in CFG)."""
    argv = [binary, f"--config={config}", f"--db={database}", f"--archive={out}"]
    return [*argv, "--gzip"] if gzip else argv


def mongorestore_argv(
    binary: str,
    config: Path,
    archive: Path,
    plan: RestorePlan,
    *,
    target_db: str,
    gzip: bool,
    workers: int = 1,
) -> list[str]:
    """``mongorestore`` restoring ``plan.source_db`` of ``archive`` into ``target_db`` only.

    What the plan leaves out is excluded (``--nsExclude``, ``--noIndexRestore`` — the planned
    indexes are then built afterwards —, ``--noOptionsRestore``).
    """
    src = plan.source_db
    argv = [
        binary,
        f"--config={config}",
        f"--archive={archive}",
        f"--nsInclude={src}.*",
        f"--nsFrom={src}.*",
        f"--nsTo={target_db}.*",
        "--stopOnError",
        "--bypassDocumentValidation",
        f"--numInsertionWorkersPerCollection={max(1, workers)}",
    ]
    if gzip:
        argv.append("--gzip")
    argv += [f"--nsExclude={src}.{name}" for name in plan.skipped]
    if plan.indexes_reduced:
        argv.append("--noIndexRestore")
    if plan.options_reduced:
        argv.append("--noOptionsRestore")
    return argv


def _is_gzip(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(2) == b"\x1f\x8b"


class MongorestoreEngine:
    """The real ``mongodump``/``mongorestore``; ``client`` builds what they were told to skip."""

    name = "mongorestore"
    timeseries = True

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

    def _run(self, argv: Sequence[str], what: str) -> str:
        try:
            done = subprocess.run(
                list(argv), capture_output=True, text=True, timeout=self.timeout_s, check=False
            )
        except subprocess.TimeoutExpired as exc:
            raise SourceTimeout(f"no result in {self.timeout_s:.0f} s", source=what) from exc
        except OSError as exc:
            raise SourceError(f"cannot run {argv[0]}: {exc}", source=what) from exc
        output = mask_text(done.stdout + done.stderr)
        if done.returncode != 0:
            tail = " | ".join(line for line in output.strip().splitlines()[-3:])
            raise SourceError(f"exit {done.returncode}: {tail[-400:]}", source=what)
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
            self._run(argv, "mongodump")
        return DumpOutcome(self.name, out, out.stat().st_size, self.clock() - began)

    def restore(self, archive: Path, plan: RestorePlan, *, target_db: str) -> RestoreOutcome:
        began = self.clock()
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
        built, findings = 0, list[Finding]()
        if plan.indexes_reduced:
            built, findings = build_indexes(self.client[target_db], plan)
        return RestoreOutcome(self.name, counts, built, self.clock() - began, tuple(findings))


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
            "mongodump/mongorestore not found in .tools/bin or on PATH "
            "(`make mongo-tools` builds them where Go can fetch mongo-tools)",
            key="engine",
        )
    return MongorestoreEngine(uri, client=client, mongodump=dump, mongorestore=restore)
