"""The backup-failure runbook's steps: each answers one question and returns a :class:`Step`.

What to check when the nightly backup or the restore drill failed: the last good backup and
its age, free space where backups are written, whether S3 answers with the credentials at
hand, MongoDB reachability, the dump tools, the last error in the job's log file and the last
drill's outcome. :func:`summarize` folds the steps into the run's status and headline.
"""

from __future__ import annotations

import datetime as dt
import html
import re
import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sreworkbook.backups.inventory import Inventory, backups_section, collect, evaluate_policy
from sreworkbook.backups.mongo_tools import find_tool
from sreworkbook.backups.s3 import client_for, is_loopback
from sreworkbook.backups.verification import verify_inventory
from sreworkbook.config import BackupsConfig, Environment, S3Config
from sreworkbook.edges.mongo import mongo_problem
from sreworkbook.edges.retry import within_run
from sreworkbook.edges.s3 import translate
from sreworkbook.exceptions import SourceError, SourceTimeout, WorkbookError
from sreworkbook.results import Conclusion, Finding, RunSummary, Status, worst
from sreworkbook.timeutil import human_time

__all__ = [
    "Step",
    "disk_space",
    "dump_tools",
    "last_drill",
    "last_good_backup",
    "log_errors",
    "mongodb_reachable",
    "s3_access",
    "summarize",
]

_ERROR = re.compile(r"\b(error|failed|fatal|denied|refused)\b", re.IGNORECASE)
_STAMP = re.compile(r"(\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(?::\d{2})?)")


@dataclass(frozen=True)
class Step:
    """One runbook step's answer: a status, one line, numbers, and lines worth reading."""

    name: str
    status: Status
    detail: str
    metrics: Mapping[str, float] = field(default_factory=dict)
    lines: tuple[str, ...] = ()

    def finding(self) -> Finding:
        return Finding(self.status, self.name, self.detail)

    def _repr_html_(self) -> str:
        body = "".join(f"<div><code>{html.escape(line)}</code></div>" for line in self.lines)
        return (
            f"<div style='border-left:6px solid {self.status.colour};padding:4px 12px'>"
            f"<b>{self.status.value}</b> {html.escape(self.name)} — {html.escape(self.detail)}"
            f"{body}</div>"
        )


def _local_dir(config: BackupsConfig, root: Path, resolve: Callable[[str], str]) -> Path | None:
    if not config.local_dir:
        return None
    folder = Path(resolve(config.local_dir))
    return folder if folder.is_absolute() else root / folder


def last_good_backup(
    environment: Environment,
    *,
    environ: Mapping[str, str],
    root: Path,
    now: dt.datetime,
    cache_dir: Path | None = None,
    s3_client: Any = None,
) -> tuple[Step, Inventory]:
    """The newest copy that verifies, per tier, against the RPO; and the inventory."""
    config = backups_section(environment)

    resolve = environment.resolver(environ)

    if s3_client is None and config.s3 is not None:
        s3_client = client_for(config.s3, resolve=resolve)
    inventory, problems, tiers = collect(config, root=root, resolve=resolve, s3_client=s3_client)
    checked = verify_inventory(inventory.objects, now=now, s3_client=s3_client, cache_dir=cache_dir)
    policy = evaluate_policy(
        inventory.objects, now=now, rpo_hours=config.rpo_hours, tiers=tiers, bad=checked.bad_names()
    )
    lines = [f"{f.severity.value}: {f.title}" for f in problems]
    for tier in sorted(tiers):
        good = [r.backup for r in checked.results if r.ok and r.backup.tier is tier]
        newest = good[-1] if good else None
        lines.append(
            f"{tier.value}: newest sound copy {newest.name} ({newest.age_h(now):.1f} h old)"
            if newest
            else f"{tier.value}: no sound copy"
        )
    lines += [f"unsound: {r.backup.name} ({r.backup.tier.value}): {r.label}" for r in checked.bad]
    freshness = [f for f in policy.findings if "old" in f.title or "no good backup" in f.title]
    status = worst([*(f.severity for f in problems), *(f.severity for f in freshness)])
    if policy.newest is None or policy.age_h is None:
        detail = "no sound backup in any tier"
    else:
        detail = f"{policy.newest.name}, {policy.age_h:.1f} h old (RPO {config.rpo_hours:g} h)"
    metrics = {**policy.metrics, "backups_corrupt": float(checked.corrupt)}
    return Step("last good backup", status, detail, metrics, tuple(lines)), inventory


def disk_space(
    environment: Environment,
    *,
    environ: Mapping[str, str],
    root: Path,
    inventory: Inventory | None = None,
) -> Step:
    """Free space where the nightly job writes: room for at least three more backups."""
    config = backups_section(environment)
    folder = _local_dir(config, root, environment.resolver(environ))
    if folder is None:
        return Step("disk space", Status.SKIPPED, "no local backup folder configured")
    probe = folder if folder.exists() else next((p for p in folder.parents if p.exists()), folder)
    usage = shutil.disk_usage(probe)
    free_pct = 100.0 * usage.free / usage.total if usage.total else 0.0
    sizes = [o.size for o in (inventory.objects if inventory else ())]
    largest = max(sizes, default=0)
    status = Status.OK
    if largest and usage.free < largest:
        status = Status.CRIT
    elif (largest and usage.free < 3 * largest) or free_pct < 10:
        status = Status.WARN
    detail = f"{usage.free / 1e9:,.1f} GB free ({free_pct:.0f} %) at {probe}"
    if largest:
        detail += f"; largest backup {largest / 1e6:,.1f} MB"
    metrics = {"disk_free_pct": round(free_pct, 1), "disk_free_gb": round(usage.free / 1e9, 2)}
    return Step("disk space", status, detail, metrics)


def s3_access(environment: Environment, *, environ: Mapping[str, str], client: Any = None) -> Step:
    """Does the bucket answer, with which credentials? (Never shows a key.)"""
    config = backups_section(environment)
    if config.s3 is None:
        return Step("S3 access", Status.SKIPPED, "no S3 tier configured")
    s3 = config.s3
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        source = _credential_source(s3)
        client = client or client_for(s3, resolve=environment.resolver(environ))
        client.head_bucket(Bucket=environment.secret(s3.bucket, environ))
    except SourceError as exc:  # an answer that was not S3's (garbage, a web page), or none lately
        return Step("S3 access", Status.UNKNOWN, exc.detail, {"s3_reachable": 0.0})
    except WorkbookError as exc:
        return Step("S3 access", Status.CRIT, str(exc), {"s3_reachable": 0.0})
    except ClientError as exc:  # S3 answered no: a verdict, in words
        return Step("S3 access", Status.CRIT, _boto_words(exc), {"s3_reachable": 0.0})
    except BotoCoreError as exc:  # refused or reset: down (CRIT); no answer: not measured
        error = translate(exc, query=f"s3://{s3.bucket}")
        status = Status.UNKNOWN if isinstance(error, SourceTimeout) else Status.CRIT
        said = error.detail if isinstance(error, SourceError) else str(error)
        return Step("S3 access", status, said, {"s3_reachable": 0.0})
    where = s3.endpoint_url or "AWS"
    return Step(
        "S3 access",
        Status.OK,
        f"s3://{s3.bucket}/{s3.prefix} answers at {where} (credentials: {source})",
        {"s3_reachable": 1.0},
    )


def _credential_source(s3: S3Config) -> str:
    """Where the keys come from (never the keys themselves)."""
    if s3.access_key_id and s3.secret_access_key:
        return "configured references"
    import boto3

    found = boto3.session.Session().get_credentials()
    if found is None:
        return "dummy keys (loopback endpoint)" if is_loopback(s3.endpoint_url) else "none found"
    return f"standard chain ({getattr(found, 'method', 'unknown')})"


def _boto_words(exc: Exception) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, Mapping):
        error = response.get("Error", {})
        code = str(error.get("Code", ""))
        hint = {
            "403": "credentials refused or no permission on the bucket",
            "AccessDenied": "credentials refused or no permission on the bucket",
            "404": "the bucket does not exist",
            "NoSuchBucket": "the bucket does not exist",
            "InvalidAccessKeyId": "unknown access key",
            "SignatureDoesNotMatch": "wrong secret key",
        }.get(code, str(error.get("Message", "")))
        return f"{code}: {hint}"
    return f"{type(exc).__name__}: {exc}"


def mongodb_reachable(
    environment: Environment, *, environ: Mapping[str, str], client: Any = None
) -> Step:
    """The nightly ``mongodump`` needs the server: does it answer ``ping``?"""
    if environment.mongodb is None:
        return Step("MongoDB", Status.SKIPPED, "no mongodb section")
    from pymongo import MongoClient
    from pymongo.errors import PyMongoError

    owned = client is None
    try:
        uri = environment.secret(environment.mongodb.uri, environ, key="mongodb.uri")
        if client is None:  # quick to say it cannot connect, patient with a busy server
            connect_ms = int(within_run(3.0, environ) * 1000)
            read_ms = int(within_run(20.0, environ) * 1000)
            client = MongoClient(
                uri,
                serverSelectionTimeoutMS=connect_ms,
                connectTimeoutMS=connect_ms,
                socketTimeoutMS=read_ms,
            )
        client.admin.command("ping")
        names = client.list_database_names()
    except WorkbookError as exc:
        return Step("MongoDB", Status.CRIT, str(exc))
    except PyMongoError as exc:
        problem, timed_out = mongo_problem(exc)  # one line, never pymongo's topology dump
        return Step("MongoDB", Status.UNKNOWN if timed_out else Status.CRIT, problem)
    finally:
        if owned and client is not None:
            client.close()
    database = environment.mongodb.database
    found = "present" if database in names else "MISSING"
    status = Status.OK if database in names else Status.CRIT
    return Step("MongoDB", status, f"answers ping; database {database} {found}")


def dump_tools(*, root: Path) -> Step:
    """Are ``mongodump``/``mongorestore`` here? (The job needs them; the drill does not.)"""
    found = {name: find_tool(name, root=root) for name in ("mongodump", "mongorestore")}
    missing = [n for n, path in found.items() if path is None]
    if missing:
        return Step(
            "dump tools",
            Status.OK,
            f"{', '.join(missing)} not found here: drills use the pure-pymongo engine "
            "(the nightly job needs them on the database host)",
        )
    return Step("dump tools", Status.OK, ", ".join(f"{n}: {p}" for n, p in found.items()))


def log_errors(
    environment: Environment,
    *,
    environ: Mapping[str, str],
    root: Path,
    now: dt.datetime,
    tail_bytes: int = 1 << 20,
    recent: dt.timedelta = dt.timedelta(days=7),
) -> Step:
    """The last error line of the backup job's log file (``backups.log_file``).

    An error among the last lines is the current failure (CRIT); one followed by later runs
    is WARN while ``recent``, and history (OK) after that.
    """
    config = backups_section(environment)
    if not config.log_file:
        return Step("backup log", Status.SKIPPED, "no backups.log_file configured")
    path = Path(environment.secret(config.log_file, environ))
    path = path if path.is_absolute() else root / path
    try:
        with path.open("rb") as handle:
            handle.seek(0, 2)
            handle.seek(max(0, handle.tell() - tail_bytes))
            text = handle.read().decode("utf-8", "replace")
    except OSError as exc:
        return Step("backup log", Status.WARN, f"cannot read {path}: {exc.strerror or exc}")
    lines = [line for line in text.splitlines() if line.strip()]
    errors = [i for i, line in enumerate(lines) if _ERROR.search(line)]
    if not errors:
        detail = f"no error in the last {len(lines)} lines of {path}"
        return Step("backup log", Status.OK, detail, {"log_errors": 0.0}, tuple(lines[-3:]))
    last = lines[errors[-1]]
    when = _when(last)
    if errors[-1] >= len(lines) - 2:
        status = Status.CRIT
    elif when is not None and now - when > recent:
        status = Status.OK
    else:
        status = Status.WARN
    stamp = f" ({when:%Y-%m-%d %H:%M}, {(now - when).days} days ago)" if when else ""
    detail = f"last error{stamp}: {last[-240:]}"
    shown = tuple(lines[i] for i in errors[-5:])
    return Step("backup log", status, detail, {"log_errors": float(len(errors))}, shown)


def _when(line: str) -> dt.datetime | None:
    found = _STAMP.search(line)
    if found is None:
        return None
    try:
        return dt.datetime.fromisoformat(found.group(1).replace(" ", "T")).replace(tzinfo=dt.UTC)
    except ValueError:
        return None


#: How a drill ended, in words.
_ENDED = {
    Status.OK: "passed",
    Status.WARN: "passed with warnings",
    Status.CRIT: "failed",
    Status.ERROR: "could not run",
    Status.UNKNOWN: "could not tell",
}


def last_drill(runs: Sequence[RunSummary]) -> Step:
    """How the last restore drill went (from the run ledger)."""
    if not runs:
        return Step(
            "last drill", Status.WARN, "no restore drill recorded: run backup_restore_drill"
        )
    run = runs[-1]
    status = Status.CRIT if run.status in (Status.CRIT, Status.ERROR) else Status.OK
    when = human_time(run.finished_at) if run.finished_at else "at an unknown time"
    ended = _ENDED.get(run.status, run.status.value)
    return Step("last drill", status, f"the drill of {when} {ended}: {run.headline}")


def summarize(steps: Sequence[Step]) -> Conclusion:
    """The runbook's conclusion (unpacks as ``status, headline, metrics, findings``), for
    :func:`sreworkbook.reports.emit`."""
    status = worst((s.status for s in steps), default=Status.OK)
    bad = [s for s in steps if s.status not in (Status.OK, Status.SKIPPED)]
    metrics: dict[str, float] = {}
    for s in steps:
        metrics.update(s.metrics)
    findings = tuple(s.finding() for s in steps if s.status is not Status.SKIPPED)
    if not bad:
        headline = f"The backup runbook found nothing wrong: all {len(steps)} steps passed."
    else:
        what = "; ".join(f"{s.name}: {s.detail}" for s in bad[:2])
        more = f" (and {len(bad) - 2} more)" if len(bad) > 2 else ""
        count = f"{len(bad)} step{'s' if len(bad) > 1 else ''} need{'' if len(bad) > 1 else 's'}"
        headline = f"The backup runbook found {count} a look — {what}{more}."
    return Conclusion(status, headline, metrics, findings)
