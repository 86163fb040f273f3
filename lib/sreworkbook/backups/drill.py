"""The restore drill: take a backup, verify it, restore it into a scratch database, compare.

Phases (each timed; together the RTO): **download** (S3 → a temporary folder), **verify**
(the archive's own counts and CRCs), **restore** (into the scratch database, after probing
what the target can hold), **compare** (per collection, count and order-free content hash of
the restored data against the archive, and against the live source when asked). Then the
scratch database is dropped, whatever happened before.

Safety is structural. Before anything is written the drill refuses a scratch name that does
not match the configured pattern, that is the source database, a system database or any
database the archive holds, and a scratch database that is not empty unless told to replace
it. Only the scratch database is ever written to or dropped.
"""

from __future__ import annotations

import re
import tempfile
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sreworkbook.backups.archive import read_prelude, verify_archive
from sreworkbook.backups.drill_report import (
    CollectionComparison,
    DrillResult,
    Phase,
    PhaseFailed,
    PhaseLog,
)
from sreworkbook.backups.engines import Engine
from sreworkbook.backups.fingerprint import Fingerprint, fingerprint_archive, fingerprint_database
from sreworkbook.backups.inventory import BackupObject, Inventory, Tier
from sreworkbook.backups.report import ArchiveReport, Verdict
from sreworkbook.backups.s3 import download
from sreworkbook.backups.target import RestorePlan, describe_server, plan_restore
from sreworkbook.config import BackupsConfig
from sreworkbook.edges.mongo import mongo_error
from sreworkbook.exceptions import ArchiveError, ParameterError, SourceTimeout
from sreworkbook.results import Finding, Status

__all__ = ["PROTECTED_DATABASES", "DrillOptions", "check_scratch", "run_drill", "select_backup"]

#: Databases no drill ever writes to, whatever the pattern says.
PROTECTED_DATABASES = frozenset({"admin", "local", "config"})
_TIERS = ("auto", "s3", "local")


@dataclass(frozen=True)
class DrillOptions:
    """What to drill and where: the backup (newest if empty), the scratch database, checks."""

    source_database: str
    scratch_database: str = "tradeai_restore_test"
    scratch_pattern: str = r".+_restore_test"
    backup: str = ""
    #: Which copy: ``auto`` takes the S3 copy when there is one (what a lost server leaves).
    tier: str = "auto"
    compare_live: bool = False
    replace_scratch: bool = False

    @classmethod
    def from_config(
        cls, config: BackupsConfig, *, source_database: str, **overrides: Any
    ) -> DrillOptions:
        """Options from the environment's ``backups`` section, with ``overrides`` on top."""
        base: dict[str, Any] = {
            "source_database": source_database,
            "scratch_database": config.scratch_database,
            "scratch_pattern": config.scratch_pattern,
        }
        return cls(**{**base, **overrides})


def check_scratch(scratch: str, *, pattern: str, protected: Collection[str]) -> None:
    """Raise :class:`ParameterError` unless ``scratch`` is a name a drill may write to."""
    try:
        matches = re.fullmatch(pattern, scratch) is not None
    except re.error as exc:
        raise ParameterError(f"not a valid pattern: {exc}", key="backups.scratch_pattern") from exc
    if not scratch or not matches:
        raise ParameterError(
            f"refusing to restore into {scratch!r}: the name does not match the scratch "
            f"pattern {pattern!r}",
            key="backups.scratch_database",
        )
    if scratch in protected or scratch in PROTECTED_DATABASES:
        raise ParameterError(
            f"refusing to restore into {scratch!r}: it is a source or system database",
            key="backups.scratch_database",
        )


def select_backup(
    inventory: Inventory, *, name: str = "", tier: str = "auto"
) -> BackupObject | None:
    """The copy to drill: of backup ``name`` (else the newest), from ``tier``.

    None when the inventory is empty; :class:`ParameterError` for an unknown name or tier.
    """
    if tier not in _TIERS:
        raise ParameterError(f"unknown tier {tier!r}, did you mean one of: {', '.join(_TIERS)}")
    copies = [o for o in inventory.objects if tier == "auto" or o.tier.value == tier]
    if name:
        copies = [o for o in copies if o.name == name]
        if not copies:
            raise ParameterError(f"no backup named {name!r} in the inventory", key="backup")
    if not copies:
        return None
    newest = max(copies, key=lambda o: o.timestamp)
    same = [o for o in copies if o.name == newest.name]
    return next((o for o in same if o.tier is Tier.S3), same[0])


@dataclass
class _Run(PhaseLog):
    """The drill's running record: phases, findings, notes, and the verification report."""

    report: ArchiveReport | None = None


def _fetch(backup: BackupObject, folder: Path, s3_client: Any) -> Path:
    if backup.tier is Tier.LOCAL:
        return Path(backup.location)
    if s3_client is None:
        raise ParameterError("an S3 client is needed to download " + backup.location)
    target = folder / backup.name
    with target.open("wb") as handle:
        download(backup.location, handle, client=s3_client)
    return target


def _source_db(path: Path, wanted: str) -> tuple[str, set[str]]:
    dbs = {e.db for e in read_prelude(path).collections}
    if wanted in dbs or not dbs:
        return wanted, dbs
    if len(dbs) == 1:
        return next(iter(dbs)), dbs
    raise ParameterError(f"the archive holds {sorted(dbs)}, not {wanted!r}", key="source_database")


def _compare(
    run: _Run, path: Path, plan: RestorePlan, client: Any, options: DrillOptions
) -> list[CollectionComparison]:
    archive = fingerprint_archive(path, database=plan.source_db)
    restored = fingerprint_database(client, options.scratch_database)
    live = fingerprint_database(client, plan.source_db) if options.compare_live else {}
    out = []
    for name, expected in archive.items():
        entry = plan.get(name)
        if entry is not None and entry.is_view:
            continue
        if entry is None or not entry.restore:
            out.append(
                CollectionComparison(
                    name, expected, None, live.get(name), "not restored: target limit"
                )
            )
            continue
        got = restored.get(name, Fingerprint())
        out.append(CollectionComparison(name, expected, got, live.get(name)))
    for name in sorted(set(restored) - set(archive)):
        out.append(
            CollectionComparison(name, Fingerprint(), restored[name], None, "not in the archive")
        )
    for c in out:
        if c.compared and not c.matches:
            got = c.restored or Fingerprint()
            detail = (
                f"restored {got.documents:,} documents, the archive holds {c.archive.documents:,}"
                if got.documents != c.archive.documents
                else f"same count ({got.documents:,}) but the content hash differs"
            )
            run.findings.append(
                Finding(
                    Status.CRIT, f"{c.collection}: restored data does not match the archive", detail
                )
            )
    if options.compare_live:
        _live_findings(run, out, set(live) - set(archive))
    run.notes["compare"] = (
        f"{sum(c.matches for c in out)}/{sum(c.compared for c in out)} collections match"
    )
    return out


def _live_findings(run: _Run, comparisons: list[CollectionComparison], extra: set[str]) -> None:
    for name in sorted(extra):
        run.findings.append(Finding(Status.WARN, f"live collection {name} is not in the backup"))
    moved = [c.collection for c in comparisons if c.live_matches is False]
    if moved:
        run.findings.append(
            Finding(
                Status.OK,
                f"the live source has changed since the backup in {len(moved)} collection(s)",
                ", ".join(moved),
            )
        )


def _drop(client: Any, name: str) -> bool:
    from pymongo.errors import PyMongoError

    try:
        client.drop_database(name)
        return name not in client.list_database_names()
    except PyMongoError:
        return False


def run_drill(
    inventory: Inventory,
    *,
    client: Any,
    engine: Engine,
    options: DrillOptions,
    s3_client: Any = None,
    workdir: Path | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> DrillResult:
    """Drill the chosen backup of ``inventory`` and return what happened.

    Nothing on the server is touched until every safety rule passed: the scratch name is
    checked against the pattern and the source first, the archive is fetched and verified,
    its own databases are checked too, then the scratch database must be empty (or
    ``replace_scratch``). From then on the scratch database is the drill's, and it is
    dropped at the end whatever happens. Expected failures become CRIT findings, not
    exceptions; an unknown backup name or tier raises :class:`ParameterError`.
    """
    backup = select_backup(inventory, name=options.backup, tier=options.tier)
    result = DrillResult(
        backup,
        engine.name,
        options.source_database,
        options.scratch_database,
        tool_version=engine.version,
    )
    if backup is None:
        return _with(result, findings=(Finding(Status.CRIT, "no backup to restore"),))
    try:
        check_scratch(
            options.scratch_database,
            pattern=options.scratch_pattern,
            protected={options.source_database},
        )
    except ParameterError as exc:
        return _refused(result, str(exc))
    run = _Run(clock)
    with tempfile.TemporaryDirectory(prefix="sreworkbook-drill-", dir=workdir) as folder:
        try:
            path = _fetch_and_verify(run, backup, Path(folder), s3_client)
            source_db, held = _source_db(path, options.source_database)
            check_scratch(
                options.scratch_database,
                pattern=options.scratch_pattern,
                protected=held | {source_db, options.source_database},
            )
        except PhaseFailed:
            return _with(result, phases=tuple(run.phases), findings=tuple(run.findings),
                         verification=run.report)  # fmt: skip
        except (ParameterError, ArchiveError) as exc:
            return _with(
                _refused(result, str(exc)), phases=tuple(run.phases), verification=run.report
            )
        return _own_and_restore(run, result, path, source_db, client, engine, options)


def _fetch_and_verify(run: _Run, backup: BackupObject, folder: Path, s3_client: Any) -> Path:
    """Download (from S3) and verify; a failure is recorded and raises :class:`PhaseFailed`."""
    with run.phase("download", "backup could not be downloaded"):
        path = _fetch(backup, folder, s3_client)
        run.notes["download"] = f"{path.stat().st_size:,} bytes" + (
            " (local copy, nothing to download)" if backup.tier is Tier.LOCAL else ""
        )
    with run.phase("verify", "backup failed verification"):
        report = run.report = verify_archive(path)
        run.notes["verify"] = f"{report.verdict.value}, {report.documents:,} documents"
        if report.verdict is not Verdict.OK:
            detail = "; ".join(f.title for f in report.findings if f.severity is Status.CRIT)
            raise ArchiveError(detail, source=backup.name, verdict=report.verdict.value)
    return path


def _own_and_restore(
    run: _Run,
    result: DrillResult,
    path: Path,
    source_db: str,
    client: Any,
    engine: Engine,
    options: DrillOptions,
) -> DrillResult:
    """Check the scratch database is free, then restore, compare, and always drop it."""
    from pymongo.errors import PyMongoError

    scratch = options.scratch_database
    try:
        existing = client[scratch].list_collection_names()
    except PyMongoError as exc:
        error = mongo_error(exc, query=f"list {scratch}")
        # Refused: the target is down (a verdict). No answer: nothing was measured.
        severity = Status.UNKNOWN if isinstance(error, SourceTimeout) else Status.CRIT
        run.findings.append(Finding(severity, "restore target unreachable", str(error)))
        return _with(result, phases=tuple(run.phases), findings=tuple(run.findings),
                     verification=run.report)  # fmt: skip
    if existing and not options.replace_scratch:
        why = (
            f"scratch database {scratch!r} is not empty ({len(existing)} collections, e.g. "
            f"{sorted(existing)[0]}); drop it or run with replace_scratch=True"
        )
        return _with(_refused(result, why), phases=tuple(run.phases), verification=run.report)
    comparisons: list[CollectionComparison] = []
    server = ""
    try:  # from here on the scratch database is the drill's own
        if existing:
            client.drop_database(scratch)
        with run.phase("restore", "restore failed"):
            server = describe_server(client)
            plan = plan_restore(
                read_prelude(path), source_db, target=client[scratch],
                timeseries=engine.timeseries, tool_ns=engine.tool_ns, server=server,
            )  # fmt: skip
            run.findings.extend(plan.findings())
            outcome = engine.restore(path, plan, target_db=scratch)
            run.findings.extend(outcome.findings)
            run.notes["restore"] = (
                f"{outcome.total_documents:,} documents, {outcome.indexes_built} indexes "
                f"(of which {outcome.index_seconds:.1f} s) with {engine.version} into {server}"
            )
        with run.phase("compare", "restored data could not be compared"):
            comparisons = _compare(run, path, plan, client, options)
    except PhaseFailed:
        pass
    except PyMongoError as exc:
        run.findings.append(Finding(Status.CRIT, "restore target failed", str(exc)[:300]))
    finally:
        began = run.clock()
        dropped = _drop(client, scratch)
        status = Status.OK if dropped else Status.CRIT
        note = f"dropped {scratch}" if dropped else f"{scratch} could NOT be dropped"
        run.phases.append(Phase("cleanup", run.clock() - began, status, note))
        if not dropped:
            run.findings.append(Finding(Status.CRIT, f"scratch database {scratch} not dropped"))
    return _with(
        result,
        phases=tuple(run.phases),
        collections=tuple(comparisons),
        findings=tuple(run.findings),
        verification=run.report,
        server=server,
        scratch_dropped=dropped,
    )


def _with(result: DrillResult, **changes: Any) -> DrillResult:
    from dataclasses import replace

    return replace(result, **changes)


def _refused(result: DrillResult, why: str) -> DrillResult:
    return _with(result, refused=True, findings=(Finding(Status.CRIT, "drill refused", why),))
