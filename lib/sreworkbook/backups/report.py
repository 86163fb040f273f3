"""Typed results of reading a mongodump archive: the verdict, per-collection reports, prelude."""

from __future__ import annotations

import html
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sreworkbook.results import Finding, Status, record

__all__ = [
    "ArchiveHeader",
    "ArchiveReport",
    "CollectionMetadata",
    "CollectionReport",
    "Prelude",
    "Verdict",
]


class Verdict(StrEnum):
    """What a verification concluded about an archive, worst last."""

    OK = "ok"
    INCOMPLETE = "incomplete"
    CORRUPT = "corrupt"
    NOT_AN_ARCHIVE = "not-an-archive"

    @property
    def status(self) -> Status:
        """OK for a sound archive, CRIT for anything else."""
        return Status.OK if self is Verdict.OK else Status.CRIT

    @property
    def exit_code(self) -> int:
        return 0 if self is Verdict.OK else 1


@dataclass(frozen=True)
class ArchiveHeader:
    """The archive header: format version, source server version, dumping tool version."""

    version: str = ""
    server_version: str = ""
    tool_version: str = ""
    concurrent_collections: int = 0


@dataclass(frozen=True)
class CollectionMetadata:
    """One prelude entry: a collection the archive promises, with its metadata JSON."""

    db: str
    collection: str
    metadata: str = ""
    type: str = ""
    size: int = 0

    @property
    def namespace(self) -> str:
        return f"{self.db}.{self.collection}"

    @property
    def data_collections(self) -> tuple[str, ...]:
        """Collection names whose blocks carry this entry's data (timeseries: the buckets)."""
        if self.type == "timeseries":
            return (f"system.buckets.{self.collection}", self.collection)
        return (self.collection,)


@dataclass(frozen=True)
class Prelude:
    """The header and collection list at the start of an archive."""

    header: ArchiveHeader
    collections: tuple[CollectionMetadata, ...]

    def find(self, db: str, collection: str) -> CollectionMetadata | None:
        """The entry whose data lives in ``db.collection``, if any."""
        for entry in self.collections:
            if entry.db == db and collection in entry.data_collections:
                return entry
        return None


@dataclass(frozen=True)
class CollectionReport:
    """What was found for one namespace: counts and the CRC check of its documents."""

    db: str
    collection: str
    documents: int
    bytes: int
    crc_expected: int | None
    crc_actual: int
    crc_ok: bool
    complete: bool
    listed: bool = True
    type: str = ""

    @property
    def namespace(self) -> str:
        return f"{self.db}.{self.collection}"

    def to_json_dict(self) -> dict[str, Any]:
        return record(self)

    @classmethod
    def from_json_dict(cls, data: Mapping[str, Any]) -> CollectionReport:
        expected = data.get("crc_expected")
        return cls(
            db=str(data["db"]),
            collection=str(data["collection"]),
            documents=int(data["documents"]),
            bytes=int(data.get("bytes", 0)),
            crc_expected=None if expected is None else int(expected),
            crc_actual=int(data.get("crc_actual", 0)),
            crc_ok=bool(data["crc_ok"]),
            complete=bool(data.get("complete", data["crc_ok"])),
            listed=bool(data.get("listed", True)),
            type=str(data.get("type", "")),
        )


@dataclass(frozen=True)
class ArchiveReport:
    """The verdict on one archive, per-collection reports in archive order, and findings."""

    verdict: Verdict
    collections: tuple[CollectionReport, ...]
    findings: tuple[Finding, ...]
    bytes_read: int
    compressed: bool
    uncompressed_bytes: int = 0
    header: ArchiveHeader | None = None

    @property
    def status(self) -> Status:
        return self.verdict.status

    @property
    def documents(self) -> int:
        return sum(c.documents for c in self.collections)

    def collection(self, namespace: str) -> CollectionReport | None:
        """The report for ``db.collection``, if the archive holds it."""
        return next((c for c in self.collections if c.namespace == namespace), None)

    def to_json_dict(self) -> dict[str, Any]:
        """``{"verdict", "collections": [{"db", "collection", "documents", "crc_ok", ...}],
        "findings": [{"severity", "title", "detail"}]}``: the ``backups verify --json`` object."""
        return {
            "verdict": self.verdict.value,
            "collections": [c.to_json_dict() for c in self.collections],
            "findings": [f.to_dict() for f in self.findings],
        }

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><td>{html.escape(c.namespace)}</td><td style='text-align:right'>"
            f"{c.documents:,}</td><td>{'✓' if c.crc_ok else '✗'}</td>"
            f"<td>{'yes' if c.complete else 'no'}</td></tr>"
            for c in self.collections
        )
        findings = "".join(
            f"<li><b>{f.severity.value}</b> {html.escape(f.title)}"
            f"{' — ' + html.escape(f.detail) if f.detail else ''}</li>"
            for f in self.findings
        )
        return (
            f"<div><b>verdict: {self.verdict.value}</b>"
            "<table><tr><th>namespace</th><th>documents</th><th>CRC</th><th>complete</th></tr>"
            f"{rows}</table>{'<ul>' + findings + '</ul>' if findings else ''}</div>"
        )
