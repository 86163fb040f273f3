"""Start, stop and inspect the whole sandbox: ``up``, ``down``, ``status``.

``up`` starts every component the environment names, concurrently, each as a detached
process; one that cannot start is reported in one line and the others go on. Components
already running are left alone. ``state.json`` in the data directory records the processes.
"""

from __future__ import annotations

import importlib.util
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

from sreworkbook.config import Environment
from sreworkbook.exceptions import SandboxError
from sreworkbook.sandbox.alertmanager_server import start_alertmanager
from sreworkbook.sandbox.layout import (
    COMPONENTS,
    Context,
    Layout,
    Silent,
    StepReporter,
    endpoint_of,
)
from sreworkbook.sandbox.mongo_server import start_mongodb, stop_container
from sreworkbook.sandbox.process import stop_group
from sreworkbook.sandbox.prometheus_server import start_prometheus
from sreworkbook.sandbox.receivers_server import start_receivers
from sreworkbook.sandbox.redis_server import start_redis
from sreworkbook.sandbox.responder_server import start_responder
from sreworkbook.sandbox.s3_server import start_s3
from sreworkbook.sandbox.services import start_ai, start_api
from sreworkbook.sandbox.state import (
    DISABLED,
    FAILED,
    RUNNING,
    STOPPED,
    Record,
    SandboxState,
    StateFile,
)

__all__ = ["down", "status", "up"]

Starter = Callable[[Context], Record]
#: Components whose server comes from the ``sandbox`` extra, and the module it needs.
_EXTRA_MODULES = {"s3": "moto", "receivers": "aiosmtpd"}


def _starters() -> dict[str, Starter]:
    return {
        "redis": start_redis,
        "mongodb": start_mongodb,
        "ai": start_ai,
        "api": start_api,
        "prometheus": start_prometheus,
        "receivers": start_receivers,
        "responder": start_responder,
        "alertmanager": start_alertmanager,
        "s3": start_s3,
    }


def _reason(exc: SandboxError) -> str:
    text = str(exc)
    prefix = f"{exc.component}: "
    return text[len(prefix) :] if text.startswith(prefix) else text


def _url(env: Environment, name: str) -> str:
    try:
        found = endpoint_of(env, name)
    except SandboxError:
        return ""
    return found.url if found else ""


def _state(layout: Layout, records: dict[str, Record]) -> SandboxState:
    return SandboxState(
        data_dir=layout.data_dir,
        components=tuple(records[name].to_state() for name in COMPONENTS),
        incidents_file=layout.incidents_file,
    )


def up(
    env: Environment,
    *,
    root: Path,
    strict: bool = False,
    log: Callable[[str], None] = lambda s: None,
    history_cache: Path | None = None,
    now: datetime | None = None,
    progress: StepReporter | None = None,
) -> SandboxState:
    """Start the sandbox described by ``env`` under ``root`` and return its state.

    Idempotent: running components are left alone. Each component that cannot start is
    reported through ``log`` as one line (``"mongodb: FAILED — ..."``); with ``strict`` a
    :class:`SandboxError` listing them is raised after every component was tried.
    ``history_cache`` is a directory in which generated Prometheus history is kept for reuse
    by other data directories; ``now`` (aware) fixes the clock the history is anchored to.
    ``progress`` is told each component's long steps (a terminal's status line).
    """
    layout = Layout.of(env, root)
    layout.data_dir.mkdir(parents=True, exist_ok=True)
    states = StateFile(layout.state_file)
    known = {name: record.current() for name, record in states.read().items()}
    steps = progress or Silent()
    ctx = Context(env, layout, now or datetime.now(UTC), log, history_cache, steps)
    starters = _starters()

    def ensure(name: str) -> Record:
        try:
            where = endpoint_of(env, name)
        except SandboxError as exc:
            log(f"{name}: FAILED — {_reason(exc)}")
            record = Record(name, FAILED, detail=_reason(exc))
            states.put(record)
            return record
        if where is None:
            record = Record(name, DISABLED, detail="not configured in this environment")
            states.put(record)
            return record
        previous = known.get(name)
        if previous is not None and previous.status == RUNNING:
            log(f"{name}: already running (pid {previous.pid}) at {previous.url}")
            return previous
        module = _EXTRA_MODULES.get(name)
        if module is not None and importlib.util.find_spec(module) is None:
            reason = f"needs {module}: pip install 'sreworkbook[sandbox]'"
            log(f"{name}: FAILED — {reason}")
            record = Record(name, FAILED, url=where.url, detail=reason)
            states.put(record)
            return record
        log(f"{name}: starting on {where.address}")
        began = time.monotonic()
        steps.step(name, "starting")
        try:
            record = starters[name](ctx)
        except (SandboxError, OSError) as exc:
            reason = (
                _reason(exc) if isinstance(exc, SandboxError) else f"{type(exc).__name__}: {exc}"
            )
            log(f"{name}: FAILED — {reason}")
            record = Record(name, FAILED, url=where.url, detail=reason)
        else:
            log(
                f"{name}: running (pid {record.pid}) at {record.url} after {time.monotonic() - began:.1f} s — {record.detail}"
            )
        finally:
            steps.finished(name)
        states.put(record)
        return record

    with ThreadPoolExecutor(max_workers=len(COMPONENTS), thread_name_prefix="sandbox-up") as pool:
        records = dict(zip(COMPONENTS, pool.map(ensure, COMPONENTS), strict=True))
    state = _state(layout, records)
    failed = state.failed()
    if strict and failed:
        listing = "; ".join(f"{c.name}: {c.detail}" for c in failed)
        raise SandboxError(
            f"{len(failed)} component(s) could not start — {listing}", component="sandbox"
        )
    return state


def down(env: Environment, *, root: Path) -> SandboxState:
    """Stop every component the state file records as running; mark them stopped."""
    layout = Layout.of(env, root)
    states = StateFile(layout.state_file)
    known = states.read()

    def stop(name: str) -> Record:
        record = known.get(name)
        if record is None:
            return Record(name, STOPPED, url=_url(env, name))
        if record.container:
            stop_container(record.container)
        elif record.pid is not None:
            stop_group(record.pid, ticks=record.ticks)
        stopped = Record(name, STOPPED, url=record.url, backend=record.backend)
        states.put(stopped)
        return stopped

    with ThreadPoolExecutor(max_workers=len(COMPONENTS), thread_name_prefix="sandbox-down") as pool:
        records = dict(zip(COMPONENTS, pool.map(stop, COMPONENTS), strict=True))
    return _state(layout, records)


def status(env: Environment, *, root: Path) -> SandboxState:
    """The sandbox's state as recorded, checked against the process table. Changes nothing."""
    layout = Layout.of(env, root)
    known = StateFile(layout.state_file).read()
    records: dict[str, Record] = {}
    for name in COMPONENTS:
        record = known.get(name)
        if record is not None:
            records[name] = record.current()
        else:
            url = _url(env, name)
            records[name] = Record(name, STOPPED if url else DISABLED, url=url)
    return _state(layout, records)
