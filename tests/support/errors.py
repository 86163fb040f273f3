"""Every exception ``requests`` and botocore define, instantiated, and stand-ins that raise them.

For the tests that push each third-party error through each edge and expect a workbook error
naming the service: a class added by a new release of either library is picked up here.
"""

from __future__ import annotations

import inspect
import re
import string
from collections.abc import Iterator
from typing import Any

import botocore.exceptions
import requests
import requests.exceptions

__all__ = [
    "RaisingS3",
    "botocore_errors",
    "raising_session",
    "requests_errors",
]


def requests_errors() -> list[requests.RequestException]:
    """One instance of every ``RequestException`` subclass in ``requests.exceptions``."""
    found = []
    for _, kind in inspect.getmembers(requests.exceptions, inspect.isclass):
        if not issubclass(kind, requests.RequestException):
            continue
        text = "simulated failure for http://127.0.0.1:1/x?token=s3cret"
        if issubclass(kind, requests.exceptions.JSONDecodeError):
            found.append(kind(text, "{", 0))
        else:
            found.append(kind(text))
    return found


def _fields(kind: type[Exception]) -> dict[str, str]:
    fmt = getattr(kind, "fmt", "") or ""
    names = {name for _, name, _, _ in string.Formatter().parse(fmt) if name}
    return {re.sub(r"\W.*", "", name): "x" for name in names}


def botocore_errors() -> list[Exception]:
    """One instance of every botocore exception (ClientErrors with a few real error codes)."""
    found: list[Exception] = []
    for _, kind in inspect.getmembers(botocore.exceptions, inspect.isclass):
        if not issubclass(
            kind, botocore.exceptions.BotoCoreError | botocore.exceptions.ClientError
        ):
            continue
        if issubclass(kind, botocore.exceptions.ClientError):
            for code, status in (("AccessDenied", 403), ("NoSuchKey", 404), ("SlowDown", 503)):
                response: Any = {
                    "Error": {"Code": code, "Message": "simulated"},
                    "ResponseMetadata": {"HTTPStatusCode": status},
                }
                try:
                    found.append(kind(response, "GetObject"))
                except TypeError:
                    break
            continue
        fields: dict[str, Any] = dict(_fields(kind))
        for name, parameter in inspect.signature(kind.__init__).parameters.items():
            if (
                name != "self"
                and parameter.default is parameter.empty
                and parameter.kind
                in (
                    parameter.POSITIONAL_OR_KEYWORD,
                    parameter.KEYWORD_ONLY,
                )
            ):
                fields.setdefault(name, {} if name == "last_response" else "x")
        found.append(kind(**fields))
    return found


class _RaisingSession(requests.Session):
    def __init__(self, error: BaseException) -> None:
        super().__init__()
        self.error = error

    def request(self, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        raise self.error


def raising_session(error: BaseException) -> requests.Session:
    """A session whose every request raises ``error``."""
    return _RaisingSession(error)


class _Pages:
    def __init__(self, error: BaseException) -> None:
        self.error = error

    def paginate(self, **kwargs: Any) -> Iterator[dict[str, Any]]:
        raise self.error


class RaisingS3:
    """A boto3 S3 client stand-in whose every call raises ``error``."""

    def __init__(self, error: BaseException) -> None:
        self.error = error

    def get_paginator(self, name: str) -> _Pages:
        return _Pages(self.error)

    def __getattr__(self, name: str) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            raise self.error

        return call
