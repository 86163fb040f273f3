"""S3 access for backups: a client with timeouts, ``s3://`` URLs, listing, and streaming reads.

Credentials come from boto3's standard chain (environment, shared files, instance roles);
``endpoint_url`` points at an S3-compatible store (MinIO, moto). botocore errors are
translated into the workbook's error tree here, at the edge.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sreworkbook.exceptions import MissingFileError, ParameterError, SourceError, SourceTimeout

__all__ = ["S3Object", "S3Stream", "list_objects", "make_client", "open_object", "parse_s3_url"]

_NOT_FOUND = {"NoSuchKey", "404", "NotFound", "NoSuchBucket"}


@dataclass(frozen=True)
class S3Object:
    """One listed object."""

    bucket: str
    key: str
    size: int
    last_modified: dt.datetime

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


def parse_s3_url(url: str) -> tuple[str, str]:
    """``(bucket, key)`` of ``s3://bucket/key``; :class:`ParameterError` otherwise."""
    parts = urlsplit(url)
    if parts.scheme != "s3" or not parts.netloc:
        raise ParameterError(f"not an s3:// URL: {url!r}")
    return parts.netloc, parts.path.lstrip("/")


def make_client(
    *,
    endpoint_url: str | None = None,
    region: str | None = None,
    timeout_s: float = 10.0,
    session: Any = None,
) -> Any:
    """A boto3 S3 client with connect/read timeouts and bounded retries."""
    try:
        import boto3
        from botocore.config import Config
    except ImportError as exc:  # pragma: no cover - boto3 is a dependency
        raise SourceError("boto3 is not installed: pip install boto3", source="s3") from exc
    config = Config(connect_timeout=timeout_s, read_timeout=timeout_s, retries={"max_attempts": 3})
    factory = session or boto3.session.Session()
    return factory.client("s3", endpoint_url=endpoint_url, region_name=region, config=config)


def _translate(exc: Exception, *, query: str) -> Exception:
    from botocore.exceptions import (
        ClientError,
        ConnectTimeoutError,
        NoCredentialsError,
        ReadTimeoutError,
    )

    if isinstance(exc, ConnectTimeoutError | ReadTimeoutError):
        return SourceTimeout(str(exc), source="s3", query=query)
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if code in _NOT_FOUND:
            return MissingFileError(query, what="S3 object")
        return SourceError(
            f"{code}: {error.get('Message', exc)}", source="s3", query=query, status=status
        )
    if isinstance(exc, NoCredentialsError):
        return SourceError("no AWS credentials found (standard chain)", source="s3", query=query)
    return SourceError(str(exc), source="s3", query=query)


def _boto_errors() -> tuple[type[Exception], ...]:
    from botocore.exceptions import BotoCoreError, ClientError

    return (BotoCoreError, ClientError, OSError)


def list_objects(bucket: str, prefix: str = "", *, client: Any) -> Iterator[S3Object]:
    """Every object under ``prefix`` (paginated)."""
    query = f"s3://{bucket}/{prefix}"
    try:
        pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        for page in pages:
            for item in page.get("Contents", ()):
                yield S3Object(bucket, str(item["Key"]), int(item["Size"]), item["LastModified"])
    except _boto_errors() as exc:
        raise _translate(exc, query=query) from exc


class S3Stream(io.RawIOBase):
    """A readable, non-seekable stream of one object's body; errors are workbook errors."""

    def __init__(self, body: Any, *, url: str) -> None:
        super().__init__()
        self._body = body
        self.name = url

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        try:
            data: bytes = self._body.read(None if size < 0 else size)
        except _boto_errors() as exc:
            raise _translate(exc, query=self.name) from exc
        return data

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        try:
            self._body.close()
        finally:
            super().close()


def open_object(url: str, *, client: Any) -> S3Stream:
    """A stream of the object at ``s3://bucket/key``; a missing one raises MissingFileError."""
    bucket, key = parse_s3_url(url)
    try:
        response = client.get_object(Bucket=bucket, Key=key)
    except _boto_errors() as exc:
        raise _translate(exc, query=url) from exc
    return S3Stream(response["Body"], url=url)
