"""Retention: ``sreworkbook outputs prune`` keeps N days and N runs per job, and what matters.

A run of a job (notebook × environment) is kept when any of these holds:

- it is among the job's newest ``keep_runs`` runs, or started within ``keep_days`` days;
- it is the job's latest run (whatever the numbers say);
- it is a *baseline*: its id appears in a ``baselines.json`` anywhere under the outputs, or
  in a run's ``parameters.baseline`` (the id itself or a path holding it, at any depth).

Every other run loses its ledger lines and its folder (a run that never finished, ABORTED on
the index, counts as a run). Also removed: ``.staging-*`` folders of runs past their deadline
with no summary, or last written more than a day ago (a killed run), and folders not in the ledger that are
older than ``keep_days`` (a run whose ledger line was never written), unless referenced.
The ledger is rewritten first (atomically), then the index rebuilt, then folders deleted,
so the index never links to a deleted report. ``outputs/schedule/`` is never touched.
"""

from __future__ import annotations

import contextlib
import json
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec

from sreworkbook.exceptions import ParameterError
from sreworkbook.index.model import Expectations
from sreworkbook.index.storage import OutputsRoot, RunFolder
from sreworkbook.reports.ledger import START_EVENT, abandoned
from sreworkbook.timeutil import format_duration

__all__ = ["PruneResult", "Removal", "RetentionPolicy", "plan_prune", "prune"]


@dataclass(frozen=True)
class RetentionPolicy:
    """How much to keep; ``staging_after`` is when a ``.staging-*`` folder counts as dead."""

    keep_days: int = 30
    keep_runs: int = 20
    staging_after: timedelta = timedelta(days=1)

    def __post_init__(self) -> None:
        if self.keep_days < 0:
            raise ParameterError(f"must be 0 or more, got {self.keep_days}", key="--keep-days")
        if self.keep_runs < 0:
            raise ParameterError(f"must be 0 or more, got {self.keep_runs}", key="--keep-runs")


@dataclass(frozen=True)
class Removal:
    """Something prune removes (or, in a dry run, would remove), and why."""

    what: str  # a folder path, or "ledger line RUN_ID" for a run without a folder
    reason: str
    run_id: str = ""
    folder: RunFolder | None = field(default=None, compare=False, repr=False)

    def line(self) -> str:
        return f"{self.what}  ({self.reason})"


@dataclass(frozen=True)
class PruneResult:
    """What one prune did: removals, the baselines it spared, what it kept."""

    removed: tuple[Removal, ...]
    spared: tuple[str, ...]  # baselines that the numbers alone would have removed
    kept_runs: int
    ledger_lines_removed: int = 0
    index: str = ""
    dry_run: bool = False

    def lines(self) -> list[str]:
        """A log for people: one line per removal, then the totals."""
        verb = "would remove" if self.dry_run else "removed"
        out = [f"{verb} {item.line()}" for item in self.removed]
        out += [f"kept baseline {run_id}" for run_id in self.spared]
        runs = sum(1 for item in self.removed if item.run_id)
        out.append(
            f"{verb} {runs} run(s) and {len(self.removed) - runs} other folder(s); "
            f"kept {self.kept_runs} run(s)"
            + (f"; {self.ledger_lines_removed} ledger line(s) dropped" if not self.dry_run else "")
        )
        if self.index:
            out.append(f"index: {self.index}")
        return out


class _Parameters(msgspec.Struct):
    baseline: Any = None


class _Entry(msgspec.Struct):
    event: str = ""  # "start" or "refused" for the ledger's event lines, else a summary
    deadline_at: str = ""
    run_id: str = ""
    notebook: str = ""
    env: str = ""
    started_at: str = ""
    finished_at: str = ""
    report: str = ""
    parameters: _Parameters = msgspec.field(default_factory=_Parameters)


_entries = msgspec.json.Decoder(_Entry)


def _entry(line: bytes) -> _Entry | None:
    try:
        return _entries.decode(line)
    except msgspec.DecodeError:
        return None


def _strings(value: Any) -> Iterator[str]:
    """Every string inside a JSON value (keys too)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from _strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)


def _referenced(values: Iterable[Any], known: set[str]) -> set[str]:
    """Known run ids named by ``values``: whole strings or path segments of them."""
    found: set[str] = set()
    for text in (s for value in values for s in _strings(value)):
        if text in known:
            found.add(text)
        else:
            found.update(part for part in text.split("/") if part in known)
    return found


def _when(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return datetime.max.replace(tzinfo=UTC)  # unreadable times are never "old"
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@contextlib.contextmanager
def _lines(path: Path) -> Iterator[Iterable[bytes]]:
    """The ledger file's lines, streamed; none when there is no ledger yet."""
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        yield ()
        return
    with handle:
        yield handle


def _baseline_values(outputs: OutputsRoot) -> list[Any]:
    values: list[Any] = []
    for raw in outputs.baselines():
        try:
            values.append(json.loads(raw))
        except ValueError:
            values.append(raw.decode("utf-8", "replace"))  # still scan its text for ids
    return values


def plan_prune(outputs: OutputsRoot, policy: RetentionPolicy, *, now: datetime) -> PruneResult:
    """What :func:`prune` would remove from ``outputs`` as of ``now``; changes nothing."""
    now = now.astimezone(UTC)
    jobs: dict[tuple[str, str], list[tuple[datetime, str]]] = defaultdict(list)
    references: list[Any] = []
    unfinished: dict[str, _Entry] = {}
    with outputs.ledger_file() as ledger, _lines(ledger) as handle:
        for line in handle:
            entry = _entry(line)
            if entry is None or not entry.run_id:
                continue
            if entry.event:
                if entry.event == START_EVENT:
                    unfinished[entry.run_id] = entry
                else:
                    unfinished.pop(entry.run_id, None)
                continue
            unfinished.pop(entry.run_id, None)
            started = _when(entry.started_at or entry.finished_at)
            jobs[(entry.notebook, entry.env)].append((started, entry.run_id))
            if entry.parameters.baseline is not None:
                references.append(entry.parameters.baseline)
    abandoned_ids = {rid for rid, e in unfinished.items() if abandoned(e.deadline_at, now)}
    for run_id in abandoned_ids:  # ABORTED on the index: a run like any other here
        entry = unfinished[run_id]
        jobs[(entry.notebook, entry.env)].append((_when(entry.started_at), run_id))
    folders = {folder.name: folder for folder in outputs.run_folders()}
    in_ledger = {run_id for runs in jobs.values() for _, run_id in runs}
    known = in_ledger | {name for name in folders if not name.startswith(".staging-")}
    baselines = _referenced([*references, *_baseline_values(outputs)], known)

    cutoff = now - timedelta(days=policy.keep_days)
    keep: set[str] = set()
    doomed: dict[str, str] = {}
    for (notebook, env), runs in jobs.items():
        runs.sort()
        newest = {run_id for _, run_id in runs[-max(1, policy.keep_runs) :]}
        for started, run_id in runs:
            if run_id in newest or started >= cutoff:
                keep.add(run_id)
            else:
                doomed[run_id] = (
                    f"{notebook} · {env}, started {started:%Y-%m-%d %H:%M}: older than "
                    f"{policy.keep_days} days and beyond the newest {policy.keep_runs}"
                )
    spared = sorted(run_id for run_id in doomed if run_id in baselines)
    removed = [
        Removal(folders[run_id].path, why, run_id, folders[run_id])
        if run_id in folders
        else Removal(f"ledger line {run_id}", why, run_id)
        for run_id, why in sorted(doomed.items())
        if run_id not in keep and run_id not in baselines
    ]
    for name, folder in sorted(folders.items()):
        age = now - folder.modified
        if name.startswith(".staging-") and name.removeprefix(".staging-") in abandoned_ids:
            removed.append(
                Removal(folder.path, "left by a run that never finished (ABORTED)", "", folder)
            )
        elif name.startswith(".staging-") and age > policy.staging_after:
            written = format_duration(age.total_seconds())
            removed.append(
                Removal(
                    folder.path, f"left by a killed run, last written {written} ago", "", folder
                )
            )
        elif (
            not name.startswith(".staging-")
            and name not in in_ledger
            and name not in baselines
            and folder.modified < cutoff
            and age > policy.staging_after
        ):
            why = f"not in the ledger, older than {policy.keep_days} days"
            removed.append(Removal(folder.path, why, "", folder))
    gone = {item.run_id for item in removed}
    return PruneResult(
        removed=tuple(removed),
        spared=tuple(spared),
        kept_runs=len(in_ledger - gone),
        dry_run=True,
    )


def prune(
    outputs: OutputsRoot,
    policy: RetentionPolicy,
    *,
    now: datetime,
    dry_run: bool = False,
    expected: Expectations | None = None,
) -> PruneResult:
    """Apply ``policy`` to ``outputs``: rewrite the ledger, rebuild the index, delete folders."""
    plan = plan_prune(outputs, policy, now=now)
    if dry_run:
        return plan
    doomed = {item.run_id for item in plan.removed if item.run_id}

    def drop(line: bytes) -> bool:
        entry = _entry(line)
        return entry is not None and entry.run_id in doomed

    dropped = outputs.rewrite_ledger(drop) if doomed else 0
    index = outputs.rebuild_index(now=now, expected=expected)
    outputs.remove([item.folder for item in plan.removed if item.folder is not None])
    return PruneResult(
        removed=plan.removed,
        spared=plan.spared,
        kept_runs=plan.kept_runs,
        ledger_lines_removed=dropped,
        index=index,
        dry_run=False,
    )
