"""Real servers and tools for the backup tests: FerretDB, a moto S3 server, mongodump/mongorestore.

A missing FerretDB, moto or mongo-tools fails under ``CI=true`` and skips elsewhere. The real
mongo-tools are looked up in ``.tools/bin``, then on PATH (``make mongo-tools`` builds them there
from the source in ``../shared/third_party``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from support import ci, servers
from support.ci import find_tool
from support.servers import MongoServer

IN_CI = ci.IN_CI


def unavailable(message: str, *, required: bool = True) -> None:
    """Skip, or fail under CI=true when ``required``."""
    ci.unavailable(message, required=required)


@dataclass(frozen=True)
class MongoTools:
    mongodump: str
    mongorestore: str


@pytest.fixture(scope="session")
def mongo_tools() -> MongoTools:
    """The real mongodump and mongorestore (``.tools/bin``, else PATH); required in CI."""
    dump, restore = find_tool("mongodump"), find_tool("mongorestore")
    if not dump or not restore:
        unavailable(
            "mongodump/mongorestore not available (`make mongo-tools` builds them from "
            "../shared/third_party/mongo-tools-*.tar.gz, or install MongoDB's Database Tools)"
        )
    assert dump and restore
    return MongoTools(dump, restore)


@pytest.fixture(scope="session")
def ferretdb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MongoServer]:
    """A real MongoDB-compatible server: FerretDB on SQLite, empty, on a free loopback port."""
    with servers.ferretdb(tmp_path_factory.mktemp("ferretdb")) as server:
        yield server


@pytest.fixture
def mongo_client(ferretdb: MongoServer) -> Iterator[Any]:
    from pymongo import MongoClient

    with MongoClient(ferretdb.uri, serverSelectionTimeoutMS=5000) as client:
        yield client


@dataclass(frozen=True)
class S3Server:
    endpoint_url: str

    def client(self) -> Any:
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """A real S3 endpoint: moto's server on a free loopback port."""
    with servers.moto() as url:
        yield S3Server(url)


@pytest.fixture
def s3_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Credentials for moto through the standard chain (environment variables)."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_CONFIG_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
