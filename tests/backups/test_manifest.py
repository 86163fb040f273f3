"""Manifests beside verified archives: reuse while unchanged, re-read when changed."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

import pytest

from sreworkbook.backups import manifest as manifest_module
from sreworkbook.backups.manifest import load_manifest, manifest_path, verify_cached
from sreworkbook.backups.report import Verdict
from sreworkbook.exceptions import MissingFileError, ParameterError

from ._archives import interleaved

NOW = dt.datetime(2025, 11, 10, 3, 0, tzinfo=dt.UTC)


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    path = tmp_path / "tradeai_backup_20251110_020000.archive.gz"
    path.write_bytes(interleaved().gzipped())
    return path


def test_public_names() -> None:
    assert "verify_cached" in manifest_module.__all__ and "Manifest" in manifest_module.__all__


def test_first_run_reads_and_writes_the_manifest(archive: Path) -> None:
    result = verify_cached(archive, now=NOW)
    assert not result.from_cache and result.manifest_error is None
    assert result.manifest_path == archive.with_name(archive.name + ".manifest.json")
    data = json.loads(manifest_path(archive).read_text())
    assert data["verdict"] == "ok" and data["documents"] == 56
    assert data["size"] == archive.stat().st_size and data["verified_at"] == NOW.isoformat()
    assert [c["collection"] for c in data["collections"]] == ["orders", "users", "empty"]


def test_unchanged_archive_is_not_read_again(
    archive: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = verify_cached(archive, now=NOW)

    def boom(*args: object, **kwargs: object) -> None:
        raise AssertionError("the archive was read again")

    monkeypatch.setattr(manifest_module, "verify_archive", boom)
    again = verify_cached(archive, now=NOW + dt.timedelta(hours=1))
    assert again.from_cache
    assert again.report == first.report
    assert again.manifest.verified_at == NOW


def test_changed_archive_is_read_again(archive: Path) -> None:
    verify_cached(archive, now=NOW)
    data = bytearray(archive.read_bytes())
    archive.write_bytes(bytes(data[:-20]))
    result = verify_cached(archive, now=NOW)
    assert not result.from_cache
    assert result.report.verdict is not Verdict.OK


def test_touched_archive_is_read_again_and_force_reads(archive: Path) -> None:
    verify_cached(archive, now=NOW)
    stat = archive.stat()
    os.utime(archive, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert not verify_cached(archive, now=NOW).from_cache
    assert verify_cached(archive, now=NOW).from_cache
    assert not verify_cached(archive, now=NOW, force=True).from_cache


def test_corrupt_or_foreign_manifest_is_ignored(archive: Path) -> None:
    manifest_path(archive).write_text("{not json")
    assert load_manifest(archive) is None
    assert not verify_cached(archive, now=NOW).from_cache
    data = json.loads(manifest_path(archive).read_text())
    data["reader"] = 999
    manifest_path(archive).write_text(json.dumps(data))
    assert not verify_cached(archive, now=NOW).from_cache


def test_unwritable_manifest_still_verifies(archive: Path) -> None:
    manifest_path(archive).mkdir()  # a directory where the manifest should go: writes fail
    result = verify_cached(archive, now=NOW)
    assert result.report.verdict is Verdict.OK
    assert result.manifest_error and "cannot write manifest" in result.manifest_error
    assert not list(archive.parent.glob("*.partial"))


def test_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(MissingFileError):
        verify_cached(tmp_path / "missing.archive.gz", now=NOW)
    with pytest.raises(ParameterError):
        verify_cached(tmp_path, now=dt.datetime(2025, 1, 1))
