"""Verify every backup of an inventory, reusing what was verified before.

Local copies keep their manifest beside them (:func:`~sreworkbook.backups.manifest.verify_cached`).
S3 copies are streamed, never downloaded whole, and their manifests are kept in a local cache
folder keyed by the object's URL and checked against its ETag and size, so nothing is ever
written to the backup bucket and a replaced object is read again.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sreworkbook.backups.archive import verify_archive
from sreworkbook.backups.inventory import BackupObject, Tier
from sreworkbook.backups.manifest import Manifest, verify_cached
from sreworkbook.backups.report import ArchiveReport, Verdict
from sreworkbook.backups.s3 import head_object, open_object
from sreworkbook.exceptions import WorkbookError
from sreworkbook.results import Finding, Status

__all__ = ["BackupVerification", "VerificationSummary", "verify_backup", "verify_inventory"]


@dataclass(frozen=True)
class BackupVerification:
    """One copy's verification: its verdict (None when it could not be read at all)."""

    backup: BackupObject
    verdict: Verdict | None
    documents: int = 0
    findings: tuple[Finding, ...] = ()
    from_cache: bool = False
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.verdict is Verdict.OK

    @property
    def label(self) -> str:
        return self.verdict.value if self.verdict is not None else "unreadable"

    @property
    def reason(self) -> str:
        if self.error:
            return self.error
        crit = [f for f in self.findings if f.severity is Status.CRIT]
        return "; ".join(f.title + (f" ({f.detail})" if f.detail else "") for f in crit[:2])


@dataclass(frozen=True)
class VerificationSummary:
    """Every copy verified, oldest first."""

    results: tuple[BackupVerification, ...]

    @property
    def verified(self) -> int:
        return len(self.results)

    @property
    def corrupt(self) -> int:
        """Copies that are not sound: corrupt, incomplete, not an archive, or unreadable."""
        return sum(1 for r in self.results if not r.ok)

    @property
    def bad(self) -> tuple[BackupVerification, ...]:
        return tuple(r for r in self.results if not r.ok)

    def bad_names(self) -> frozenset[str]:
        """Backups with no sound copy: they do not count as fresh for the RPO."""
        good = {r.backup.name for r in self.results if r.ok}
        return frozenset(r.backup.name for r in self.results if r.backup.name not in good)

    def verdict_of(self, backup: BackupObject) -> BackupVerification | None:
        return next((r for r in self.results if r.backup == backup), None)

    def findings(self) -> tuple[Finding, ...]:
        """A WARN per unsound copy (the drill judges the one it restores)."""
        return tuple(
            Finding(
                Status.WARN,
                f"{r.backup.name} ({r.backup.tier}) fails verification: {r.label}",
                r.reason,
            )
            for r in self.bad
        )

    def rows(self) -> list[dict[str, Any]]:
        return [
            {
                "backup": r.backup.name,
                "tier": r.backup.tier.value,
                "verdict": r.label,
                "documents": r.documents,
                "from manifest": "yes" if r.from_cache else "",
                "problem": r.reason,
            }
            for r in self.results
        ]


def _cache_file(cache_dir: Path, url: str) -> Path:
    return cache_dir / (hashlib.sha256(url.encode()).hexdigest()[:32] + ".manifest.json")


def _from_report(
    backup: BackupObject, report: ArchiveReport, *, cached: bool
) -> BackupVerification:
    return BackupVerification(
        backup, report.verdict, report.documents, report.findings, from_cache=cached
    )


def _verify_s3(
    backup: BackupObject, *, client: Any, cache_dir: Path | None, now: dt.datetime
) -> BackupVerification:
    size, etag, modified = head_object(backup.location, client=client)
    cache = _cache_file(cache_dir, backup.location) if cache_dir is not None else None
    if cache is not None and cache.is_file():
        try:
            data = json.loads(cache.read_text(encoding="utf-8"))
            manifest = Manifest.from_json_dict(data)
            if (data.get("etag"), manifest.size) == (etag, size):
                return _from_report(backup, manifest.report, cached=True)
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            pass
    with open_object(backup.location, client=client) as stream:
        report = verify_archive(stream)
    if cache is not None:
        mtime_ns = int(modified.timestamp() * 1e9) if modified else 0
        manifest = Manifest(backup.location, size, mtime_ns, now, report)
        try:
            cache.parent.mkdir(parents=True, exist_ok=True)
            partial = cache.with_suffix(".partial")
            partial.write_text(
                json.dumps({**manifest.to_json_dict(), "etag": etag}), encoding="utf-8"
            )
            partial.replace(cache)
        except OSError:
            pass  # a cache that cannot be written costs a re-read next time, nothing else
    return _from_report(backup, report, cached=False)


def verify_backup(
    backup: BackupObject, *, s3_client: Any = None, cache_dir: Path | None = None, now: dt.datetime
) -> BackupVerification:
    """Verify one copy; a copy that cannot be read is a result, not an exception."""
    try:
        if backup.tier is Tier.LOCAL:
            cached = verify_cached(Path(backup.location), now=now)
            return _from_report(backup, cached.report, cached=cached.from_cache)
        if s3_client is None:
            return BackupVerification(backup, None, error="no S3 client to read it with")
        return _verify_s3(backup, client=s3_client, cache_dir=cache_dir, now=now)
    except WorkbookError as exc:
        return BackupVerification(backup, None, error=str(exc))


def verify_inventory(
    objects: Iterable[BackupObject],
    *,
    now: dt.datetime,
    s3_client: Any = None,
    cache_dir: Path | None = None,
    workers: int = 4,
) -> VerificationSummary:
    """Verify every copy in ``objects`` (``workers`` at a time), oldest first."""
    items = sorted(objects, key=lambda o: (o.timestamp, o.tier))
    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="verify") as pool:
        results = list(
            pool.map(
                lambda o: verify_backup(o, s3_client=s3_client, cache_dir=cache_dir, now=now), items
            )
        )
    return VerificationSummary(tuple(results))
