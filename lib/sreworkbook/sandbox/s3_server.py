"""The sandbox's S3 endpoint: moto's server, holding five weeks of nightly backups.

The backups are of the sandbox database, written with the workbook's own archive writer from
one sample of it (a thousand documents per collection), each night holding a little less
the further back it lies. Among them, as a real bucket would: one missing night, one archive
cut short by an interrupted upload, one with a flipped byte (bad CRC) and one suspiciously
small. The last seven nights are also in the local backup folder, and the nightly job's log
is written where ``backups.log_file`` says. The set is cached in the data directory and made
again when the day changes (names carry dates) or the database was seeded anew.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gzip
import io
import json
import shutil
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import bson
import pymongo
import pymongo.errors
from botocore.exceptions import BotoCoreError, ClientError
from bson.raw_bson import RawBSONDocument

from sreworkbook.backups.archive import iter_batches, read_prelude
from sreworkbook.backups.s3 import client_for
from sreworkbook.backups.target import collection_metadata
from sreworkbook.backups.writer import CollectionDump, collection_dumps, write_archive
from sreworkbook.config import BackupsConfig, S3Config
from sreworkbook.exceptions import SandboxError, WorkbookError
from sreworkbook.sandbox.layout import Context, Layout, endpoint_of
from sreworkbook.sandbox.process import http_ok, port_open, spawn, stop_group, wait_ready
from sreworkbook.sandbox.seed import MARKER_DATABASE, SEED_VERSION
from sreworkbook.sandbox.state import RUNNING, Record

__all__ = ["Night", "plan_nights", "start_s3"]

NAME = "s3"
#: Documents per collection in the sample the nightly archives are cut from.
SAMPLE = 1000
NIGHTS = 35
LOCAL_NIGHTS = 7
BACKUP_HOUR = 2
#: Bump when the generated set changes, so cached sets are made again.
SET_VERSION = 1
#: Nights (counted back from the newest) that went wrong, and how.
ANOMALIES = {4: "bad-crc", 9: "truncated", 12: "missing", 16: "small"}


@dataclass(frozen=True)
class Night:
    """One night of the generated set: when, what went wrong (``good`` if nothing), where."""

    at: dt.datetime
    kind: str
    fraction: float
    local: bool

    @property
    def name(self) -> str:
        return f"tradeai_backup_{self.at:%Y%m%d_%H%M%S}.tar.gz"


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
        local_copy = back < local and kind != "missing"
        out.append(Night(last - dt.timedelta(days=back), kind, fraction, local_copy))
    return out


def _wait_for_seed(
    host: str, port: int, database: str, *, timeout_s: float = 300, unreachable_s: float = 150
) -> tuple[Any, str]:
    """A client once ``database`` is seeded, and the seeding's stamp (for the cache key).

    The mongodb component starts alongside: give up after ``unreachable_s`` if it never
    answers, after ``timeout_s`` if it answers but is never seeded.
    """
    client: Any = pymongo.MongoClient(
        host=host, port=port, serverSelectionTimeoutMS=1000, socketTimeoutMS=60_000
    )
    began = time.monotonic()
    answered = False
    while time.monotonic() - began < (timeout_s if answered else unreachable_s):
        try:
            marker = client[MARKER_DATABASE]["seeds"].find_one({"_id": database})
            answered = True
        except pymongo.errors.PyMongoError:
            marker = None
        if marker and marker.get("version") == SEED_VERSION:
            return client, f"{marker.get('seededAt')}/{marker.get('total')}"
        time.sleep(0.5)
    client.close()
    why = "was not seeded in time" if answered else f"never answered on {host}:{port}"
    raise SandboxError(
        f"no backups to hold: the sandbox database {database} {why} "
        "(is the mongodb component running?)",
        component=NAME,
    )


def _take_sample(client: Any, database: str, path: Path) -> None:
    """Write up to :data:`SAMPLE` documents of each collection of ``database`` to ``path``."""
    raw = client.get_database(database, codec_options=bson.CodecOptions(RawBSONDocument))
    dumps = []
    for dump in collection_dumps(client, database):
        found = raw[dump.collection].find({}, batch_size=SAMPLE).limit(SAMPLE)
        docs = [bytes(d.raw) for d in found]
        dumps.append(
            CollectionDump(
                dump.db, dump.collection, docs, dump.indexes, dump.options, dump.uuid, dump.type
            )
        )
    write_archive(dumps, path, gzip=False)


def _load_sample(path: Path) -> list[CollectionDump]:
    """The sample back from its archive: documents as raw BSON, metadata as dumped."""
    docs: dict[str, list[bytes]] = {}
    for entry, batch in iter_batches(path, decode=False):
        docs.setdefault(entry.collection, []).extend(batch)
    dumps = []
    for entry in read_prelude(path).collections:
        options, indexes = collection_metadata(entry)
        dumps.append(
            CollectionDump(
                entry.db, entry.collection, docs.get(entry.collection, []), indexes, options,
                type=entry.type,
            )
        )  # fmt: skip
    return dumps


def _flip_a_byte(data: bytes) -> bytes:
    """``data`` with one digit inside a trade number changed: the BSON stays valid, the CRC not."""
    at = data.find(b"TRD-", len(data) // 2)
    at = data.find(b"TRD-") if at < 0 else at
    if at < 0:
        raise SandboxError("no trade document to corrupt in the sample", component=NAME)
    digit = at + 9  # "TRD-YYYY-" then digits
    corrupted = bytearray(data)
    corrupted[digit] = ord("0") + (corrupted[digit] - ord("0") + 1) % 10
    return bytes(corrupted)


def _write_night(night: Night, sample: list[CollectionDump], folder: Path) -> None:
    dumps = []
    for d in sample:
        docs = list(d.documents)
        kept = docs[: int(len(docs) * night.fraction)]
        dumps.append(CollectionDump(d.db, d.collection, kept, d.indexes, d.options, d.uuid, d.type))
    path = folder / night.name
    if night.kind == "bad-crc":
        plain = io.BytesIO()
        write_archive(dumps, plain, gzip=False)
        path.write_bytes(gzip.compress(_flip_a_byte(plain.getvalue()), compresslevel=1, mtime=0))
        return
    write_archive(dumps, path, gzip=True, compresslevel=1)
    if night.kind == "truncated":
        data = path.read_bytes()
        path.write_bytes(data[: len(data) * 55 // 100])


def _log_lines(nights: list[Night], bucket: str, prefix: str, sizes: dict[str, int]) -> list[str]:
    """The nightly job's log as the seed's cron line would leave it."""

    def at(night: Night, seconds: int) -> str:
        return f"[{night.at + dt.timedelta(seconds=seconds):%Y-%m-%d %H:%M:%S}]"

    lines = []
    for n in nights:
        lines.append(f"{at(n, 0)} Starting MongoDB backup of tradeai")
        if n.kind == "missing":
            lines.append(
                f"{at(n, 31)} ERROR: mongodump failed (exit 1): connection() error: "
                "dial tcp 127.0.0.1:27017: connect: connection refused"
            )
            continue
        size = sizes.get(n.name, 0) / 1e6
        lines.append(f"{at(n, 6)} Backup written: /var/backups/mongodb/{n.name} ({size:.1f} MB)")
        url = f"s3://{bucket}/{prefix}{n.name}"
        if n.kind == "truncated":
            lines.append(
                f"{at(n, 40)} ERROR: upload to {url} failed: "
                "Connection was closed before we received a valid response"
            )
        else:
            lines.append(f"{at(n, 9)} Uploaded to {url}")
        lines.append(f"{at(n, 10)} Removed local backups older than 7 days")
    return lines


def _sample_for(ctx: Context, home: Path) -> tuple[Path, str, str]:
    """The sample archive of the seeded database (read again only if it was seeded anew)."""
    where = endpoint_of(ctx.env, "mongodb")
    database = ctx.env.mongodb.database if ctx.env.mongodb else "tradeai"
    if where is None:
        raise SandboxError("needs the sandbox's mongodb to take backups from", component=NAME)
    client, stamp = _wait_for_seed(where.host, where.port, database)
    path, key = home / "sample.archive", home / "sample.json"
    try:
        if not path.is_file() or _read_json(key).get("seed") != stamp:
            began = time.monotonic()
            _take_sample(client, database, path)
            key.write_text(json.dumps({"seed": stamp}), encoding="utf-8")
            return path, stamp, f"sampled {database} in {time.monotonic() - began:.1f} s"
    except pymongo.errors.PyMongoError as exc:
        raise SandboxError(f"cannot sample {database}: {exc}", component=NAME) from exc
    finally:
        client.close()
    return path, stamp, "cached sample"


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _generate(sample: Path, folder: Path, key: dict[str, Any], nights: list[Night]) -> float:
    """Write the nights into ``folder`` (replacing what was there); seconds it took."""
    began = time.monotonic()
    dumps = _load_sample(sample)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    made = [n for n in nights if n.kind != "missing"]
    with ThreadPoolExecutor(max_workers=4, thread_name_prefix="backup-set") as pool:
        list(pool.map(lambda n: _write_night(n, dumps, folder), made))
    (folder / "set.json").write_text(json.dumps(key), encoding="utf-8")
    return time.monotonic() - began


def _inside(path: Path, layout: Layout) -> bool:
    return path.resolve().is_relative_to(layout.data_dir)


def _resolve(layout: Layout, value: str) -> Path:
    path = Path(value)
    return path if path.is_absolute() else layout.root / path


def _fill_local(layout: Layout, config: BackupsConfig, folder: Path, nights: list[Night]) -> str:
    if not config.local_dir:
        return "no local folder configured"
    local = _resolve(layout, config.local_dir)
    if not _inside(local, layout):
        return f"local folder {local} is outside the sandbox data directory: left alone"
    shutil.rmtree(local, ignore_errors=True)
    local.mkdir(parents=True)
    copies = [n for n in nights if n.local]
    for n in copies:
        shutil.copyfile(folder / n.name, local / n.name)
    return f"{len(copies)} in {local}"


def _write_log(layout: Layout, config: BackupsConfig, nights: list[Night], folder: Path) -> None:
    if not config.log_file or config.s3 is None:
        return
    log = _resolve(layout, config.log_file)
    if not _inside(log, layout):
        return
    sizes = {p.name: p.stat().st_size for p in folder.iterdir()}
    log.parent.mkdir(parents=True, exist_ok=True)
    lines = _log_lines(nights, config.s3.bucket, config.s3.prefix, sizes)
    log.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _upload(s3: S3Config, folder: Path, nights: list[Night]) -> int:
    client = client_for(s3)
    with contextlib.suppress(client.exceptions.BucketAlreadyOwnedByYou):
        client.create_bucket(Bucket=s3.bucket)
    made = [n for n in nights if n.kind != "missing"]
    for n in made:
        with (folder / n.name).open("rb") as body:
            client.put_object(Bucket=s3.bucket, Key=f"{s3.prefix}{n.name}", Body=body)
    return len(made)


def start_s3(ctx: Context) -> Record:
    """Start moto's S3 server on ``backups.s3.endpoint_url``'s port and fill the bucket."""
    where = ctx.endpoint(NAME)
    config = ctx.env.backups
    if config is None or config.s3 is None:
        raise SandboxError("not configured in this environment", component=NAME)
    if port_open(where.host, where.port):
        raise SandboxError(
            f"port {where.address} is already in use by another process", component=NAME
        )
    out = ctx.layout.out(NAME)
    argv = [sys.executable, "-m", "moto.server", "-H", where.host, "-p", str(where.port)]
    pid, ticks = spawn(NAME, argv, log_path=out, cwd=ctx.layout.root)
    wait_ready(
        NAME, lambda: http_ok(where.http + "/moto-api/"), pid=pid, timeout_s=30, log_path=out
    )
    nights = plan_nights(ctx.now)
    home = ctx.layout.dir(NAME)
    folder = home / "backup-set"
    try:
        ctx.progress.step(NAME, "backups: sampling the database")
        sample, stamp, how = _sample_for(ctx, home)
        key = {"version": SET_VERSION, "newest": nights[-1].name, "sample": SAMPLE, "seed": stamp}
        if _read_json(folder / "set.json") != key:
            ctx.progress.step(NAME, f"backups: writing {len(nights)} nightly dumps")
            how += f", nights written in {_generate(sample, folder, key, nights):.1f} s"
        else:
            how += ", cached nights"
        ctx.progress.step(NAME, "backups: uploading to S3")
        uploaded = _upload(config.s3, folder, nights)
        local = _fill_local(ctx.layout, config, folder, nights)
        _write_log(ctx.layout, config, nights, folder)
    except (SandboxError, WorkbookError, OSError, BotoCoreError, ClientError) as exc:
        stop_group(pid, ticks=ticks)  # moto must not outlive a failed start
        if isinstance(exc, SandboxError):
            raise
        raise SandboxError(
            f"moto started but the backup set failed: {exc}", component=NAME
        ) from exc
    detail = (
        f"moto, s3://{config.s3.bucket}/{config.s3.prefix}: {uploaded} nightly backups "
        f"(1 missing night, 1 truncated, 1 bad CRC, 1 small); local: {local} ({how})"
    )
    return Record(NAME, RUNNING, pid, ticks, where.url, detail, backend="moto")
