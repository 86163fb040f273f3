"""pymongo's errors in one line: the server and what happened, never its topology dump."""

from __future__ import annotations

import socket

import pytest
from pymongo import MongoClient
from pymongo.errors import NetworkTimeout, OperationFailure, PyMongoError

from sreworkbook.backups.fingerprint import fingerprint_database
from sreworkbook.edges.mongo import mongo_error
from sreworkbook.exceptions import SourceError, SourceTimeout


def _failure(uri: str) -> PyMongoError:
    client: MongoClient[dict[str, object]] = MongoClient(
        uri, serverSelectionTimeoutMS=1000, connectTimeoutMS=500
    )
    try:
        with pytest.raises(PyMongoError) as caught:
            client.admin.command("ping")
    finally:
        client.close()
    return caught.value


def test_a_refused_connection_is_one_line_naming_the_server(closed_port: int) -> None:
    raw = _failure(f"mongodb://127.0.0.1:{closed_port}/")
    assert "Topology Description" in str(raw)  # what used to reach the report
    error = mongo_error(raw, query="ping")
    assert type(error) is SourceError
    assert (
        error.detail
        == f"MongoDB at 127.0.0.1:{closed_port} unreachable: connection refused after 1 s"
    )


def test_a_server_that_never_answers_is_a_timeout() -> None:
    with socket.create_server(("127.0.0.1", 0)) as silent:
        port = silent.getsockname()[1]
        error = mongo_error(_failure(f"mongodb://127.0.0.1:{port}/"), query="ping")
    assert isinstance(error, SourceTimeout)
    assert error.detail == f"MongoDB at 127.0.0.1:{port} unreachable: no answer after 1 s"


def test_a_server_still_silent_when_selection_gives_up_is_a_timeout_too() -> None:
    # The connect timeout outlasts the selection timeout: pymongo says only "No servers found
    # yet" (the case of a hung server behind a proxy), which is no answer, not a refusal.
    with socket.create_server(("127.0.0.1", 0)) as silent:
        port = silent.getsockname()[1]
        client: MongoClient[dict[str, object]] = MongoClient(
            f"mongodb://127.0.0.1:{port}/", serverSelectionTimeoutMS=1000, connectTimeoutMS=5000
        )
        try:
            with pytest.raises(PyMongoError) as caught:
                client.admin.command("ping")
        finally:
            client.close()
    assert "No servers found yet" in str(caught.value)
    error = mongo_error(caught.value, query="ping")
    assert isinstance(error, SourceTimeout)
    assert error.detail == f"MongoDB at 127.0.0.1:{port} unreachable: no answer after 1 s"


def test_a_socket_timeout_mid_operation_is_one_line() -> None:
    # pymongo's words, as a busy FerretDB made them in CI (the ping had connected).
    raw = NetworkTimeout(
        "127.0.0.1:41253: timed out (configured timeouts: socketTimeoutMS: 3000.0ms, "
        "connectTimeoutMS: 3000.0ms)"
    )
    error = mongo_error(raw, query="ping")
    assert isinstance(error, SourceTimeout)
    assert error.detail == "MongoDB at 127.0.0.1:41253 did not answer within 3 s"


def test_an_operation_failure_drops_the_full_error_document() -> None:
    raw = OperationFailure(
        "not authorized on tradeai", code=13, details={"ok": 0, "errmsg": "x" * 500}
    )
    assert "full error" in str(raw)
    error = mongo_error(raw, query="find")
    assert error.detail == "MongoDB refused the operation (code 13): not authorized on tradeai"


def test_the_backup_modules_say_it_the_same_way(closed_port: int) -> None:
    client: MongoClient[dict[str, object]] = MongoClient(
        f"mongodb://127.0.0.1:{closed_port}/", serverSelectionTimeoutMS=1000
    )
    with pytest.raises(SourceError) as caught:
        fingerprint_database(client, "tradeai")
    client.close()
    assert str(caught.value) == (
        f"mongodb: MongoDB at 127.0.0.1:{closed_port} unreachable: connection refused after 1 s"
    )
