"""Manifests kept beside verified archives, so that an unchanged archive is not read twice.

``NAME.manifest.json`` beside ``NAME`` holds the verification: verdict, per-collection counts
and CRCs, findings, sizes, the archive's size and modification time, and when it was verified.
:func:`verify_cached` reuses it while the archive's size and mtime are unchanged.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sreworkbook.backups.archive import verify_archive
from sreworkbook.backups.report import ArchiveHeader, ArchiveReport, CollectionReport, Verdict
from sreworkbook.exceptions import MissingFileError, OutputError, ParameterError
from sreworkbook.results import Finding

__all__ = [
    "MANIFEST_SUFFIX",
    "CachedVerification",
    "Manifest",
    "load_manifest",
    "manifest_path",
    "verify_cached",
    "write_manifest",
]

MANIFEST_SUFFIX = ".manifest.json"
_FORMAT = 1
#: Bump when the reader's judgement changes, so that old manifests are not trusted.
READER_VERSION = 1


def manifest_path(archive: Path) -> Path:
    """Where the manifest of ``archive`` lives: ``NAME.manifest.json`` beside it."""
    return archive.with_name(archive.name + MANIFEST_SUFFIX)


@dataclass(frozen=True)
class Manifest:
    """A verification of one archive as stored beside it."""

    archive: str
    size: int
    mtime_ns: int
    verified_at: dt.datetime
    report: ArchiveReport

    def matches(self, path: Path) -> bool:
        """True when ``path`` still has the name, size and mtime that were verified."""
        try:
            stat = path.stat()
        except OSError:
            return False
        return (path.name, stat.st_size, stat.st_mtime_ns) == (
            self.archive,
            self.size,
            self.mtime_ns,
        )

    def to_json_dict(self) -> dict[str, Any]:
        report = self.report
        header = report.header
        return {
            "format": _FORMAT,
            "reader": READER_VERSION,
            "archive": self.archive,
            "size": self.size,
            "mtime_ns": self.mtime_ns,
            "verified_at": self.verified_at.isoformat(),
            **report.to_json_dict(),
            "documents": report.documents,
            "bytes_read": report.bytes_read,
            "uncompressed_bytes": report.uncompressed_bytes,
            "compressed": report.compressed,
            "header": None if header is None else vars(header).copy(),
        }

    @classmethod
    def from_json_dict(cls, data: Mapping[str, Any]) -> Manifest:
        """A manifest from its JSON; ``ValueError``/``KeyError``/``TypeError`` if malformed."""
        if data.get("format") != _FORMAT or data.get("reader") != READER_VERSION:
            raise ValueError("manifest from another format or reader version")
        header = data.get("header")
        report = ArchiveReport(
            verdict=Verdict(data["verdict"]),
            collections=tuple(CollectionReport.from_json_dict(c) for c in data["collections"]),
            findings=tuple(Finding.from_dict(f) for f in data["findings"]),
            bytes_read=int(data["bytes_read"]),
            compressed=bool(data["compressed"]),
            uncompressed_bytes=int(data.get("uncompressed_bytes", 0)),
            header=ArchiveHeader(**header) if isinstance(header, dict) else None,
        )
        verified_at = dt.datetime.fromisoformat(str(data["verified_at"]))
        return cls(
            str(data["archive"]), int(data["size"]), int(data["mtime_ns"]), verified_at, report
        )


def load_manifest(archive: Path) -> Manifest | None:
    """The manifest beside ``archive``, or None if there is none or it cannot be trusted."""
    try:
        data = json.loads(manifest_path(archive).read_text(encoding="utf-8"))
        return Manifest.from_json_dict(data)
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def write_manifest(
    archive: Path, report: ArchiveReport, *, now: dt.datetime, stat: os.stat_result | None = None
) -> Manifest:
    """Store ``report`` beside ``archive`` (atomically); :class:`OutputError` if it cannot.

    ``stat`` should be the archive's stat taken *before* it was read, so that a file changed
    during the read is not recorded as verified.
    """
    stat = stat or archive.stat()
    manifest = Manifest(archive.name, stat.st_size, stat.st_mtime_ns, now, report)
    target = manifest_path(archive)
    partial = target.with_name(target.name + ".partial")
    try:
        partial.write_text(json.dumps(manifest.to_json_dict(), indent=1) + "\n", encoding="utf-8")
        partial.replace(target)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise OutputError(f"cannot write manifest {target}: {exc}") from exc
    return manifest


@dataclass(frozen=True)
class CachedVerification:
    """The report for an archive, and whether it came from its manifest."""

    report: ArchiveReport
    manifest: Manifest
    from_cache: bool
    manifest_path: Path
    #: Why the manifest could not be written, if it could not (the report stands regardless).
    manifest_error: str | None = None


def verify_cached(path: Path, *, now: dt.datetime, force: bool = False) -> CachedVerification:
    """Verify the archive at ``path`` unless its manifest already covers it unchanged.

    ``now`` (timezone-aware) is recorded as ``verified_at``. ``force`` reads it regardless.
    A missing archive raises :class:`~sreworkbook.exceptions.MissingFileError`.
    """
    if now.tzinfo is None:
        raise ParameterError("must be timezone-aware", key="now")
    if not path.is_file():
        raise MissingFileError(str(path), what="archive")
    target = manifest_path(path)
    if not force and (cached := load_manifest(path)) is not None and cached.matches(path):
        return CachedVerification(cached.report, cached, True, target)
    before = path.stat()
    report = verify_archive(path)
    unchanged = _same_file(before, path)
    try:
        if not unchanged:
            raise OutputError(f"{path} changed while it was read: not recorded as verified")
        manifest = write_manifest(path, report, now=now, stat=before)
        return CachedVerification(report, manifest, False, target)
    except OutputError as exc:
        manifest = Manifest(path.name, before.st_size, before.st_mtime_ns, now, report)
        return CachedVerification(report, manifest, False, target, str(exc))


def _same_file(before: os.stat_result, path: Path) -> bool:
    try:
        after = path.stat()
    except OSError:
        return False
    return (before.st_size, before.st_mtime_ns) == (after.st_size, after.st_mtime_ns)
