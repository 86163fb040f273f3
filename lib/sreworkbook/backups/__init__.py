"""Backups: inventory and policy, the mongodump archive reader/verifier, a pure-pymongo writer.

inventory  list local and S3 backups; freshness (RPO), retention, size anomalies
archive    stream-verify a mongodump archive (plain or gzip): counts, CRCs, a verdict
writer     write the same archive format with pymongo alone
manifest   NAME.manifest.json beside a verified archive, so it is not read twice
s3         boto3 client, s3:// URLs, listing and streaming reads
cli        ``sreworkbook backups verify|list``
"""

from __future__ import annotations

from sreworkbook.backups.archive import (
    ArchiveError,
    iter_batches,
    iter_documents,
    read_prelude,
    verify_archive,
)
from sreworkbook.backups.inventory import (
    BackupObject,
    Inventory,
    PolicyReport,
    Tier,
    collect,
    evaluate_policy,
    list_local,
    list_s3,
    parse_timestamp,
)
from sreworkbook.backups.manifest import CachedVerification, Manifest, verify_cached
from sreworkbook.backups.report import (
    ArchiveHeader,
    ArchiveReport,
    CollectionMetadata,
    CollectionReport,
    Prelude,
    Verdict,
)
from sreworkbook.backups.writer import CollectionDump, WriteResult, dump_database, write_archive

__all__ = [
    "ArchiveError",
    "ArchiveHeader",
    "ArchiveReport",
    "BackupObject",
    "CachedVerification",
    "CollectionDump",
    "CollectionMetadata",
    "CollectionReport",
    "Inventory",
    "Manifest",
    "PolicyReport",
    "Prelude",
    "Tier",
    "Verdict",
    "WriteResult",
    "collect",
    "dump_database",
    "evaluate_policy",
    "iter_batches",
    "iter_documents",
    "list_local",
    "list_s3",
    "parse_timestamp",
    "read_prelude",
    "verify_archive",
    "verify_cached",
    "write_archive",
]
