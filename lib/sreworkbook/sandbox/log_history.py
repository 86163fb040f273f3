"""A week of the demo API's Winston logs with the planted incidents, laid down once per day.

Goes with the backfilled Prometheus history: per UTC day ``combined-YYYY-MM-DD.log`` and
``error-YYYY-MM-DD.log`` in the API's log folder, as winston-daily-rotate-file leaves them, days
before today gzipped, today's plain up to now for the live API to append to. Requests log the
lines of :mod:`~sreworkbook.sandbox.traffic` through the same ``log_line``. The incidents of
``incidents_for`` (same anchor) leave their signature: the error spike a connection-pool timeout
on ``GET /api/trades`` at the history's ratio and in a job every 30 s; the latency regression
slow requests, its deploy and rollback; the memory leak slower requests, 1 % ``RangeError``,
warnings and a restart; the database slowdown slow queries, 2 % ``MongoServerSelectionError``
and failing health checks every 10 s.

One request in ``sample`` is logged (jobs in full), its route and failure drawn quasi-randomly (a
Kronecker sequence, a running sum of failure probabilities) so that logged shares match the
metrics in any window. Same anchor and parameters, same bytes; a stamp skips the work until the
day or the parameters change. The truth file says per incident what a reader finds in
``[start, end)``: requests, failed requests, error lines per message, the first failing request.
"""

from __future__ import annotations

import functools
import gzip
import itertools
import json
import re
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from sreworkbook.known_incidents import Incident
from sreworkbook.sandbox import model
from sreworkbook.sandbox.buckets import BoolArray, FloatArray, calibrate_median
from sreworkbook.sandbox.history import REGRESSION_P95_S, SPIKE_ERROR_RATIO
from sreworkbook.sandbox.incidents import anchor_for, incidents_for
from sreworkbook.sandbox.layout import Context
from sreworkbook.sandbox.model import DB_OPS, ROUTES, Route
from sreworkbook.sandbox.process import port_open
from sreworkbook.sandbox.traffic import node_stack
from sreworkbook.sandbox.winston import iso_ms, log_line

__all__ = ["GENERATOR_VERSION", "HISTORY_DAYS", "SAMPLE_EVERY", "TRUTH_FILE", "LogHistoryReport",
           "LogHistorySpec", "ensure_log_history", "prepare_api_logs"]  # fmt: skip

#: Bump when the generated lines change, so that written history is replaced.
GENERATOR_VERSION = 1
#: Whole days before today that are written (today's file runs from midnight to now).
HISTORY_DAYS = 7
#: One request in this many is logged: about 30 MB a weekday.
SAMPLE_EVERY = 25
#: The truth file's name, in the sandbox's data directory.
TRUTH_FILE = "log_truth.json"

_STAMP = ".log-history.json"
_DAY = 86_400
_NAME = re.compile(r"(?:combined|error)-\d{4}-\d{2}-\d{2}\.log(?:\.\d+)?(?:\.gz)?")
_RESTART_S = 20
_REGRESSION_MEDIAN_S = calibrate_median(0.95, REGRESSION_P95_S, 0.45, model.HTTP_BUCKETS)
_TRADES = next(i for i, r in enumerate(ROUTES) if r.path == "/api/trades")
_POOL = "(/app/node_modules/mongodb/lib/cmap/connection_pool.js:265:31)"
#: Error kinds: message (``{a}`` filled in per line) and stack frames.
_ERRORS: dict[str, tuple[str, tuple[str, ...]]] = {
    "base": ("Cannot read properties of undefined (reading 'id')",
             ("TradeService.enrich (/app/src/services/tradeService.js:88:31)",)),
    "pool": ("MongoWaitQueueTimeoutError: Timed out while checking out a connection from "
             "connection pool: maxPoolSize: 5, connections in use by cursors: {a}, connections in "
             "use by other operations: {b}",
             (f"ConnectionPool.checkOut {_POOL}",
              "TradeRepository.list (/app/src/repositories/tradeRepository.js:41:18)")),
    "memory": ("RangeError: Array buffer allocation failed",
               ("new ArrayBuffer (<anonymous>)",
                "ReportCache.put (/app/src/cache/reportCache.js:22:19)")),
    "database": ("MongoServerSelectionError: connection {c} to 127.0.0.1:27017 timed out",
                 ("Topology.selectServer (/app/node_modules/mongodb/lib/sdam/topology.js:303:38)",)),
}  # fmt: skip
_KINDS = tuple(_ERRORS)
_REQUEST = ("correlationId", "method", "url", "userId")
_NUMERIC = frozenset({"statusCode", "memoryPercent", "threshold", "port"})
_WHEN = datetime(2000, 1, 1, tzinfo=UTC)
_USERS = [f"{1_690_000_000 + 97_531 * i:08x}{b.hex()}" for i, b in enumerate(
    np.random.default_rng(7).bytes(1_600)[j : j + 8] for j in range(0, 1_600, 8))]  # fmt: skip
_USER_WEIGHTS = (w := 1.0 / (np.arange(200) + 10.0)) / w.sum()
_new = tuple.__new__  # a NamedTuple without its constructor's cost, for the hot loop


@dataclass(frozen=True)
class LogHistorySpec:
    """Which history: the anchor (today 00:00 UTC), no line at or after ``until``, volume."""

    anchor: int
    until: float
    days: int = HISTORY_DAYS
    sample: int = SAMPLE_EVERY
    seed: int = 20_251_110

    @classmethod
    def ending(cls, now: datetime, *, days: int = HISTORY_DAYS) -> LogHistorySpec:
        """The history for ``now`` (aware): ``days`` whole days before today, and today so far."""
        return cls(anchor_for(now), now.timestamp(), days)

    def day_starts(self) -> list[int]:
        return [self.anchor - d * _DAY for d in range(self.days, -1, -1)]

    def incidents(self) -> list[Incident]:
        return incidents_for(self.anchor, start=self.day_starts()[0], end=int(self.until))

    def key(self) -> dict[str, int]:
        """What identifies the written history in the stamp (``until`` varies within a day)."""
        return {"version": GENERATOR_VERSION, "anchor": self.anchor, "days": self.days,
                "sample": self.sample, "seed": self.seed}  # fmt: skip


@dataclass(frozen=True)
class LogHistoryReport:
    """What writing took. ``source`` is "generated" or "already written"."""

    source: str
    files: int = 0
    lines: int = 0
    bytes_written: int = 0
    seconds: float = 0.0

    def summary(self) -> str:
        if self.source != "generated":
            return "log history already written"
        return (
            f"log history generated: {self.lines:,} lines in {self.files} files, "
            f"{self.bytes_written / 2**20:.0f} MiB, {self.seconds:.1f} s"
        )


class _Line(NamedTuple):
    """One line and what the truth needs of it; sorts by time (ms), then creation."""

    t: int
    seq: int
    text: str
    level: str
    cid: str | None = None
    status: int = 0
    kind: str = ""  # an error kind, or the message of another error line

    @property
    def ts(self) -> str:
        return self.text[-26:-2]  # log_line ends with "timestamp":"…Z"}


def ensure_log_history(
    log_dir: Path,
    spec: LogHistorySpec,
    *,
    truth_file: Path,
    progress: Callable[[int, int], None] = lambda done, total: None,
) -> LogHistoryReport:
    """Make ``log_dir`` hold the history ``spec`` describes, and write the truth file.

    Call before the API appends to today's file: a different history replaces every daily file
    in the folder (older days too, as the transport's ``maxFiles`` would).
    """
    stamp = log_dir / _STAMP
    try:
        known = json.loads(stamp.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        known = None
    past = [log_dir / f"combined-{_date(d)}.log.gz" for d in spec.day_starts()[:-1]]
    if known == spec.key() and truth_file.is_file() and all(p.is_file() for p in past):
        return LogHistoryReport("already written")
    began = time.monotonic()
    log_dir.mkdir(parents=True, exist_ok=True)
    stamp.unlink(missing_ok=True)
    for old in log_dir.iterdir():
        if _NAME.fullmatch(old.name):
            old.unlink()
    truth, lines, size = _write(log_dir, spec, progress)
    truth_file.parent.mkdir(parents=True, exist_ok=True)
    _save(truth_file, (json.dumps(truth, indent=1) + "\n").encode(), False)
    stamp.write_text(json.dumps(spec.key()), encoding="utf-8")
    return LogHistoryReport("generated", len(truth["files"]), lines, size, time.monotonic() - began)


def prepare_api_logs(ctx: Context) -> None:
    """The sandbox's step before the demo API starts; a failure is reported, never raised.

    Nothing is touched while something answers on the API's port (an API already writing there).
    """
    where = ctx.endpoint("api")
    if port_open(where.host, where.port):
        return
    try:
        report = ensure_log_history(
            ctx.layout.app_log_dir,
            LogHistorySpec.ending(ctx.now),
            truth_file=ctx.layout.data_dir / TRUTH_FILE,
            progress=lambda done, of: ctx.progress.step("api", "log history: days", done, of),
        )
    except OSError as exc:
        ctx.log(f"api: log history not written — {exc}")
        return
    ctx.log(f"api: {report.summary()}")


def _date(day_start: int) -> str:
    return datetime.fromtimestamp(day_start, UTC).strftime("%Y-%m-%d")


def _save(path: Path, data: bytes, gz: bool) -> int:
    payload = gzip.compress(data, compresslevel=6, mtime=0) if gz else data
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(payload)
    tmp.replace(path)
    return len(payload)


def _write(
    log_dir: Path, spec: LogHistorySpec, progress: Callable[[int, int], None]
) -> tuple[dict[str, Any], int, int]:
    """Generate day by day, gzip in a worker thread; the truth, lines and bytes written."""
    incidents = spec.incidents()
    tallies = [_Tally(i) for i in incidents]
    files: dict[str, dict[str, int]] = {}
    carry: list[_Line] = []
    writes: list[Future[int]] = []
    by_kind: Counter[str] = Counter()
    days = spec.day_starts()
    with ThreadPoolExecutor(max_workers=1) as pool:
        for done, day in enumerate(days):
            progress(done, len(days))
            rng = np.random.default_rng([spec.seed, day // _DAY, spec.sample])
            lines = sorted(carry + _day_lines(rng, day, spec, incidents))
            cut = min(day + _DAY, spec.until) * 1000
            at = next((i for i, line in enumerate(lines) if line.t >= cut), len(lines))
            lines, carry = lines[:at], lines[at:]
            for tally in tallies:
                tally.add(lines)
            errors = [x for x in lines if x.level == "error"]
            by_kind.update(x.kind for x in errors)
            for kind, part in (("combined", lines), ("error", errors)):
                name = f"{kind}-{_date(day)}.log" + (".gz" if day < spec.anchor else "")
                files[name] = {"lines": len(part), "error_lines": len(errors)}
                data = "".join(x.text + "\n" for x in part).encode()
                writes.append(pool.submit(_save, log_dir / name, data, day < spec.anchor))
        written = sum(w.result() for w in writes)
    truth = {"version": GENERATOR_VERSION, "anchor": spec.anchor, "days": spec.days,
             "until": iso_ms(datetime.fromtimestamp(spec.until, UTC)), "sample": spec.sample,
             "files": files, "error_lines_by_kind": dict(by_kind),
             "incidents": [t.result() for t in tallies]}  # fmt: skip
    return truth, sum(f["lines"] for name, f in files.items() if name.startswith("c")), written


# ---------------------------------------------------------------------------------- generation
@functools.cache
def _template(level: str, message: str | None, *fields: str) -> str:
    """``log_line``'s output with ``%s`` where the message (if None) and ``fields`` go."""
    marks = {name: f"@@{i}@@" for i, name in enumerate(fields)}
    text = log_line(level, message or "@@m@@", _WHEN, **marks).replace("%", "%%")
    for name, mark in marks.items():
        text = text.replace(f'"{mark}"', "%s" if name in _NUMERIC else '"%s"')
    return text.replace("@@m@@", "%s").replace(iso_ms(_WHEN), "%sZ")


def _step_template(route: Route) -> str:
    """The middle line of a request that went well: the AI call, else its first query."""
    if route.uses_ai:
        return _template("info", "AI forecast generated", "model", *_REQUEST).replace(
            '"model":"%s"', '"model":"tradeai-forecast-v3"'
        )
    op = DB_OPS[route.db[0][0]]
    return _template("info", "Database query executed", "operation", "collection", *_REQUEST) % (
        op.operation, op.collection, "%s", "%s", "%s", "%s", "%s"
    )  # fmt: skip


def _line(seq: Iterator[int], ms: int, level: str, message: str, fields: dict[str, Any],
          cid: str | None = None, status: int = 0, kind: str = "") -> _Line:  # fmt: skip
    """Line number ``next(seq)`` at ``ms`` (epoch milliseconds), through a ``log_line`` template."""
    variable = level == "error" and message != "Request completed"
    text = _template(level, None if variable else message, *fields) % (
        *((json.dumps(message, ensure_ascii=False)[1:-1],) if variable else ()),
        *(json.dumps(v)[1:-1] if k in ("stack", "job") else v for k, v in fields.items()),
        str(np.datetime64(ms, "ms")),
    )
    return _Line(
        ms, next(seq), text, level, cid, status, kind or (message if level == "error" else "")
    )


def _error(kind: str, value: int) -> tuple[str, str]:
    template, frames = _ERRORS[kind]
    message = template.format(a=value % 3, b=5 - value % 3, c=value)
    return message, node_stack(message, *frames)


def _uuid4(random: bytes) -> list[str]:
    """Version-4 UUIDs from 16 random bytes each, as ``uuid.UUID(bytes=..., version=4)``."""
    raw = np.frombuffer(random, dtype=np.uint8).reshape(-1, 16).copy()
    raw[:, 6] = raw[:, 6] & 0x0F | 0x40
    raw[:, 8] = raw[:, 8] & 0x3F | 0x80
    h = raw.tobytes().hex()
    return [f"{h[i:i + 8]}-{h[i + 8:i + 12]}-{h[i + 12:i + 16]}-{h[i + 16:i + 20]}-{h[i + 20:i + 32]}"
            for i in range(0, len(h), 32)]  # fmt: skip


def _during(times: FloatArray, incidents: list[Incident], kind: str, pad: int = 0) -> BoolArray:
    hit = np.zeros(len(times), dtype=bool)
    for i in (i for i in incidents if i.kind == kind):
        hit |= (times >= i.start_s) & (times < i.end_s + pad)
    return hit


def _day_lines(
    rng: np.random.Generator, day: int, spec: LogHistorySpec, incidents: list[Incident]
) -> list[_Line]:
    """The sampled requests started on ``day`` (and before ``until``), and background lines."""
    minutes = day + 60 * np.arange(1440)
    load = np.array([model.load_factor(m + 30.0) for m in minutes]) * rng.lognormal(0.0, 0.06, 1440)
    counts = rng.poisson(model.BASE_RPS * load * 60 / spec.sample)
    start = np.repeat(minutes, counts) + rng.random(int(counts.sum())) * 60
    order = np.argsort(start, kind="stable")
    start, load_at = start[order], np.repeat(load, counts)[order]
    hot = _during(start, incidents, "memory")
    keep = (start < spec.until - 60) & ~(_during(start, incidents, "memory", _RESTART_S) & ~hot)
    start, load_at, hot, n = start[keep], load_at[keep], hot[keep], int(keep.sum())
    weyl = (rng.random() + np.arange(n) * 0.6180339887498949) % 1.0
    route = np.minimum(np.searchsorted(np.cumsum([r.share for r in ROUTES]), weyl), len(ROUTES) - 1)
    median = np.array([r.median_s for r in ROUTES])[route] * (1 + 0.25 * load_at)
    sigma = np.array([r.sigma for r in ROUTES])[route]
    slow = _during(start, incidents, "database")
    spike = _during(start, incidents, "error_rate") & (route == _TRADES)
    late = _during(start, incidents, "latency")
    median = median * np.where(slow, 6.0, 1.0) * np.where(hot, 1.4, 1.0)
    p_err = np.where(hot, 0.01, model.BASE_ERROR_RATIO)
    p_err = np.where(spike, SPIKE_ERROR_RATIO, np.where(slow, 0.02, p_err))
    kind = np.where(spike, 1, np.where(slow, 3, np.where(hot, 2, 0)))  # index into _KINDS
    offset = rng.random()  # a failure each time the running sum of probabilities passes a whole
    failed = np.diff(np.floor(np.cumsum(p_err) + offset), prepend=np.floor(offset)) > 0
    median, sigma = np.where(late, _REGRESSION_MEDIAN_S, median), np.where(late, 0.45, sigma)
    median, sigma = np.where(failed, median * 0.7, median), np.where(failed, 0.9, sigma)
    noise = sigma * rng.standard_normal(n)
    took = np.maximum(1, np.rint(1000 * median * np.exp(noise))).astype(np.int64)
    t0 = np.rint(start * 1000).astype(np.int64)
    users = _USERS  # ObjectId-like, a few much busier than the rest
    user = rng.choice(len(users), size=n, p=_USER_WEIGHTS).tolist()
    ip_a, ip_b = rng.integers(0, 256, n).tolist(), rng.integers(1, 255, n).tolist()
    variant, cids = rng.integers(1, 40, n).tolist(), _uuid4(rng.bytes(16 * n))
    stamps = [
        np.datetime_as_string((t0 + k * took // 5).astype("datetime64[ms]")) for k in (0, 2, 5)
    ]
    incoming = _template("info", "Incoming request", "ip", *_REQUEST)
    completed = _template("info", "Request completed", "statusCode", "duration", *_REQUEST)
    steps = [_step_template(r) for r in ROUTES]
    seq = itertools.count(day // _DAY * 10**9)  # creation order breaks ties in time
    lines: list[_Line] = []
    rows = zip(route.tolist(), t0.tolist(), took.tolist(), failed.tolist(), cids, strict=True)
    for i, (k, ms, d, bad, cid) in enumerate(rows):
        r = ROUTES[k]
        request = (cid, r.method, r.path, users[user[i]])
        text = incoming % (f"10.0.{ip_a[i]}.{ip_b[i]}", *request, stamps[0][i])
        lines.append(_new(_Line, (ms, next(seq), text, "info", cid, 0, "")))
        if not bad:
            text = steps[k] % (*request, stamps[1][i])
            lines.append(_new(_Line, (ms + 2 * d // 5, next(seq), text, "info", cid, 0, "")))
            text = completed % (200, f"{d}ms", *request, stamps[2][i])
            lines.append(_new(_Line, (ms + d, next(seq), text, "info", cid, 200, "")))
            continue
        name = _KINDS[kind[i]]
        message, stack = _error(name, variant[i])
        meta = dict(zip(_REQUEST, request, strict=True))
        lines.append(
            _line(seq, ms + 2 * d // 5, "error", message, {"stack": stack, **meta}, cid, kind=name)
        )
        done = {"statusCode": 500, "duration": f"{d}ms", **meta, "stack": stack}
        lines.append(_line(seq, ms + d, "error", "Request completed", done, cid, 500))
    lines += _background(rng, day, incidents, seq)
    return [line for line in lines if line.t < spec.until * 1000]


def _background(
    rng: np.random.Generator, day: int, incidents: list[Incident], seq: Iterator[int]
) -> list[_Line]:
    """Lines no request asked for: failing jobs, memory warnings, restarts and deploys."""
    lines: list[_Line] = []
    for i in (i for i in incidents if day <= i.start_s < day + _DAY):
        if i.kind in ("error_rate", "database"):
            job, every, kind = {"error_rate": ("tradesCacheRefresh", 30, "pool"),
                                "database": ("healthMonitor", 10, "database")}[i.kind]  # fmt: skip
            for t in range(i.start_s + every // 2, i.end_s, every):
                message, stack = _error(kind, int(rng.integers(1, 40)))
                ms = t * 1000 + int(rng.integers(0, 1000))
                lines.append(
                    _line(seq, ms, "error", message, {"job": job, "stack": stack}, kind=kind)
                )
        elif i.kind == "memory":
            for t in range(i.start_s, i.end_s, 300):
                pct = round(90 + 7 * (t - i.start_s) / i.duration_s, 1)
                warning = {"memoryPercent": pct, "threshold": 90}
                lines.append(_line(seq, t * 1000 + 500, "warn", "Memory usage high", warning))
        versions = {"memory": [(i.end_s + _RESTART_S, "2.14.2")],
                    "latency": [(i.start_s, "2.14.0"), (i.end_s, "2.13.9")]}.get(i.kind, [])  # fmt: skip
        for at, version in versions:
            fields = {"port": 3000, "version": version}
            lines.append(_line(seq, at * 1000 - 500, "info", "Server started", fields))
    return lines


# ---------------------------------------------------------------------------------- the truth
@dataclass
class _Tally:
    """What a reader finds in one incident's ``[start, end)``, counted as lines are written.

    A failed request is a correlation ID with a 5xx or an error line (5xx lines without one count
    one each); the first is the one of the earliest such line, traced across days.
    """

    incident: Incident
    requests: int = 0
    failed_ids: set[str] = field(default_factory=set)
    failed_without_id: int = 0
    error_lines: int = 0
    cause_lines: int = 0  # error lines that say why (not a request's completion line)
    groups: Counter[str] = field(default_factory=Counter)
    examples: dict[str, str] = field(default_factory=dict)
    first: dict[str, Any] | None = None

    def add(self, lines: list[_Line]) -> None:
        low, high = (
            iso_ms(self.incident.start),
            iso_ms(self.incident.end),
        )
        for line in lines:
            if not low <= line.ts < high:
                continue
            self.requests += line.status > 0
            failing = line.status >= 500 or line.level == "error"
            if failing and line.cid is not None:
                self.failed_ids.add(line.cid)
                if self.first is None:
                    self.first = {"correlation_id": line.cid, "at": line.ts, "messages": []}
            self.failed_without_id += line.status >= 500 and line.cid is None
            if line.level == "error":
                self.error_lines += 1
            if line.level == "error" and line.status <= 0:
                self.cause_lines += 1
                self.groups[line.kind] += 1
                self.examples.setdefault(line.kind, json.loads(line.text)["message"])
        if self.first is not None:  # its lines, here and in the next day's file
            cid = self.first["correlation_id"]
            self.first["messages"] += [json.loads(x.text)["message"] for x in lines if x.cid == cid]

    def result(self) -> dict[str, Any]:
        ranked = self.groups.most_common()
        return {
            **self.incident.to_dict(),
            "requests": self.requests,
            "failed_requests": len(self.failed_ids) + self.failed_without_id,
            "error_lines": self.error_lines,
            "cause_lines": self.cause_lines,
            "groups": [{"kind": k, "count": n, "example": self.examples[k]} for k, n in ranked],
            "dominant": {"message": self.examples[ranked[0][0]], "count": ranked[0][1]} if ranked else None,
            "first_failed_request": self.first,
        }  # fmt: skip
