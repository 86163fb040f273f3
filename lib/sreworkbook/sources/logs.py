"""Winston JSON logs: pick the daily files a window touches, stream them, normalise the records.

Files. winston-daily-rotate-file writes ``combined-%DATE%.log`` and ``error-%DATE%.log``
(:class:`LogLayout`), older ones gzipped by ``zippedArchive`` (``.log.gz``), size splits as
``.log.1``. Only files whose date range meets the window are read. Every ``error`` line is also in
``combined``, so for each day the ``error`` file is read only when that day has no ``combined``
file (different retention): no line is counted twice. A plain file wins over a ``.gz`` of the
same name (a half-written archive). Dates in names are UTC unless ``LogLayout.file_tz`` says
otherwise (the transport's ``utc: false`` names files by the server's local time).

Engine, chosen by measurement on 1.1 GB (bench/bench_logs.py --engines): files are read in
newline-aligned blocks of a few MB (memory stays bounded); a selective query (a correlation ID,
free text, levels) finds its candidate lines with ``bytes.find`` and parses only those, near
``grep -F`` speed; other scans decode a whole block as one JSON array with msgspec and fall back
to line by line only for a block holding a bad line. DuckDB parsed whole files faster than this
fallback but cannot count bad lines or read an injected S3 stream; pyarrow, polars and per-line
orjson were slower than both.

Order. Winston appends in time order (give or take a few seconds for a cluster sharing a file),
so with ``LogLayout.order_slack`` set, a block whose timestamps all lie more than the slack
before the window is skipped unparsed and reading a file stops at the first block past it.

Bad lines are counted, never raised: not JSON, not an object, or without a readable timestamp
(a partial last line, stderr noise). A full scan checks every line of the blocks it reads; a
selective scan checks the lines it parses (candidates and each file's unterminated last line).
"""

from __future__ import annotations

import gzip
import re
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any, BinaryIO, Literal, Protocol

import msgspec
import pandas as pd

from sreworkbook.exceptions import MissingFileError, ParameterError, SourceError

__all__ = [
    "DEFAULT_LAYOUT",
    "LOG_COLUMNS",
    "LocalLogStore",
    "LogFile",
    "LogFilter",
    "LogLayout",
    "LogRead",
    "LogScanner",
    "LogStore",
    "S3LogStore",
    "ScanStats",
    "duration_ms",
    "open_log_store",
    "parse_time",
    "read_logs",
    "select_files",
]

#: The tidy columns every frame starts with; the other fields of a record follow as written.
LOG_COLUMNS = (
    "ts", "level", "message", "service", "correlationId", "method", "url", "route",
    "statusCode", "duration_ms", "userId", "stack", "file",
)  # fmt: skip
_ALIASES: dict[str, tuple[str, ...]] = {
    "ts": ("timestamp", "@timestamp", "time"),
    "correlationId": ("correlationId", "correlation_id", "requestId", "reqId"),
    "userId": ("userId", "user_id"),
    "duration_ms": ("duration", "responseTime", "durationMs", "duration_ms"),
    "statusCode": ("statusCode", "status"),
}
_UNITS = {"ns": 1e-6, "us": 1e-3, "µs": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4, "min": 6e4, "h": 3.6e6}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*(ns|us|µs|ms|s|min|m|h)?\s*$", re.IGNORECASE)
_DECODE = msgspec.json.Decoder().decode


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


@dataclass(frozen=True)
class ScanStats:
    """What a scan read: lines, bad lines (with a few examples), files, bytes."""

    lines_scanned: int
    malformed_lines: int
    files: tuple[str, ...]
    lines_parsed: int = 0
    bytes_read: int = 0
    damaged_files: tuple[str, ...] = ()
    malformed_examples: tuple[str, ...] = ()


@dataclass(frozen=True)
class LogFilter:
    """Which records a scan keeps. Empty sets and ``None`` keep everything."""

    start: datetime | None = None
    end: datetime | None = None
    levels: frozenset[str] = frozenset()
    services: frozenset[str] = frozenset()
    routes: frozenset[str] = frozenset()  # a route ("/api/orders/:id") or a URL path
    statuses: frozenset[int] = frozenset()
    users: frozenset[str] = frozenset()
    text: str | None = None  # case-insensitive, in any text field
    correlation_id: str | None = None


@dataclass(frozen=True)
class LogRead:
    """Records in time order (:data:`LOG_COLUMNS` first) and what reading them took."""

    frame: pd.DataFrame
    stats: ScanStats


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
    """Log files under an S3 prefix, through an injected boto3 S3 client."""

    def __init__(self, client: Any, bucket: str, prefix: str = "") -> None:
        self.client, self.bucket = client, bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.description = f"s3://{bucket}/{self.prefix}"

    def list(self) -> list[tuple[str, int]]:
        try:
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=self.prefix, Delimiter="/"
            )
            return [
                (o["Key"][len(self.prefix) :], int(o["Size"]))
                for page in pages
                for o in page.get("Contents", ())
            ]
        except Exception as exc:  # botocore's tree: ClientError, BotoCoreError
            raise SourceError(str(exc), source=self.description, query="list") from exc

    def open(self, name: str) -> BinaryIO:
        try:
            body: BinaryIO = self.client.get_object(Bucket=self.bucket, Key=self.prefix + name)[
                "Body"
            ]
        except Exception as exc:
            raise SourceError(str(exc), source=self.description, query=name) from exc
        return body


def open_log_store(location: str | Path, *, s3_client: Any = None) -> LogStore:
    """A store for a folder or an ``s3://bucket/prefix`` (which needs ``s3_client``)."""
    text = str(location)
    if text.startswith("s3://"):
        if s3_client is None:
            raise ParameterError("an s3:// location needs an S3 client", key="dir")
        bucket, _, prefix = text[5:].partition("/")
        return S3LogStore(s3_client, bucket, prefix)
    return LocalLogStore(text)


def parse_time(
    value: str | datetime | pd.Timestamp, *, name: str, now: Callable[[], datetime] | None = None
) -> datetime:
    """An aware UTC datetime from ISO 8601 (naive means UTC), epoch seconds, or ``now[-15m]``."""
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC)
    text = value.strip()
    relative = re.fullmatch(r"now(?:\s*-\s*(\d+(?:\.\d+)?)\s*([smhd]))?", text)
    if relative and now is not None:
        amount, unit = relative.groups()
        seconds = float(amount or 0) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[unit or "s"]
        return now().astimezone(UTC) - timedelta(seconds=seconds)
    try:
        if re.fullmatch(r"\d{9,11}(\.\d+)?", text):
            return datetime.fromtimestamp(float(text), UTC)
        return parse_time(datetime.fromisoformat(text), name=name)
    except ValueError as exc:
        raise ParameterError(
            f"not a time: {value!r} (ISO 8601 or epoch seconds)", key=name
        ) from exc


def duration_ms(value: Any) -> float | None:
    """``165`` → 165.0, ``"165ms"`` → 165.0, ``"1.2s"`` → 1200.0; anything else → None."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    match = _DURATION.match(str(value))
    if not match:
        return None
    return float(match.group(1)) * _UNITS[(match.group(2) or "ms").lower()]


# ------------------------------------------------------------------------------ file selection
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
            if (end is not None and begin >= end) or (
                start is not None and finish + layout.late_margin <= start
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


# ------------------------------------------------------------------------------ scanning
@dataclass
class _Counter:
    lines: int = 0
    parsed: int = 0
    malformed: int = 0
    bytes_read: int = 0
    files: list[str] = field(default_factory=list)
    damaged: list[str] = field(default_factory=list)
    examples: list[str] = field(default_factory=list)

    def bad(self, line: bytes) -> None:
        self.malformed += 1
        if len(self.examples) < 5:
            self.examples.append(line[:200].decode("utf-8", "replace"))


class LogScanner:
    """Streams the records of ``store`` that pass ``filt``, one frame per block read.

    Iterate :meth:`frames` for bounded memory over any volume; :attr:`stats` counts what was read
    so far. :func:`read_logs` concatenates the frames for you.
    """

    def __init__(
        self,
        store: LogStore,
        filt: LogFilter = LogFilter(),
        *,
        layout: LogLayout = DEFAULT_LAYOUT,
        block_bytes: int = 8 << 20,
        keep_raw: bool = False,
    ) -> None:
        if filt.start and filt.end and filt.start >= filt.end:
            raise ParameterError("the window's start must be before its end", key="start")
        self.store, self.filt, self.layout = store, filt, layout
        self.block_bytes, self.keep_raw = block_bytes, keep_raw
        self._count = _Counter()

    @property
    def stats(self) -> ScanStats:
        c = self._count
        return ScanStats(
            c.lines, c.malformed, tuple(c.files), c.parsed, c.bytes_read, tuple(c.damaged),
            tuple(c.examples),
        )  # fmt: skip

    def files(self) -> list[LogFile]:
        return select_files(self.store.list(), self.layout, self.filt.start, self.filt.end)

    def frames(self) -> Iterator[pd.DataFrame]:
        for log_file in self.files():
            self._count.files.append(log_file.name)
            yield from self._file_frames(log_file)

    def _file_frames(self, log_file: LogFile) -> Iterator[pd.DataFrame]:
        raw = self.store.open(log_file.name)
        stream: BinaryIO = gzip.GzipFile(fileobj=raw) if log_file.gzip else raw  # type: ignore[assignment]
        needle = _needle_for(self.filt)
        checked = needle is None or needle.exact
        try:
            for block, final in _blocks(stream, self.block_bytes, self._count, log_file.name):
                if not final:
                    skip = self._order_skip(block)
                    if skip == "stop":
                        break
                    if skip == "skip":
                        continue
                    self._count.lines += block.count(b"\n")
                else:
                    self._count.lines += 1
                if not checked and needle is not None:
                    checked = needle.verify(block, self._count)
                    needle = needle if checked else None
                if needle is None or final:
                    records = _decode_block(block, self._count)
                else:
                    records = [
                        r
                        for r in (_decode_line(ln, self._count) for ln in needle.lines(block))
                        if r is not None
                    ]
                frame = _records_frame(
                    records, log_file.name, self.filt, self._count, self.keep_raw
                )
                if len(frame):
                    yield frame
        finally:
            stream.close()
            raw.close()

    def _order_skip(self, block: bytes) -> str:
        slack, filt = self.layout.order_slack, self.filt
        if slack is None or (filt.start is None and filt.end is None):
            return ""
        first, last = _edge_time(block, first=True), _edge_time(block, first=False)
        if filt.end is not None and first is not None and first > filt.end + slack:
            return "stop"
        if filt.start is not None and last is not None and last < filt.start - slack:
            return "skip"
        return ""


def _blocks(
    stream: BinaryIO, size: int, count: _Counter, name: str
) -> Iterator[tuple[bytes, bool]]:
    """Newline-ended blocks of about ``size`` bytes; an unterminated last line comes alone."""
    rest = b""
    while True:
        try:
            data = stream.read(size)
        except (EOFError, OSError, zlib.error) as exc:  # truncated or corrupt gzip
            if isinstance(exc, OSError) and not isinstance(exc, gzip.BadGzipFile):
                raise SourceError(str(exc), source=name, query="read") from exc
            count.damaged.append(name)
            break
        if not data:
            break
        count.bytes_read += len(data)
        data = rest + data if rest else data
        cut = data.rfind(b"\n") + 1
        rest = data[cut:]
        if cut:
            yield (data[:cut] if rest else data), False
    if rest.strip():
        yield rest, True


def _edge_time(block: bytes, *, first: bool) -> datetime | None:
    key = b'"timestamp":"'
    at = block.find(key) if first else block.rfind(key)
    if at < 0:
        return None
    begin = at + len(key)
    value = block[begin : block.find(b'"', begin)]
    try:
        stamp = datetime.fromisoformat(value.decode())
    except (ValueError, UnicodeDecodeError):
        return None
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)


def _decode_block(block: bytes, count: _Counter) -> list[dict[str, Any]]:
    """Every record of a newline-ended block: one msgspec call, per line only if one is bad."""
    lines = block.count(b"\n") or 1
    try:
        values = _DECODE(b"[" + block.rstrip(b"\n").replace(b"\n", b",") + b"]")
        if len(values) == lines and all(type(v) is dict for v in values):
            count.parsed += lines
            return values  # type: ignore[no-any-return]
    except msgspec.DecodeError:
        pass
    records = (_decode_line(line, count) for line in block.split(b"\n") if line.strip())
    return [r for r in records if r is not None]


def _decode_line(line: bytes, count: _Counter) -> dict[str, Any] | None:
    count.parsed += 1
    try:
        value = _DECODE(line)
    except msgspec.DecodeError:
        count.bad(line)
        return None
    if type(value) is not dict:
        count.bad(line)
        return None
    return value


def read_logs(
    store: LogStore,
    filt: LogFilter = LogFilter(),
    *,
    layout: LogLayout = DEFAULT_LAYOUT,
    keep_raw: bool = False,
) -> LogRead:
    """The records of ``store`` passing ``filt``, in time order, and the scan's stats."""
    scanner = LogScanner(store, filt, layout=layout, keep_raw=keep_raw)
    frames = list(scanner.frames())
    if not frames:
        return LogRead(_empty_frame(keep_raw), scanner.stats)
    frame = pd.concat(frames, ignore_index=True, sort=False)
    frame = frame.sort_values("ts", kind="stable", ignore_index=True)
    return LogRead(frame, scanner.stats)


# ------------------------------------------------------------------------------ pre-filter
@dataclass(frozen=True)
class _Needle:
    """Bytes that every wanted line holds: find them, parse only the lines around them."""

    patterns: tuple[bytes, ...]
    lower: bool = False  # search the lower-cased block
    exact: bool = True  # False: check on a file's first lines that the needle holds there
    levels: frozenset[str] = frozenset()

    def lines(self, block: bytes) -> Iterator[bytes]:
        hay = block.lower() if self.lower else block
        starts: set[int] = set()
        for pattern in self.patterns:
            at = hay.find(pattern)
            while at >= 0:
                begin = block.rfind(b"\n", 0, at) + 1
                starts.add(begin)
                end = block.find(b"\n", at)
                at = hay.find(pattern, end) if end >= 0 else -1
        for begin in sorted(starts):
            end = block.find(b"\n", begin)
            yield block[begin : end if end >= 0 else len(block)]

    def verify(self, block: bytes, count: _Counter) -> bool:
        """Whether the level needles find every line of those levels among a file's first."""
        for line in block[: 1 << 18].split(b"\n")[:-1]:
            try:
                value = _DECODE(line)
            except msgspec.DecodeError:
                continue
            level = value.get("level") if type(value) is dict else None
            if (
                isinstance(level, str)
                and level.lower() in self.levels
                and not any(p in line for p in self.patterns)
            ):
                return False
        return True


def _needle_for(filt: LogFilter) -> _Needle | None:
    if filt.correlation_id:
        return _Needle((msgspec.json.encode(filt.correlation_id)[1:-1],))
    text = filt.text
    if text and text.isascii() and text.isprintable() and not set(text) & {'"', "\\"}:
        return _Needle((text.lower().encode(),), lower=True)
    if filt.levels:
        patterns = tuple(b'"level":"%s"' % level.encode() for level in sorted(filt.levels))
        return _Needle(patterns, exact=False, levels=filt.levels)
    return None


# ------------------------------------------------------------------------------ normalising
_DTYPES = {"ts": "datetime64[ns, UTC]", "statusCode": "Int64", "duration_ms": "float64"}
_CONSUMED = {alias for aliases in _ALIASES.values() for alias in aliases} | set(LOG_COLUMNS)


def _empty_frame(keep_raw: bool = False) -> pd.DataFrame:
    columns = [*LOG_COLUMNS, "raw"] if keep_raw else list(LOG_COLUMNS)
    return pd.DataFrame({c: pd.Series(dtype=_DTYPES.get(c, "object")) for c in columns})


def _column(records: list[dict[str, Any]], keys: set[str], name: str) -> list[Any]:
    present = [k for k in _ALIASES.get(name, (name,)) if k in keys]
    if not present:
        return [None] * len(records)
    values = [r.get(present[0]) for r in records]
    for alias in present[1:]:
        values = [
            v if v is not None else r.get(alias) for v, r in zip(values, records, strict=True)
        ]
    return values


def _durations(values: list[Any]) -> pd.Series:
    series = pd.Series(values, dtype=object)
    numbers = pd.to_numeric(series.mask(series.map(lambda v: isinstance(v, bool))), errors="coerce")
    text = series[numbers.isna() & series.notna()]
    if len(text):
        numbers.loc[text.index] = [duration_ms(v) for v in text]
    return numbers.astype("float64")


def _records_frame(
    records: list[dict[str, Any]], name: str, filt: LogFilter, count: _Counter, keep_raw: bool
) -> pd.DataFrame:
    """The tidy frame of ``records`` that pass ``filt``; records without a time count as bad."""
    if not records:
        return _empty_frame(keep_raw)
    keys: set[str] = set().union(*records)
    stamps = [v if type(v) is str else None for v in _column(records, keys, "ts")]
    ts = pd.to_datetime(
        pd.Series(stamps, dtype=object), utc=True, format="ISO8601", errors="coerce"
    )
    if ts.isna().any():
        for at in ts.index[ts.isna()]:
            count.bad(msgspec.json.encode(records[at]))
    keep = ts.notna()
    if filt.start is not None:
        keep &= ts >= filt.start
    if filt.end is not None:
        keep &= ts < filt.end
    if not keep.any():
        return _empty_frame(keep_raw)
    if not keep.all():
        records = [r for r, k in zip(records, keep, strict=True) if k]
        ts = ts[keep].reset_index(drop=True)
    data: dict[str, Any] = {"ts": ts}
    for column in LOG_COLUMNS[1:-1]:
        data[column] = _column(records, keys, column)
    data["statusCode"] = pd.to_numeric(
        pd.Series(data["statusCode"], dtype=object), errors="coerce"
    ).astype("Int64")
    data["duration_ms"] = _durations(data["duration_ms"])
    data["file"] = name
    for extra in sorted(keys - _CONSUMED):
        data[extra] = [r.get(extra) for r in records]
    if keep_raw:
        data["raw"] = records
    frame = pd.DataFrame(data)
    frame["level"] = frame["level"].map(lambda v: v.lower() if isinstance(v, str) else v)
    return frame[_matches(frame, filt)].reset_index(drop=True)


def _matches(frame: pd.DataFrame, filt: LogFilter) -> pd.Series:
    keep = pd.Series(True, index=frame.index)
    if filt.correlation_id:
        keep &= frame["correlationId"] == filt.correlation_id
    if filt.levels:
        keep &= frame["level"].isin(filt.levels)
    if filt.services:
        keep &= frame["service"].isin(filt.services)
    if filt.statuses:
        keep &= frame["statusCode"].isin(filt.statuses).fillna(False).astype(bool)
    if filt.users:
        keep &= frame["userId"].isin(filt.users)
    if filt.routes:
        paths = frame["url"].map(lambda u: u.split("?", 1)[0] if isinstance(u, str) else None)
        keep &= frame["route"].isin(filt.routes) | paths.isin(filt.routes)
    if filt.text:
        needle = filt.text.casefold()
        hit = pd.Series(False, index=frame.index)
        for column in frame.columns:
            if column in ("ts", "statusCode", "duration_ms", "raw"):
                continue
            hit |= frame[column].map(lambda v: isinstance(v, str) and needle in v.casefold())
        keep &= hit
    return keep.astype(bool)
