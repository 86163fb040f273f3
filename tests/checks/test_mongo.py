"""The MongoDB check against a real MongoDB-compatible server (FerretDB)."""

from __future__ import annotations

import datetime as dt
import socket
import time

import pytest
from pymongo import MongoClient

from sreworkbook.checks import mongo_check, replication_lag_s, run_checks
from sreworkbook.checks.mongo import selection_ms
from sreworkbook.config import Environment
from sreworkbook.results import CheckResult, Status

from .conftest import MongoServer


def run(uri: str, environ: dict[str, str] | None = None, timeout: float = 3.0) -> CheckResult:
    env = Environment.model_validate(
        {"name": "t", "mongodb": {"uri": uri, "database": "tradeai"}, "check_timeout_s": timeout}
    )
    check = mongo_check(env, environ=environ or {})
    assert check is not None
    (result,) = run_checks([check])
    return result


def test_ping_version_and_data_size(mongo_server: MongoServer) -> None:
    result = run(mongo_server.uri)
    assert result.status is Status.OK, result.detail
    assert (result.component, result.name) == ("mongodb", "ping")
    assert result.target == mongo_server.uri
    assert 0 < result.metrics["ping_ms"] < 1000
    with MongoClient(mongo_server.uri, serverSelectionTimeoutMS=3000) as client:
        version = client.admin.command("buildInfo")["version"]
        stats = client.tradeai.command("dbStats")
    assert f"version {version}" in result.detail
    assert result.metrics["collections"] == stats["collections"] == 2
    assert result.metrics["objects"] == stats["objects"] == 26
    assert result.metrics["data_size_bytes"] == stats["dataSize"]
    # FerretDB reports neither connections nor a replica set: left out, not a failure.
    assert "connections_current" not in result.metrics
    assert "replication_lag_s" not in result.metrics


def test_uri_reference_resolved_only_when_connecting_and_shown_masked(
    mongo_server: MongoServer,
) -> None:
    secret = mongo_server.uri.replace("mongodb://", "mongodb://canary:CANARY-pw-31f@")
    env = Environment.model_validate({"name": "t", "mongodb": {"uri": "${MONGO_URI}"}})
    check = mongo_check(env, environ={"MONGO_URI": secret})
    assert check is not None and check.target == "${MONGO_URI}"
    (result,) = run_checks([check])
    # FerretDB may accept or refuse the credentials; either way the password never shows.
    assert result.status in (Status.OK, Status.CRIT)
    assert "CANARY-pw-31f" not in repr(result)
    assert result.target == secret.replace("CANARY-pw-31f", "***")


def test_refused_is_crit_before_the_runner_gives_up(closed_port: int) -> None:
    start = time.monotonic()
    result = run(f"mongodb://127.0.0.1:{closed_port}/", timeout=1.0)
    assert time.monotonic() - start < 1.2
    assert (result.status, result.detail) == (Status.CRIT, "connection refused")


def test_a_server_that_accepts_and_never_answers_is_unknown() -> None:
    with socket.create_server(("127.0.0.1", 0)) as silent:
        port = silent.getsockname()[1]
        result = run(f"mongodb://127.0.0.1:{port}/", timeout=1.5)
    assert (result.status, result.detail) == (Status.UNKNOWN, "no answer within 0.5 s")


def test_unset_reference_is_unknown() -> None:
    result = run("${NOT_SET_MONGO}")
    assert result.status is Status.UNKNOWN
    assert result.detail == "environment variable NOT_SET_MONGO is not set (used by mongodb.uri)"


def test_bad_uri_is_unknown() -> None:
    result = run("mongodb://user:pw-in-bad-uri@/nohost")
    assert result.status is Status.UNKNOWN
    assert result.detail.startswith("bad MongoDB URI")
    assert "pw-in-bad-uri" not in repr(result)


def test_no_mongodb_no_check() -> None:
    assert mongo_check(Environment(name="t"), environ={}) is None


def test_replication_lag_from_a_recorded_replset_status() -> None:
    primary = dt.datetime(2026, 11, 28, 12, 0, 10)
    status = {
        "set": "rs0",
        "members": [
            {"name": "a:27017", "stateStr": "PRIMARY", "optimeDate": primary},
            {"name": "b:27017", "stateStr": "SECONDARY",
             "optimeDate": primary - dt.timedelta(seconds=4)},
            {"name": "c:27017", "stateStr": "SECONDARY",
             "optimeDate": primary - dt.timedelta(seconds=1.5)},
            {"name": "d:27017", "stateStr": "ARBITER"},
        ],
    }  # fmt: skip
    assert replication_lag_s(status) == 4.0
    assert replication_lag_s({"members": status["members"][:1]}) is None
    assert replication_lag_s({"members": status["members"][1:]}) is None
    assert replication_lag_s({}) is None


@pytest.mark.parametrize(
    ("timeout_s", "ms"), [(1.0, 100), (2.0, 1000), (3.0, 2000), (5.0, 4000), (0.5, 100)]
)
def test_server_selection_gives_up_before_the_deadline(timeout_s: float, ms: int) -> None:
    assert selection_ms(timeout_s) == ms


def test_a_secondary_ahead_of_the_primary_lags_zero() -> None:
    t = dt.datetime(2026, 1, 1)
    status = {
        "members": [
            {"stateStr": "PRIMARY", "optimeDate": t},
            {"stateStr": "SECONDARY", "optimeDate": t + dt.timedelta(seconds=1)},
        ]
    }
    assert replication_lag_s(status) == 0.0


def test_details_left_out_when_the_ping_used_up_the_budget(mongo_server: MongoServer) -> None:
    from sreworkbook.checks.mongo import _details

    with MongoClient(mongo_server.uri, serverSelectionTimeoutMS=3000) as client:
        assert _details(client, "tradeai", 0.0) == (["no time left for details"], {})
        words, metrics = _details(client, "tradeai", 2.0)
    assert metrics["objects"] == 26 and any(w.startswith("version ") for w in words)
