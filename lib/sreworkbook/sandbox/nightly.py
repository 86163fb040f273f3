"""The sandbox's nightly backups, made the way the seed's team makes them.

The newest :data:`REAL_NIGHTS` nights are a real ``mongodump --gzip --archive`` of the whole
seeded database (the tool on PATH or in ``.tools/bin``; the workbook's pymongo engine only where
neither has it), verified before it is used. The older nights are written by the workbook's
archive writer from that dump's own documents — each holding a little less the further back it
lies, gzip level 1 so that writing thirty of them stays quick — and carry the planted faults:
one missing night, one upload cut short, one flipped byte (bad CRC), one suspiciously small.

The set depends only on the seeding, not on the day: it is made once per seeded database and
kept in ``cache`` (``set-<key>/back-NN.tar.gz``, the key naming the seed and the set's
version), and each ``sandbox up`` only gives the files the night names of the current week.
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import io
import json
import shutil
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sreworkbook.backups.archive import iter_batches, read_prelude, verify_archive
from sreworkbook.backups.engines import MongorestoreEngine, PymongoEngine
from sreworkbook.backups.mongo_tools import find_tool
from sreworkbook.backups.report import Verdict
from sreworkbook.backups.target import collection_metadata
from sreworkbook.backups.writer import CollectionDump, write_archive
from sreworkbook.exceptions import SandboxError, WorkbookError

__all__ = ["ANOMALIES", "REAL_NIGHTS", "BackupSet", "Night", "make_set", "plan_nights"]

NIGHTS = 35
LOCAL_NIGHTS = 7
#: The newest nights that are the real dump itself (the sandbox database does not change).
REAL_NIGHTS = 3
BACKUP_HOUR = 2
#: Bump when the generated set changes, so cached sets are made again.
SET_VERSION = 2
#: Nights (counted back from the newest) that went wrong, and how.
ANOMALIES = {4: "bad-crc", 9: "truncated", 12: "missing", 16: "small"}
_DUMP = "dump.archive.gz"
_COMPONENT = "s3"


@dataclass(frozen=True)
class Night:
    """One night of the set: when, what went wrong (``good`` if nothing), where it is kept.

    ``back`` counts nights from the newest (0); ``real`` nights are the real dump itself.
    """

    at: dt.datetime
    kind: str
    fraction: float
    local: bool
    back: int = 0

    @property
    def name(self) -> str:
        """The seed's naming: ``tradeai_backup_YYYYMMDD_HHMMSS.tar.gz``."""
        return f"tradeai_backup_{self.at:%Y%m%d_%H%M%S}.tar.gz"

    @property
    def real(self) -> bool:
        return self.kind == "good" and self.back < REAL_NIGHTS


def plan_nights(
    now: dt.datetime, *, nights: int = NIGHTS, local: int = LOCAL_NIGHTS
) -> list[Night]:
    """The nights ending with the last 02:00 UTC at or before ``now``, oldest first."""
    now = now.astimezone(dt.UTC)
    last = now.replace(hour=BACKUP_HOUR, minute=0, second=0, microsecond=0)
    if last > now:
        last -= dt.timedelta(days=1)
    out = []
    for back in range(nights - 1, -1, -1):
        kind = ANOMALIES.get(back, "good")
        fraction = 0.35 if kind == "small" else 1.0 - 0.25 * back / max(1, nights - 1)
        if kind == "good" and back < REAL_NIGHTS:
            fraction = 1.0
        local_copy = back < local and kind != "missing"
        out.append(Night(last - dt.timedelta(days=back), kind, fraction, local_copy, back))
    return out


@dataclass(frozen=True)
class BackupSet:
    """The set's files by night (``back``), and how its real dump was made."""

    folder: Path
    files: dict[int, Path]
    tool: str
    documents: int
    dump_seconds: float
    made: str

    def file(self, night: Night) -> Path | None:
        return self.files.get(night.back)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def flip_a_byte(data: bytes) -> bytes:
    """``data`` with one digit inside a trade number changed: the BSON stays valid, the CRC not."""
    at = data.find(b"TRD-", len(data) // 2)
    at = data.find(b"TRD-") if at < 0 else at
    if at < 0:
        raise SandboxError("no trade document to corrupt in the dump", component=_COMPONENT)
    digit = at + 9  # "TRD-YYYY-" then digits
    corrupted = bytearray(data)
    corrupted[digit] = ord("0") + (corrupted[digit] - ord("0") + 1) % 10
    return bytes(corrupted)


def _dump(uri: str, client: Any, database: str, out: Path, root: Path) -> tuple[str, float, int]:
    """Dump ``database`` to ``out`` with the real mongodump (else pymongo); tool, seconds, docs."""
    mongodump, mongorestore = (
        find_tool("mongodump", root=root),
        find_tool("mongorestore", root=root),
    )
    partial = out.with_name(out.name + ".partial")
    try:
        if mongodump and mongorestore:
            tools = MongorestoreEngine(
                uri, client=client, mongodump=mongodump, mongorestore=mongorestore
            )
            done = tools.dump(database, partial, gzip=True)
            tool = tools.dump_version
        else:
            done = PymongoEngine(client).dump(database, partial, gzip=True)
            tool = f"the workbook's pymongo engine ({PymongoEngine(client).version})"
        report = verify_archive(partial)
        if report.verdict is not Verdict.OK:
            problems = "; ".join(f.title for f in report.findings)
            raise SandboxError(
                f"the dump of {database} fails verification: {problems}", component=_COMPONENT
            )
        partial.replace(out)
    except WorkbookError as exc:
        if isinstance(exc, SandboxError):
            raise
        raise SandboxError(f"cannot dump {database}: {exc}", component=_COMPONENT) from exc
    finally:
        partial.unlink(missing_ok=True)
    return tool, done.seconds, report.documents


def _collections(dump: Path) -> list[CollectionDump]:
    """The dump's collections with every document as raw BSON, metadata as dumped."""
    docs: dict[tuple[str, str], list[bytes]] = {}
    for entry, batch in iter_batches(dump, decode=False):
        docs.setdefault((entry.db, entry.collection), []).extend(batch)
    out = []
    for entry in read_prelude(dump).collections:
        options, indexes = collection_metadata(entry)
        out.append(
            CollectionDump(
                entry.db, entry.collection, docs.get((entry.db, entry.collection), []),
                indexes, options, type=entry.type,
            )
        )  # fmt: skip
    return out


def _write_night(night: Night, full: list[CollectionDump], path: Path) -> None:
    """Write ``night`` from the full dump's documents; ``path`` appears only when complete."""
    dumps = []
    for d in full:
        docs = list(d.documents)
        kept = docs[: int(len(docs) * night.fraction)]
        dumps.append(CollectionDump(d.db, d.collection, kept, d.indexes, d.options, d.uuid, d.type))
    partial = path.with_name(path.name + ".writing")
    try:
        if night.kind == "bad-crc":
            plain = io.BytesIO()
            write_archive(dumps, plain, gzip=False)
            data = gzip.compress(flip_a_byte(plain.getvalue()), compresslevel=1, mtime=0)
            partial.write_bytes(data)
        else:
            write_archive(dumps, partial, gzip=True, compresslevel=1)
            if night.kind == "truncated":
                data = partial.read_bytes()
                partial.write_bytes(data[: len(data) * 55 // 100])
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)


def _files(folder: Path, nights: list[Night]) -> dict[int, Path]:
    out = {}
    for n in nights:
        if n.kind == "missing":
            continue
        out[n.back] = folder / (_DUMP if n.real else f"back-{n.back:02d}.tar.gz")
    return out


def make_set(
    *,
    uri: str,
    client: Any,
    database: str,
    seed: str,
    cache: Path,
    root: Path,
    nights: list[Night],
    log: Callable[[str], None] = lambda line: None,
) -> BackupSet:
    """The nights' files for ``database`` as seeded (``seed`` is its stamp), made if needed.

    A set made for another seeding or set version is removed. Raises :class:`SandboxError`
    when the dump fails or does not verify.
    """
    key = hashlib.sha256(f"{SET_VERSION}/{database}/{seed}".encode()).hexdigest()[:12]
    folder = cache / f"set-{key}"
    info = _read_json(folder / "set.json")
    files = _files(folder, nights)
    if info.get("complete") and all(p.is_file() for p in files.values()):
        return BackupSet(
            folder, files, str(info["tool"]), int(info["documents"]), float(info["seconds"]),
            "cached set",
        )  # fmt: skip
    for stale in cache.glob("set-*"):
        if stale != folder:
            shutil.rmtree(stale, ignore_errors=True)
    folder.mkdir(parents=True, exist_ok=True)
    dump = folder / _DUMP
    if info.get("tool") and dump.is_file():
        tool, seconds, documents = str(info["tool"]), float(info["seconds"]), int(info["documents"])
    else:
        log(f"{_COMPONENT}: dumping {database} for the nightly backups")
        tool, seconds, documents = _dump(uri, client, database, dump, root)
        info = {"version": SET_VERSION, "seed": seed, "tool": tool}
        info |= {"seconds": round(seconds, 2), "documents": documents}
        (folder / "set.json").write_text(json.dumps(info), encoding="utf-8")
    began = time.monotonic()
    full = _collections(dump)
    todo = [n for n in nights if n.back in files and not n.real and not files[n.back].is_file()]
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="backup-set") as pool:
        list(pool.map(lambda n: _write_night(n, full, files[n.back]), todo))
    (folder / "set.json").write_text(json.dumps({**info, "complete": True}), encoding="utf-8")
    made = (
        f"{database} dumped by {tool} in {seconds:.0f} s ({documents:,} documents), "
        f"{len(todo)} older nights written in {time.monotonic() - began:.0f} s"
    )
    return BackupSet(folder, files, tool, documents, seconds, made)
