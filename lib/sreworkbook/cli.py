"""The ``sreworkbook`` command: run notebooks, build the index, drive the sandbox.

Exit codes (README, "Exit codes"): 0 OK or WARN, 1 CRIT or UNKNOWN, 2 a notebook failed,
124 a run passed its deadline (TIMEOUT), 64 bad input (parameters, a missing file, a bad argument); ``sandbox status`` exits 3 when a
component is not running (like ``systemctl status``).

On a terminal, ``run``, ``daily``, ``demo`` and ``sandbox up`` draw a status line on stderr
(the running cell, the jobs, the long steps; :mod:`sreworkbook.progress`); ``--quiet``, a
pipe or a file turns it off, and stdout carries only the result lines.
"""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sreworkbook.commands import EXIT_BAD_INPUT, ArgumentParser, run_command
from sreworkbook.config import load_environment, workbook_root
from sreworkbook.exceptions import ParameterError, WorkbookError
from sreworkbook.progress import CellProgress, JobsProgress, StatusLine, StepsProgress, wanted
from sreworkbook.results import Status

if TYPE_CHECKING:
    from sreworkbook.index import Expectations
    from sreworkbook.results import RunSummary

__all__ = ["EXIT_BAD_INPUT", "EXIT_NOT_RUNNING", "main"]

#: ``sandbox status`` when a configured component is not running (``systemctl status``: 3).
EXIT_NOT_RUNNING = 3


def _parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(prog="sreworkbook", description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, help="workbook folder (default: found from cwd)")
    parser.add_argument(
        "--outputs",
        help="outputs folder or s3://bucket/prefix (default: $SREWORKBOOK_OUTPUTS, else ROOT/outputs)",
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=ArgumentParser)

    run = sub.add_parser("run", help="run one notebook under the run contract")
    run.add_argument("notebook", help="a name under notebooks/ (e.g. health_inspection) or a path")
    run.add_argument("--env", default="sandbox", help="environment name or parameter file")
    run.add_argument(
        "-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE")
    )
    run.add_argument(
        "--deadline",
        type=_seconds,
        default=None,
        help="seconds for the whole run (default: the notebook's budget); past it: exit 124",
    )
    run.add_argument(
        "--cell-timeout",
        type=_seconds,
        default=None,
        help="seconds per cell (default: the notebook's budget)",
    )
    _quiet_option(run)

    sub.add_parser("index", help="rebuild outputs/index.html from the ledger")

    daily = sub.add_parser("daily", help="run the daily jobs of parameters/schedule.yaml")
    daily.add_argument("--env", help="run every job on this environment instead")
    daily.add_argument("--parallel", type=int, default=2, help="runs at once (default 2)")
    _quiet_option(daily)

    sandbox = sub.add_parser("sandbox", help="the embedded sandbox stack")
    sandbox.add_argument("action", choices=["up", "down", "status", "fault"])
    sandbox.add_argument("--env", default="sandbox")
    sandbox.add_argument("--strict", action="store_true", help="fail if a component cannot start")
    sandbox.add_argument("--latency-ms", type=float, default=0.0)
    sandbox.add_argument("--error-ratio", type=float, default=0.0)
    sandbox.add_argument("--down", action="append", default=[], metavar="COMPONENT")
    sandbox.add_argument("--memory-pct", type=float, default=None)
    _quiet_option(sandbox)

    demo = sub.add_parser("demo", help="sandbox up, the daily suite, index, sandbox down")
    demo.add_argument("--env", default="sandbox")
    demo.add_argument(
        "--incident",
        action="store_true",
        help="instead: a fault, the responder's reply with the runbook's report, the resolution",
    )
    _quiet_option(demo)
    for register in _capability_commands():
        register(sub)
    return parser


def _seconds(text: str) -> float:
    """A positive number of seconds (argparse reports the ``ValueError`` as bad input, 64)."""
    value = float(text)
    if not value > 0:
        raise ValueError(text)
    return value


_seconds.__name__ = "number of seconds"  # argparse: "invalid number of seconds value: '0'"


def _quiet_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-q", "--quiet", action="store_true", help="no progress line (none off a terminal either)"
    )


def _progress_on(args: argparse.Namespace) -> bool:
    return wanted(sys.stderr, quiet=getattr(args, "quiet", False))


def _capability_commands() -> list[Callable[[Any], None]]:
    """The ``register(subparsers)`` of each capability that adds commands of its own."""
    from sreworkbook.alerts.cli import register as alerts
    from sreworkbook.backups.cli import register as backups_register
    from sreworkbook.doctor.cli import register as doctor
    from sreworkbook.incidents.cli import register as logs
    from sreworkbook.index.cli import register as index_register
    from sreworkbook.respond.cli import register as respond_register
    from sreworkbook.schedule.cli import register as schedule

    def outputs(subparsers: Any) -> None:
        index_register(subparsers, expected=_expected)

    def backups(subparsers: Any) -> None:
        backups_register(subparsers, record=_record)

    def respond(subparsers: Any) -> None:
        respond_register(subparsers, expected=_expected)

    return [alerts, backups, doctor, logs, outputs, respond, schedule]


def _expected(root: Path, now: datetime) -> Expectations:
    """What ``parameters/schedule.yaml`` expects of each job, for the index page."""
    from sreworkbook.schedule import load_expectations

    return load_expectations(root / "parameters" / "schedule.yaml", now=now)


def _record(summary: RunSummary, where: str, root: Path) -> str:
    """Record a run that wrote no report in the outputs root ``where``; a note if it failed."""
    from sreworkbook.index import open_outputs
    from sreworkbook.index.cli import record_summary

    try:
        now = datetime.now(UTC)
        record_summary(open_outputs(where), summary, now=now, expected=_expected(root, now))
    except WorkbookError as exc:
        return f"the run could not be recorded in {where}: {exc}"
    return ""


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)

    def run() -> int:
        root = (args.root or _root(optional=getattr(args, "root_optional", False))).resolve()
        from sreworkbook.index.cli import resolve_outputs

        args.outputs_url = resolve_outputs(args.outputs, root=root, environ=os.environ)
        s3 = args.outputs_url.startswith("s3://")
        outputs = root / "outputs" if s3 else Path(args.outputs_url)
        command = getattr(args, "handler", None) or _COMMANDS[args.command]
        code: int = command(args, root, outputs)
        return code

    return run_command(run)


def _root(*, optional: bool) -> Path:
    """The workbook around the cwd; commands that need none (``backups verify``) use the cwd."""
    try:
        return workbook_root(environ=os.environ)
    except ParameterError:
        if optional:
            return Path.cwd()
        raise


def _quiet_kernel_logs() -> None:
    """A refused or failed run shuts its kernel down mid-flight; the ZMQ/tornado machinery
    then logs tracebacks that say nothing to the user (the run's own message does)."""
    for name in ("tornado.general", "tornado.application", "traitlets", "asyncio"):
        logging.getLogger(name).setLevel(logging.CRITICAL)


def _run(args: argparse.Namespace, root: Path, outputs: Path) -> int:
    from sreworkbook.index.cli import run_to_outputs
    from sreworkbook.index.storage import open_outputs
    from sreworkbook.reports import RunRequest

    _quiet_kernel_logs()
    cells = CellProgress(Path(args.notebook).name.removesuffix(".ipynb"))
    with StatusLine(sys.stderr, cells.render, enabled=_progress_on(args)):
        outcome, report = run_to_outputs(
            open_outputs(args.outputs_url),
            RunRequest(
                notebook=args.notebook,
                env=args.env,
                root=root,
                outputs=outputs,
                parameters=dict(args.parameter),
                cell_timeout_s=args.cell_timeout,
                deadline_s=args.deadline,
                on_cell=cells.started,
            ),
            environ=os.environ,
            expected=_expected(root, datetime.now(UTC)),
        )
    summary = outcome.summary
    print(f"{summary.status.value:7} {summary.notebook} on {summary.env}: {summary.headline}")
    print(f"        report: {report}")
    return outcome.exit_code


def _index(args: argparse.Namespace, root: Path, outputs: Path) -> int:
    from sreworkbook.index.storage import open_outputs

    now = datetime.now(UTC)
    print(open_outputs(args.outputs_url).rebuild_index(now=now, expected=_expected(root, now)))
    return 0


def _last_durations(outputs_url: str) -> dict[str, float]:
    """Seconds the last finished run of each notebook took (on any environment); empty when
    the ledger cannot be read (the jobs then keep the schedule's order)."""
    from sreworkbook.index.storage import open_outputs
    from sreworkbook.reports.ledger import Ledger

    last: dict[str, float] = {}
    try:
        with open_outputs(outputs_url).ledger_file() as path:
            for run in Ledger(path):
                last[run.notebook] = run.duration_s
    except WorkbookError:
        return {}
    return last


def _daily(args: argparse.Namespace, root: Path, outputs: Path) -> int:
    from sreworkbook.index.storage import open_outputs
    from sreworkbook.schedule import load_schedule
    from sreworkbook.schedule.dispatch import longest_first

    if args.parallel < 1:
        raise ParameterError("must be at least 1", key="--parallel")
    jobs = load_schedule(root / "parameters" / "schedule.yaml").daily_jobs()
    for job in jobs:  # bad environments fail before anything runs
        load_environment(args.env or job.env, root=root)
    last = _last_durations(args.outputs_url)
    jobs = longest_first(jobs, lambda job: last.get(job.notebook))

    jobs_progress = JobsProgress(len(jobs))

    def one(job_index: int) -> tuple[int, str]:
        job = jobs[job_index]
        command = [sys.executable, "-m", "sreworkbook", "--root", str(root)]
        command += ["--outputs", args.outputs_url, *job.run_arguments(env=args.env)]
        jobs_progress.started(job.name)
        try:
            done = subprocess.run(
                command, capture_output=True, text=True, timeout=job.timeout_s, check=False
            )
        except subprocess.TimeoutExpired:
            return (
                Status.ERROR.exit_code,
                f"ERROR   {job.name}: timed out after {job.timeout_s} s\n",
            )
        return done.returncode, done.stdout + done.stderr

    codes: list[int] = []
    with (
        StatusLine(sys.stderr, jobs_progress.render, enabled=_progress_on(args)) as line,
        ThreadPoolExecutor(max_workers=args.parallel) as pool,
    ):
        futures = {pool.submit(one, i): jobs[i].name for i in range(len(jobs))}
        for future in as_completed(futures):
            code, text = future.result()
            codes.append(code)
            counter = f"[{jobs_progress.done(futures[future])}/{len(jobs)}] "
            body = text.rstrip("\n").replace("\n", "\n" + " " * len(counter))
            line.write(counter + body, sys.stdout)
    now = datetime.now(UTC)
    index = open_outputs(args.outputs_url).rebuild_index(now=now, expected=_expected(root, now))
    print(f"index: {index}")
    return max(codes, default=0)


def _sandbox(args: argparse.Namespace, root: Path, outputs: Path) -> int:
    from sreworkbook import sandbox

    env = load_environment(args.env, root=root)
    if args.action == "up":
        state = _sandbox_up(sandbox, env, root, args, strict=args.strict)
    elif args.action == "down":
        state = sandbox.down(env, root=root)
    elif args.action == "status":
        state = sandbox.status(env, root=root)
    else:
        sandbox.set_fault(
            env,
            latency_ms=args.latency_ms,
            error_ratio=args.error_ratio,
            down=args.down,
            memory_pct=args.memory_pct,
        )
        print("fault switch set")
        return 0
    for component in state.components:
        print(f"{component.name:11} {component.status:8} {component.url}  {component.detail}")
    if args.action == "status":
        idle = [c for c in state.components if c.status not in ("running", "disabled")]
        return EXIT_NOT_RUNNING if idle else 0
    return 1 if state.failed() else 0


def _sandbox_up(
    sandbox: Any, env: Any, root: Path, args: argparse.Namespace, *, strict: bool = False
) -> Any:
    """``sandbox.up`` with its long steps on the status line and its log lines above it."""
    steps = StepsProgress()
    with StatusLine(sys.stderr, steps.render, enabled=_progress_on(args)) as line:
        return sandbox.up(
            env,
            root=root,
            strict=strict,
            log=lambda text: line.write(text, sys.stdout),
            progress=steps,
        )


def _demo(args: argparse.Namespace, root: Path, outputs: Path) -> int:
    from sreworkbook import sandbox

    if args.incident:
        from sreworkbook.demo_incident import demo_incident

        return demo_incident(
            args.env, root, args.outputs_url,
            up=lambda env: _sandbox_up(sandbox, env, root, args), say=print,
        )  # fmt: skip
    env = load_environment(args.env, root=root)
    print("Starting the sandbox (the first start backfills 30 days of metrics)...")
    _sandbox_up(sandbox, env, root, args)
    try:
        daily = argparse.Namespace(
            env=args.env, parallel=2, outputs_url=args.outputs_url, quiet=args.quiet
        )
        code = _daily(daily, root, outputs)
    finally:
        sandbox.down(env, root=root)
    print(f"\nOpen the reports: {outputs / 'index.html'}")
    return 0 if code in (0, 1) else code


_COMMANDS = {
    "run": _run,
    "index": _index,
    "daily": _daily,
    "sandbox": _sandbox,
    "demo": _demo,
}
