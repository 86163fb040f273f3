"""The S3 edge: ``s3://`` URLs, clients with timeouts, listing and streaming reads, and errors.

Used by backups, the S3 outputs root, the logs reader and the incident explorer. Credentials
come from the configured ``${ENV}`` references, else boto3's standard chain (environment,
shared files, instance roles); a loopback endpoint (the sandbox's moto server) with neither
gets dummy keys. ``endpoint_url`` points at an S3-compatible store (MinIO, moto). Every
botocore error is translated here (:func:`translate`): a missing object or bucket is a
:class:`~sreworkbook.exceptions.MissingFileError`, a timeout a
:class:`~sreworkbook.exceptions.SourceTimeout`, anything else a
:class:`~sreworkbook.exceptions.SourceError` naming ``s3`` and the URL.

A client's timeouts and tries fit what remains of the run's deadline. An endpoint whose call
timed out (after botocore's own tries), or whose object body stopped coming, is not called
again for :data:`COOL_OFF_S` by any client :func:`make_client` made in this process
(:data:`BREAKER`): a call fails at once, unsent, with a
:class:`~sreworkbook.exceptions.SourceTimeout` saying when it last did not answer — a run's
later S3 steps do not each wait through their tries again. Only timeouts count: a refused
connection is an answer, and is cheap to ask again.
"""

from __future__ import annotations

import datetime as dt
import io
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sreworkbook.config import S3Config
from sreworkbook.edges.http import describe, unparseable, where
from sreworkbook.edges.retry import within_run
from sreworkbook.exceptions import (
    MissingFileError,
    ParameterError,
    SourceError,
    SourceTimeout,
    WorkbookError,
)

__all__ = [
    "BREAKER",
    "COOL_OFF_S",
    "DUMMY_KEYS",
    "S3Object",
    "S3Stream",
    "TimeoutBreaker",
    "boto_errors",
    "client_for",
    "download",
    "error_code",
    "head_object",
    "is_loopback",
    "is_missing",
    "list_objects",
    "make_client",
    "open_object",
    "parse_s3_url",
    "translate",
]

_LOOPBACK = {"127.0.0.1", "localhost", "::1"}
#: What a loopback test endpoint (moto) gets when no credentials are configured or found.
DUMMY_KEYS = ("sreworkbook-sandbox", "sreworkbook-sandbox")

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


def parse_s3_url(url: str, *, key: str | None = None) -> tuple[str, str]:
    """``(bucket, key)`` of ``s3://bucket/key``; a :class:`ParameterError` naming the
    parameter ``key`` otherwise."""
    parts = urlsplit(str(url))
    if parts.scheme != "s3" or not parts.netloc:
        raise ParameterError(f"not an s3:// URL: {url!r}", key=key)
    return parts.netloc, parts.path.lstrip("/")


#: Tries per S3 call (the first and two retries, botocore's standard mode) when time allows.
_ATTEMPTS = 3


def make_client(
    *,
    endpoint_url: str | None = None,
    region: str | None = None,
    timeout_s: float = 10.0,
    session: Any = None,
    access_key_id: str | None = None,
    secret_access_key: str | None = None,
) -> Any:
    """A boto3 S3 client with connect/read timeouts and bounded retries.

    Keys given here win; otherwise boto3's standard chain applies. Its calls to an endpoint
    that timed out lately, through this client or another, fail at once (:data:`BREAKER`).
    """
    try:
        import boto3
        from botocore.config import Config
    except ImportError as exc:  # pragma: no cover - boto3 is a dependency
        raise SourceError("boto3 is not installed: pip install boto3", source="s3") from exc
    # A client made late in a run waits what the run has left, tries included: three tries of
    # ``timeout_s`` each when the run has time for them, fewer when it has not, at least one.
    left = within_run(float("inf"))
    timeout_s = min(timeout_s, left)
    attempts = _ATTEMPTS if left == float("inf") else max(1, min(_ATTEMPTS, int(left // timeout_s)))
    config = Config(
        connect_timeout=timeout_s,
        read_timeout=timeout_s,
        retries={"total_max_attempts": attempts, "mode": "standard"},
    )
    factory = session or boto3.session.Session()
    keys: dict[str, str] = {}
    if access_key_id and secret_access_key:
        keys = {"aws_access_key_id": access_key_id, "aws_secret_access_key": secret_access_key}
    client = factory.client(
        "s3", endpoint_url=endpoint_url, region_name=region, config=config, **keys
    )
    events = client.meta.events
    events.register_first("response-received.s3", _garbage_guard(client))
    events.register_first("before-send.s3", _refuse_timed_out(client.meta.endpoint_url))
    events.register("after-call-error.s3", _remember_timeout(client.meta.endpoint_url, timeout_s))
    return client


#: How long an S3 endpoint that did not answer is not called again: the rest of a run's S3
#: steps fail at once, and a notebook kernel, which may live for hours, tries it again later.
COOL_OFF_S = 60.0


class TimeoutBreaker:
    """S3 endpoints whose last call timed out, and when: open (refusing) for ``cool_off_s``.

    One per process (:data:`BREAKER`), shared by every client :func:`make_client` makes;
    thread-safe (backups are verified in threads). ``clock`` is for tests to replace.
    """

    def __init__(
        self, cool_off_s: float = COOL_OFF_S, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.cool_off_s = cool_off_s
        self.clock = clock
        self._lock = threading.Lock()
        self._timed_out: dict[str, tuple[float, float]] = {}  # endpoint: (timeout_s, when)

    def failed(self, endpoint: str, timeout_s: float) -> None:
        """A call to ``endpoint`` got no answer within ``timeout_s``, after all its tries."""
        with self._lock:
            self._timed_out[endpoint] = (timeout_s, self.clock())

    def refusal(self, endpoint: str) -> str | None:
        """Why ``endpoint`` is not to be called now, or ``None`` when it may be."""
        with self._lock:
            if endpoint not in self._timed_out:
                return None
            timeout_s, when = self._timed_out[endpoint]
            ago = self.clock() - when
            if ago >= self.cool_off_s:
                del self._timed_out[endpoint]
                return None
        when_said = f"{ago:.0f} s ago" if ago >= 1 else "just now"
        return (
            f"S3 at {where(endpoint)} did not answer within {round(timeout_s, 2):g} s "
            f"({when_said}): not tried again"
        )

    def clear(self) -> None:
        """Forget every endpoint (tests start from a clean process this way)."""
        with self._lock:
            self._timed_out.clear()


#: The process's S3 breaker.
BREAKER = TimeoutBreaker()


def _refuse_timed_out(endpoint: str) -> Callable[..., None]:
    """A hook ending an attempt, before it is sent, to an endpoint that :data:`BREAKER` holds.

    botocore hands what a ``before-send`` hook raises to its retry handler as the attempt's
    error; not being one of botocore's connection errors, it is not retried, and reaches the
    caller as it is (:func:`translate` passes it on).
    """

    def refuse(**_: Any) -> None:
        refusal = BREAKER.refusal(endpoint)
        if refusal is not None:
            raise SourceTimeout(refusal, source="s3", attempts=0)

    return refuse


def _remember_timeout(endpoint: str, timeout_s: float) -> Callable[..., None]:
    """A hook telling :data:`BREAKER` of a call that ended, all tries done, in a timeout."""
    from botocore.exceptions import ConnectTimeoutError, ReadTimeoutError

    def remember(exception: BaseException | None = None, **_: Any) -> None:
        if isinstance(exception, ConnectTimeoutError | ReadTimeoutError):
            BREAKER.failed(endpoint, timeout_s)

    return remember


def _garbage_guard(client: Any) -> Callable[..., None]:
    """A hook ending a call whose 200 answer is not S3's XML (garbage, an HTML page).

    botocore files garbage as a ``500 Internal Server Error`` and retries it (the reader would
    see "500" for a server that said 200, and garbage does not fix itself), and reads a
    well-formed web page (a captive portal, a proxy's login) as an empty listing.
    """
    host = where(client.meta.endpoint_url)

    def guard(response_dict: Any = None, parsed_response: Any = None, **_: Any) -> None:
        if not response_dict or response_dict.get("status_code") != 200:
            return
        said = (parsed_response or {}).get("ResponseMetadata", {}).get("HTTPStatusCode")
        body = response_dict.get("body")
        ctype = str(response_dict.get("headers", {}).get("content-type", ""))
        # botocore could not read the 200, or read a web page as an empty answer
        if isinstance(body, bytes) and body and (said == 500 or "html" in ctype.lower()):
            what = unparseable(body, ctype, expected="S3 XML")
            raise SourceError(f"{host} answered HTTP 200 with {what}", source="s3", status=200)

    return guard


def is_loopback(endpoint_url: str | None) -> bool:
    """True when ``endpoint_url`` names this machine (a local moto or MinIO)."""
    if not endpoint_url:
        return False
    try:
        return (urlsplit(endpoint_url).hostname or "") in _LOOPBACK
    except ValueError:
        return False


def client_for(
    s3: S3Config,
    *,
    resolve: Callable[[str], str] = str,
    session: Any = None,
    timeout_s: float = 10.0,
) -> Any:
    """The client for ``s3``: its key references resolved (only now), else the standard chain.

    A loopback endpoint with no keys configured and none in the standard chain gets dummy
    keys, which moto accepts; a remote endpoint never does (it then fails as unauthenticated).
    """
    endpoint = resolve(s3.endpoint_url) if s3.endpoint_url else None
    key_id = resolve(s3.access_key_id) if s3.access_key_id else None
    secret = resolve(s3.secret_access_key) if s3.secret_access_key else None
    if not (key_id and secret) and is_loopback(endpoint):
        import boto3

        found = (session or boto3.session.Session()).get_credentials()
        if found is None:
            key_id, secret = DUMMY_KEYS
    return make_client(
        endpoint_url=endpoint,
        region=resolve(s3.region),
        timeout_s=timeout_s,
        session=session,
        access_key_id=key_id,
        secret_access_key=secret,
    )


def error_code(exc: BaseException) -> tuple[str, int]:
    """The S3 error code and HTTP status of a botocore ``ClientError`` (``("", 0)`` otherwise)."""
    response = getattr(exc, "response", None) or {}
    code = str(response.get("Error", {}).get("Code", ""))
    return code, int(response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)


def is_missing(exc: BaseException) -> bool:
    """No such key or bucket (a HEAD answers only ``404``, for a missing bucket too)."""
    return error_code(exc)[0] in _NOT_FOUND


def translate(exc: BaseException, *, query: str) -> WorkbookError:
    """``exc`` (botocore's, or an OS error while streaming) as a workbook error about ``query``."""
    from botocore.exceptions import (
        ClientError,
        ConnectTimeoutError,
        NoCredentialsError,
        ReadTimeoutError,
    )

    if isinstance(exc, WorkbookError):
        return exc  # already said (an answer that was not S3's)
    if isinstance(exc, ConnectTimeoutError | ReadTimeoutError | TimeoutError):
        return SourceTimeout(str(exc), source="s3", query=query)
    if isinstance(exc, ClientError):
        code, status = error_code(exc)
        if code in _NOT_FOUND:
            return MissingFileError(query, what="S3 object")
        message = exc.response.get("Error", {}).get("Message", exc)
        return SourceError(f"{code}: {message}", source="s3", query=query, status=status or None)
    if isinstance(exc, NoCredentialsError):
        return SourceError("no AWS credentials found (standard chain)", source="s3", query=query)
    reason = describe(exc)
    if reason is not None:  # refused, unresolvable, reset, TLS: one line, not botocore's
        kwargs = getattr(exc, "kwargs", None)
        endpoint = kwargs.get("endpoint_url") if isinstance(kwargs, dict) else None
        host = where(str(endpoint)) if endpoint else "its endpoint"
        return SourceError(f"S3 at {host} unreachable: {reason}", source="s3", query=query)
    return SourceError(f"{type(exc).__name__}: {exc}", source="s3", query=query)


def boto_errors() -> tuple[type[Exception], ...]:
    """What an S3 call may raise: botocore's errors, and OS errors while streaming a body."""
    from botocore.exceptions import BotoCoreError, ClientError

    return (BotoCoreError, ClientError, OSError)


def list_objects(
    bucket: str, prefix: str = "", *, client: Any, delimiter: str | None = None
) -> Iterator[S3Object]:
    """Every object under ``prefix`` (paginated); with ``delimiter="/"`` not in sub-folders."""
    query = f"s3://{bucket}/{prefix}"
    extra = {"Delimiter": delimiter} if delimiter else {}
    try:
        pages = client.get_paginator("list_objects_v2").paginate(
            Bucket=bucket, Prefix=prefix, **extra
        )
        for page in pages:
            for item in page.get("Contents", ()):
                yield S3Object(bucket, str(item["Key"]), int(item["Size"]), item["LastModified"])
    except boto_errors() as exc:
        raise translate(exc, query=query) from exc


class S3Stream(io.RawIOBase):
    """A readable, non-seekable stream of one object's body; errors are workbook errors."""

    def __init__(
        self, body: Any, *, url: str, endpoint: str | None = None, timeout_s: float = 0.0
    ) -> None:
        super().__init__()
        self._body = body
        self.name = url
        self._endpoint = endpoint  # told to BREAKER when the body stops coming
        self._timeout_s = timeout_s

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        try:
            data: bytes = self._body.read(None if size < 0 else size)
        except boto_errors() as exc:
            error = translate(exc, query=self.name)
            if isinstance(error, SourceTimeout) and self._endpoint:
                BREAKER.failed(self._endpoint, self._timeout_s)
            raise error from exc
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
    except boto_errors() as exc:
        raise translate(exc, query=url) from exc
    meta = client.meta
    return S3Stream(
        response["Body"], url=url, endpoint=meta.endpoint_url, timeout_s=meta.config.read_timeout
    )


def head_object(url: str, *, client: Any) -> tuple[int, str, dt.datetime | None]:
    """``(size, etag, last_modified)`` of the object at ``url``."""
    bucket, key = parse_s3_url(url)
    try:
        head = client.head_object(Bucket=bucket, Key=key)
    except boto_errors() as exc:
        raise translate(exc, query=url) from exc
    return int(head.get("ContentLength", 0)), str(head.get("ETag", "")), head.get("LastModified")


def download(url: str, target: Any, *, client: Any, chunk_size: int = 1 << 20) -> int:
    """Copy the object at ``url`` into the open binary file ``target``; bytes copied."""
    copied = 0
    with open_object(url, client=client) as stream:
        while chunk := stream.read(chunk_size):
            target.write(chunk)
            copied += len(chunk)
    return copied
