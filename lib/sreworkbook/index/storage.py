"""Where outputs live: a local folder or an S3 prefix (``s3://bucket/prefix``), behind one interface.

Runs are always produced locally (papermill writes files). For an S3 root a run is produced in
a temporary folder seeded with the S3 ledger (notebooks compare with their previous run), then
published: its files uploaded, its ledger line appended, the index rebuilt from the S3 ledger.
Keys mirror the local layout (``runs/DATE/RUN/report.html``, ``ledger.jsonl``, ``index.html``,
``assets/plotly.min.js``) with proper content types, so the prefix serves as a static website.

The ledger is one object, so an append downloads and re-uploads it with a conditional write
(``If-Match`` its ETag, ``If-None-Match: *`` when it is new) and retries on a conflict. An
endpoint that ignores conditional writes (older MinIO, some S3 look-alikes) races: two runs
finishing at once may each overwrite the other's line. A writer re-reads after writing and
appends again when its line is gone, which narrows that race but cannot close it.
``outputs/schedule/`` (locks, heartbeats) stays on the scheduler's host and is never uploaded.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from sreworkbook.edges import s3
from sreworkbook.exceptions import OutputError
from sreworkbook.index.ledger_lines import decode_lines
from sreworkbook.index.model import Expectations
from sreworkbook.index.page import build_index, render_index
from sreworkbook.reports.assets import PLOTLY_JS
from sreworkbook.reports.ledger import Ledger

__all__ = [
    "LocalOutputs",
    "OutputsRoot",
    "RunFolder",
    "S3Outputs",
    "make_s3_client",
    "open_outputs",
    "parse_s3_url",
]

LEDGER = "ledger.jsonl"
INDEX = "index.html"
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".json": "application/json",
    ".jsonl": "application/x-ndjson",
    ".ipynb": "application/x-ipynb+json",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
}
#: A run's files never change once published; the ledger and the index change every run.
_IMMUTABLE, _FRESH, _ASSET = "max-age=31536000, immutable", "no-cache", "max-age=86400"
_ATTEMPTS = 8


@dataclass(frozen=True)
class RunFolder:
    """``runs/DATE/NAME`` (a finished run or a ``.staging-*`` left by a killed one)."""

    path: str
    modified: datetime
    keys: tuple[str, ...] = field(default=(), compare=False)

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1]


class OutputsRoot(Protocol):
    """What retention and the index need of an outputs root, local or S3."""

    url: str

    def run_folders(self) -> Iterator[RunFolder]: ...
    def baselines(self) -> Iterator[bytes]: ...
    def ledger_file(self) -> contextlib.AbstractContextManager[Path]: ...
    def rewrite_ledger(self, drop: Callable[[bytes], bool]) -> int: ...
    def remove(self, folders: Sequence[RunFolder]) -> None: ...
    def rebuild_index(self, *, now: datetime, expected: Expectations | None) -> str: ...


def _mtime(path: Path) -> datetime:
    return datetime.fromtimestamp(path.stat().st_mtime, UTC)


class LocalOutputs:
    """An outputs folder on this machine."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.url = str(root)

    def run_folders(self) -> Iterator[RunFolder]:
        runs = self.root / "runs"
        for day in sorted(runs.iterdir()) if runs.is_dir() else ():
            for folder in sorted(day.iterdir()) if day.is_dir() else ():
                if not folder.is_dir():
                    continue
                moment = _mtime(folder)
                if folder.name.startswith(".staging-"):  # newest file: a slow run still writes
                    moment = max([moment, *(_mtime(p) for p in folder.rglob("*"))])
                yield RunFolder(f"runs/{day.name}/{folder.name}", moment)

    def baselines(self) -> Iterator[bytes]:
        for path in sorted(self.root.rglob("baselines.json")):
            with contextlib.suppress(OSError):
                yield path.read_bytes()

    @contextlib.contextmanager
    def ledger_file(self) -> Iterator[Path]:
        yield self.root / LEDGER

    def rewrite_ledger(self, drop: Callable[[bytes], bool], *, drain_s: float = 0.05) -> int:
        """Drop lines atomically (write a copy, rename it over), under the appenders' lock.

        Appenders lock the ledger file itself; one queued on the old file while it is
        replaced writes into it after the rename, so its tail is copied over afterwards.
        """
        path = self.root / LEDGER
        try:
            old = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            return 0
        try:
            fcntl.flock(old, fcntl.LOCK_EX)
            with os.fdopen(os.dup(old), "rb") as handle:
                lines = handle.readlines()
            size = sum(len(line) for line in lines)
            kept = [line for line in lines if not drop(line)]
            partial = path.with_name(f".{LEDGER}.{os.getpid()}.partial")
            with partial.open("wb") as out:
                out.writelines(kept)
                out.flush()
                os.fsync(out.fileno())
            os.replace(partial, path)
            fcntl.flock(old, fcntl.LOCK_UN)
            time.sleep(drain_s)
            fcntl.flock(old, fcntl.LOCK_EX)
            os.lseek(old, size, os.SEEK_SET)
            tail = b"".join(iter(lambda: os.read(old, 1 << 16), b""))
        except OSError as exc:
            raise OutputError(f"cannot rewrite the ledger {path}: {exc}") from exc
        finally:
            os.close(old)
        if tail:
            Ledger(path).append_bytes(tail)
        return len(lines) - len(kept)

    def remove(self, folders: Sequence[RunFolder]) -> None:
        for folder in folders:
            target = self.root / folder.path
            try:
                shutil.rmtree(target)
            except FileNotFoundError:
                continue
            except OSError as exc:
                raise OutputError(f"cannot remove {target}: {exc}") from exc
            with contextlib.suppress(OSError):
                target.parent.rmdir()  # the day's folder, once empty

    def rebuild_index(self, *, now: datetime, expected: Expectations | None) -> str:
        return str(build_index(self.root, now=now, expected=expected))


def parse_s3_url(url: str) -> tuple[str, str]:
    """``(bucket, prefix)`` of ``s3://bucket/prefix`` (the prefix without slashes at its ends)."""
    bucket, prefix = s3.parse_s3_url(url, key="--outputs")
    return bucket, prefix.strip("/")


def make_s3_client(*, endpoint_url: str | None = None, timeout_s: float = 10.0) -> Any:
    """An S3 client from the S3 edge: credentials and region from boto3's standard chain.

    ``endpoint_url`` (or ``AWS_ENDPOINT_URL_S3``, read by boto3) points at MinIO or moto.
    """
    return s3.make_client(endpoint_url=endpoint_url, timeout_s=timeout_s)


def _conflict(exc: Exception) -> bool:
    code, status = s3.error_code(exc)
    return code in ("PreconditionFailed", "ConditionalRequestConflict") or status in (409, 412)


class S3Outputs:
    """An outputs root under ``s3://bucket/prefix``, through an injected boto3 client."""

    def __init__(self, url: str, *, client: Any) -> None:
        self.bucket, self.prefix = parse_s3_url(url)
        self.url = f"s3://{self.bucket}/{self.prefix}".rstrip("/")
        self.client = client

    def key(self, name: str) -> str:
        return f"{self.prefix}/{name}" if self.prefix else name

    def _fail(self, what: str, exc: Exception) -> OutputError:
        return OutputError(f"{self.url}: cannot {what}: {s3.translate(exc, query=self.url)}")

    def _call(self, what: str, method: str, name: str) -> dict[str, Any] | None:
        """``client.METHOD`` on ``name``'s key; ``None`` when there is no such object."""
        try:
            found: dict[str, Any] = getattr(self.client, method)(
                Bucket=self.bucket, Key=self.key(name)
            )
        except s3.boto_errors() as exc:
            if s3.is_missing(exc):
                return None
            raise self._fail(f"{what} {name}", exc) from exc
        return found

    def _get(self, name: str) -> tuple[bytes, str] | None:
        """``(content, ETag)`` of ``name``, ``None`` when there is no such object."""
        got = self._call("read", "get_object", name)
        try:
            return (got["Body"].read(), str(got["ETag"])) if got else None
        except s3.boto_errors() as exc:
            raise self._fail(f"read {name}", exc) from exc

    def _etag(self, name: str) -> str | None:
        head = self._call("read", "head_object", name)
        return str(head["ETag"]) if head else None

    def _put(self, name: str, body: Any, *, cache: str = _IMMUTABLE, **condition: str) -> str:
        """Upload ``name`` with its content type; botocore errors are the caller's to map."""
        put = self.client.put_object(
            Bucket=self.bucket,
            Key=self.key(name),
            Body=body,
            ContentType=CONTENT_TYPES.get(Path(name).suffix, "application/octet-stream"),
            CacheControl=cache,
            **condition,
        )
        return str(put["ETag"])

    def _list(self, name: str) -> Iterator[dict[str, Any]]:
        pages = self.client.get_paginator("list_objects_v2")
        try:
            for page in pages.paginate(Bucket=self.bucket, Prefix=self.key(name)):
                yield from page.get("Contents", ())
        except s3.boto_errors() as exc:
            raise self._fail(f"list {name}", exc) from exc

    def run_folders(self) -> Iterator[RunFolder]:
        start = len(self.key(""))
        folders: dict[str, tuple[datetime, list[str]]] = {}
        for item in self._list("runs/"):
            parts = item["Key"][start:].split("/")
            if len(parts) < 4:
                continue
            path = "/".join(parts[:3])
            newest, keys = folders.setdefault(path, (item["LastModified"], []))
            keys.append(item["Key"])
            folders[path] = (max(newest, item["LastModified"]), keys)
        for path, (moment, keys) in sorted(folders.items()):
            yield RunFolder(path, moment.astimezone(UTC), tuple(keys))

    def baselines(self) -> Iterator[bytes]:
        start = len(self.key(""))
        for item in self._list(""):
            name = item["Key"][start:]
            if name.rsplit("/", 1)[-1] == "baselines.json" and (got := self._get(name)):
                yield got[0]

    @contextlib.contextmanager
    def ledger_file(self) -> Iterator[Path]:
        """The S3 ledger downloaded (streamed) into a temporary file; empty when none."""
        with tempfile.TemporaryDirectory(prefix="sreworkbook-ledger-") as folder:
            path = Path(folder) / LEDGER
            try:
                self.client.download_file(self.bucket, self.key(LEDGER), str(path))
            except s3.boto_errors() as exc:
                if not s3.is_missing(exc):
                    raise self._fail("read the ledger", exc) from exc
                path.write_bytes(b"")
            yield path

    def _update_ledger(self, change: Callable[[bytes], bytes]) -> tuple[bytes, str]:
        """Read, change and write back the ledger unless someone wrote it meanwhile; retry."""
        for attempt in range(_ATTEMPTS):
            current = self._get(LEDGER)
            data, condition = (
                (current[0], {"IfMatch": current[1]}) if current else (b"", {"IfNoneMatch": "*"})
            )
            body = change(data)
            try:
                return body, self._put(LEDGER, body, cache=_FRESH, **condition)
            except s3.boto_errors() as exc:
                if not _conflict(exc):
                    raise self._fail("write the ledger", exc) from exc
            time.sleep(min(2.0, 0.05 * 2**attempt))
        raise OutputError(f"{self.url}: the ledger kept changing under {_ATTEMPTS} attempts")

    def append_line(self, line: bytes) -> tuple[bytes, str]:
        """Append one ledger line; returns the ledger as written and its ETag."""

        def add(data: bytes) -> bytes:
            return data + (b"\n" if data and not data.endswith(b"\n") else b"") + line

        for _ in range(_ATTEMPTS):
            body, etag = self._update_ledger(add)
            if self._etag(LEDGER) == etag:
                return body, etag
            latest = self._get(LEDGER)  # someone wrote after us: was our line kept?
            if latest and line in latest[0]:
                return latest
        raise OutputError(f"{self.url}: the ledger line was overwritten {_ATTEMPTS} times")

    def rewrite_ledger(self, drop: Callable[[bytes], bool]) -> int:
        removed = 0

        def keep(data: bytes) -> bytes:
            nonlocal removed
            lines = data.splitlines(keepends=True)
            kept = [line for line in lines if not drop(line)]
            removed = len(lines) - len(kept)
            return b"".join(kept)

        self._update_ledger(keep)
        return removed

    def remove(self, folders: Sequence[RunFolder]) -> None:
        keys = [key for folder in folders for key in folder.keys]
        for start in range(0, len(keys), 1000):
            batch = [{"Key": key} for key in keys[start : start + 1000]]
            try:
                done = self.client.delete_objects(
                    Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True}
                )
            except s3.boto_errors() as exc:
                raise self._fail("delete runs", exc) from exc
            if done.get("Errors"):
                raise OutputError(f"{self.url}: cannot delete {done['Errors'][0]}")

    def rebuild_index(
        self,
        *,
        now: datetime,
        expected: Expectations | None,
        ledger: tuple[bytes, str] | None = None,
    ) -> str:
        """Build the index from the S3 ledger (streamed) and upload it; again if it moved.

        Every writer checks the ledger after uploading, so the last index written always
        reflects the last ledger, whatever the order in which parallel runs finish.
        """
        for _ in range(_ATTEMPTS):
            if ledger is not None:
                lines: Iterable[bytes] = ledger[0].splitlines()
                etag: str | None = ledger[1]
            elif (found := self._call("read", "get_object", LEDGER)) is not None:
                lines, etag = found["Body"].iter_lines(), str(found["ETag"])
            else:
                lines, etag = (), None
            try:
                page = render_index(decode_lines(lines, now=now), now=now, expected=expected)
                self._put(INDEX, page.encode("utf-8"), cache=_FRESH)
            except s3.boto_errors() as exc:
                raise self._fail("write the index", exc) from exc
            if self._etag(LEDGER) == etag:
                break
            ledger = None  # a run finished meanwhile: build again from the newer ledger
        return f"{self.url}/{INDEX}"

    def publish_run(
        self,
        local: Path,
        run_dir: Path,
        line: bytes,
        *,
        now: datetime,
        expected: Expectations | None = None,
    ) -> str:
        """Upload a finished local run, append its ledger ``line``, rebuild the index.

        Returns the report's URL. The run's files go first, so the ledger never names a run
        whose files are missing.
        """
        try:
            for path in sorted(p for p in run_dir.rglob("*") if p.is_file()):
                with path.open("rb") as body:
                    self._put(path.relative_to(local).as_posix(), body)
            self._put_asset(local / "assets" / PLOTLY_JS)
        except s3.boto_errors() as exc:
            raise self._fail(f"upload {run_dir.name}", exc) from exc
        ledger = self.append_line(line)
        self.rebuild_index(now=now, expected=expected, ledger=ledger)
        return f"{self.url}/{run_dir.relative_to(local).as_posix()}/report.html"

    def _put_asset(self, path: Path) -> None:
        """Upload a shared asset unless the same size is there already."""
        if not path.is_file():
            return
        name = f"assets/{path.name}"
        head = self._call("read", "head_object", name)
        if head and head["ContentLength"] == path.stat().st_size:
            return
        with path.open("rb") as body:
            self._put(name, body, cache=_ASSET)

    @contextlib.contextmanager
    def staged(self) -> Iterator[Path]:
        """A temporary local outputs folder holding the S3 ledger and ``baselines.json``.

        Removed afterwards, unless the block fails after a run was written there: then it
        is kept (the run's files may be all that is left) and an OutputError says where.
        """
        local = Path(tempfile.mkdtemp(prefix="sreworkbook-outputs-"))
        try:
            with self.ledger_file() as ledger:
                shutil.copyfile(ledger, local / LEDGER)
            if got := self._get("baselines.json"):
                (local / "baselines.json").write_bytes(got[0])
            yield local
        except OutputError as exc:
            if (local / "runs").is_dir():
                raise OutputError(f"{exc} (the run is kept in {local})") from exc
            shutil.rmtree(local, ignore_errors=True)
            raise
        except BaseException:
            shutil.rmtree(local, ignore_errors=True)
            raise
        shutil.rmtree(local, ignore_errors=True)


def open_outputs(value: str | Path, *, client: Any = None) -> LocalOutputs | S3Outputs:
    """The outputs root named by ``value``: ``s3://bucket/prefix`` or a folder."""
    text = str(value)
    if text.startswith("s3://"):
        return S3Outputs(text, client=client if client is not None else make_s3_client())
    return LocalOutputs(Path(value))
