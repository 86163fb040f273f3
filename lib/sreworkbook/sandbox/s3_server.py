"""The sandbox's S3 endpoint: moto's server, holding five weeks of nightly backups.

The backups are made the way the seed's team makes them (:mod:`sreworkbook.sandbox.nightly`):
the newest nights are a real ``mongodump --gzip --archive`` of the whole seeded database, the
older ones are written from that dump's documents. Among them, as a real bucket would: one
missing night, one archive cut short by an interrupted upload, one with a flipped byte (bad
CRC), one suspiciously small, and copies older than the 30 days S3 keeps. The last seven
nights are also in the local backup folder, and the nightly job's log is written where
``backups.log_file`` says. The set is made once per seeding of the database (in the data
directory) and only renamed for the current week at each start.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import shutil
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pymongo
import pymongo.errors
from botocore.exceptions import BotoCoreError, ClientError

from sreworkbook.backups.s3 import client_for
from sreworkbook.config import BackupsConfig, S3Config
from sreworkbook.exceptions import SandboxError, WorkbookError
from sreworkbook.sandbox.layout import Context, Layout, endpoint_of
from sreworkbook.sandbox.nightly import BackupSet, Night, make_set, plan_nights
from sreworkbook.sandbox.process import ensure_port_free, http_ok, spawn, stop_group, wait_ready
from sreworkbook.sandbox.seed import MARKER_DATABASE, SEED_VERSION
from sreworkbook.sandbox.state import RUNNING, Record

__all__ = ["Night", "plan_nights", "start_s3"]

NAME = "s3"


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


def _inside(path: Path, layout: Layout) -> bool:
    return path.resolve().is_relative_to(layout.data_dir)


def _resolve(layout: Layout, value: str) -> Path:
    path = Path(value)
    return path if path.is_absolute() else layout.root / path


def _fill_local(layout: Layout, config: BackupsConfig, made: BackupSet, nights: list[Night]) -> str:
    if not config.local_dir:
        return "no local folder configured"
    local = _resolve(layout, config.local_dir)
    if not _inside(local, layout):
        return f"local folder {local} is outside the sandbox data directory: left alone"
    shutil.rmtree(local, ignore_errors=True)
    local.mkdir(parents=True)
    copies = [(n, path) for n in nights if n.local and (path := made.file(n)) is not None]
    for n, path in copies:
        shutil.copyfile(path, local / n.name)
    return f"{len(copies)} in {local}"


def _write_log(layout: Layout, config: BackupsConfig, nights: list[Night], made: BackupSet) -> None:
    if not config.log_file or config.s3 is None:
        return
    log = _resolve(layout, config.log_file)
    if not _inside(log, layout):
        return
    sizes = {n.name: path.stat().st_size for n in nights if (path := made.file(n)) is not None}
    log.parent.mkdir(parents=True, exist_ok=True)
    lines = _log_lines(nights, config.s3.bucket, config.s3.prefix, sizes)
    log.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _upload(s3: S3Config, made: BackupSet, nights: list[Night]) -> int:
    client = client_for(s3, timeout_s=60)
    with contextlib.suppress(client.exceptions.BucketAlreadyOwnedByYou):
        client.create_bucket(Bucket=s3.bucket)
    uploads = [(n, path) for n in nights if (path := made.file(n)) is not None]

    def put(item: tuple[Night, Path]) -> None:
        night, path = item
        with path.open("rb") as body:
            client.put_object(Bucket=s3.bucket, Key=f"{s3.prefix}{night.name}", Body=body)

    with ThreadPoolExecutor(max_workers=4, thread_name_prefix="s3-upload") as pool:
        list(pool.map(put, uploads))
    return len(uploads)


def _backup_set(ctx: Context, home: Path, nights: list[Night]) -> BackupSet:
    """The nights' files, made from the seeded database once per seeding."""
    where = endpoint_of(ctx.env, "mongodb")
    database = ctx.env.mongodb.database if ctx.env.mongodb else "tradeai"
    if where is None or ctx.env.mongodb is None:
        raise SandboxError("needs the sandbox's mongodb to take backups from", component=NAME)
    client, stamp = _wait_for_seed(where.host, where.port, database)
    try:
        return make_set(
            uri=ctx.env.mongodb.uri, client=client, database=database, seed=stamp,
            cache=home / "sets", root=ctx.layout.root, nights=nights, log=ctx.log,
        )  # fmt: skip
    finally:
        client.close()


def start_s3(ctx: Context) -> Record:
    """Start moto's S3 server on ``backups.s3.endpoint_url``'s port and fill the bucket."""
    where = ctx.endpoint(NAME)
    config = ctx.env.backups
    if config is None or config.s3 is None:
        raise SandboxError("not configured in this environment", component=NAME)
    ensure_port_free(where.host, where.port, component=NAME)
    out = ctx.layout.out(NAME)
    argv = [sys.executable, "-m", "moto.server", "-H", where.host, "-p", str(where.port)]
    pid, ticks = spawn(NAME, argv, log_path=out, cwd=ctx.layout.root)
    wait_ready(
        NAME, lambda: http_ok(where.http + "/moto-api/"), pid=pid, timeout_s=30, log_path=out
    )
    nights = plan_nights(ctx.now)
    try:
        ctx.progress.step(NAME, "backups: a real mongodump, then the older nights")
        made = _backup_set(ctx, ctx.layout.dir(NAME), nights)
        began = time.monotonic()
        ctx.progress.step(NAME, "backups: uploading to S3")
        uploaded = _upload(config.s3, made, nights)
        local = _fill_local(ctx.layout, config, made, nights)
        _write_log(ctx.layout, config, nights, made)
        placed = time.monotonic() - began
    except (SandboxError, WorkbookError, OSError, BotoCoreError, ClientError) as exc:
        stop_group(pid, ticks=ticks)  # moto must not outlive a failed start
        if isinstance(exc, SandboxError):
            raise
        raise SandboxError(
            f"moto started but the backup set failed: {exc}", component=NAME
        ) from exc
    real = sum(1 for n in nights if n.real)
    detail = (
        f"moto, s3://{config.s3.bucket}/{config.s3.prefix}: {uploaded} nightly backups, the "
        f"newest {real} by {made.tool} ({made.documents:,} documents); 1 missing night, "
        f"1 truncated, 1 bad CRC, 1 small; local: {local} ({made.made}; placed in {placed:.0f} s)"
    )
    return Record(NAME, RUNNING, pid, ticks, where.url, detail, backend="moto")
