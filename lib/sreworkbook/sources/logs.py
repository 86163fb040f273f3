"""Winston JSON logs: pick the daily files a window touches, stream them, normalise the records.

This module scans; which files a window needs is :mod:`~sreworkbook.sources.log_files`, and
what a record becomes is :mod:`~sreworkbook.sources.log_records`. Their public names are
re-exported here, the one place readers import from.

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
import io
import mmap
import shutil
import subprocess
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import IO, Any, NamedTuple

import msgspec
import pandas as pd

from sreworkbook.exceptions import ParameterError, SourceError
from sreworkbook.sources.log_files import (
    DEFAULT_LAYOUT,
    LocalLogStore,
    LogFile,
    LogLayout,
    LogStore,
    S3LogStore,
    open_log_store,
    select_files,
)
from sreworkbook.sources.log_records import (
    LOG_COLUMNS,
    LogFilter,
    columnar_frame,
    decode,
    duration_ms,
    empty_log_frame,
    records_frame,
)

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
    "read_logs",
    "select_files",
]


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
class LogRead:
    """Records in time order (:data:`LOG_COLUMNS` first) and what reading them took."""

    frame: pd.DataFrame
    stats: ScanStats


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
        filt: LogFilter | None = None,
        *,
        layout: LogLayout = DEFAULT_LAYOUT,
        block_bytes: int = 8 << 20,
        keep_raw: bool = False,
        extras: bool = True,
    ) -> None:
        filt = filt or LogFilter()
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
                    columns = columnar_frame(chunk, self.extras)
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
                    frame = records_frame(
                        raw, log_file.name, self.filt, self._count.bad, self.keep_raw, tidy=tidy
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
                    frame = records_frame(
                        raw, log_file.name, self.filt, self._count.bad, self.keep_raw
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
        value = decode(line)
    except msgspec.DecodeError:
        count.bad(line)
        return None
    if type(value) is not dict:
        count.bad(line)
        return None
    return value


def read_logs(
    store: LogStore,
    filt: LogFilter | None = None,
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
        return LogRead(empty_log_frame(keep_raw), scanner.stats)
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
                value = decode(line)
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
