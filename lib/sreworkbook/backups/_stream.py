"""Bounded-memory byte streams for archive reading: gzip-or-plain sources and a cursor over them.

:class:`ByteSource` turns a binary file (a local file, an S3 body) into decompressed chunks of
at most ``chunk_size`` bytes, whatever the compression ratio, and records what went wrong with
the container itself (a truncated or corrupt gzip stream, trailing garbage) instead of raising.
:class:`Cursor` reads exact byte counts and spans of BSON documents across chunk boundaries.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable, Iterator
from typing import Protocol

import fastcrc

__all__ = [
    "MAX_BSON_SIZE",
    "PAUSED",
    "ByteSource",
    "Cursor",
    "Shortfall",
    "crc64_xz",
    "is_terminator",
]

#: Largest document the archive may hold: 16 MiB plus the server's 16 KiB of internal slack.
MAX_BSON_SIZE = 16 * 1024 * 1024 + 16 * 1024
_GZIP_MAGIC = b"\x1f\x8b"
_INT32 = struct.Struct("<i")
_TERMINATOR = -1
#: The ``stop`` of a :meth:`Cursor.scan_documents` run that paused on its budget (not an int32).
PAUSED = 1 << 32

#: CRC-64/XZ (Go's ``hash/crc64`` with the ECMA table): ``crc64_xz(data, previous)`` continues.
crc64_xz: Callable[..., int] = fastcrc.crc64.xz


class Readable(Protocol):
    """What a source must offer: ``read(size)`` returning at most ``size`` bytes, ``b""`` at end."""

    def read(self, size: int, /) -> bytes: ...


class ByteSource:
    """The uncompressed bytes of ``raw``, gzip (any number of members) or plain, in chunks."""

    def __init__(self, raw: Readable, *, chunk_size: int = 1 << 20) -> None:
        self._raw = raw
        self._chunk_size = chunk_size
        first = raw.read(max(chunk_size, 2))
        while 0 < len(first) < 2 and (more := raw.read(chunk_size)):
            first += more  # a stream may return short reads: the gzip check needs two bytes
        self._first = first
        self.bytes_read = len(first)
        self.compressed = self._first.startswith(_GZIP_MAGIC)
        self.uncompressed_bytes = 0
        #: What was wrong with the gzip container, if anything (the data may still be usable).
        self.error: str | None = None
        #: The gzip stream ended before its trailer: the file was cut short.
        self.truncated = False

    def _raw_chunks(self) -> Iterator[bytes]:
        if self._first:
            yield self._first
        while chunk := self._raw.read(self._chunk_size):
            self.bytes_read += len(chunk)
            yield chunk

    def chunks(self) -> Iterator[bytes]:
        """Uncompressed chunks; container problems end the stream and set ``error``/``truncated``."""
        source = self._gunzip() if self.compressed else self._raw_chunks()
        for chunk in source:
            self.uncompressed_bytes += len(chunk)
            yield chunk

    def _gunzip(self) -> Iterator[bytes]:
        limit = self._chunk_size
        raw = self._raw_chunks()
        inflater = zlib.decompressobj(31)
        pending = b""
        in_member = True
        while True:
            if not pending:
                pending = next(raw, b"")
                if not pending:
                    break
            if not in_member:  # between members: only another gzip member may follow
                if len(pending) < 2:
                    more = next(raw, b"")
                    if more:
                        pending += more
                        continue
                if not pending.startswith(_GZIP_MAGIC):
                    self.error = f"{len(pending)}+ bytes of trailing data after the gzip stream"
                    return
                inflater, in_member = zlib.decompressobj(31), True
            try:
                data = inflater.decompress(pending, limit)
            except zlib.error as exc:
                self.error = f"gzip stream is corrupt: {exc}"
                return
            pending = inflater.unconsumed_tail
            if data:
                yield data
            if inflater.eof:
                pending, in_member = inflater.unused_data, False
        if in_member:
            self.truncated = True


class Shortfall(Exception):
    """The source ended after ``got`` of the bytes a read needed (internal signal)."""

    def __init__(self, got: int) -> None:
        self.got = got
        self.progress: tuple[int, int, int] = (0, 0, 0)
        super().__init__(got)


class Cursor:
    """Exact reads and document spans over a chunk iterator; never holds more than a document."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._buf = b""
        self._pos = 0
        #: Uncompressed bytes consumed so far (the archive offset of the next byte).
        self.offset = 0

    def _more(self) -> bool:
        for chunk in self._chunks:
            if chunk:
                rest = self._buf[self._pos :]
                self._buf = rest + chunk if rest else chunk
                self._pos = 0
                return True
        return False

    def at_end(self) -> bool:
        """True when no byte is left."""
        return self._pos >= len(self._buf) and not self._more()

    def peek(self, n: int) -> bytes:
        """The next ``n`` bytes without consuming them; :class:`Shortfall` if fewer remain."""
        while len(self._buf) - self._pos < n:
            if not self._more():
                raise Shortfall(len(self._buf) - self._pos)
        return self._buf[self._pos : self._pos + n]

    def take(self, n: int) -> bytes:
        """The next ``n`` bytes; :class:`Shortfall` if fewer remain (they are then consumed)."""
        try:
            data = self.peek(n)
        except Shortfall:
            self.offset += len(self._buf) - self._pos
            self._buf, self._pos = b"", 0
            raise
        self._pos += n
        self.offset += n
        return data

    def peek_int32(self) -> int:
        """The next little-endian int32 (a BSON length or ``-1`` for the terminator)."""
        if len(self._buf) - self._pos >= 4:
            value: int = _INT32.unpack_from(self._buf, self._pos)[0]
            return value
        value = _INT32.unpack(self.peek(4))[0]
        return value

    def scan_documents(
        self, crc: int, on_document: Callable[[bytes], None] | None = None, budget: int = 0
    ) -> tuple[int, int, int, int]:
        """Consume BSON documents up to the next length that is not a plain document.

        Returns ``(documents, bytes, crc, stop)`` where ``crc`` continues the CRC-64/XZ of the
        document bytes and ``stop`` is the int32 that ended the run: ``-1`` for a terminator (not
        consumed), otherwise an impossible length, or a valid length whose document lacks its
        trailing NUL (both fatal to the caller). :class:`Shortfall` if the source ends first.
        ``on_document`` receives each document's bytes (copied) when given. With a ``budget``,
        the run pauses (``stop`` is :data:`PAUSED`) once that many bytes were consumed, so that a caller
        collecting documents holds a bounded batch. On :class:`Shortfall`, its ``progress`` is
        the ``(documents, bytes, crc)`` consumed before the end.
        """
        progress = [0, 0, crc]
        try:
            return self._scan(progress, on_document, budget)
        except Shortfall as short:
            short.progress = (progress[0], progress[1], progress[2])
            raise

    def _scan(
        self, progress: list[int], on_document: Callable[[bytes], None] | None, budget: int
    ) -> tuple[int, int, int, int]:
        count, total, crc = progress
        unpack = _INT32.unpack_from
        limit = budget or 1 << 62
        while True:
            buf, pos, end = self._buf, self._pos, len(self._buf)
            start = pos
            last = min(end - 4, start + limit - total - 1)  # the last offset to start a document
            if on_document is None:  # the hot loop of verification: keep it lean
                while pos <= last:
                    size = unpack(buf, pos)[0]
                    after = pos + size
                    if not 5 <= size <= MAX_BSON_SIZE or after > end or buf[after - 1]:
                        break
                    pos = after
                    count += 1
            else:
                while pos <= last:
                    size = unpack(buf, pos)[0]
                    after = pos + size
                    if not 5 <= size <= MAX_BSON_SIZE or after > end or buf[after - 1]:
                        break
                    on_document(buf[pos:after])
                    pos = after
                    count += 1
            if pos > start:
                crc = crc64_xz(memoryview(buf)[start:pos], crc)
                total += pos - start
                self.offset += pos - start
                self._pos = pos
                progress[:] = [count, total, crc]
            if total >= limit:
                return count, total, crc, PAUSED
            size = self.peek_int32()
            if size < 5 or size > MAX_BSON_SIZE:
                return count, total, crc, size
            if len(self._buf) - self._pos >= size:
                if self._buf[self._pos + size - 1]:
                    return count, total, crc, size
                continue  # it fits now that chunks were joined: the fast loop takes it
            crc, ok = self._stream_document(size, crc, on_document)
            if not ok:
                return count, total, crc, size
            count += 1
            total += size
            progress[:] = [count, total, crc]

    def _stream_document(
        self, size: int, crc: int, on_document: Callable[[bytes], None] | None
    ) -> tuple[int, bool]:
        """Consume one document larger than the buffered bytes, piece by piece."""
        pieces: list[bytes] = []
        remaining = size
        last = 0
        crc_before = crc
        while remaining:
            available = len(self._buf) - self._pos
            if not available:
                if not self._more():
                    raise Shortfall(size - remaining)
                continue
            piece = self._buf[self._pos : self._pos + min(available, remaining)]
            crc = crc64_xz(piece, crc)
            last = piece[-1]
            if on_document is not None:
                pieces.append(piece)
            self._pos += len(piece)
            self.offset += len(piece)
            remaining -= len(piece)
        if last:
            return crc_before, False
        if on_document is not None:
            on_document(b"".join(pieces))
        return crc, True

    def skip_terminator(self) -> None:
        """Consume the 4-byte terminator that :meth:`scan_documents` stopped at."""
        self.take(4)


def is_terminator(value: int) -> bool:
    """True for the archive's block terminator ``0xFFFFFFFF`` read as a signed int32."""
    return value == _TERMINATOR
