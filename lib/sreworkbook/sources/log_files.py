"""Where Winston's log files are and which of them a window needs.

winston-daily-rotate-file writes ``combined-%DATE%.log`` and ``error-%DATE%.log``
(:class:`LogLayout`), older ones gzipped by ``zippedArchive`` (``.log.gz``), size splits as
``.log.1``. :func:`select_files` keeps only the files whose date range meets the window; every
``error`` line is also in ``combined``, so for each day the ``error`` file is read only when that
day has no ``combined`` file (different retention): no line is counted twice. A plain file wins
over a ``.gz`` of the same name (a half-written archive). Dates in names are UTC unless
``LogLayout.file_tz`` says otherwise (the transport's ``utc: false`` names files by the
server's local time). A store is a local folder or an S3 prefix (through the S3 edge).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any, BinaryIO, Literal, Protocol, cast

from sreworkbook.edges import s3
from sreworkbook.exceptions import MissingFileError, ParameterError

__all__ = [
    "DEFAULT_LAYOUT",
    "LocalLogStore",
    "LogFile",
    "LogLayout",
    "LogStore",
    "S3LogStore",
    "open_log_store",
    "select_files",
]


@dataclass(frozen=True)
class LogLayout:
    """How the transport names its files and how far its lines may be out of order."""

    combined: str = "combined-%DATE%.log"
    error: str = "error-%DATE%.log"
    date_pattern: str = "YYYY-MM-DD"  # moment tokens, as winston-daily-rotate-file's datePattern
    file_tz: tzinfo = UTC
    late_margin: timedelta = timedelta(minutes=1)  # a line may land in the next period's file
    order_slack: timedelta | None = timedelta(minutes=5)  # None: never skip by time order


#: The seed's layout: ``combined-%DATE%.log``, ``error-%DATE%.log``, dates ``YYYY-MM-DD`` in UTC.
DEFAULT_LAYOUT = LogLayout()


@dataclass(frozen=True)
class LogFile:
    """One log file and the period its name covers."""

    name: str
    kind: Literal["combined", "error"]
    start: datetime
    end: datetime
    part: int = 0
    gzip: bool = False
    size: int | None = None


class LogStore(Protocol):
    """Where the files are: :class:`LocalLogStore` or :class:`S3LogStore`."""

    description: str

    def list(self) -> list[tuple[str, int]]: ...

    def open(self, name: str) -> BinaryIO: ...


class LocalLogStore:
    """A log folder on this machine."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not self.path.is_dir():
            raise MissingFileError(str(self.path), what="log directory")
        self.description = str(self.path)

    def list(self) -> list[tuple[str, int]]:
        return [(p.name, p.stat().st_size) for p in self.path.iterdir() if p.is_file()]

    def open(self, name: str) -> BinaryIO:
        return (self.path / name).open("rb")


class S3LogStore:
    """Log files under an S3 prefix, through an injected boto3 S3 client (the S3 edge)."""

    def __init__(self, client: Any, bucket: str, prefix: str = "") -> None:
        self.client, self.bucket = client, bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.description = f"s3://{bucket}/{self.prefix}"

    def list(self) -> list[tuple[str, int]]:
        found = s3.list_objects(self.bucket, self.prefix, client=self.client, delimiter="/")
        return [(item.key[len(self.prefix) :], item.size) for item in found]

    def open(self, name: str) -> BinaryIO:
        stream = s3.open_object(self.description + name, client=self.client)
        return cast(BinaryIO, stream)


def open_log_store(location: str | Path, *, s3_client: Any = None) -> LogStore:
    """A store for a folder or an ``s3://bucket/prefix``; without an ``s3_client`` one is made
    from boto3's standard chain (environment, shared files, instance roles)."""
    text = str(location)
    if text.startswith("s3://"):
        bucket, prefix = s3.parse_s3_url(text, key="dir")
        return S3LogStore(s3_client if s3_client is not None else s3.make_client(), bucket, prefix)
    return LocalLogStore(text)


_TOKENS = {"YYYY": (r"\d{4}", "%Y"), "MM": (r"\d{2}", "%m"), "DD": (r"\d{2}", "%d"),
           "HH": (r"\d{2}", "%H")}  # fmt: skip


def _name_regex(pattern: str, date_pattern: str) -> tuple[re.Pattern[str], str]:
    parts = re.split(r"(YYYY|MM|DD|HH)", date_pattern)
    date_re = "".join(_TOKENS[p][0] if p in _TOKENS else re.escape(p) for p in parts)
    fmt = "".join(_TOKENS[p][1] if p in _TOKENS else p.replace("%", "%%") for p in parts)
    before, sep, after = pattern.partition("%DATE%")
    if not sep:
        raise ParameterError(f"{pattern!r} has no %DATE%", key="layout")
    regex = rf"{re.escape(before)}(?P<date>{date_re}){re.escape(after)}(?:\.(?P<part>\d+))?(?P<gz>\.gz)?"
    return re.compile(regex), fmt


def select_files(
    listing: Iterable[tuple[str, int]],
    layout: LogLayout,
    start: datetime | None = None,
    end: datetime | None = None,
) -> list[LogFile]:
    """The files to read for ``[start, end)``, oldest first, ``error`` only where needed."""
    hourly = "HH" in layout.date_pattern
    span = timedelta(hours=1) if hourly else timedelta(days=1)
    found: dict[str, LogFile] = {}
    for kind in ("combined", "error"):
        regex, fmt = _name_regex(getattr(layout, kind), layout.date_pattern)
        for name, size in listing:
            match = regex.fullmatch(name)
            if not match:
                continue
            try:
                period = datetime.strptime(match["date"], fmt)
            except ValueError:
                continue
            begin = period.replace(tzinfo=layout.file_tz).astimezone(UTC)
            finish = (period + span).replace(tzinfo=layout.file_tz).astimezone(UTC)
            if (end is not None and begin - layout.late_margin >= end) or (
                start is not None and finish <= start
            ):
                continue
            key = name.removesuffix(".gz")
            if key in found and not found[key].gzip:
                continue  # the plain file wins over a (maybe half-written) archive
            found[key] = LogFile(
                name, kind, begin, finish, int(match["part"] or 0), bool(match["gz"]), size
            )
    with_combined = {f.start for f in found.values() if f.kind == "combined"}
    chosen = [f for f in found.values() if f.kind == "combined" or f.start not in with_combined]
    return sorted(chosen, key=lambda f: (f.start, f.kind, f.part))
