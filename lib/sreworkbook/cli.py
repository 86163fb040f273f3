"""The ``sreworkbook`` command: run notebooks, build the index, drive the sandbox.

Exit codes (README, "Exit codes"): 0 OK or WARN, 1 CRIT or UNKNOWN, 2 a notebook failed,
64 bad input (parameters, a missing file, a bad argument).
"""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sreworkbook.commands import EXIT_BAD_INPUT, ArgumentParser, run_command
from sreworkbook.config import load_environment, workbook_root
from sreworkbook.exceptions import ParameterError
from sreworkbook.results import Status

if TYPE_CHECKING:
    from sreworkbook.index import Expectations

__all__ = ["EXIT_BAD_INPUT", "main"]


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
    run.add_argument("--cell-timeout", type=float, default=None, help="seconds per cell")

    sub.add_parser("index", help="rebuild outputs/index.html from the ledger")

    daily = sub.add_parser("daily", help="run the daily jobs of parameters/schedule.yaml")
    daily.add_argument("--env", help="run every job on this environment instead")
    daily.add_argument("--parallel", type=int, default=2, help="runs at once (default 2)")

    sandbox = sub.add_parser("sandbox", help="the embedded sandbox stack")
    sandbox.add_argument("action", choices=["up", "down", "status", "fault"])
    sandbox.add_argument("--env", default="sandbox")
    sandbox.add_argument("--strict", action="store_true", help="fail if a component cannot start")
    sandbox.add_argument("--latency-ms", type=float, default=0.0)
    sandbox.add_argument("--error-ratio", type=float, default=0.0)
    sandbox.add_argument("--down", action="append", default=[], metavar="COMPONENT")
    sandbox.add_argument("--memory-pct", type=float, default=None)

    demo = sub.add_parser("demo", help="sandbox up, the daily suite, index, sandbox down")
    demo.add_argument("--env", default="sandbox")
    for register in _capability_commands():
        register(sub)
    return parser


def _capability_commands() -> list[Callable[[Any], None]]:
    """The ``register(subparsers)`` of each capability that adds commands of its own."""
    from sreworkbook.alerts.cli import register as alerts
    from sreworkbook.backups.cli import register as backups
    from sreworkbook.incidents.cli import register as logs
    from sreworkbook.index.cli import register as index_register
    from sreworkbook.schedule.cli import register as schedule

    def outputs(subparsers: Any) -> None:
        index_register(subparsers, expected=_expected)

    return [alerts, backups, logs, outputs, schedule]


def _expected(root: Path, now: datetime) -> Expectations:
    """What ``parameters/schedule.yaml`` expects of each job, for the index page."""
    from sreworkbook.schedule import load_expectations

    return load_expectations(root / "parameters" / "schedule.yaml", now=now)


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
        return workbook_root()
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
    outcome, report = run_to_outputs(
        open_outputs(args.outputs_url),
        RunRequest(
            notebook=args.notebook,
            env=args.env,
            root=root,
            outputs=outputs,
            parameters=dict(args.parameter),
            cell_timeout_s=args.cell_timeout,
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


def _daily(args: argparse.Namespace, root: Path, outputs: Path) -> int:
    from sreworkbook.index.storage import open_outputs
    from sreworkbook.schedule import load_schedule

    if args.parallel < 1:
        raise ParameterError("must be at least 1", key="--parallel")
    jobs = load_schedule(root / "parameters" / "schedule.yaml").daily_jobs()
    for job in jobs:  # bad environments fail before anything runs
        load_environment(args.env or job.env, root=root)

    def one(job_index: int) -> tuple[int, str]:
        job = jobs[job_index]
        command = [sys.executable, "-m", "sreworkbook", "--root", str(root)]
        command += ["--outputs", args.outputs_url, *job.run_arguments(env=args.env)]
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

    with ThreadPoolExecutor(max_workers=args.parallel) as pool:
        results = list(pool.map(one, range(len(jobs))))
    for _code, text in results:
        print(text, end="")
    now = datetime.now(UTC)
    index = open_outputs(args.outputs_url).rebuild_index(now=now, expected=_expected(root, now))
    print(f"index: {index}")
    return max((code for code, _ in results), default=0)


def _sandbox(args: argparse.Namespace, root: Path, outputs: Path) -> int:
    from sreworkbook import sandbox

    env = load_environment(args.env, root=root)
    if args.action == "up":
        state = sandbox.up(env, root=root, strict=args.strict, log=print)
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
    return 1 if state.failed() else 0


def _demo(args: argparse.Namespace, root: Path, outputs: Path) -> int:
    from sreworkbook import sandbox

    env = load_environment(args.env, root=root)
    print("Starting the sandbox (the first start backfills 30 days of metrics)...")
    sandbox.up(env, root=root, log=print)
    try:
        daily = argparse.Namespace(env=args.env, parallel=2, outputs_url=args.outputs_url)
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
