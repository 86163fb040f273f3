"""S3 clients: configured key references, the standard chain, dummy keys only for loopback."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sreworkbook.backups.s3 import DUMMY_KEYS, client_for, download, head_object, is_loopback
from sreworkbook.config import S3Config

from .conftest import S3Server


@pytest.fixture
def no_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def keys(client: object) -> str | None:
    creds = client._request_signer._credentials  # type: ignore[attr-defined]
    return None if creds is None else str(creds.access_key)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://127.0.0.1:15000", True),
        ("http://localhost:9000", True),
        ("https://s3.eu-west-1.amazonaws.com", False),
        (None, False),
        ("not a url", False),
    ],
)
def test_is_loopback(url: str | None, expected: bool) -> None:
    assert is_loopback(url) is expected


def test_dummy_keys_only_for_a_loopback_endpoint(no_credentials: None) -> None:
    local = client_for(S3Config(bucket="b", endpoint_url="http://127.0.0.1:15000"))
    assert keys(local) == DUMMY_KEYS[0]
    remote = client_for(S3Config(bucket="b", endpoint_url="https://minio.example.com"))
    assert keys(remote) is None
    assert keys(client_for(S3Config(bucket="b"))) is None


def test_configured_references_are_resolved_at_use(no_credentials: None) -> None:
    s3 = S3Config(
        bucket="b",
        endpoint_url="https://minio.example.com",
        access_key_id="${BK_KEY}",
        secret_access_key="${BK_SECRET}",
    )
    client = client_for(
        s3,
        resolve=lambda v: (
            {"${BK_KEY}": "AKIA-TEST", "${BK_SECRET}": "s"}[v] if v.startswith("${") else v
        ),
    )
    assert keys(client) == "AKIA-TEST"


def test_the_standard_chain_wins_over_dummy_keys(
    monkeypatch: pytest.MonkeyPatch, no_credentials: None
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "from-env")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "x")
    assert keys(client_for(S3Config(bucket="b", endpoint_url="http://127.0.0.1:1"))) == "from-env"


@pytest.mark.integration
def test_head_and_download(s3_server: S3Server, s3_env: None, tmp_path: Path) -> None:
    client = s3_server.client()
    client.create_bucket(Bucket="dl-bk")
    client.put_object(Bucket="dl-bk", Key="k/a.tar.gz", Body=b"x" * 3000)
    size, etag, modified = head_object("s3://dl-bk/k/a.tar.gz", client=client)
    assert size == 3000 and etag and modified is not None
    with (tmp_path / "a").open("wb") as out:
        assert download("s3://dl-bk/k/a.tar.gz", out, client=client, chunk_size=1000) == 3000
    assert (tmp_path / "a").read_bytes() == b"x" * 3000
