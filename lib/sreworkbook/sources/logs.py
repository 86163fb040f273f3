"""Winston JSON logs: pick the daily files a window touches, stream them, normalise the records.

Files. winston-daily-rotate-file writes ``combined-%DATE%.log`` and ``error-%DATE%.log``
(:class:`LogLayout`), older ones gzipped by ``zippedArchive`` (``.log.gz``), size splits as
``.log.1``. Only files whose date range meets the window are read. Every ``error`` line is also in
``combined``, so for each day the ``error`` file is read only when that day has no ``combined``
file (different retention): no line is counted twice. A plain file wins over a ``.gz`` of the
same name (a half-written archive). Dates in names are UTC unless ``LogLayout.file_tz`` says
otherwise (the transport's ``utc: false`` names files by the server's local time).

Engine, chosen by measurement on 1.1 GB (``bench/bench_logs.py --engines``). A selective query
(a correlation ID, free text, levels) maps a plain local file and searches it with ``find`` for
the bytes every match must hold, then parses only those lines (msgspec): a trace runs at about
``grep -F`` speed, and pages already searched are released so memory stays bounded. Other scans
read newline-aligned blocks of 8 MB, parsed and normalised in columns by polars; a block holding
a bad line is re-read line by line so that bad lines are counted. DuckDB parsed whole files
faster than the polars blocks but drops bad lines without counting them and cannot read an
injected S3 stream; pyarrow's JSON reader rejects a field whose type changes (Winston writes
``"duration": "165ms"`` and ``165``); plain per-line orjson or msgspec were slower still.
polars and pyarrow come with the ``fast`` extra; without them every block is parsed line by
line (msgspec) and text columns use pandas' Python strings: the same frames, only slower.

Order. Winston appends in time order (give or take a few seconds for a cluster sharing a file),
so with ``LogLayout.order_slack`` set, a block whose timestamps all lie more than the slack
before the window is skipped unparsed and reading a file stops at the first block past it.

Bad lines are counted, never raised: not JSON, not an object, or without a readable timestamp
(a partial last line, stderr noise). A full scan checks every line of the blocks it reads; a
selective scan checks the lines it parses (candidates and each file's unterminated last line).
"""

from __future__ import annotations

import gzip
import importlib.util
import io
import mmap
import re
import shutil
import subprocess
import zlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from typing import IO, Any, BinaryIO, Literal, NamedTuple, Protocol

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
    """What a scan read: lines, bad lines (with a few examples), files, bytes.

    A full scan counts every line of the blocks it read; a pre-filtered scan (``prefiltered``)
    only the lines holding its query's bytes, which are all it parsed.
    """

    lines_scanned: int
    malformed_lines: int
    files: tuple[str, ...]
    prefiltered: bool = False  # True: only lines holding the query's bytes were scanned
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

    @classmethod
    def of(
        cls,
        *,
        start: str | datetime | None = None,
        end: str | datetime | None = None,
        level: str | Iterable[str] | None = None,
        service: str | Iterable[str] | None = None,
        route: str | Iterable[str] | None = None,
        status: int | Iterable[int] | None = None,
        user: str | Iterable[str] | None = None,
        text: str | None = None,
        correlation_id: str | None = None,
        now: Callable[[], datetime] | None = None,
    ) -> LogFilter:
        """A filter from loose values (one or several; empty means any), e.g. from widgets."""

        def many(value: Any) -> frozenset[Any]:
            if value is None or value == "":
                return frozenset()
            return frozenset([value] if isinstance(value, str | int) else value)

        return cls(
            start=parse_time(start, name="start", now=now) if start else None,
            end=parse_time(end, name="end", now=now) if end else None,
            levels=frozenset(v.lower() for v in many(level)),
            services=many(service),
            routes=many(route),
            statuses=frozenset(int(v) for v in many(status)),
            users=many(user),
            text=text or None,
            correlation_id=(correlation_id or "").strip() or None,
        )


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


# ------------------------------------------------------------------------------ scanning
@dataclass
class _Counter:
    lines: int = 0
    malformed: int = 0
    bytes_read: int = 0
    files: list[str] = field(default_factory=list)
    damaged: list[str] = field(default_factory=list)
    examples: list[str] = field(default_factory=list)

    def bad(self, line: bytes) -> None:
        self.malformed += 1
        if len(self.examples) < 5:
            self.examples.append(line[:200].decode("utf-8", "replace"))


class _Block(NamedTuple):
    """``data[start:end]``: whole lines, or (``final``) a file's unterminated last line."""

    data: bytes | mmap.mmap
    start: int
    end: int
    final: bool = False

    def bytes(self) -> bytes:
        return bytes(self.data[self.start : self.end])


class LogScanner:
    """Streams the records of ``store`` that pass ``filt``, one frame per block read.

    Iterate :meth:`frames` for bounded memory over any volume; :attr:`stats` counts what was read
    so far. :func:`read_logs` concatenates the frames for you. ``extras=False`` keeps only
    :data:`LOG_COLUMNS` (faster); ``keep_raw`` adds each record as written, in ``raw``.
    """

    def __init__(
        self,
        store: LogStore,
        filt: LogFilter = LogFilter(),
        *,
        layout: LogLayout = DEFAULT_LAYOUT,
        block_bytes: int = 8 << 20,
        keep_raw: bool = False,
        extras: bool = True,
    ) -> None:
        if filt.start and filt.end and filt.start >= filt.end:
            raise ParameterError("the window's start must be before its end", key="start")
        self.store, self.filt, self.layout = store, filt, layout
        self.block_bytes, self.keep_raw, self.extras = block_bytes, keep_raw, extras
        self._count = _Counter()
        self._needle = _needle_for(filt)

    @property
    def stats(self) -> ScanStats:
        c = self._count
        return ScanStats(
            c.lines, c.malformed, tuple(c.files), self._needle is not None, c.bytes_read,
            tuple(c.damaged), tuple(c.examples),
        )  # fmt: skip

    def files(self) -> list[LogFile]:
        return select_files(self.store.list(), self.layout, self.filt.start, self.filt.end)

    def frames(self) -> Iterator[pd.DataFrame]:
        files = self.files()
        started: dict[str, subprocess.Popen[bytes]] = {}
        try:
            for at, log_file in enumerate(files):
                for ahead in files[at : at + _GREP_AHEAD]:  # a few greps run at once
                    command = self._grep_command(ahead)
                    if command is not None and ahead.name not in started:
                        started[ahead.name] = _spawn(command)
                self._count.files.append(log_file.name)
                proc = started.pop(log_file.name, None)
                if proc is not None:
                    yield from self._grep_frames(log_file, proc)
                else:
                    yield from self._file_frames(log_file)
        finally:
            for proc in started.values():
                proc.kill()
                proc.communicate()

    def _file_frames(self, log_file: LogFile) -> Iterator[pd.DataFrame]:
        needle = self._needle
        checked = needle is None or needle.exact
        with self._open(log_file) as blocks:
            for block in blocks:
                skip = "" if block.final else self._order_skip(block)
                if skip == "stop":
                    break
                if skip == "skip":
                    continue
                self._count.bytes_read += block.end - block.start
                if not checked and needle is not None:
                    checked = needle.verify(block)
                    needle = needle if checked else None
                tidy = False
                if needle is None and not self.keep_raw and not block.final:
                    chunk = block.bytes()
                    columns = _columnar(chunk, self.extras)
                    if columns is None:  # a bad line in the block: line by line
                        raw = _frame_of(_decode_lines(chunk, self._count))
                    else:
                        raw, tidy = columns, True
                        self._count.lines += chunk.count(b"\n")
                elif needle is None or block.final:
                    raw = _frame_of(_decode_lines(block.bytes(), self._count), self.keep_raw)
                else:
                    lines = list(needle.lines(block))
                    self._count.lines += len(lines)
                    raw = _frame_of(list(map(self._count_line, lines)), self.keep_raw)
                if len(raw):
                    frame = _records_frame(
                        raw, log_file.name, self.filt, self._count, self.keep_raw, tidy=tidy
                    )
                    if len(frame):
                        yield frame

    def _grep_command(self, log_file: LogFile) -> list[str | bytes] | None:
        """``grep -F`` for an exact needle over a whole local plain file: SIMD-fast, no window."""
        needle, filt = self._needle, self.filt
        if needle is None or not needle.exact or log_file.gzip or filt.start or filt.end:
            return None
        grep = shutil.which("grep")
        if grep is None or not isinstance(self.store, LocalLogStore):
            return None
        command: list[str | bytes] = [grep, "-F", "-a", *(["-i"] if needle.lower else [])]
        for pattern in needle.patterns:
            command += ["-e", pattern]
        return [*command, "--", str(self.store.path / log_file.name)]

    def _grep_frames(
        self, log_file: LogFile, proc: subprocess.Popen[bytes]
    ) -> Iterator[pd.DataFrame]:
        assert proc.stdout is not None and proc.stderr is not None
        try:
            for block in _stream_blocks(proc.stdout, self.block_bytes, self._count, log_file.name):
                raw = _frame_of(_decode_lines(block.bytes(), self._count), self.keep_raw)
                if len(raw):
                    frame = _records_frame(
                        raw, log_file.name, self.filt, self._count, self.keep_raw
                    )
                    if len(frame):
                        yield frame
        finally:
            proc.stdout.close()
            error = proc.stderr.read().decode(errors="replace").strip()
            proc.stderr.close()
            if proc.wait() > 1:
                raise SourceError(error or "grep failed", source=log_file.name, query="grep -F")
        self._count.bytes_read += log_file.size or 0

    def _count_line(self, line: bytes) -> dict[str, Any] | None:
        return _decode_line(line, self._count)

    @contextmanager
    def _open(self, log_file: LogFile) -> Iterator[Iterator[_Block]]:
        raw = self.store.open(log_file.name)
        try:
            if log_file.gzip:
                with gzip.GzipFile(fileobj=raw) as stream:
                    yield _stream_blocks(stream, self.block_bytes, self._count, log_file.name)
                return
            try:  # a local plain file: map it, search it without copying
                mapped = mmap.mmap(raw.fileno(), 0, access=mmap.ACCESS_READ)
            except (OSError, ValueError, AttributeError, io.UnsupportedOperation):
                yield _stream_blocks(raw, self.block_bytes, self._count, log_file.name)
                return
            with mapped:
                yield _mapped_blocks(mapped, self.block_bytes)
        finally:
            raw.close()

    def _order_skip(self, block: _Block) -> str:
        slack, filt = self.layout.order_slack, self.filt
        if slack is None or (filt.start is None and filt.end is None):
            return ""
        first, last = _edge_time(block, first=True), _edge_time(block, first=False)
        if filt.end is not None and first is not None and first > filt.end + slack:
            return "stop"
        if filt.start is not None and last is not None and last < filt.start - slack:
            return "skip"
        return ""


_GREP_AHEAD = 4


def _spawn(command: list[str | bytes]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={"LC_ALL": "C"}
    )


def _mapped_blocks(data: mmap.mmap, size: int) -> Iterator[_Block]:
    """Blocks of a mapped file; pages already searched are let go, so memory stays bounded."""
    pos, total, released = 0, len(data), 0
    while pos < total:
        if pos - released >= size:  # a page-aligned span behind us: drop it from this process
            upto = pos - pos % mmap.PAGESIZE
            data.madvise(mmap.MADV_DONTNEED, released, upto - released)
            released = upto
        end = data.rfind(b"\n", pos, min(pos + size, total)) + 1
        if end <= pos:  # a line longer than a block
            end = data.find(b"\n", pos + size) + 1
        if end <= pos:
            if data[pos:total].strip():
                yield _Block(data, pos, total, True)
            return
        yield _Block(data, pos, end)
        pos = end


def _stream_blocks(
    stream: IO[bytes] | gzip.GzipFile, size: int, count: _Counter, name: str
) -> Iterator[_Block]:
    """Newline-ended blocks of about ``size`` bytes; an unterminated last line comes alone.

    A truncated or corrupt gzip file is read as far as it goes and listed as damaged.
    """
    rest = b""
    while True:
        data, damaged = _read(stream, size, name)
        if data:
            data = rest + data if rest else data
            cut = data.rfind(b"\n") + 1
            rest = data[cut:]
            if cut:
                yield _Block(data, 0, cut)
        if damaged:
            count.damaged.append(name)
            break
        if not data:
            break
    if rest.strip():
        yield _Block(rest, 0, len(rest), True)


def _read(stream: IO[bytes] | gzip.GzipFile, size: int, name: str) -> tuple[bytes, bool]:
    """Up to ``size`` bytes, and whether the (gzip) stream broke off while reading them."""
    if not isinstance(stream, gzip.GzipFile):
        try:
            return stream.read(size), False
        except OSError as exc:
            raise SourceError(str(exc), source=name, query="read") from exc
    parts: list[bytes] = []
    got = 0
    while got < size:
        try:
            part = stream.read1(size - got)
        except (EOFError, OSError, zlib.error):  # truncated or corrupt archive
            return b"".join(parts), True
        if not part:
            break
        parts.append(part)
        got += len(part)
    return b"".join(parts), False


def _edge_time(block: _Block, *, first: bool) -> datetime | None:
    key = b'"timestamp":"'
    data = block.data
    at = (
        data.find(key, block.start, block.end) if first else data.rfind(key, block.start, block.end)
    )
    if at < 0:
        return None
    begin = at + len(key)
    value = data[begin : data.find(b'"', begin, block.end)]
    try:
        stamp = datetime.fromisoformat(value.decode())
    except (ValueError, UnicodeDecodeError):
        return None
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)


def _decode_lines(block: bytes, count: _Counter) -> list[dict[str, Any] | None]:
    """Each line of ``block`` decoded (None for a bad one, counted); blank lines skipped."""
    split = block.split(b"\n")
    count.lines += len(split) - (not split[-1])
    return [_decode_line(line, count) for line in split if line.strip()]


def _frame_of(records: list[dict[str, Any] | None], keep_raw: bool = False) -> pd.DataFrame:
    good = [r for r in records if r is not None]
    frame = pd.DataFrame(good, dtype=object) if good else pd.DataFrame(index=pd.RangeIndex(0))
    if keep_raw:
        frame["raw"] = pd.Series(good, dtype=object)
    return frame


def _decode_line(line: bytes, count: _Counter) -> dict[str, Any] | None:
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
    extras: bool = True,
) -> LogRead:
    """The records of ``store`` passing ``filt``, in time order, and the scan's stats.

    The frame holds every matching record: narrow the window or filter for big volumes, or
    stream with :class:`LogScanner`. ``extras`` keeps the fields beyond :data:`LOG_COLUMNS`.
    """
    scanner = LogScanner(store, filt, layout=layout, keep_raw=keep_raw, extras=extras)
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

    def lines(self, block: _Block) -> Iterator[bytes]:
        data, low, high = block.data, block.start, block.end
        hay, shift = (data[low:high].lower(), low) if self.lower else (data, 0)
        starts: set[int] = set()
        for pattern in self.patterns:
            at = hay.find(pattern, low - shift, high - shift)
            while at >= 0:
                starts.add(data.rfind(b"\n", low, at + shift) + 1 or low)
                end = data.find(b"\n", at + shift, high)
                at = hay.find(pattern, end + 1 - shift, high - shift) if end >= 0 else -1
        for begin in sorted(starts):
            end = data.find(b"\n", begin, high)
            yield data[begin : end if end >= 0 else high]

    def verify(self, block: _Block) -> bool:
        """Whether the level needles find every line of those levels among a file's first."""
        sample = block.data[block.start : min(block.end, block.start + (1 << 18))]
        for line in sample.split(b"\n")[:-1]:
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
_TEXT_FIELDS = sorted(_CONSUMED - {"ts", "file", "duration_ms"})
_HAS_ARROW = importlib.util.find_spec("pyarrow") is not None
_ARROW_TEXT = pd.StringDtype("pyarrow" if _HAS_ARROW else "python")
_NUMERIC = ("statusCode", "duration_ms")
_DURATION_RE2 = r"(?i)^\s*(?P<n>\d+(?:\.\d*)?|\.\d+)\s*(?P<u>ns|us|µs|ms|s|min|m|h)?\s*$"


def _empty_frame(keep_raw: bool = False) -> pd.DataFrame:
    columns = [*LOG_COLUMNS, "raw"] if keep_raw else list(LOG_COLUMNS)
    return pd.DataFrame({c: pd.Series(dtype=_DTYPES.get(c, "object")) for c in columns})


def _columnar(block: bytes, extras: bool) -> pd.DataFrame | None:
    """A block parsed and normalised by polars (``ts`` still text); None if a line is bad.

    Without ``extras`` only the known fields are read (about twice as fast). Also None
    without polars and pyarrow (the ``fast`` extra): the caller then reads line by line.
    """
    if not _HAS_ARROW:
        return None
    try:
        import polars as pl
    except ImportError:
        return None
    try:
        if extras:
            table = pl.read_ndjson(io.BytesIO(block), infer_schema_length=None, ignore_errors=True)
        else:
            schema = dict.fromkeys(_TEXT_FIELDS, pl.String)
            table = pl.read_ndjson(io.BytesIO(block), schema=schema, ignore_errors=True)

        def pick(name: str) -> pl.Expr:
            present = [a for a in _ALIASES.get(name, (name,)) if a in table.columns]
            if not present:
                return pl.lit(None, dtype=pl.String)
            return pl.coalesce([pl.col(a).cast(pl.String) for a in present])

        duration = pick("duration_ms").str.extract_groups(_DURATION_RE2)
        unit = duration.struct.field("u").str.to_lowercase()
        tidy = [
            pick("ts").alias("ts"),
            pick("level").str.to_lowercase().alias("level"),
            *(pick(c).alias(c) for c in LOG_COLUMNS[2:-1] if c not in _NUMERIC),
            pick("statusCode").cast(pl.Float64, strict=False).alias("statusCode"),
            (
                duration.struct.field("n").cast(pl.Float64, strict=False)
                * unit.replace_strict(_UNITS, default=1.0, return_dtype=pl.Float64).fill_null(1.0)
            ).alias("duration_ms"),
        ]
        rest = [pl.col(c) for c in table.columns if c not in _CONSUMED]
        return table.select(*tidy, *rest).to_pandas()
    except (pl.exceptions.PolarsError, ValueError):
        return None


def _pick(raw: pd.DataFrame, name: str) -> pd.Series:
    present = [k for k in _ALIASES.get(name, (name,)) if k in raw.columns]
    if not present:
        return pd.Series(None, index=raw.index, dtype=object)
    column = raw[present[0]]
    for alias in present[1:]:
        column = column.where(column.notna(), raw[alias])
    return column


def _durations(values: pd.Series) -> pd.Series:
    """Milliseconds from numbers and ``"165ms"``/``"1.2s"`` text, vectorised (Arrow's RE2)."""
    if not _HAS_ARROW:
        parts = values.astype(_ARROW_TEXT).str.extract(_DURATION_RE2)
        factor = parts["u"].str.lower().map(_UNITS).astype("float64").fillna(1.0)
        number = pd.to_numeric(parts["n"], errors="coerce").astype("float64")
        return pd.Series((number * factor).to_numpy(dtype="float64"), index=values.index)
    import pyarrow as pa
    import pyarrow.compute as pc

    text = pa.array(values.astype(_ARROW_TEXT), type=pa.string())
    parts = pc.extract_regex(
        text, r"(?i)^\s*(?P<n>\d+(?:\.\d*)?|\.\d+)\s*(?P<u>ns|us|µs|ms|s|min|m|h)?\s*$"
    )
    number = pc.cast(pc.struct_field(parts, "n"), pa.float64()).to_pandas()
    unit = pc.utf8_lower(pc.struct_field(parts, "u")).to_pandas()
    factor = unit.map(_UNITS).astype("float64").fillna(1.0)
    return pd.Series((number * factor).to_numpy(dtype="float64"), index=values.index)


def _records_frame(
    raw: pd.DataFrame,
    name: str,
    filt: LogFilter,
    count: _Counter,
    keep_raw: bool,
    *,
    tidy: bool = False,
) -> pd.DataFrame:
    """The tidy frame of the ``raw`` records that pass ``filt``; no time means a bad line.

    ``tidy``: ``raw`` comes from :func:`_columnar`, its known columns already normalised.
    """
    stamps = (raw["ts"] if tidy else _pick(raw, "ts")).astype(_ARROW_TEXT)
    ts = pd.to_datetime(stamps, utc=True, format="ISO8601", errors="coerce")
    if ts.isna().any():
        for at in ts.index[ts.isna()]:
            count.bad(msgspec.json.encode(raw.loc[at].dropna().to_dict()))
    keep = ts.notna()
    if filt.start is not None:
        keep &= ts >= filt.start
    if filt.end is not None:
        keep &= ts < filt.end
    if not keep.any():
        return _empty_frame(keep_raw)
    if not keep.all():
        raw, ts = raw[keep], ts[keep]
    data: dict[str, Any] = {"ts": ts}
    for column in LOG_COLUMNS[1:-1]:
        data[column] = raw[column] if tidy else _pick(raw, column)
    if not tidy:
        data["level"] = data["level"].astype(_ARROW_TEXT).str.lower()
        data["duration_ms"] = _durations(data["duration_ms"])
    data["level"] = data["level"].astype(object)
    status = pd.to_numeric(data["statusCode"], errors="coerce").astype("float64")
    data["statusCode"] = status.where(status % 1 == 0).astype("Int64")
    data["file"] = name
    consumed = set(LOG_COLUMNS) if tidy else _CONSUMED
    for extra in sorted(set(raw.columns) - consumed - {"raw"}):
        data[extra] = raw[extra].astype(object)
    if keep_raw:
        data["raw"] = raw["raw"]
    frame = pd.DataFrame(data).reset_index(drop=True)
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
