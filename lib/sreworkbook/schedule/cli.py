"""``sreworkbook schedule ...``: run-due, serve, run, check, list and export.

Wired into the main command by ``register(subparsers)``; each handler takes
``(args, root, outputs)`` and returns the exit code (README, "Exit codes").
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sreworkbook.config import load_environment
from sreworkbook.exceptions import ParameterError, WorkbookError
from sreworkbook.schedule.cron import next_after
from sreworkbook.schedule.dispatch import check, run_due, serve
from sreworkbook.schedule.export import ExportOptions, export, exporters
from sreworkbook.schedule.export.common import ResponderService
from sreworkbook.schedule.model import Schedule, load_schedule
from sreworkbook.schedule.runner import SubprocessRunner
from sreworkbook.schedule.state import SchedulerFiles
from sreworkbook.timeutil import parse_time, rfc3339

if TYPE_CHECKING:
    from sreworkbook.notify import Channels

__all__ = ["register"]


def register(subparsers: Any) -> None:
    """Add ``schedule`` and its subcommands to the ``sreworkbook`` parser."""
    schedule = subparsers.add_parser("schedule", help="scheduled runs of parameters/schedule.yaml")
    schedule.add_argument("--schedule", type=Path, help="schedule file (default: ROOT/parameters)")
    sub = schedule.add_subparsers(dest="schedule_command", required=True)

    due = sub.add_parser(
        "run-due", help="run what became due since the last call (cron: * * * * *)"
    )
    due.add_argument("--parallel", type=int, default=2, help="jobs at once (default 2)")
    _run_options(due)
    due.set_defaults(handler=_run_due)

    loop = sub.add_parser("serve", help="run due jobs in a foreground loop (for a container)")
    _run_options(loop)
    loop.set_defaults(handler=_serve)

    one = sub.add_parser("run", help="run one job now, under its lock, timeout and retries")
    one.add_argument("job", help="the job's name in the schedule")
    one.add_argument("--env", help="run on this environment instead of the job's")
    _run_options(one)
    one.set_defaults(handler=_run_one)

    stale = sub.add_parser("check", help="CRIT (exit 1) when a job did not succeed when due")
    stale.add_argument("--since", help="ignore due times before this (default: first run-due)")
    stale.set_defaults(handler=_check)

    listing = sub.add_parser("list", help="the jobs, their last success and next due time")
    listing.set_defaults(handler=_list)

    out = sub.add_parser("export", help="write cron, systemd, Kubernetes or Airflow files")
    out.add_argument("--format", required=True, choices=sorted(exporters()))
    out.add_argument("--out", type=Path, required=True, help="folder to write into")
    out.add_argument("--workdir", default=ExportOptions.workdir, help="workbook on the target")
    out.add_argument("--command", help="sreworkbook executable (default WORKDIR/.venv/bin/...)")
    out.add_argument("--outputs-dir", help="outputs folder on the target (default WORKDIR/outputs)")
    out.add_argument(
        "--image",
        help="container image (k8s; default $SREWORKBOOK_IMAGE, else image: in the schedule)",
    )
    out.add_argument("--secret", default=ExportOptions.secret, help="Secret name (k8s)")
    out.add_argument(
        "--configmap", default=ExportOptions.configmap, help="ConfigMap of parameters (k8s)"
    )
    out.add_argument("--pvc", default=ExportOptions.pvc, help="outputs volume claim (k8s)")
    out.add_argument("--user", help="systemd User=")
    out.add_argument(
        "--responder-env",
        metavar="ENV",
        help="also the alert responder (respond serve) on ENV, as a service (systemd, k8s)",
    )
    out.set_defaults(handler=_export)


def _run_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--report-base-url", help="where outputs/ is served, for links in notifications"
    )


def _schedule(args: argparse.Namespace, root: Path) -> tuple[Schedule, Path]:
    path = args.schedule or root / "parameters" / "schedule.yaml"
    return load_schedule(path), path


def _channels(root: Path) -> Channels:
    from sreworkbook.notify import channels_of  # HTTP and SMTP clients: only when running

    return channels_of(root, os.environ)


def _runner(args: argparse.Namespace, root: Path, outputs: Path) -> SubprocessRunner:
    return SubprocessRunner(
        root=root,
        outputs=outputs,
        environ=os.environ,
        channels=_channels(root),
        report_base_url=args.report_base_url,
        env_override=getattr(args, "env", None),
    )


def _run_due(args: argparse.Namespace, root: Path, outputs: Path) -> int:
    if args.parallel < 1:
        raise ParameterError("must be at least 1", key="--parallel")
    schedule, _ = _schedule(args, root)
    now = datetime.now(UTC)
    plan, results = run_due(
        schedule,
        SchedulerFiles(outputs),
        now=now,
        runner=_runner(args, root, outputs),
        parallel=args.parallel,
    )
    for note in plan.notes:
        print(f"run-due: {note}")
    for result in results:
        print(result.line())
    if not plan.jobs:
        print(f"run-due: nothing due at {rfc3339(now.replace(microsecond=0))}")
    return max((r.exit_code for r in results), default=0)


def _serve(args: argparse.Namespace, root: Path, outputs: Path) -> int:
    _schedule(args, root)  # a bad file stops here, before the loop
    stopping: list[int] = []

    def stop_on(signum: int, _frame: Any) -> None:
        stopping.append(signum)

    signal.signal(signal.SIGTERM, stop_on)
    print(f"serve: running {root / 'parameters' / 'schedule.yaml'} (Ctrl-C or SIGTERM stops)")

    def nap(seconds: float) -> None:
        end = time.monotonic() + seconds
        while not stopping and time.monotonic() < end:
            time.sleep(min(1.0, end - time.monotonic()))

    serve(
        lambda: _schedule(args, root)[0],
        SchedulerFiles(outputs),
        runner=_runner(args, root, outputs),
        clock=time.time,
        sleep=nap,
        log=lambda line: print(line, flush=True),
        stop=lambda: bool(stopping),
    )
    return 0


def _run_one(args: argparse.Namespace, root: Path, outputs: Path) -> int:
    schedule, _ = _schedule(args, root)
    job = schedule.get(args.job)
    load_environment(args.env or job.env, root=root)  # bad input fails before the lock
    result = _runner(args, root, outputs)(job)
    print(result.line(), file=sys.stderr if result.locked else sys.stdout)
    return result.exit_code


def _check(args: argparse.Namespace, root: Path, outputs: Path) -> int:
    schedule, _ = _schedule(args, root)
    now = datetime.now(UTC)
    since = parse_time(args.since, now=now, name="--since") if args.since else None
    stale = check(schedule, SchedulerFiles(outputs), now=now, since=since)
    if not stale:
        print(f"OK      all {len(schedule.jobs)} jobs succeeded when due")
        return 0
    print(f"CRIT    {len(stale)} of {len(schedule.jobs)} jobs did not succeed when due:")
    for item in stale:
        print(f"        {item.line()}")
    return 1


def _list(args: argparse.Namespace, root: Path, outputs: Path) -> int:
    schedule, _ = _schedule(args, root)
    now = datetime.now(UTC)
    beats = SchedulerFiles(outputs).all_heartbeats()
    for job in schedule.jobs:
        upcoming = next_after(job.expr, now)
        beat = beats.get(job.name)
        last = rfc3339(beat.last_success) if beat and beat.last_success else "never"
        nxt = rfc3339(upcoming) if upcoming else "never"
        print(f"{job.name:24} {job.cron:16} next {nxt}  last success {last}")
    return 0


def _secret_refs(schedule: Schedule, root: Path) -> dict[str, tuple[str, ...]]:
    refs: dict[str, tuple[str, ...]] = {}
    for job in schedule.jobs:
        try:
            env = load_environment(job.env, root=root)
            # A job never needs the responder's token: only the responder's service gets it.
            refs[job.name] = tuple(env.model_copy(update={"responder": None}).secret_references())
        except WorkbookError:
            refs[job.name] = ()
    return refs


def _responder(env_name: str, root: Path) -> ResponderService:
    env = load_environment(env_name, root=root)
    if env.responder is None:
        raise ParameterError(
            "has no responder: section", source=env.source_file, key="--responder-env"
        )
    port = int(env.responder.listen.rpartition(":")[2])
    return ResponderService(env_name, port, tuple(env.secret_references()))


def _parameter_files(root: Path) -> dict[str, str]:
    folder = root / "parameters"
    return {
        p.name: p.read_text(encoding="utf-8")
        for p in sorted(folder.iterdir())
        if p.is_file() and p.suffix in (".yaml", ".yml")
    }


def _export(args: argparse.Namespace, root: Path, outputs: Path) -> int:
    schedule, path = _schedule(args, root)
    workdir = args.workdir.rstrip("/") or "/"
    try:
        source = str(path.resolve().relative_to(root))
    except ValueError:
        source = str(path)
    options = ExportOptions(
        workdir=workdir,
        command=args.command or f"{workdir}/.venv/bin/sreworkbook",
        outputs=args.outputs_dir,
        image=args.image or os.environ.get("SREWORKBOOK_IMAGE", ""),
        secret=args.secret,
        configmap=args.configmap,
        pvc=args.pvc,
        user=args.user,
        secret_refs=_secret_refs(schedule, root),
        parameter_files=_parameter_files(root) if args.format == "k8s" else {},
        source=source,
        responder=_responder(args.responder_env, root) if args.responder_env else None,
    )
    for written in export(schedule, args.format, args.out, options):
        print(written)
    return 0
