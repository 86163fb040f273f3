"""``backups take``: the seed's nightly backup script as one command.

Phases, each timed: **dump** (``mongodump --gzip --archive`` — or the pymongo engine where the
tool is absent — into a hidden ``.NAME.partial`` in the local backup folder), **verify** (the
archive's own counts and CRCs, and every collection of the source present), then, only for a
sound archive, **keep** (renamed into place under the seed's name, ``NAME.manifest.json``
beside it), **upload** (archive and manifest to the S3 prefix, checked by a HEAD afterwards)
and **prune** (local copies older than ``local_retention_days``; never the new one).

A dump that fails verification is deleted: it is never uploaded, never replaces anything, and
prunes nothing, so the previous good backups stay. Failures are CRIT findings, not exceptions;
bad configuration raises :class:`~sreworkbook.exceptions.ParameterError`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sreworkbook.backups.archive import verify_archive
from sreworkbook.backups.drill_report import Phase, PhaseFailed, PhaseLog
from sreworkbook.backups.engines import Engine, make_engine, open_client
from sreworkbook.backups.inventory import backups_section, list_local, parse_timestamp
from sreworkbook.backups.manifest import manifest_path, write_manifest
from sreworkbook.backups.report import ArchiveReport, Verdict
from sreworkbook.backups.s3 import client_for, head_object
from sreworkbook.config import BackupsConfig, Environment, S3Config
from sreworkbook.edges.mongo import mongo_error
from sreworkbook.exceptions import MissingFileError, ParameterError, SourceError, WorkbookError
from sreworkbook.results import Finding, RunSummary, Status, worst
from sreworkbook.timeutil import rfc3339

__all__ = ["DUMP_ENGINES", "LEDGER_NAME", "TakeResult", "backup_name", "take_backup"]

#: ``auto`` takes the real mongodump when it is found (PATH, then ``.tools/bin``).
DUMP_ENGINES = ("auto", "mongodump", "pymongo")

#: What the run ledger calls a ``backups take`` run (its ``notebook`` field).
LEDGER_NAME = "backups_take"


def backup_name(database: str, at: dt.datetime) -> str:
    """The seed's naming: ``tradeai_backup_20251110_020000.tar.gz`` (UTC)."""
    return f"{database}_backup_{at.astimezone(dt.UTC):%Y%m%d_%H%M%S}.tar.gz"


@dataclass(frozen=True)
class TakeResult:
    """One backup taken (or not): where it went, what it holds, how long each phase took."""

    name: str
    engine: str
    tool_version: str
    phases: tuple[Phase, ...] = ()
    findings: tuple[Finding, ...] = ()
    path: Path | None = None
    url: str = ""
    bytes: int = 0
    documents: int = 0
    pruned: tuple[str, ...] = ()

    @property
    def status(self) -> Status:
        return worst((f.severity for f in self.findings), default=Status.OK)

    @property
    def kept(self) -> bool:
        """True when the archive verified and is in the local folder under its name."""
        return self.path is not None

    def phase(self, name: str) -> Phase | None:
        return next((p for p in self.phases if p.name == name), None)

    def headline(self) -> str:
        """One line: what was taken and where, or what failed."""
        if not self.kept:
            failed = next((f for f in self.findings if f.severity is Status.CRIT), None)
            why = failed.title if failed else "no backup"
            return (
                f"The backup failed ({why}): nothing was uploaded and the earlier backups are kept."
            )
        where = f" and uploaded to {self.url}" if self.url else ""
        attention = [f for f in self.findings if f.severity not in (Status.OK, Status.SKIPPED)]
        look = f"; needs a look: {attention[0].title}" if attention else ""
        return (
            f"Backup {self.name}: {self.documents:,} documents, "
            f"{self.bytes / 1e6:,.1f} MB, verified{where}{look}."
        )

    def metrics(self) -> dict[str, float]:
        out = {
            "backup_bytes": float(self.bytes),
            "backup_documents": float(self.documents),
            "pruned_local": float(len(self.pruned)),
        }
        for p in self.phases:
            out[f"{p.name}_s"] = round(p.seconds, 3)
        dump, check = self.phase("dump"), self.phase("verify")
        if dump is not None and check is not None and dump.seconds > 0:
            out["verify_share"] = round(check.seconds / dump.seconds, 4)
        return out

    def run_summary(
        self, *, env: str, started: dt.datetime, finished: dt.datetime, token: str, engine: str
    ) -> RunSummary:
        """The run's ledger line, as a notebook run would leave it (no report of its own)."""
        tool = Finding(Status.OK, f"dump engine: {self.engine} ({self.tool_version})")
        return RunSummary(
            status=self.status,
            headline=self.headline(),
            metrics=self.metrics(),
            findings=(*self.findings, tool),
            notebook=LEDGER_NAME,
            env=env,
            run_id=f"{started:%Y%m%dT%H%M%SZ}-{LEDGER_NAME}-{env}-{token}",
            started_at=rfc3339(started.replace(microsecond=0)),
            finished_at=rfc3339(finished.replace(microsecond=0)),
            duration_s=(finished - started).total_seconds(),
            parameters={"env": env, "engine": engine},
        )


def _folder(config: BackupsConfig, root: Path, resolve: Callable[[str], str]) -> Path:
    if not config.local_dir:
        raise ParameterError(
            "backups take writes the archive to backups.local_dir first: it is not set",
            key="backups.local_dir",
        )
    folder = Path(resolve(config.local_dir))
    folder = folder if folder.is_absolute() else root / folder
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _source_collections(client: Any, database: str) -> dict[str, int]:
    """The source's collections (no views, no ``system.*``) and their estimated counts."""
    from pymongo.errors import PyMongoError

    try:
        db = client[database]
        names = [
            str(spec["name"])
            for spec in db.list_collections()
            if spec.get("type", "collection") == "collection"
            and not str(spec["name"]).startswith("system.")
        ]
        return {name: int(db[name].estimated_document_count()) for name in names}
    except PyMongoError as exc:
        raise mongo_error(exc, query=f"list {database}") from exc


def _judge(report: ArchiveReport, database: str, source: Mapping[str, int]) -> list[Finding]:
    """CRIT findings for an unsound archive; WARN for counts far from the source's estimate."""
    if report.verdict is not Verdict.OK:
        crit = "; ".join(f.title for f in report.findings if f.severity is Status.CRIT)
        return [Finding(Status.CRIT, f"dump fails verification: {report.verdict.value}", crit)]
    held = {c.collection: c.documents for c in report.collections if c.db == database}
    missing = sorted(set(source) - set(held))
    if missing:
        detail = f"the source has them, the archive does not: {', '.join(missing)}"
        return [Finding(Status.CRIT, "dump fails verification: collections missing", detail)]
    out = []
    for name, estimate in sorted(source.items()):
        if estimate and abs(held[name] - estimate) > 0.1 * estimate:
            detail = f"{held[name]:,} documents in the archive, about {estimate:,} in the source"
            out.append(Finding(Status.WARN, f"{name}: archive count far from the source", detail))
    return out


def _upload(path: Path, s3: S3Config, client: Any, resolve: Callable[[str], str]) -> str:
    """Upload the archive then its manifest; checked by a HEAD. Never replaces another object."""
    from boto3.exceptions import Boto3Error
    from botocore.exceptions import BotoCoreError, ClientError

    bucket, prefix = resolve(s3.bucket), resolve(s3.prefix)
    url = f"s3://{bucket}/{prefix}{path.name}"
    size = path.stat().st_size
    with contextlib.suppress(MissingFileError):
        there, _etag, _when = head_object(url, client=client)
        raise SourceError(
            f"{url} already exists ({there:,} bytes): not replaced", source="s3", query=url
        )
    try:
        client.upload_file(str(path), bucket, f"{prefix}{path.name}")
        manifest = manifest_path(path)
        client.upload_file(str(manifest), bucket, f"{prefix}{manifest.name}")
    except WorkbookError:
        raise  # the S3 edge's own, already one line naming S3 (and an OSError: not wrapped)
    except (Boto3Error, BotoCoreError, ClientError, OSError) as exc:
        raise SourceError(f"upload failed: {exc}", source="s3", query=url) from exc
    there, _etag, _when = head_object(url, client=client)
    if there != size:
        raise SourceError(f"uploaded {there:,} of {size:,} bytes", source="s3", query=url)
    return url


def _prune(folder: Path, config: BackupsConfig, now: dt.datetime, keep: str) -> tuple[str, ...]:
    """Remove local backups (and manifests) older than the local retention; never ``keep``."""
    limit = now - dt.timedelta(days=config.local_retention_days)
    old = [
        o
        for o in list_local(folder, pattern=config.name_pattern).objects
        if o.timestamp < limit and o.name != keep
    ]
    for o in old:
        Path(o.location).unlink(missing_ok=True)
        manifest_path(Path(o.location)).unlink(missing_ok=True)
    return tuple(o.name for o in old)


def take_backup(
    environment: Environment,
    *,
    environ: Mapping[str, str],
    root: Path,
    now: dt.datetime,
    engine: str = "auto",
    client: Any = None,
    s3_client: Any = None,
    dump_engine: Engine | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> TakeResult:
    """Take one backup of ``environment``'s database, as the seed's nightly script does.

    ``engine`` is one of :data:`DUMP_ENGINES`; ``now`` (aware) names the backup;
    ``client``/``s3_client``/``dump_engine`` default to ones made from the environment
    (references resolved here, at connection time).
    """
    if engine not in DUMP_ENGINES:
        raise ParameterError(
            f'unknown engine "{engine}", did you mean one of: {", ".join(DUMP_ENGINES)}',
            key="engine",
        )
    config, mongodb = backups_section(environment), environment.mongodb
    if mongodb is None:
        raise ParameterError(
            "no mongodb section: nothing to back up", source=environment.source_file, key="mongodb"
        )

    resolve = environment.resolver(environ)

    name = backup_name(mongodb.database, now)
    if parse_timestamp(name, config.name_pattern) is None:
        raise ParameterError(
            f"the backup would be called {name}, which backups.name_pattern does not match",
            source=environment.source_file,
            key="backups.name_pattern",
        )
    folder = _folder(config, root, resolve)
    uri = environment.secret(mongodb.uri, environ, key="mongodb.uri")
    owned = client is None
    if client is None:
        client = open_client(uri)
    try:
        kind = "mongorestore" if engine == "mongodump" else engine  # the mongo-tools engine
        chosen = dump_engine or make_engine(kind, client=client, uri=uri, root=root)
        if s3_client is None and config.s3 is not None:
            s3_client = client_for(config.s3, resolve=resolve)
        return _take(
            name, folder, mongodb.database, config, chosen,
            client=client, s3_client=s3_client, resolve=resolve, now=now, clock=clock,
        )  # fmt: skip
    finally:
        if owned:
            client.close()


def _take(
    name: str,
    folder: Path,
    database: str,
    config: BackupsConfig,
    engine: Engine,
    *,
    client: Any,
    s3_client: Any,
    resolve: Callable[[str], str],
    now: dt.datetime,
    clock: Callable[[], float],
) -> TakeResult:
    run = PhaseLog(clock)
    target, partial = folder / name, folder / f".{name}.partial"
    kind = "pymongo" if engine.name == "pymongo" else "mongodump"
    result = TakeResult(name, kind, engine.dump_version)
    path: Path | None = None
    url, size, documents, pruned = "", 0, 0, tuple[str, ...]()
    try:
        with run.phase("dump", "dump failed"):
            if target.exists():
                raise SourceError(f"{target} already exists: not replaced", source="backup")
            source = _source_collections(client, database)
            dumped = engine.dump(database, partial, gzip=True)
            run.notes["dump"] = f"{dumped.bytes:,} bytes with {engine.dump_version}"
        with run.phase("verify", "dump could not be verified"):
            report = verify_archive(partial)
            judged = _judge(report, database, source)
            run.findings.extend(judged)
            run.notes["verify"] = f"{report.verdict.value}, {report.documents:,} documents"
        if any(f.severity is Status.CRIT for f in judged):
            raise PhaseFailed
        with run.phase("keep", "verified backup could not be kept"):
            partial.replace(target)
            write_manifest(target, report, now=now)
            path, size, documents = target, target.stat().st_size, report.documents
            run.notes["keep"] = f"{target} and {manifest_path(target).name}"
        if config.s3 is not None:
            with run.phase("upload", "backup not uploaded to S3"):
                url = _upload(target, config.s3, s3_client, resolve)
                run.notes["upload"] = url
        with run.phase("prune", "old local backups could not be pruned"):
            pruned = _prune(folder, config, now, name)
            run.notes["prune"] = f"{len(pruned)} older than {config.local_retention_days} days"
    except PhaseFailed:
        pass
    finally:
        partial.unlink(missing_ok=True)
    return TakeResult(
        result.name, result.engine, result.tool_version, tuple(run.phases), tuple(run.findings),
        path, url, size, documents, pruned,
    )  # fmt: skip
