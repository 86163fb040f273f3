"""``sreworkbook respond serve``: the alert responder in the foreground (systemd, Kubernetes).

Wired into the main command by ``register(subparsers, expected=...)`` (the schedule's
expectations for the index, which this package may not read itself). Bad configuration
stops it before it listens: exit 64 naming the key.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sreworkbook.config import Environment, ResponderConfig, load_environment
from sreworkbook.exceptions import ParameterError
from sreworkbook.index.model import Expectations
from sreworkbook.index.page import build_index
from sreworkbook.index.storage import open_outputs
from sreworkbook.respond.book import IncidentBook
from sreworkbook.respond.episodes import Decision, Episode
from sreworkbook.respond.journal import Journal, Work
from sreworkbook.respond.payload import AlertGroup
from sreworkbook.respond.server import WebhookServer
from sreworkbook.respond.service import Responder
from sreworkbook.respond.work import Executor, Outcome, Runner, RunResult, default_sender
from sreworkbook.secrets import Scrubber

__all__ = ["build", "register"]

Expected = Callable[[Path, datetime], Expectations]


def register(subparsers: Any, *, expected: Expected) -> None:
    """Add ``respond`` and ``respond serve`` to the ``sreworkbook`` parser."""
    respond = subparsers.add_parser("respond", help="the alert responder (Alertmanager webhook)")
    sub = respond.add_subparsers(dest="respond_command", required=True)
    serve = sub.add_parser(
        "serve",
        help="receive Alertmanager's webhook, run the runbooks, reply (foreground)",
        description="Listens for Alertmanager's webhook_configs posts (version 4), runs the "
        "mapped runbook for each firing group once per episode and replies with its report; "
        "replies again when the group resolves. Configured in the environment's responder: "
        "section. Loopback unless --listen or responder.listen says otherwise.",
    )
    serve.add_argument("--env", default="sandbox", help="environment name or parameter file")
    serve.add_argument("--listen", metavar="HOST:PORT", help="address (default responder.listen)")
    serve.add_argument(
        "--journal-dir", type=Path, help="the journal's folder (default responder.journal_dir)"
    )
    serve.set_defaults(handler=lambda a, r, o: _serve(a, r, o, expected=expected))


def responder_config(env: Environment) -> ResponderConfig:
    if env.responder is None:
        raise ParameterError("no responder: section", source=env.source_file, key="responder")
    return env.responder


def _check_notebooks(env: Environment, config: ResponderConfig, root: Path) -> None:
    """Every mapped notebook exists and takes the parameters mapped to it."""
    from sreworkbook.reports.execute import declared_parameters
    from sreworkbook.reports.pipeline import find_notebook

    mappings = {f"responder.runbooks.{k}": v for k, v in config.runbooks.items()}
    if config.triage is not None:
        mappings["responder.triage"] = config.triage
    for key, mapping in mappings.items():
        try:
            declared = declared_parameters(find_notebook(mapping.notebook, root=root))
        except ParameterError as exc:
            raise ParameterError(str(exc), source=env.source_file, key=f"{key}.notebook") from None
        for name in mapping.parameters:
            if name not in declared:
                takes = ", ".join(sorted(declared)) or "none"
                raise ParameterError(
                    f"{mapping.notebook} has no parameter {name!r} (it takes: {takes})",
                    source=env.source_file,
                    key=f"{key}.parameters",
                )


def _runner(
    env_arg: str, config: ResponderConfig, root: Path, outputs_url: str, environ: Mapping[str, str],
    expected: Expected,
) -> Runner:  # fmt: skip
    from sreworkbook.index.cli import run_to_outputs
    from sreworkbook.reports import RunRequest

    outputs = open_outputs(outputs_url)
    local = Path(outputs_url) if not outputs_url.startswith("s3://") else root / "outputs"

    def run(notebook: str, parameters: Mapping[str, str]) -> RunResult:
        request = RunRequest(notebook, env_arg, root, local, parameters=dict(parameters))
        outcome, where = run_to_outputs(
            outputs, request, environ=environ, expected=expected(root, datetime.now(UTC))
        )
        summary = outcome.summary
        link = where
        if config.report_base_url:
            link = f"{config.report_base_url.rstrip('/')}/{summary.report}"
        return RunResult(
            summary.notebook, summary.status, summary.headline, link, summary.run_id,
            summary.report,
        )  # fmt: skip

    return run


def build(
    env_arg: str,
    root: Path,
    outputs_url: str,
    environ: Mapping[str, str],
    *,
    expected: Expected,
    on_outcome: Callable[[Work, Outcome], None] | None = None,
    on_decision: Callable[[AlertGroup, Decision, Episode | None], None] | None = None,
    journal_dir: Path | None = None,
) -> tuple[Environment, ResponderConfig, Responder]:
    """The responder for environment ``env_arg``, checked, not started."""
    env = load_environment(env_arg, root=root)
    config = responder_config(env)
    if not env.secret(config.token, environ, key="responder.token").strip():  # stop now
        raise ParameterError(f"{config.token} is empty", source=env.source_file,
                             key="responder.token")  # fmt: skip
    _check_notebooks(env, config, root)
    executor = Executor(
        env,
        config,
        runner=_runner(env_arg, config, root, outputs_url, environ, expected),
        sender=default_sender(environ),
    )
    scrubber = Scrubber.from_references(env.secret_references(), environ)
    folder = journal_dir or Path(config.journal_dir)
    journal = Journal((folder if folder.is_absolute() else root / folder) / f"{env.name}.jsonl",
                      scrubber=scrubber)  # fmt: skip
    responder = Responder(executor, journal, on_outcome=on_outcome, on_decision=on_decision)
    return env, config, responder


def _address(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit():
        raise ParameterError(f"must be HOST:PORT, got {value!r}", key="--listen")
    return host.strip("[]"), int(port)


def _serve(args: argparse.Namespace, root: Path, outputs: Path, *, expected: Expected) -> int:
    def said(line: str) -> None:
        print(line, flush=True)

    book: list[IncidentBook] = []

    def decided(group: AlertGroup, decision: Decision, episode: Episode | None) -> None:
        said(f"{decision.value:7} {group.alertname} ({group.status}, {len(group.alerts)} alerts)")
        for keeper in book:
            keeper.decided(group, decision, episode)

    def finished(work: Work, outcome: Outcome) -> None:
        sent = ", ".join(f"{d.notifier} {'ok' if d.ok else 'FAILED'}" for d in outcome.deliveries)
        run = f"{outcome.run.status.value} {outcome.run.report_url}" if outcome.run else "no run"
        said(f"replied {work.kind}: {run}; {sent or 'no channel'}")
        for keeper in book:
            keeper.finished(work, outcome)

    env, config, responder = build(
        args.env, root, args.outputs_url, os.environ, expected=expected,
        on_outcome=finished, on_decision=decided, journal_dir=args.journal_dir,
    )  # fmt: skip
    if not args.outputs_url.startswith("s3://"):  # incident pages: a local outputs folder
        folder = Path(args.outputs_url)
        book.append(IncidentBook(
            folder, env.name, clock=time.time,
            rebuild_index=lambda: build_index(folder, expected=expected(root, datetime.now(UTC))),
        ))  # fmt: skip
    token = env.secret(config.token, os.environ, key="responder.token")
    server = WebhookServer(_address(args.listen or config.listen), responder, lambda: token)
    replay = responder.start()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    said(f"respond: listening on {server.url}/webhook for {env.name}"
         f" ({len(replay.pending)} journalled item(s) to finish; SIGTERM stops)")  # fmt: skip
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        responder.stop(timeout_s=1.0)
        for keeper in book:
            keeper.close()
    return 0
