"""Backup inventory (a local folder, an S3 prefix) and the policy checks over it.

Listing turns file or object names into :class:`BackupObject` values by the configured name
pattern. The policy is pure functions of those values and ``now``: freshness against the RPO
(OK / CRIT), the two-tier retention (missing nights, copies kept too long, copies missing in
one tier) and size anomalies against the median of the previous backups (WARN).
"""

from __future__ import annotations

import datetime as dt
import re
import statistics
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from sreworkbook.backups.s3 import client_for, list_objects
from sreworkbook.config import BackupsConfig, Environment
from sreworkbook.exceptions import MissingFileError, ParameterError, WorkbookError
from sreworkbook.results import Finding, Status, worst

__all__ = [
    "DEFAULT_PATTERN",
    "BackupObject",
    "Inventory",
    "PolicyReport",
    "SizeAnomaly",
    "Tier",
    "backups_section",
    "collect",
    "evaluate_policy",
    "list_local",
    "list_s3",
    "parse_timestamp",
    "policy_for",
]

DEFAULT_PATTERN = r"tradeai_backup_(\d{8})_(\d{6})\.(?:tar|archive)\.gz"
_FORMATS = {14: "%Y%m%d%H%M%S", 12: "%Y%m%d%H%M", 8: "%Y%m%d"}
#: Extra time a copy may outlive its retention before it counts as kept too long.
RETENTION_GRACE = dt.timedelta(days=1)


class Tier(StrEnum):
    LOCAL = "local"
    S3 = "s3"


@dataclass(frozen=True)
class BackupObject:
    """One backup copy: its name, where it is, its size and the time its name says."""

    name: str
    tier: Tier
    size: int
    timestamp: dt.datetime
    location: str = ""

    def age_h(self, now: dt.datetime) -> float:
        return (now - self.timestamp).total_seconds() / 3600


@dataclass(frozen=True)
class Inventory:
    """The backups found, oldest first, and the names that did not match the pattern."""

    objects: tuple[BackupObject, ...]
    ignored: tuple[str, ...] = ()

    def __add__(self, other: Inventory) -> Inventory:
        merged = sorted((*self.objects, *other.objects), key=lambda o: (o.timestamp, o.tier))
        return Inventory(tuple(merged), (*self.ignored, *other.ignored))

    def tier(self, tier: Tier) -> tuple[BackupObject, ...]:
        return tuple(o for o in self.objects if o.tier is tier)


def parse_timestamp(
    name: str, pattern: str | re.Pattern[str] = DEFAULT_PATTERN
) -> dt.datetime | None:
    """The UTC time in ``name`` per ``pattern``, or None if the name does not match.

    The pattern must match the whole name; its groups, joined, are ``YYYYMMDD[HHMM[SS]]``.
    """
    match = re.fullmatch(pattern, name)
    if match is None:
        return None
    digits = "".join(g for g in match.groups() if g)
    fmt = _FORMATS.get(len(digits))
    if fmt is None or not digits.isdigit():
        return None
    try:
        return dt.datetime.strptime(digits, fmt).replace(tzinfo=dt.UTC)
    except ValueError:
        return None


def _compile(pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise ParameterError(
            f"not a valid regular expression: {exc}", key="backups.name_pattern"
        ) from exc


def _inventory(entries: Iterable[tuple[str, int, str]], tier: Tier, pattern: str) -> Inventory:
    compiled = _compile(pattern)
    found, ignored = [], []
    for name, size, location in entries:
        stamp = parse_timestamp(name, compiled)
        if stamp is None:
            ignored.append(location)
        else:
            found.append(BackupObject(name, tier, size, stamp, location))
    found.sort(key=lambda o: o.timestamp)
    return Inventory(tuple(found), tuple(ignored))


def list_local(folder: Path, *, pattern: str = DEFAULT_PATTERN) -> Inventory:
    """The backups in ``folder`` (not recursive); manifests and partial files are ignored."""
    if not folder.is_dir():
        raise MissingFileError(str(folder), what="backup folder")
    entries = (
        (p.name, p.stat().st_size, str(p))
        for p in sorted(folder.iterdir())
        if p.is_file() and not p.name.endswith((".manifest.json", ".partial"))
    )
    return _inventory(entries, Tier.LOCAL, pattern)


def list_s3(
    bucket: str, prefix: str = "", *, client: Any, pattern: str = DEFAULT_PATTERN
) -> Inventory:
    """The backups under ``s3://bucket/prefix`` (matched on the key's last path segment)."""
    entries = (
        (o.key.rsplit("/", 1)[-1], o.size, o.url)
        for o in list_objects(bucket, prefix, client=client)
        if not o.key.endswith(".manifest.json")
    )
    return _inventory(entries, Tier.S3, pattern)


@dataclass(frozen=True)
class SizeAnomaly:
    """A backup whose size differs from the median of the ones before it by more than allowed."""

    backup: BackupObject
    median: float
    change: float  # relative: -0.6 is 60 % smaller


@dataclass(frozen=True)
class PolicyReport:
    """Freshness, retention and size checks over an inventory."""

    status: Status
    findings: tuple[Finding, ...]
    newest: BackupObject | None
    age_h: float | None
    rpo_h: float
    missing_days: Mapping[Tier, tuple[dt.date, ...]] = field(default_factory=dict)
    too_old: tuple[BackupObject, ...] = ()
    missing_in_tier: tuple[tuple[BackupObject, Tier], ...] = ()
    size_anomalies: tuple[SizeAnomaly, ...] = ()

    @property
    def metrics(self) -> dict[str, float]:
        out = {"rpo_h": self.rpo_h}
        if self.age_h is not None:
            out["backup_age_h"] = round(self.age_h, 2)
        return out


def evaluate_policy(
    objects: Iterable[BackupObject],
    *,
    now: dt.datetime,
    rpo_hours: float = 24.0,
    local_retention_days: int = 7,
    s3_retention_days: int = 30,
    tiers: Collection[Tier] | None = None,
    bad: Collection[str] = frozenset(),
    size_change: float = 0.30,
    size_window: int = 7,
    size_min_history: int = 3,
) -> PolicyReport:
    """Judge an inventory at ``now``.

    ``tiers`` are the tiers that should hold copies (default: those present); ``bad`` names
    backups known to be corrupt or incomplete, which do not count as fresh.
    """
    items = sorted(objects, key=lambda o: o.timestamp)
    tiers = set(tiers) if tiers is not None else {o.tier for o in items}
    retention = {Tier.LOCAL: local_retention_days, Tier.S3: s3_retention_days}
    findings: list[Finding] = []

    good = [o for o in items if o.name not in bad]
    newest = good[-1] if good else None
    age_h = newest.age_h(now) if newest else None
    if newest is None:
        findings.append(Finding(Status.CRIT, "no good backup found", f"tiers: {_names(tiers)}"))
    elif age_h is not None and age_h > rpo_hours:
        findings.append(
            Finding(
                Status.CRIT,
                f"newest good backup is {age_h:.1f} h old",
                f"RPO is {rpo_hours:g} h; newest is {newest.name}",
            )
        )
    elif age_h is not None and age_h < -1:
        findings.append(Finding(Status.WARN, "newest backup is dated in the future", newest.name))

    for tier in sorted(tiers):
        if not any(o.tier is tier for o in items):
            findings.append(Finding(Status.WARN, f"no backups in {tier}"))
    missing = {
        t: _missing_days([o for o in items if o.tier is t], now, retention[t])
        for t in sorted(tiers)
    }
    for tier, days in missing.items():
        if days:
            shown = ", ".join(d.isoformat() for d in days[:10]) + (" …" if len(days) > 10 else "")
            findings.append(
                Finding(Status.WARN, f"{len(days)} night(s) without a backup in {tier}", shown)
            )

    too_old = tuple(
        o
        for o in items
        if o.tier in retention
        and now - o.timestamp > dt.timedelta(days=retention[o.tier]) + RETENTION_GRACE
    )
    for tier in sorted({o.tier for o in too_old}):
        kept = [o.name for o in too_old if o.tier is tier]
        findings.append(
            Finding(
                Status.WARN,
                f"{len(kept)} copies in {tier} kept beyond {retention[tier]} days",
                ", ".join(kept[:5]),
            )
        )

    gaps = _missing_in_tier(items, now, tiers, local_retention_days)
    for tier in sorted({t for _, t in gaps}):
        names = [o.name for o, t in gaps if t is tier]
        findings.append(
            Finding(Status.WARN, f"{len(names)} backup(s) missing in {tier}", ", ".join(names[:5]))
        )

    anomalies = tuple(
        a
        for t in sorted(tiers)
        for a in _size_anomalies(
            [o for o in items if o.tier is t], size_change, size_window, size_min_history
        )
    )
    for a in anomalies:
        direction = "smaller" if a.change < 0 else "larger"
        findings.append(
            Finding(
                Status.WARN,
                f"{a.backup.name} ({a.backup.tier}) is {abs(a.change):.0%} {direction} than usual",
                f"{a.backup.size:,} bytes against a median of {a.median:,.0f}",
            )
        )
    status = worst((f.severity for f in findings), default=Status.OK)
    return PolicyReport(
        status, tuple(findings), newest, age_h, rpo_hours, missing, too_old, gaps, anomalies
    )


def policy_for(
    config: BackupsConfig,
    objects: Iterable[BackupObject],
    *,
    now: dt.datetime,
    tiers: Collection[Tier] | None = None,
    bad: Collection[str] = frozenset(),
) -> PolicyReport:
    """:func:`evaluate_policy` with the RPO and retentions of an environment's ``backups:``."""
    return evaluate_policy(
        objects,
        now=now,
        rpo_hours=config.rpo_hours,
        local_retention_days=config.local_retention_days,
        s3_retention_days=config.s3_retention_days,
        tiers=tiers,
        bad=bad,
    )


def _names(tiers: Iterable[Tier]) -> str:
    return ", ".join(sorted(t.value for t in tiers)) or "none"


def _missing_days(
    items: list[BackupObject], now: dt.datetime, retention_days: int
) -> tuple[dt.date, ...]:
    """Days before today, within retention and since the tier's first backup, with no backup."""
    if not items:
        return ()
    today = now.astimezone(dt.UTC).date()
    first = max(min(o.timestamp.date() for o in items), today - dt.timedelta(days=retention_days))
    seen = {o.timestamp.date() for o in items}
    days = (first + dt.timedelta(days=i) for i in range((today - first).days))
    return tuple(d for d in days if d not in seen)


def _missing_in_tier(
    items: list[BackupObject], now: dt.datetime, tiers: Collection[Tier], local_days: int
) -> tuple[tuple[BackupObject, Tier], ...]:
    """Copies within the local retention present in one configured tier but not the other."""
    if not {Tier.LOCAL, Tier.S3} <= set(tiers):
        return ()
    window = dt.timedelta(days=local_days)
    stamps = {t: {o.timestamp for o in items if o.tier is t} for t in (Tier.LOCAL, Tier.S3)}
    gaps = []
    for o in items:
        other = Tier.S3 if o.tier is Tier.LOCAL else Tier.LOCAL
        if now - o.timestamp <= window and o.timestamp not in stamps[other]:
            gaps.append((o, other))
    return tuple(gaps)


def _size_anomalies(
    items: list[BackupObject], change: float, window: int, min_history: int
) -> list[SizeAnomaly]:
    out = []
    for i, o in enumerate(items):
        history = [p.size for p in items[max(0, i - window) : i]]
        if len(history) < min_history:
            continue
        median = statistics.median(history)
        if median > 0 and abs(o.size - median) / median > change:
            out.append(SizeAnomaly(o, median, (o.size - median) / median))
    return out


def backups_section(environment: Environment) -> BackupsConfig:
    """The environment's ``backups:`` section; :class:`ParameterError` naming the file when it
    has none."""
    if environment.backups is None:
        raise ParameterError("no backups section", source=environment.source_file, key="backups")
    return environment.backups


def collect(
    config: BackupsConfig,
    *,
    root: Path,
    resolve: Callable[[str], str] = str,
    s3_client: Any = None,
) -> tuple[Inventory, tuple[Finding, ...], frozenset[Tier]]:
    """The inventory of every tier ``config`` names: CRIT for a missing local folder or bucket,
    UNKNOWN for an S3 tier that cannot be read (nothing measured; it is not among the tiers
    returned, so the policy judges no copy missing there).

    ``resolve`` expands ``${ENV}`` references in the S3 settings; ``s3_client`` defaults to
    one made for the configured endpoint and region.
    """
    inventory, findings, tiers = Inventory(()), [], set()
    if config.local_dir:
        tiers.add(Tier.LOCAL)
        folder = Path(resolve(config.local_dir))
        folder = folder if folder.is_absolute() else root / folder
        try:
            inventory += list_local(folder, pattern=config.name_pattern)
        except MissingFileError as exc:
            findings.append(Finding(Status.CRIT, "local backup folder is missing", str(exc)))
    if config.s3:
        s3 = config.s3
        try:
            client = s3_client or client_for(s3, resolve=resolve)
            inventory += list_s3(
                resolve(s3.bucket), resolve(s3.prefix), client=client, pattern=config.name_pattern
            )
            tiers.add(Tier.S3)
        except MissingFileError as exc:  # the bucket is not there: measured
            tiers.add(Tier.S3)
            findings.append(Finding(Status.CRIT, "S3 backups cannot be listed", str(exc)))
        except WorkbookError as exc:  # S3 could not be read: nothing measured, nothing judged
            # (S3 left out of the tiers: no "no backups in s3", no "missing in s3")
            findings.append(Finding(Status.UNKNOWN, "S3 backups cannot be listed", str(exc)))
    return inventory, tuple(findings), frozenset(tiers)
