"""Doctor checks of where the data is: MongoDB, the S3 backups, the local folders.

MongoDB is read (the collections of ``mongodb.database`` and one document); where backup
drills are enabled, one document is written to and removed from the scratch database the
drill restores into — only when that database matches ``backups.scratch_pattern`` and is not
``mongodb.database``, so the doctor never writes anywhere else. S3 is listed and the newest
archive's first bytes read. Folders are checked for reading.
"""

from __future__ import annotations

import itertools
import os
import re
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pymongo import MongoClient
from pymongo.errors import OperationFailure, PyMongoError, ServerSelectionTimeoutError

from sreworkbook.backups.s3 import client_for, list_objects, open_object
from sreworkbook.config import Environment
from sreworkbook.doctor.lines import DoctorLine, Verdict, failure_text
from sreworkbook.exceptions import MissingFileError, SecretError, SourceError, WorkbookError
from sreworkbook.secrets import mask_uri

__all__ = ["local_checks", "mongodb_checks", "s3_checks"]

#: MongoDB's "Unauthorized" and "AuthenticationFailed".
_UNAUTHORIZED, _AUTH_FAILED = 13, 18
_LISTED = 10_000
_MONGO_REACH = "check the host and port in the URI's variable and that this host can reach it"


def _mongo_failure(check: str, exc: PyMongoError, *, fix_denied: str) -> DoctorLine:
    if isinstance(exc, OperationFailure) and exc.code == _AUTH_FAILED:
        return DoctorLine(
            check, Verdict.FAIL, "authentication failed",
            "check the user, password and authSource in the URI's variable",
        )  # fmt: skip
    if isinstance(exc, OperationFailure) and exc.code == _UNAUTHORIZED:
        return DoctorLine(check, Verdict.FAIL, f"not authorized: {failure_text(exc)}", fix_denied)
    if isinstance(exc, ServerSelectionTimeoutError):
        why = "connection refused" if "refused" in str(exc).lower() else "no server answered"
        return DoctorLine(check, Verdict.FAIL, why, _MONGO_REACH)
    return DoctorLine(check, Verdict.FAIL, failure_text(exc), _MONGO_REACH)


def _scratch_line(client: MongoClient[dict[str, Any]], env: Environment) -> DoctorLine:
    assert env.backups is not None and env.mongodb is not None
    scratch, check = env.backups.scratch_database, "mongodb scratch write"
    if scratch == env.mongodb.database or not re.fullmatch(env.backups.scratch_pattern, scratch):
        return DoctorLine(
            check, Verdict.FAIL,
            f"scratch database {scratch!r} is the production database or does not match "
            f"scratch_pattern {env.backups.scratch_pattern!r}: drills refuse it (nothing written)",
            "name a throw-away database in backups.scratch_database (e.g. tradeai_restore_test)",
        )  # fmt: skip
    collection = client[scratch]["sreworkbook_doctor"]
    try:
        marker = collection.insert_one({"doctor": True, "at": datetime.now(UTC)}).inserted_id
        collection.delete_one({"_id": marker})
        collection.drop()
    except PyMongoError as exc:
        return _mongo_failure(
            check, exc, fix_denied=f"grant the drill's user readWrite on {scratch} only"
        )
    return DoctorLine(check, Verdict.OK, f"wrote and removed a document in {scratch}")


def mongodb_checks(
    env: Environment, environ: Mapping[str, str], timeout_s: float
) -> list[DoctorLine]:
    """Read ``mongodb.database``; write to the drill's scratch database where enabled."""
    config = env.mongodb
    if config is None:
        return []
    try:
        uri = env.secret(config.uri, environ, key="mongodb.uri")
    except SecretError as exc:
        return [DoctorLine("mongodb read", Verdict.FAIL, str(exc), "set the variable")]
    shown = mask_uri(uri)
    ms = max(500, int(timeout_s * 1000))
    client: MongoClient[dict[str, Any]] = MongoClient(
        uri, serverSelectionTimeoutMS=ms, connectTimeoutMS=ms, socketTimeoutMS=ms,
        appname="sreworkbook-doctor",
    )  # fmt: skip
    try:
        db = client[config.database]
        names = sorted(db.list_collection_names())
        if names:
            db[names[0]].find_one(max_time_ms=ms)
    except PyMongoError as exc:
        client.close()
        line = _mongo_failure(
            "mongodb read", exc, fix_denied=f"grant the user the read role on {config.database}"
        )
        return [replace(line, detail=f"{shown}: {line.detail}")]
    if not names:
        lines = [
            DoctorLine(
                "mongodb read", Verdict.WARN, f"{shown}: {config.database} has no collections",
                "check mongodb.database: the health checks and drills read it",
            )
        ]  # fmt: skip
    else:
        lines = [
            DoctorLine(
                "mongodb read", Verdict.OK,
                f"{shown}: {config.database} has {len(names)} collections, read one document",
            )
        ]  # fmt: skip
    try:
        if env.backups is not None:
            lines.append(_scratch_line(client, env))
    finally:
        client.close()
    return lines


def s3_checks(env: Environment, environ: Mapping[str, str], timeout_s: float) -> list[DoctorLine]:
    """List the backups' bucket and prefix, read the newest archive's first bytes."""
    s3 = env.backups.s3 if env.backups else None
    if env.backups is None or s3 is None:
        return []
    where = f"s3://{s3.bucket}/{s3.prefix}"
    try:
        client = client_for(s3, resolve=env.resolver(environ), timeout_s=timeout_s)
        objects = list(itertools.islice(list_objects(s3.bucket, s3.prefix, client=client), _LISTED))
    except SecretError as exc:
        return [DoctorLine("s3 list", Verdict.FAIL, str(exc), "set the variable")]
    except MissingFileError:  # listing a prefix never misses; the bucket does
        return [
            DoctorLine(
                "s3 list", Verdict.FAIL, f"{where}: no such bucket {s3.bucket!r} at this endpoint",
                "check backups.s3.bucket, region and endpoint_url",
            )
        ]  # fmt: skip
    except (WorkbookError, ValueError) as exc:
        denied = isinstance(exc, SourceError) and exc.status in (401, 403)
        fix = (
            f"grant s3:ListBucket on {s3.bucket} (prefix {s3.prefix or '*'}) to these keys"
            if denied
            else "check backups.s3 (bucket, region, endpoint_url) and the keys' variables"
        )
        return [DoctorLine("s3 list", Verdict.FAIL, f"{where}: {failure_text(exc)}", fix)]
    pattern = re.compile(env.backups.name_pattern)
    archives = [o for o in objects if pattern.fullmatch(o.key.rsplit("/", 1)[-1])]
    lines = [DoctorLine("s3 list", Verdict.OK, f"{where}: {len(objects)} objects, {len(archives)} archives")]  # fmt: skip
    if not archives:
        lines.append(
            DoctorLine(
                "s3 get", Verdict.WARN, f"no archive under {where} matches backups.name_pattern",
                "check backups.s3.prefix and backups.name_pattern (or no backup ran yet)",
            )
        )  # fmt: skip
        return lines
    newest = max(archives, key=lambda o: o.last_modified)
    try:
        with open_object(newest.url, client=client) as stream:
            head = stream.read(2)
    except (WorkbookError, OSError) as exc:
        lines.append(
            DoctorLine(
                "s3 get", Verdict.FAIL, f"{newest.url}: {failure_text(exc)}",
                f"grant s3:GetObject on {s3.bucket}/{s3.prefix}*",
            )
        )  # fmt: skip
        return lines
    lines.append(DoctorLine("s3 get", Verdict.OK, f"read {newest.url} ({len(head)} bytes read)"))
    return lines


def _folder_line(check: str, raw: str, root: Path, *, fix: str) -> DoctorLine:
    path = Path(raw) if Path(raw).is_absolute() else root / raw
    if not path.is_dir():
        return DoctorLine(check, Verdict.FAIL, f"{raw}: no such folder", fix)
    if not os.access(path, os.R_OK | os.X_OK):
        return DoctorLine(check, Verdict.FAIL, f"{raw}: not readable by this user", fix)
    count = sum(1 for p in path.iterdir() if p.is_file())
    return DoctorLine(check, Verdict.OK, f"{raw}: readable, {count} files")


def local_checks(env: Environment, *, root: Path) -> list[DoctorLine]:
    """The local backups folder, the log folder and a metrics export file, where configured."""
    lines = []
    if env.backups is not None and env.backups.local_dir:
        lines.append(
            _folder_line(
                "backups folder", env.backups.local_dir, root,
                fix="mount it where the runs start, or remove backups.local_dir",
            )
        )  # fmt: skip
    if env.logs is not None:
        lines.append(
            _folder_line(
                "logs folder", env.logs.dir, root,
                fix="mount the service's Winston log folder here, or fix logs.dir",
            )
        )  # fmt: skip
    files = env.metrics.files
    if env.metrics.source == "files" and files is not None:
        path = Path(files.path) if Path(files.path).is_absolute() else root / files.path
        ok = path.is_file() and os.access(path, os.R_OK)
        lines.append(
            DoctorLine(
                "metrics file", Verdict.OK if ok else Verdict.FAIL,
                f"{files.path}: {'readable' if ok else 'missing or unreadable'}",
                "" if ok else "export the metrics there, or fix metrics.files.path",
            )
        )  # fmt: skip
    return lines
