"""Backups: inventory and policy, the archive reader/verifier, engines, the restore drill.

inventory     list local and S3 backups; freshness (RPO), retention, size anomalies
archive       stream-verify a mongodump archive (plain or gzip): counts, CRCs, a verdict
writer        write the same archive format with pymongo alone
manifest      NAME.manifest.json beside a verified archive, so it is not read twice
verification  verify every copy of an inventory (local manifests, S3 manifest cache)
s3            boto3 client, s3:// URLs, listing, streaming reads and downloads
engines       dump/restore: pure pymongo, or the real mongodump/mongorestore (and their versions)
target        what the restore target can hold (probed, mongorestore's "ns" too), the restore plan
fingerprint   order-free content hashes of collections, in archives and databases
drill         the restore drill into a scratch database; drill_report its typed result
assess        inventory + verification + policy + drill, for the notebook; view draws it
take          the nightly backup: dump, verify, keep with its manifest, upload, prune
runbook       the backup-failure runbook's steps
cli           ``sreworkbook backups verify|list|take``
"""

from __future__ import annotations

from sreworkbook.backups.archive import (
    ArchiveError,
    iter_batches,
    iter_documents,
    read_prelude,
    verify_archive,
)
from sreworkbook.backups.assess import BackupAssessment, assess_backups
from sreworkbook.backups.drill import DrillOptions, check_scratch, run_drill, select_backup
from sreworkbook.backups.drill_report import CollectionComparison, DrillResult, Phase
from sreworkbook.backups.engines import (
    DumpOutcome,
    Engine,
    MongorestoreEngine,
    PymongoEngine,
    RestoreOutcome,
    make_engine,
)
from sreworkbook.backups.fingerprint import Fingerprint, fingerprint_archive, fingerprint_database
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
from sreworkbook.backups.take import TakeResult, take_backup
from sreworkbook.backups.target import RestorePlan, plan_restore
from sreworkbook.backups.verification import VerificationSummary, verify_inventory
from sreworkbook.backups.writer import CollectionDump, WriteResult, dump_database, write_archive

__all__ = [
    "ArchiveError",
    "ArchiveHeader",
    "ArchiveReport",
    "BackupAssessment",
    "BackupObject",
    "CachedVerification",
    "CollectionComparison",
    "CollectionDump",
    "CollectionMetadata",
    "CollectionReport",
    "DrillOptions",
    "DrillResult",
    "DumpOutcome",
    "Engine",
    "Fingerprint",
    "Inventory",
    "Manifest",
    "MongorestoreEngine",
    "Phase",
    "PolicyReport",
    "Prelude",
    "PymongoEngine",
    "RestoreOutcome",
    "RestorePlan",
    "TakeResult",
    "Tier",
    "Verdict",
    "VerificationSummary",
    "WriteResult",
    "assess_backups",
    "check_scratch",
    "collect",
    "dump_database",
    "evaluate_policy",
    "fingerprint_archive",
    "fingerprint_database",
    "iter_batches",
    "iter_documents",
    "list_local",
    "list_s3",
    "make_engine",
    "parse_timestamp",
    "plan_restore",
    "read_prelude",
    "run_drill",
    "select_backup",
    "take_backup",
    "verify_archive",
    "verify_cached",
    "verify_inventory",
    "write_archive",
]
