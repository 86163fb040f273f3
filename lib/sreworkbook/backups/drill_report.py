"""Typed results of a restore drill: timed phases, per-collection comparison, the verdict.

:class:`PhaseLog` is the running record both the drill and ``backups take`` keep: each
``with log.phase(name, failure):`` is timed; a workbook error or ``OSError`` inside it becomes a
CRIT phase and finding, and :class:`PhaseFailed` stops the run.
"""

from __future__ import annotations

import contextlib
import html
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sreworkbook.backups.fingerprint import Fingerprint
from sreworkbook.backups.inventory import BackupObject
from sreworkbook.backups.report import ArchiveReport
from sreworkbook.exceptions import WorkbookError
from sreworkbook.results import Finding, Status, worst

__all__ = ["RTO_PHASES", "CollectionComparison", "DrillResult", "Phase", "PhaseFailed", "PhaseLog"]

#: The phases whose time adds up to the recovery time (cleanup is the drill's own business).
RTO_PHASES = ("download", "verify", "restore", "compare")


@dataclass(frozen=True)
class Phase:
    """One timed step of the drill: OK, CRIT (it failed and the drill stopped) or SKIPPED."""

    name: str
    seconds: float
    status: Status
    detail: str = ""


class PhaseFailed(Exception):
    """A phase failed and was recorded: the run stops."""


@dataclass
class PhaseLog:
    """Timed phases, findings and each phase's note, as a run goes."""

    clock: Callable[[], float]
    phases: list[Phase] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    notes: dict[str, str] = field(default_factory=dict)

    @contextlib.contextmanager
    def phase(self, name: str, failure: str) -> Iterator[None]:
        """Time ``name``; a failure inside is recorded (CRIT ``failure``) and raises PhaseFailed."""
        began = self.clock()
        try:
            yield
        except (WorkbookError, OSError) as exc:
            self.phases.append(Phase(name, self.clock() - began, Status.CRIT, str(exc)))
            self.findings.append(Finding(Status.CRIT, failure, str(exc)))
            raise PhaseFailed from exc
        self.phases.append(Phase(name, self.clock() - began, Status.OK, self.notes.get(name, "")))


@dataclass(frozen=True)
class CollectionComparison:
    """One collection: the archive's fingerprint against the restored one (and the live one).

    ``restored`` is None for a collection the plan did not restore (``note`` says why).
    """

    collection: str
    archive: Fingerprint
    restored: Fingerprint | None
    live: Fingerprint | None = None
    note: str = ""

    @property
    def compared(self) -> bool:
        return self.restored is not None

    @property
    def matches(self) -> bool:
        """True when restored data has the archive's count and content hash."""
        restored = self.restored
        return restored is not None and (restored.documents, restored.digest) == (
            self.archive.documents,
            self.archive.digest,
        )

    @property
    def live_matches(self) -> bool | None:
        if self.live is None:
            return None
        return (self.live.documents, self.live.digest) == (
            self.archive.documents,
            self.archive.digest,
        )

    @property
    def status(self) -> Status:
        if not self.compared:
            return Status.SKIPPED
        return Status.OK if self.matches else Status.CRIT

    def row(self) -> dict[str, Any]:
        restored = self.restored
        return {
            "collection": self.collection,
            "archive docs": self.archive.documents,
            "restored docs": restored.documents if restored else None,
            "archive hash": self.archive.hex[:12],
            "restored hash": restored.hex[:12] if restored else "",
            "match": "yes" if self.matches else ("—" if not self.compared else "NO"),
            "live docs": self.live.documents if self.live else None,
            "same as live": {True: "yes", False: "no", None: ""}[self.live_matches],
            "note": self.note,
        }


@dataclass(frozen=True)
class DrillResult:
    """A whole drill: which backup, how each phase went and how long it took, what matched."""

    backup: BackupObject | None
    engine: str
    source_database: str
    scratch_database: str
    phases: tuple[Phase, ...] = ()
    collections: tuple[CollectionComparison, ...] = ()
    findings: tuple[Finding, ...] = ()
    verification: ArchiveReport | None = None
    server: str = ""
    #: True when the scratch database is gone at the end (or was never touched).
    scratch_dropped: bool = True
    #: True when a safety rule stopped the drill before anything was written.
    refused: bool = False
    #: The restoring tool and its version (``mongorestore 100.18.0-8fa3cfc8``, ``pymongo 4.10.1``).
    tool_version: str = ""

    @property
    def status(self) -> Status:
        return worst((f.severity for f in self.findings), default=Status.OK)

    def phase(self, name: str) -> Phase | None:
        return next((p for p in self.phases if p.name == name), None)

    @property
    def restored(self) -> bool:
        """True when the restore phase completed."""
        phase = self.phase("restore")
        return phase is not None and phase.status is Status.OK

    @property
    def succeeded(self) -> bool:
        """Restored, and every restored collection matches the archive."""
        compare = self.phase("compare")
        return (
            self.restored
            and compare is not None
            and compare.status is Status.OK
            and self.mismatched_collections == 0
        )

    @property
    def rto_s(self) -> float:
        """Download + verify + restore + compare: the time to get the data back, checked."""
        return sum(p.seconds for p in self.phases if p.name in RTO_PHASES)

    @property
    def restored_docs(self) -> int:
        return sum(c.restored.documents for c in self.collections if c.restored is not None)

    @property
    def mismatched_collections(self) -> int:
        return sum(1 for c in self.collections if c.compared and not c.matches)

    def metrics(self) -> dict[str, float]:
        out = {
            "restored_docs": float(self.restored_docs),
            "mismatched_collections": float(self.mismatched_collections),
        }
        if self.succeeded:
            out["rto_s"] = round(self.rto_s, 2)
        for p in self.phases:
            out[f"{p.name}_s"] = round(p.seconds, 3)
        restore = self.phase("restore")
        if self.restored and restore is not None and restore.seconds > 0:
            out["restore_docs_per_s"] = round(self.restored_docs / restore.seconds, 1)
        return out

    def engine_finding(self) -> Finding:
        """Which engine and tool version restored, on which server: an OK line for the record."""
        where = f" into {self.server}" if self.server else ""
        tool = self.tool_version or self.engine
        return Finding(
            Status.OK,
            f"restore engine: {self.engine} ({tool})",
            f"{self.restored_docs:,} documents restored{where}" if self.restored else "",
        )

    def summary(self) -> str:
        """A few words: "restored in 42 s", "restore FAILED", "refused"."""
        if self.refused:
            return "drill refused"
        if self.backup is None:
            return "nothing to restore"
        if self.succeeded:
            return f"restored in {self.rto_s:.{0 if self.rto_s >= 1 else 1}f} s"
        failed = next((p for p in self.phases if p.status is Status.CRIT), None)
        if failed is None and self.mismatched_collections:
            return f"restored but {self.mismatched_collections} collection(s) MISMATCH"
        return f"{failed.name if failed else 'drill'} FAILED"

    def comparison_rows(self) -> list[dict[str, Any]]:
        return [c.row() for c in self.collections]

    def phase_rows(self) -> list[dict[str, Any]]:
        return [
            {
                "phase": p.name,
                "seconds": round(p.seconds, 2),
                "status": p.status.value,
                "detail": p.detail,
            }
            for p in self.phases
        ]

    def _repr_html_(self) -> str:
        colour = self.status.colour
        phases = "".join(
            f"<tr><td>{html.escape(p.name)}</td><td style='text-align:right'>{p.seconds:,.2f} s</td>"
            f"<td style='color:{p.status.colour}'>{p.status.value}</td><td>{html.escape(p.detail)}</td></tr>"
            for p in self.phases
        )
        name = html.escape(self.backup.name if self.backup else "no backup")
        where = html.escape(f"{self.backup.tier}" if self.backup else "")
        tool = html.escape(self.tool_version or self.engine)
        server = f" · target {html.escape(self.server)}" if self.server else ""
        return (
            f"<div><b style='color:{colour}'>{self.status.value}</b> — {html.escape(self.summary())}"
            f" · backup <code>{name}</code> ({where}) · engine <b>{html.escape(self.engine)}</b>"
            f" ({tool}){server}"
            f" · {self.restored_docs:,} documents"
            f" · scratch <code>{html.escape(self.scratch_database)}</code>"
            f" {'dropped' if self.scratch_dropped else '<b>NOT dropped</b>'}"
            f"<table><tr><th>phase</th><th>time</th><th>status</th><th>detail</th></tr>{phases}</table></div>"
        )
