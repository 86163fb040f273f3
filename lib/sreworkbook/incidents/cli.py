"""``sreworkbook logs trace|errors``: the incident explorer for an SRE on a server's shell."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from sreworkbook.exceptions import MissingFileError
from sreworkbook.incidents.errors import error_groups, rfc3339
from sreworkbook.incidents.trace import trace
from sreworkbook.sources.logs import LogStore, ScanStats, open_log_store
from sreworkbook.timeutil import parse_time

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add ``logs trace`` and ``logs errors`` to the ``sreworkbook`` command."""
    logs = subparsers.add_parser(
        "logs", help="search Winston JSON logs (plain or .gz, local or S3)"
    )
    sub = logs.add_subparsers(dest="logs_command", required=True, metavar="{trace,errors}")

    tr = sub.add_parser(
        "trace",
        help="every line of one request, in time order",
        description="Every line of one request in time order; exit 1 if there is none.",
    )
    tr.add_argument("correlation_id")
    _common(tr, window_required=False)
    tr.set_defaults(handler=_trace)

    er = sub.add_parser("errors", help="error lines grouped by normalised message, largest first")
    _common(er, window_required=True)
    er.add_argument("--top", type=int, default=0, help="show only the N largest groups")
    er.set_defaults(handler=_errors)


def _common(parser: argparse.ArgumentParser, *, window_required: bool) -> None:
    parser.add_argument("--dir", required=True, help="log folder, or s3://bucket/prefix")
    when = "RFC 3339 (UTC unless an offset is given), a date, epoch seconds, now or now-1h30m"
    parser.add_argument("--start", required=window_required, help=f"window start: {when}")
    parser.add_argument("--end", required=window_required, help=f"window end: {when}")
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")


def _store(args: argparse.Namespace) -> LogStore:
    if not str(args.dir).startswith("s3://") and not Path(args.dir).is_dir():
        raise MissingFileError(str(args.dir), what="log directory given by --dir")
    return open_log_store(args.dir)


def _window(args: argparse.Namespace) -> tuple[datetime | None, datetime | None]:
    def now() -> datetime:
        return datetime.now(UTC)

    start = parse_time(args.start, name="--start", now=now) if args.start else None
    end = parse_time(args.end, name="--end", now=now) if args.end else None
    return start, end


def _report(stats: ScanStats) -> None:
    bad = f", {stats.malformed_lines} malformed" if stats.malformed_lines else ""
    damaged = f", damaged: {', '.join(stats.damaged_files)}" if stats.damaged_files else ""
    print(
        f"scanned {stats.lines_scanned:,} lines in {len(stats.files)} "
        f"file{'' if len(stats.files) == 1 else 's'}{bad}{damaged}",
        file=sys.stderr,
    )


def _trace(args: argparse.Namespace, root: Path, outputs: Path) -> int:
    start, end = _window(args)
    found = trace(_store(args), args.correlation_id, start=start, end=end)
    if args.json:
        print(json.dumps(found.records(), ensure_ascii=False, default=str, indent=1))
    else:
        for row in found.frame.to_dict("records"):
            print(_trace_line(row))
        if found.lines:
            print(
                f"{found.lines} lines, {len(found.services)} services, "
                f"{found.duration_ms:.0f} ms, status {found.status}"
            )
    _report(found.stats)
    if not found.lines:
        print(f"no lines for correlation ID {args.correlation_id}", file=sys.stderr)
        return 1
    return 0


def _trace_line(row: dict[Any, Any]) -> str:
    extra = f"  {row['method']} {row['url']}" if isinstance(row["method"], str) else ""
    if pd.notna(row["statusCode"]):
        extra += f" → {row['statusCode']}"
    if pd.notna(row["duration_ms"]):
        extra += f" ({row['duration_ms']:.0f} ms)"
    return (
        f"{rfc3339(row['ts'])}  +{row['step_ms']:>7.0f} ms  {row['service']!s:<16} "
        f"{row['level']!s:<5} {row['message']}{extra}"
    )


def _errors(args: argparse.Namespace, root: Path, outputs: Path) -> int:
    start, end = _window(args)
    report = error_groups(_store(args), start, end)
    groups = report.groups[: args.top] if args.top > 0 else report.groups
    if args.json:
        print(json.dumps([g.to_dict() for g in groups], ensure_ascii=False, indent=1))
    else:
        print(f"{'COUNT':>6}  {'FIRST SEEN':<24}  {'LAST SEEN':<24}  GROUP")
        for g in groups:
            print(
                f"{g.count:>6}  {rfc3339(g.first_seen):<24}  {rfc3339(g.last_seen):<24}  {g.group}"
            )
    _report(report.stats)
    return 0
