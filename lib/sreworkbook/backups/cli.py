"""``sreworkbook backups verify|list|take``: archives, the inventory and the nightly backup.

``register(subparsers)`` adds the ``backups`` command; each subcommand sets ``handler`` with the
signature ``(args, root, outputs) -> exit code``. ``verify`` exits 0 only for an ``ok``
archive, 1 otherwise and 64 for a missing file; ``list`` exits by the policy's status;
``take`` (:mod:`sreworkbook.backups.take`) exits 0 for a backup kept, verified and uploaded,
1 otherwise (and then notifies the environment's channels unless ``--no-notify``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any, TextIO

from sreworkbook.backups.archive import verify_archive
from sreworkbook.backups.inventory import Tier, backups_section, collect, policy_for
from sreworkbook.backups.manifest import load_manifest, verify_cached
from sreworkbook.backups.report import ArchiveReport, Verdict
from sreworkbook.backups.s3 import client_for, make_client, open_object
from sreworkbook.backups.take import DUMP_ENGINES, TakeResult, take_backup
from sreworkbook.config import Environment, load_environment
from sreworkbook.exceptions import MissingFileError
from sreworkbook.results import RunSummary, Status

__all__ = ["EXIT_BAD_INPUT", "list_command", "register", "take_command", "verify_command"]

EXIT_BAD_INPUT = 64


#: Records a run that wrote no report (``backups take``) in the outputs root and rebuilds the
#: index: ``record(summary, where, root)`` returns a note, empty when it worked. The main
#: command passes it in; the outputs root and the schedule live above this package.
Record = Callable[[RunSummary, str, Path], str]


def register(subparsers: Any, *, record: Record) -> None:
    """Add ``backups verify``, ``list`` and ``take`` to an argparse subparsers object."""
    backups = subparsers.add_parser("backups", help="verify archives and list backups")
    sub = backups.add_subparsers(dest="backups_command", required=True)

    verify = sub.add_parser("verify", help="verify a mongodump archive without a server")
    verify.add_argument("source", metavar="PATH_OR_S3_URL")
    verify.add_argument("--json", action="store_true", help="print one JSON object")
    verify.add_argument(
        "--no-cache", action="store_true", help="read the archive even if its manifest covers it"
    )
    verify.add_argument("--env", help="environment whose S3 endpoint to use for s3:// URLs")
    verify.set_defaults(handler=verify_command, root_optional=True)

    listing = sub.add_parser("list", help="the backup inventory with policy findings")
    listing.add_argument("--env", default="sandbox", help="environment name or parameter file")
    listing.add_argument("--json", action="store_true", help="print one JSON object")
    listing.set_defaults(handler=list_command)

    take = sub.add_parser(
        "take",
        help="the nightly backup: dump, verify, keep, upload to S3, prune local copies",
        description="mongodump --gzip --archive of the environment's database (or the pymongo "
        "engine where the tool is absent) into backups.local_dir; only a verified archive is "
        "kept (with NAME.manifest.json beside it), uploaded to backups.s3, and followed by "
        "pruning local copies older than backups.local_retention_days. The run is recorded in "
        "the outputs ledger. Exit 0 when all of it worked, 1 otherwise.",
    )
    take.add_argument("--env", default="sandbox", help="environment name or parameter file")
    take.add_argument(
        "--engine", default="auto", choices=DUMP_ENGINES, help="auto: mongodump when found"
    )
    take.add_argument("--json", action="store_true", help="print the run summary as JSON")
    take.add_argument(
        "--no-notify", action="store_true", help="no notification on failure (the scheduler's)"
    )
    take.set_defaults(handler=partial(take_command, record=record))


def _s3_client(args: argparse.Namespace, root: Path) -> Any:
    if not args.env:
        return make_client()
    env = load_environment(args.env, root=root)
    s3 = env.backups.s3 if env.backups else None
    if s3 is None:
        return make_client()
    return client_for(s3, resolve=env.resolver(os.environ))


def verify_command(
    args: argparse.Namespace, root: Path, outputs: Path, *, out: TextIO | None = None
) -> int:
    """Verify one archive (a path, or ``s3://bucket/key``) and print the result."""
    out = out or sys.stdout
    note = ""
    try:
        if str(args.source).startswith("s3://"):
            with open_object(args.source, client=_s3_client(args, root)) as stream:
                report = verify_archive(stream)
        else:
            now = dt.datetime.now(dt.UTC)
            cached = verify_cached(Path(args.source), now=now, force=args.no_cache)
            report = cached.report
            if cached.from_cache:
                note = f"(from {cached.manifest_path.name}, verified {cached.manifest.verified_at:%Y-%m-%d %H:%M} UTC)"
            elif cached.manifest_error:
                note = f"(manifest not written: {cached.manifest_error})"
    except MissingFileError as exc:
        print(f"sreworkbook: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.json:
        print(json.dumps(report.to_json_dict()), file=out)
    else:
        _print_report(report, out)
        if note:
            print(note, file=out)
    return report.verdict.exit_code


def _print_report(report: ArchiveReport, out: TextIO) -> None:
    width = max((len(c.namespace) for c in report.collections), default=10)
    for c in report.collections:
        if not c.complete:
            check = "no EOF block (incomplete)"
        else:
            check = "CRC ok" if c.crc_ok else "CRC MISMATCH"
        print(f"{c.namespace:<{width}}  {c.documents:>12,} documents  {check}", file=out)
    for f in report.findings:
        print(f"  {f.severity.value:<4} {f.title}{' — ' + f.detail if f.detail else ''}", file=out)
    size = f"{report.uncompressed_bytes:,} bytes" + (" (gzip)" if report.compressed else "")
    print(f"verdict: {report.verdict.value}  [{size}]", file=out)


def list_command(
    args: argparse.Namespace, root: Path, outputs: Path, *, out: TextIO | None = None
) -> int:
    """The inventory of ``--env``'s backups, with freshness, retention and size findings."""
    out = out or sys.stdout
    env = load_environment(args.env, root=root)
    config = backups_section(env)
    inventory, problems, tiers = collect(config, root=root, resolve=env.resolver(os.environ))
    verdicts = {  # local copies verified before: their manifests say how they fared
        o.location: manifest.report.verdict
        for o in inventory.objects
        if o.tier is Tier.LOCAL and (manifest := load_manifest(Path(o.location))) is not None
    }
    bad = {
        o.name for o in inventory.objects if verdicts.get(o.location, Verdict.OK) is not Verdict.OK
    }
    now = dt.datetime.now(dt.UTC)
    policy = policy_for(config, inventory.objects, now=now, tiers=tiers, bad=bad)
    findings = (*problems, *policy.findings)
    status = max((policy.status, *(f.severity for f in problems)), key=lambda s: s.rank)
    if args.json:
        payload = {
            "env": env.name,
            "status": status.value,
            "metrics": policy.metrics,
            "backups": [
                {
                    "name": o.name,
                    "tier": o.tier.value,
                    "size": o.size,
                    "timestamp": o.timestamp.isoformat(),
                    "location": o.location,
                    "verified": verdicts[o.location].value if o.location in verdicts else None,
                }
                for o in inventory.objects
            ],
            "findings": [f.to_dict() for f in findings],
        }
        print(json.dumps(payload), file=out)
        return status.exit_code
    print(f"{'tier':<6} {'backup':<44} {'size':>14} {'age':>8}  verified", file=out)
    for o in inventory.objects:
        verdict = verdicts[o.location].value if o.location in verdicts else "-"
        age = f"{o.age_h(now):.1f}h"
        print(f"{o.tier.value:<6} {o.name:<44} {o.size:>14,} {age:>8}  {verdict}", file=out)
    for f in findings:
        print(f"  {f.severity.value:<4} {f.title}{' — ' + f.detail if f.detail else ''}", file=out)
    age = f"{policy.age_h:.1f} h" if policy.age_h is not None else "n/a"
    print(
        f"status: {status.value}  (newest good backup {age} old, RPO {config.rpo_hours:g} h)",
        file=out,
    )
    return status.exit_code


def take_command(
    args: argparse.Namespace,
    root: Path,
    outputs: Path,
    *,
    record: Record,
    out: TextIO | None = None,
) -> int:
    """Take one backup of ``--env``; record it in the ledger; notify on failure."""
    import secrets

    out = out or sys.stdout
    env = load_environment(args.env, root=root)
    started = dt.datetime.now(dt.UTC)
    result = take_backup(env, environ=os.environ, root=root, now=started, engine=args.engine)
    finished = dt.datetime.now(dt.UTC)
    summary = result.run_summary(
        env=env.name, started=started, finished=finished, token=secrets.token_hex(3),
        engine=args.engine,
    )  # fmt: skip
    where = getattr(args, "outputs_url", str(outputs))
    notes = [record(summary, where, root)]
    if summary.status.rank >= Status.CRIT.rank and not args.no_notify:
        notes.append(_notify(env, summary, where))
    if args.json:
        print(json.dumps(summary.to_dict()), file=out)
    else:
        _print_take(result, out)
    for note in notes:
        if note:
            print(f"sreworkbook: {note}", file=sys.stderr)
    return summary.status.exit_code


def _print_take(result: TakeResult, out: TextIO) -> None:
    for p in result.phases:
        print(f"{p.name:<7} {p.seconds:8.2f} s  {p.status.value:<4} {p.detail}", file=out)
    for f in result.findings:
        print(f"  {f.severity.value:<4} {f.title}{' — ' + f.detail if f.detail else ''}", file=out)
    if result.pruned:
        print(f"pruned: {', '.join(result.pruned)}", file=out)
    print(f"{result.status.value}  {result.headline()}", file=out)


def _notify(env: Environment, summary: RunSummary, where: str) -> str:
    """Tell the environment's channels that the backup failed; a note saying how it went."""
    from sreworkbook.notify import Notification, notifiers_for, notify_all

    notifiers = notifiers_for(env.notifications, os.environ)
    if not notifiers:
        return f"backup failed and environment {env.name} configures no notification channel"
    index = where.rstrip("/") + "/index.html"
    url = index if "://" in index else Path(index).resolve().as_uri()
    deliveries = notify_all(notifiers, Notification.from_summary(summary, url))
    failed = [f"{d.notifier}: {d.detail}" for d in deliveries if not d.ok]
    return "notification failed: " + "; ".join(failed) if failed else ""
