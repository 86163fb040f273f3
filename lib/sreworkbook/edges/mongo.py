"""pymongo's errors said in one line: the server, and what happened.

pymongo's own text is written for its developers: a server-selection timeout carries the whole
topology description (every server, its state, its last error, as Python reprs) and an
operation failure a ``full error: {...}`` document. A report needs one line:
``MongoDB at db:27017 unreachable: connection refused after 5 s``.
"""

from __future__ import annotations

import re

from sreworkbook.exceptions import SourceError, SourceTimeout

__all__ = ["mongo_error", "mongo_problem"]

_SERVER = re.compile(r"^(?P<host>\[?[\w.\-:]+\]?:\d+): (?P<reason>.+?)(?: \(configured timeouts|$)")
_TIMEOUT = re.compile(r"Timeout: (?P<s>[\d.]+)s")
_SOCKET_TIMEOUT = re.compile(r"socketTimeoutMS: (?P<ms>[\d.]+)ms")
_DESCRIBED = re.compile(r"ServerDescription \('(?P<host>[^']+)', (?P<port>\d+)\)")
_REASONS = (
    ("refused", "connection refused"),
    ("reset", "connection reset"),
    ("timed out", "no answer"),
    ("name or service not known", "cannot resolve host"),
    ("nodename nor servname", "cannot resolve host"),
    ("temporary failure in name resolution", "cannot resolve host"),
    ("certificate", "TLS certificate rejected"),
    ("ssl", "TLS error"),
)
_LIMIT = 240


def mongo_problem(exc: BaseException) -> tuple[str, bool]:
    """What went wrong, in one line, and whether it was a timeout (nothing measured)."""
    from pymongo.errors import (
        ExecutionTimeout,
        NetworkTimeout,
        OperationFailure,
        ServerSelectionTimeoutError,
    )

    text = str(exc).strip()
    if isinstance(exc, ServerSelectionTimeoutError):
        head = text.split(", Timeout: ")[0].split(", Topology Description:")[0]
        first = _SERVER.match(head.split(",")[0].strip())
        described = _DESCRIBED.search(text)
        host = first.group("host") if first else ""
        if not host and described:
            host = f"{described.group('host')}:{described.group('port')}"
        lowered = head.lower()
        # "No servers found yet": the server took the connection and said nothing before the
        # selection timeout (a hung server, a black-holing proxy) — no answer, not a refusal.
        silent = "no servers found yet" in lowered
        default = "no answer" if silent else "no server available"
        reason = next((said for word, said in _REASONS if word in lowered), default)
        waited = _TIMEOUT.search(text)
        after = f" after {float(waited.group('s')):g} s" if waited else ""
        where = f"MongoDB at {host}" if host else "MongoDB"
        return f"{where} unreachable: {reason}{after}", reason == "no answer"
    if isinstance(exc, OperationFailure):
        text = text.split(", full error:")[0]
        code = f" (code {exc.code})" if exc.code is not None else ""
        return _cut(f"MongoDB refused the operation{code}: {text}"), False
    timed_out = isinstance(exc, ExecutionTimeout | NetworkTimeout)
    first_line = text.splitlines()[0] if text else type(exc).__name__
    first_line = first_line.split(", Topology Description:")[0]
    server = _SERVER.match(first_line)
    if timed_out and server:  # "db:27017: timed out (configured timeouts: socketTimeoutMS: …)"
        waited = _SOCKET_TIMEOUT.search(first_line)
        within = f" within {float(waited.group('ms')) / 1000:g} s" if waited else ""
        return f"MongoDB at {server.group('host')} did not answer{within}", True
    return _cut(f"MongoDB: {first_line}"), timed_out


def mongo_error(exc: BaseException, *, query: str) -> SourceError:
    """``exc`` (a pymongo error) as the workbook's error about ``query``, in one line."""
    message, timed_out = mongo_problem(exc)
    kind = SourceTimeout if timed_out else SourceError
    return kind(message, source="mongodb", query=query)


def _cut(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _LIMIT else text[: _LIMIT - 1] + "…"
