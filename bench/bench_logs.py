"""Log search against the team's tools (jq; grep -F + jq) on >= 1 GB of Winston-format logs.

Prints times, ratios and peak memory; not a test.

    .venv/bin/python bench/bench_logs.py [--size-gb 1.1] [--keep DIR] [--engines]

Tasks: trace one correlation ID over every file; group the error lines of a 1-hour window by
message (numbers stripped in jq too). Every command runs in its own process (best of --runs,
jq once: it is far off either way); its peak RSS comes from wait4. Ratios use our second
(warm, as in a notebook) call in a process; the first call is printed beside it. Python's
imports (about a second) come on top for a shell command. ``--engines`` also times the reading engines that were considered (DuckDB, polars,
pyarrow, per-line orjson/msgspec) on the same tasks and on a full parse. Installs Debian's jq
with apt-get when missing and running as root.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

HOUR = ("2024-03-12T12:00:00", "2024-03-12T13:00:00")
JQ_GROUP = (
    '[inputs | select(.level == "error" and .timestamp >= $s and .timestamp < $e)'
    ' | .message | gsub("[0-9]+"; "<n>")] | group_by(.)'
    " | map({group: .[0], count: length}) | sort_by(-.count)"
)
ROUTES = [
    ("GET", "/api/orders/:id", "/api/orders/{n}"),
    ("GET", "/api/portfolio", "/api/portfolio"),
    ("POST", "/api/trades", "/api/trades"),
    ("GET", "/api/predictions/:symbol", "/api/predictions/AAPL"),
    ("GET", "/api/users/:id", "/api/users/{u}"),
]
ERRORS = [
    "MongoServerSelectionError: Server selection timed out after {n} ms",
    "Failed to load profile for user {uuid}",
    'AI service responded with status 50{d} for model \\"lstm-v3\\"',
    "Invalid session token signature 0x{hex}",
    "Cannot read properties of undefined (reading 'price')",
]


def _stamp(ms: float) -> str:
    t = datetime.fromtimestamp(ms / 1000, UTC)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def generate(out: Path, total_bytes: int, *, days: int = 2, seed: int = 1) -> str:
    """Write about ``total_bytes`` of combined (and error) logs; returns a traced ID."""
    rng = random.Random(seed)
    out.mkdir(parents=True, exist_ok=True)
    users = [f"65{rng.getrandbits(88):022x}" for _ in range(500)]
    traced = ""
    for d in range(days):
        day = datetime(2024, 3, 11, tzinfo=UTC) + timedelta(days=d)
        t = day.timestamp() * 1000
        step = 86_400_000 / (total_bytes / days / 700)  # ~700 bytes per request
        name, written = day.strftime("%Y-%m-%d"), 0
        with (
            open(out / f"combined-{name}.log", "w") as comb,
            open(out / f"error-{name}.log", "w") as err,
        ):
            while written < total_bytes // days:
                t += rng.random() * 2 * step
                h = f"{rng.getrandbits(128):032x}"
                cid = f"{h[:8]}-{h[8:12]}-4{h[13:16]}-8{h[17:20]}-{h[20:]}"
                method, route, url = rng.choice(ROUTES)
                user = rng.choice(users)
                url = url.replace("{n}", str(rng.randint(1000, 99999))).replace("{u}", user)
                dur = int(rng.lognormvariate(4.5, 0.8))
                start, end = _stamp(t), _stamp(t + dur)
                base = f'"method":"{method}","service":"tradeai-backend"'
                lines = [
                    f'{{"correlationId":"{cid}","ip":"10.1.0.{rng.randint(2, 250)}","level":"info",'
                    f'"message":"Incoming request",{base},"timestamp":"{start}","url":"{url}",'
                    f'"userId":"{user}"}}\n'
                ]
                status, errors = 200, []
                if rng.random() < 0.01 or (
                    d == days - 1 and not traced and t > day.timestamp() * 1000 + 43_200_000
                ):
                    msg = rng.choice(ERRORS).format(
                        n=rng.choice([5000, 10000]),
                        uuid=f"{rng.getrandbits(128):032x}",
                        d=rng.randint(2, 4),
                        hex=f"{rng.getrandbits(40):x}",
                    )
                    stack = f"Error: {msg}\\n    at Handler (/app/src/api.js:10:5)"
                    errors.append(
                        f'{{"correlationId":"{cid}","level":"error","message":"{msg}",{base},'
                        f'"route":"{route}","stack":"{stack}","timestamp":"{end}","url":"{url}",'
                        f'"userId":"{user}"}}\n'
                    )
                    status = 500
                    if not traced and d == days - 1:
                        traced = cid
                done = (
                    f'{{"correlationId":"{cid}","duration":"{dur}ms","level":"'
                    f'{"error" if status >= 500 else "info"}","message":"Request completed",'
                    f'{base},"route":"{route}","statusCode":{status},"timestamp":"{end}",'
                    f'"url":"{url}","userId":"{user}"}}\n'
                )
                lines += [*errors, done]
                errors += [done] if status >= 500 else []
                chunk = "".join(lines)
                comb.write(chunk)
                err.write("".join(errors))
                written += len(chunk)
    return traced


def best(runs: int, commands: list[list[str]]) -> tuple[float, float]:
    """The fastest of ``runs`` runs of :func:`measure` (this machine may be shared)."""
    return min((measure(commands) for _ in range(runs)), key=lambda r: r[0])


def measure(commands: list[list[str]]) -> tuple[float, float]:
    """Seconds and the largest peak RSS (MB) of ``commands`` run as a pipeline."""
    start = time.perf_counter()
    procs: list[subprocess.Popen[bytes]] = []
    for i, command in enumerate(commands):
        stdin = procs[-1].stdout if procs else None
        last = i == len(commands) - 1
        procs.append(
            subprocess.Popen(
                command,
                stdin=stdin,
                stdout=subprocess.DEVNULL if last else subprocess.PIPE,
                stderr=subprocess.DEVNULL,
            )
        )
        if stdin is not None:
            stdin.close()
    peak = 0.0
    for proc in procs:
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        peak = max(peak, usage.ru_maxrss / 1024)
    elapsed = time.perf_counter() - start
    for proc in procs:
        if proc.returncode not in (0, 1):  # grep exits 1 when nothing matched
            raise RuntimeError(f"{commands} failed with {proc.returncode}")
    return elapsed, peak


def child(task: str, folder: str, arg: str) -> None:
    """One of our measurements, in its own process; prints the in-process seconds."""
    start = time.perf_counter()
    import polars  # noqa: F401  (the library imports these two on first use: count them here)
    import pyarrow  # noqa: F401

    from sreworkbook.incidents import error_groups, error_rate, trace
    from sreworkbook.sources.logs import open_log_store

    imported = time.perf_counter()
    store = open_log_store(folder)
    s, e = (datetime.fromisoformat(t).replace(tzinfo=UTC) for t in HOUR)

    def call() -> int:
        if task == "trace":
            return trace(store, arg).lines
        if task == "errors":
            return len(error_groups(store, s, e).groups)
        # "scan": a full parse of every line, streamed: the memory bound
        rate = error_rate(store, s - timedelta(days=2), e + timedelta(days=1))
        return int(rate.frame["requests"].sum())

    times = []
    for _ in range(1 if task == "scan" else 2):  # the first call also warms pandas up
        begin = time.perf_counter()
        n = call()
        times.append(time.perf_counter() - begin)
    print(
        json.dumps(
            {"import_s": imported - start, "cold_s": times[0], "call_s": times[-1], "result": n}
        )
    )


def ours(task: str, folder: Path, arg: str = "", runs: int = 1) -> tuple[float, float, float]:
    """The fastest of ``runs``: first-call seconds, warm call seconds, peak RSS (MB)."""
    return min((_ours(task, folder, arg) for _ in range(runs)), key=lambda r: r[1])


def _ours(task: str, folder: Path, arg: str) -> tuple[float, float, float]:
    command = [sys.executable, __file__, "--child", task, str(folder), arg]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE)
    assert proc.stdout is not None
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{command} failed")
    times = json.loads(out)
    return float(times["cold_s"]), float(times["call_s"]), usage.ru_maxrss / 1024


def ensure_jq() -> str:
    found = shutil.which("jq")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        subprocess.run(["apt-get", "update", "-qq"], check=True)
        subprocess.run(["apt-get", "install", "-y", "-qq", "jq"], check=True)
        found = shutil.which("jq")
    if not found:
        sys.exit("jq is missing: apt-get install jq")
    return found


def row(name: str, seconds: float, rss: float, note: str = "") -> None:
    print(f"  {name:<34} {seconds:8.2f} s  peak RSS {rss:7.0f} MB  {note}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-gb", type=float, default=1.1)
    parser.add_argument("--keep", type=Path, help="generate into (or reuse) this folder")
    parser.add_argument("--engines", action="store_true", help="also time the other engines")
    parser.add_argument("--runs", type=int, default=5, help="best of N for all but jq")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    parser.add_argument("--engine", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    if args.engine:
        engine_child(*args.engine)
        return
    jq = ensure_jq()
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp) / "logs"
        marker = folder / "traced-id.txt"
        if not marker.is_file():
            t0 = time.perf_counter()
            marker.parent.mkdir(parents=True, exist_ok=True)
            marker.write_text(generate(folder, int(args.size_gb * 1e9)))
            print(f"generated in {time.perf_counter() - t0:.0f} s")
        cid = marker.read_text().strip()
        files = sorted(str(p) for p in folder.glob("combined-*.log"))
        size = sum(Path(f).stat().st_size for f in files) / 1e9
        print(f"{len(files)} combined files, {size:.2f} GB, load average {os.getloadavg()[0]:.1f}")
        for f in files:  # warm the page cache for everyone alike
            with open(f, "rb") as fh:
                while fh.read(1 << 24):
                    pass

        print(f"\ntrace {cid}")
        jq_s, jq_m = measure([[jq, "-c", f'select(.correlationId == "{cid}")', *files]])
        grep_runs, our_runs = [], []
        for _ in range(args.runs):  # interleaved, so both see the same load
            grep_runs.append(measure([["grep", "-F", cid, *files]]))
            our_runs.append(ours("trace", folder, cid))
        (grep_s, grep_m), (cold, call, rss) = min(grep_runs), min(our_runs, key=lambda r: r[1])
        gj_s, gj_m = best(
            args.runs,
            [["grep", "-hF", cid, *files], [jq, "-c", f'select(.correlationId == "{cid}")']],
        )
        row("jq", jq_s, jq_m)
        row("grep -F", grep_s, grep_m)
        row("grep -F | jq", gj_s, gj_m)
        row("sreworkbook trace (warm call)", call, rss, f"first call in a process {cold:.2f} s")
        print(
            f"  → {jq_s / call:.1f}× faster than jq (goal ≥ 5), {call / grep_s:.2f}× grep -F "
            f"(goal ≤ 2; first call {cold / grep_s:.2f}×)"
        )

        print(f"\nerrors in [{HOUR[0]}, {HOUR[1]}) grouped by message")
        jq_args = ["-n", "-c", "--arg", "s", HOUR[0], "--arg", "e", HOUR[1], JQ_GROUP]
        jq_s, jq_m = measure([[jq, *jq_args, *files]])
        gj_s, gj_m = best(args.runs, [["grep", "-hF", '"level":"error"', *files], [jq, *jq_args]])
        cold, call, rss = ours("errors", folder, "", args.runs)
        row("jq", jq_s, jq_m)
        row("grep -F | jq", gj_s, gj_m)
        row("sreworkbook errors (warm call)", call, rss, f"first call in a process {cold:.2f} s")
        print(f"  → {jq_s / call:.1f}× faster than jq (goal ≥ 5), {gj_s / call:.1f}× grep -F | jq")

        print("\nfull parse of every line (error rate over the whole range), streamed")
        _, call, rss = ours("scan", folder)
        row(
            "sreworkbook error_rate (call)",
            call,
            rss,
            f"{size / call * 1000:.0f} MB/s; goal RSS < 1024 MB",
        )
        if args.engines:
            engines(folder, cid)


def engines(folder: Path, cid: str) -> None:
    """The reading engines considered, each in a fresh process, on the same tasks."""
    print("\nengines (seconds, peak RSS) — trace | errors in the hour | full parse of 4 fields")
    for engine in ("prefilter", "duckdb", "polars", "pyarrow", "msgspec", "orjson"):
        cells = []
        for task in ("trace", "errors", "full"):
            try:
                command = [sys.executable, __file__, "--engine", engine, task, str(folder), cid]
                seconds, rss = measure([command])
                cells.append(f"{seconds:6.2f} s {rss:5.0f} MB")
            except RuntimeError:
                cells.append(f"{'n/a':>15}")
        print(f"  {engine:<10} " + " | ".join(cells))


def engine_child(engine: str, task: str, folder: str, cid: str) -> None:
    """One engine on one task: "trace" (lines of ``cid``), "errors" (error messages of the
    hour), "full" (every line parsed, 4 fields kept). Counts are checked by eye, not here."""
    files = sorted(str(p) for p in Path(folder).glob("combined-*.log"))
    s, e = HOUR
    fields = ("timestamp", "level", "message", "correlationId")
    if engine == "duckdb":
        import duckdb

        cols = ", ".join(f"{f}: 'VARCHAR'" for f in fields)
        src = f"read_json({files!r}, format='newline_delimited', ignore_errors=true, columns={{{cols}}})"
        where = {
            "trace": f"correlationId = '{cid}'",
            "errors": f"level = 'error' AND timestamp >= '{s}' AND timestamp < '{e}'",
            "full": "true",
        }[task]
        duckdb.connect().execute(
            f"SELECT message, count(*) FROM {src} WHERE {where} GROUP BY 1"
        ).fetchall()
        return
    if engine == "polars":
        import polars as pl

        lf = pl.scan_ndjson(files, schema=dict.fromkeys(fields, pl.String), ignore_errors=True)
        cond = {
            "trace": pl.col("correlationId") == cid,
            "errors": (pl.col("level") == "error")
            & pl.col("timestamp").is_between(s, e, closed="left"),
            "full": pl.lit(True),
        }[task]
        lf.filter(cond).group_by("message").len().collect()
        return
    if engine == "prefilter":  # ours: mmap + bytes.find, then parse the candidates
        from sreworkbook.incidents import error_groups, trace
        from sreworkbook.sources.logs import open_log_store

        store = open_log_store(folder)
        if task == "trace":
            trace(store, cid)
        elif task == "errors":
            error_groups(store, *(datetime.fromisoformat(t).replace(tzinfo=UTC) for t in HOUR))
        else:
            from sreworkbook.sources.logs import LogScanner

            for _ in LogScanner(store, extras=False).frames():
                pass
        return
    import mmap

    if engine == "pyarrow":
        import pyarrow as pa
        import pyarrow.json as pj

        for name in files:
            with open(name, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
                pos = 0
                while pos < len(mm):
                    end = mm.rfind(b"\n", pos, pos + (16 << 20)) + 1 or len(mm)
                    table = pj.read_json(pa.BufferReader(mm[pos:end]))
                    table.select([f for f in fields if f in table.column_names])
                    pos = end
        return
    import msgspec
    import orjson

    loads = orjson.loads if engine == "orjson" else msgspec.json.Decoder().decode
    hits = 0
    for name in files:
        with open(name, "rb") as fh:
            for line in fh:
                record = loads(line)
                if task == "trace":
                    hits += record.get("correlationId") == cid
                elif task == "errors":
                    hits += record.get("level") == "error" and s <= record["timestamp"] < e
    print(hits, file=sys.stderr)


if __name__ == "__main__":
    main()
