"""Which failed runs are worth another attempt: a source that refused or timed out, nothing else.

The rule (README, "Scheduled runs"): a run is retried only when

1. ``sreworkbook run`` exited 2 (the notebook itself failed — not CRIT, not bad input), and
2. the failure names a transient cause: the exception class the notebook raised (as the run's
   summary headline and findings record it, ``... SourceTimeout: ...``) is one of the
   connection or timeout errors below, or it is a ``SourceError`` (or requests' ``HTTPError``)
   whose message says the connection was refused, reset or timed out, or that the server
   answered 429, 502, 503 or 504.
   When the run left no summary (it crashed before writing one) the same names are looked
   for in its standard error.

Per-cell timeouts (``CellTimeoutError``), dead kernels and every other exception are not
retried: the next scheduled run will try again, and the failure is reported now.
"""

from __future__ import annotations

import re

from sreworkbook.results import RunSummary, Status

__all__ = ["TRANSIENT_EXCEPTIONS", "transient_reason"]

#: Exception class names that mean "the other side did not answer", from the workbook's own
#: tree, the standard library, requests/urllib3, pymongo, redis-py and botocore.
TRANSIENT_EXCEPTIONS = (
    "SourceTimeout",
    "ConnectionError",
    "ConnectionRefusedError",
    "ConnectionResetError",
    "ConnectionAbortedError",
    "TimeoutError",
    "ConnectTimeout",
    "ReadTimeout",
    "ConnectTimeoutError",
    "NewConnectionError",
    "RemoteDisconnected",
    "ServerSelectionTimeoutError",
    "AutoReconnect",
    "NetworkTimeout",
    "EndpointConnectionError",
)
_NAMES = re.compile(r"(?<![\w.])(?:[\w]+\.)*(" + "|".join(TRANSIENT_EXCEPTIONS) + r")\b")
_WORDY = re.compile(r"(?<![\w.])(?:[\w]+\.)*(SourceError|HTTPError)\b")
_TRANSIENT_WORDS = re.compile(
    r"connection refused|connection reset|timed out|time-?out|temporarily unavailable|"
    r"\b(?:429|502|503|504)\b",
    re.IGNORECASE,
)
_NEVER = re.compile(r"\b(?:CellTimeoutError|DeadKernelError)\b")


def _reason(text: str) -> str | None:
    if _NEVER.search(text):
        return None
    named = _NAMES.search(text)
    if named:
        return named.group(1)
    wordy = _WORDY.search(text)
    if wordy:
        words = _TRANSIENT_WORDS.search(text)
        if words:
            return f"{wordy.group(1)} ({words.group(0).lower()})"
    return None


def transient_reason(exit_code: int, summary: RunSummary | None, stderr: str = "") -> str | None:
    """Why the run is worth retrying (the transient cause found), or ``None`` if it is not."""
    if exit_code != Status.ERROR.exit_code:
        return None
    if summary is not None and summary.status is Status.ERROR:
        text = "\n".join([summary.headline, *(f"{f.title}: {f.detail}" for f in summary.findings)])
        return _reason(text)
    return _reason(stderr[-4000:])
