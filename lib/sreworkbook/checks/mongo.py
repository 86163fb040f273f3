"""MongoDB (or a MongoDB-compatible server such as FerretDB): ping, version, connections, size.

The status comes from ``ping`` alone: it answers → OK, it does not → CRIT (refused, reset,
no route, a host that does not resolve, authentication failed: the server is measured down)
or UNKNOWN (no answer in time, bad URI, the variable it refers to is unset, a timeout
mid-command: nothing was measured). Everything else is reported where the server offers it and
left out where it does not (FerretDB has no ``serverStatus.connections`` and no replica
sets): ``buildInfo`` version, ``serverStatus`` connections, ``replSetGetStatus`` lag, and
``dbStats`` of the configured database. The URI is resolved only here, when connecting,
and results show it masked.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import pymongo
from pymongo import MongoClient
from pymongo.errors import (
    ConfigurationError,
    ConnectionFailure,
    ExecutionTimeout,
    NetworkTimeout,
    OperationFailure,
    PyMongoError,
    ServerSelectionTimeoutError,
)

from sreworkbook.checks._common import budget, connection_probe, error_text
from sreworkbook.checks.runner import Check
from sreworkbook.config import Environment
from sreworkbook.results import CheckResult, Status
from sreworkbook.secrets import Scrubber, mask_uri

__all__ = ["mongo_check", "replication_lag_s"]

NAME = "ping"
COMPONENT = "mongodb"

ClientFactory = Callable[..., MongoClient[dict[str, Any]]]


def replication_lag_s(status: Mapping[str, Any]) -> float | None:
    """The largest lag, in seconds, of a secondary behind the primary in ``replSetGetStatus``.

    ``None`` when there is no primary or no secondary to compare.
    """
    members = [m for m in status.get("members", ()) if isinstance(m, Mapping)]
    primary = next((m for m in members if m.get("stateStr") == "PRIMARY"), None)
    if primary is None or not isinstance(primary.get("optimeDate"), datetime):
        return None
    lags = [
        (primary["optimeDate"] - m["optimeDate"]).total_seconds()
        for m in members
        if m.get("stateStr") == "SECONDARY" and isinstance(m.get("optimeDate"), datetime)
    ]
    return max(0.0, *lags) if lags else None


def _optional(db: Any, command: str) -> Mapping[str, Any] | None:
    """``command``'s answer, or ``None`` when the server lacks it, forbids it or fails it."""
    try:
        answer = db.command(command)
    except (OperationFailure, PyMongoError):
        return None
    return answer if isinstance(answer, Mapping) else None


def _details(
    client: MongoClient[dict[str, Any]], database: str, left_s: float
) -> tuple[list[str], dict[str, float]]:
    """What the server tells about itself, within ``left_s``; what does not fit is left out.

    A large database can take seconds to answer ``dbStats`` (FerretDB does): the ping has
    already answered, so running out of time costs detail, never the status.
    """
    if left_s < 0.05:
        return ["no time left for details"], {}
    with pymongo.timeout(left_s):
        return _ask(client, database)


def _ask(client: MongoClient[dict[str, Any]], database: str) -> tuple[list[str], dict[str, float]]:
    admin = client.admin
    words: list[str] = []
    metrics: dict[str, float] = {}
    build = _optional(admin, "buildInfo")
    if build and build.get("version"):
        words.append(f"version {build['version']}")
    server = _optional(admin, "serverStatus")
    connections = server.get("connections") if server else None
    if isinstance(connections, Mapping):
        for key in ("current", "available"):
            if isinstance(connections.get(key), int | float):
                metrics[f"connections_{key}"] = float(connections[key])
        if "connections_current" in metrics:
            words.append(f"{metrics['connections_current']:.0f} connections")
    replica = _optional(admin, "replSetGetStatus")
    lag = replication_lag_s(replica) if replica else None
    if lag is not None:
        metrics["replication_lag_s"] = lag
        words.append(f"replication lag {lag:.1f} s")
    stats = _optional(client[database], "dbStats")
    if stats:
        for source, key in (
            ("dataSize", "data_size_bytes"),
            ("collections", "collections"),
            ("objects", "objects"),
        ):
            if isinstance(stats.get(source), int | float):
                metrics[key] = float(stats[source])
        if "data_size_bytes" in metrics:
            words.append(
                f"{database}: {metrics.get('collections', 0):.0f} collections, "
                f"{metrics.get('objects', 0):.0f} objects, "
                f"{metrics['data_size_bytes'] / 1e6:.1f} MB"
            )
    return words, metrics


def selection_ms(timeout_s: float) -> int:
    """``serverSelectionTimeoutMS`` that gives up before the runner's deadline.

    pymongo's server selection wakes every 500 ms (its minimum heartbeat interval) to see
    whether its timeout has passed, so it may overshoot by up to two such waits: the budget
    is the timeout less 600 ms, rounded down to whole 500 ms steps (at least 100 ms).
    """
    heartbeats = int((timeout_s * 1000 - 600) // 500)
    return max(100, heartbeats * 500)


#: Server-selection failures that say the server is down (measured: CRIT); any other one is a
#: server that did not answer in time (UNKNOWN).
_DOWN = (
    (("connection reset",), "connection reset"),
    (("no route to host", "network is unreachable"), "no route to the server"),
    (
        ("name or service not known", "nodename nor servname", "name resolution"),
        "cannot resolve host",
    ),
)


def _failure(exc: PyMongoError, timeout_s: float, scrubber: Scrubber) -> tuple[Status, str]:
    text = str(exc)
    if isinstance(exc, ServerSelectionTimeoutError):
        waited = f"{selection_ms(timeout_s) / 1000:g} s"
        lowered = text.lower()
        if "refused" in lowered:
            return Status.CRIT, "connection refused"
        for words, said in _DOWN:
            if any(w in lowered for w in words):
                return Status.CRIT, f"{said} (within {waited})"
        return Status.UNKNOWN, f"no answer within {waited}"  # not refused: nothing measured
    if isinstance(exc, ExecutionTimeout | NetworkTimeout):
        return Status.UNKNOWN, f"timed out: {error_text(exc, scrubber)}"
    if isinstance(exc, OperationFailure) and exc.code in (18, 13):
        return Status.CRIT, "authentication failed"
    if isinstance(exc, ConfigurationError):
        return Status.UNKNOWN, f"bad MongoDB URI or option: {error_text(exc, scrubber)}"
    if isinstance(exc, ConnectionFailure):
        return Status.CRIT, error_text(exc, scrubber)
    return Status.CRIT, error_text(exc, scrubber)


def mongo_check(
    env: Environment,
    *,
    environ: Mapping[str, str],
    client_factory: ClientFactory = MongoClient,
    clock: Callable[[], float] = time.perf_counter,
) -> Check | None:
    """The MongoDB check, or ``None`` when the environment has no ``mongodb``."""
    config = env.mongodb
    if config is None:
        return None

    def probe(timeout_s: float, uri: str, target: str, scrubber: Scrubber) -> CheckResult:
        ms = int(budget(timeout_s) * 1000)
        client: MongoClient[dict[str, Any]] | None = None
        try:
            began = clock()
            client = client_factory(
                uri,
                serverSelectionTimeoutMS=selection_ms(timeout_s),
                connectTimeoutMS=ms,
                socketTimeoutMS=ms,
                appname="sreworkbook",
            )
            start = clock()
            client.admin.command("ping")
            connect_ms = (clock() - start) * 1000.0
            start = clock()
            client.admin.command("ping")
            ping_ms = (clock() - start) * 1000.0
            left_s = budget(timeout_s) - (clock() - began)
            words, metrics = _details(client, config.database, left_s)
        except PyMongoError as exc:
            status, detail = _failure(exc, timeout_s, scrubber)
            return CheckResult(NAME, COMPONENT, status, detail=detail, target=target)
        finally:
            if client is not None:
                client.close()
        metrics = {"ping_ms": ping_ms, "connect_ms": connect_ms, **metrics}
        detail = scrubber.scrub(", ".join([f"ping {ping_ms:.1f} ms", *words]))
        return CheckResult(
            NAME, COMPONENT, Status.OK, detail=detail, target=target, metrics=metrics
        )

    run = connection_probe(
        NAME, COMPONENT, env, environ, config.uri, key="mongodb.uri", probe=probe
    )
    return Check(NAME, COMPONENT, mask_uri(config.uri), env.check_timeout_s, run)
