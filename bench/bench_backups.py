"""Benchmark: archive verification against `gzip -t` and raw disk reads, and its peak memory;
the pymongo engine against the real mongodump/mongorestore on a sandbox-like database.

Writes synthetic archives with the library's own writer (no server needed) into a temporary
folder: ~100 MB and >= 1 GiB of documents, each plain and gzip. Then, each in a fresh process,
verifies them and reports throughput (uncompressed MB/s), CPU time and peak RSS, next to
`gzip -t` on the same .gz file and an O_DIRECT `dd` read of the plain file. Prints ratios;
the goal is verification >= 50 % of `gzip -t` for gzip, and flat memory from 100 MB to 1 GB.

Dump and restore (the issue's ratios, in one run): a FerretDB (``.tools/bin/ferretdb``) seeded
like the sandbox (``--docs`` documents, five collections); ``backups take`` with the pymongo
engine against ``backups take`` with the real mongodump (goal >= 0.7x), the verification pass
``take`` adds against the dump time (goal <= 10 %), and the real mongodump's archive restored by
the pymongo engine against mongorestore, docs/s (goal >= 1.0x). Runs alternate, medians count.

    .venv/bin/python bench/bench_backups.py [--size-mb 1024] [--small-mb 100] [--repeat 2]
    .venv/bin/python bench/bench_backups.py --skip-verify --repeat 3     # the dump/restore ratios
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import resource
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import bson
from bson.int64 import Int64

from sreworkbook.backups.writer import CollectionDump, write_archive

_WORDS = [
    "buy",
    "sell",
    "limit",
    "market",
    "filled",
    "partial",
    "cancel",
    "ACME",
    "GLOBEX",
    "INITECH",
    "order",
    "trade",
    "risk",
]
_CHILD = r"""
import json, resource, sys, time
from pathlib import Path
from sreworkbook.backups.archive import verify_archive

def hwm_kb():
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

base = hwm_kb()
try:  # reset the high-water mark so that only verification counts (Linux clear_refs 5)
    Path("/proc/self/clear_refs").write_text("5")
except OSError:
    pass
rss_before = hwm_kb()
t0, c0 = time.perf_counter(), time.process_time()
report = verify_archive(sys.argv[1])
wall, cpu = time.perf_counter() - t0, time.process_time() - c0
print(json.dumps({"verdict": report.verdict.value, "docs": report.documents,
                  "bytes": report.uncompressed_bytes, "wall": wall, "cpu": cpu,
                  "peak_kb": hwm_kb(), "base_kb": rss_before, "import_peak_kb": base}))
"""


def templates(count: int, seed: int = 42) -> list[bytearray]:
    """``count`` distinct ~1 KB trade documents, encoded, whose ``_id`` is patched per copy."""
    rng = random.Random(seed)
    start = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    out = []
    for i in range(count):
        doc = {
            "_id": Int64(0),
            "symbol": rng.choice(_WORDS[6:10]),
            "side": rng.choice(("buy", "sell")),
            "price": round(rng.uniform(1, 500), 2),
            "qty": rng.randint(1, 10_000),
            "ts": start + dt.timedelta(seconds=i * 7),
            "account": f"acct-{rng.randint(1, 5000):05d}",
            "note": " ".join(rng.choice(_WORDS) for _ in range(110)),
            "tags": [rng.choice(_WORDS) for _ in range(5)],
            "checksum": rng.randbytes(32),
        }
        out.append(bytearray(bson.encode(doc)))
    return out


def documents(total_bytes: int, pool: list[bytearray]) -> Iterator[bytes]:
    """Documents until ``total_bytes`` are produced; ``_id`` (first field, int64) is unique."""
    written = n = 0
    while written < total_bytes:
        raw = pool[n % len(pool)]
        struct.pack_into("<q", raw, 9, n)  # 4 (length) + 1 (type) + 4 ("_id\0")
        yield bytes(raw)
        written += len(raw)
        n += 1


def make_archives(folder: Path, size: int, pool: list[bytearray]) -> tuple[Path, Path, float]:
    plain, gz = folder / f"bench_{size}.archive", folder / f"bench_{size}.archive.gz"
    t0 = time.perf_counter()
    for path, compress in ((plain, False), (gz, True)):
        parts = [size * 6 // 10, size * 3 // 10, size // 10]
        dumps = [
            CollectionDump("tradeai", name, documents(n, pool))
            for name, n in zip(("trades", "orders", "users"), parts, strict=True)
        ]
        dumps.append(CollectionDump("tradeai", "empty", ()))
        write_archive(dumps, path, gzip=compress)
    return plain, gz, time.perf_counter() - t0


def verify_in_child(path: Path) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, str(path)], check=True, capture_output=True, text=True
    )
    result: dict[str, float] = json.loads(out.stdout)
    return result


def timed(argv: list[str]) -> tuple[float, float]:
    """Wall and CPU (user+sys of the child) seconds of one command."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def best(runs: list[dict[str, float]]) -> dict[str, float]:
    return min(runs, key=lambda r: r["wall"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=1024, help="large archive, MiB of documents")
    parser.add_argument("--small-mb", type=int, default=100, help="small archive, MiB")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement")
    parser.add_argument(
        "--dir", type=Path, default=None, help="where to write (default: a temp dir)"
    )
    parser.add_argument("--docs", type=int, default=100_000, help="documents seeded (tools bench)")
    parser.add_argument("--workers", type=int, default=2, help="pymongo engine insert threads")
    parser.add_argument("--batch-docs", type=int, default=1000, help="pymongo engine batch size")
    parser.add_argument("--skip-verify", action="store_true", help="only the dump/restore bench")
    parser.add_argument("--skip-tools", action="store_true", help="only the verification bench")
    args = parser.parse_args()
    if not args.skip_verify:
        verify_bench(args)
    if not args.skip_tools:
        tools_bench(args)
    return 0


def verify_bench(args: argparse.Namespace) -> None:
    folder = Path(tempfile.mkdtemp(prefix="bench_backups_", dir=args.dir))
    mib = 1 << 20
    try:
        pool = templates(4096)
        rows = {}
        for size in (args.small_mb * mib, args.size_mb * mib):
            plain, gz, took = make_archives(folder, size, pool)
            print(
                f"wrote {size / mib:,.0f} MiB of documents: plain {plain.stat().st_size / 1e6:,.0f} MB, "
                f"gzip {gz.stat().st_size / 1e6:,.0f} MB in {took:.0f} s (our writer)"
            )
            rows[size] = {
                "plain": best([verify_in_child(plain) for _ in range(args.repeat)]),
                "gzip": best([verify_in_child(gz) for _ in range(args.repeat)]),
            }
            for kind, r in rows[size].items():
                assert r["verdict"] == "ok", r
                print(
                    f"  verify {kind:<5} {r['bytes'] / r['wall'] / 1e6:7.0f} MB/s wall  "
                    f"{r['bytes'] / r['cpu'] / 1e6:7.0f} MB/s cpu  peak RSS {r['peak_kb'] / 1024:6.1f} MiB "
                    f"(+{(r['peak_kb'] - r['base_kb']) / 1024:.1f} over the loaded interpreter)  "
                    f"{r['docs']:,.0f} docs"
                )
        large = rows[args.size_mb * mib]
        big_plain, big_gz = (
            folder / f"bench_{args.size_mb * mib}.archive",
            folder / f"bench_{args.size_mb * mib}.archive.gz",
        )
        data = large["gzip"]["bytes"]
        gzip_t = min(
            (timed(["gzip", "-t", str(big_gz)]) for _ in range(args.repeat)), key=lambda t: t[0]
        )
        dd = min(
            (
                timed(["dd", f"if={big_plain}", "of=/dev/null", "bs=4M", "iflag=direct"])
                for _ in range(args.repeat)
            ),
            key=lambda t: t[0],
        )
        size_plain = big_plain.stat().st_size
        print(
            f"gzip -t          {data / gzip_t[0] / 1e6:7.0f} MB/s wall  {data / gzip_t[1] / 1e6:7.0f} MB/s cpu (uncompressed bytes)"
        )
        print(
            f"dd iflag=direct  {size_plain / dd[0] / 1e6:7.0f} MB/s (raw disk read of the plain archive)"
        )
        g, p = large["gzip"], large["plain"]
        print("ratios (higher is better for the verifier):")
        print(
            f"  verify gzip / gzip -t      wall {gzip_t[0] / g['wall']:.2f}   cpu {gzip_t[1] / g['cpu']:.2f}   (goal >= 0.50)"
        )
        print(f"  verify plain / disk read   wall {dd[0] / p['wall']:.2f}")
        small = rows[args.small_mb * mib]
        for kind in ("plain", "gzip"):
            grow = large[kind]["peak_kb"] / small[kind]["peak_kb"]
            print(
                f"  peak RSS {kind:<5} {args.size_mb} MiB / {args.small_mb} MiB   {grow:.2f}   (flat is 1.00)"
            )
    finally:
        shutil.rmtree(folder, ignore_errors=True)


ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _ferretdb(folder: Path) -> tuple[subprocess.Popen[bytes], str]:
    binary = ROOT / ".tools" / "bin" / "ferretdb"
    port = _free_port()
    argv = [
        str(binary), "--handler=sqlite", f"--sqlite-url=file:{folder}/",
        f"--listen-addr=127.0.0.1:{port}", f"--state-dir={folder}", "--debug-addr=-",
        "--telemetry=disable", "--log-level=error",
    ]  # fmt: skip
    folder.mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return process, f"mongodb://127.0.0.1:{port}/"
        time.sleep(0.1)
    process.kill()
    raise SystemExit("FerretDB did not start")


def _median(values: list[float]) -> float:
    import statistics

    return statistics.median(values)


def tools_bench(args: argparse.Namespace) -> None:
    """The issue's ratios on one FerretDB seeded like the sandbox (100,000 documents).

    Dump: ``backups take`` with the pymongo engine against ``backups take`` with the real
    mongodump, alternately, each run a fresh backup into its own folder; the verification pass
    ``take`` adds is timed inside each. Restore: the real mongodump's archive of that database
    restored into a scratch database by each engine, alternately, as the drill does it
    (probe, data, indexes); docs/s of the whole restore phase.
    """
    import pymongo

    from sreworkbook.backups.archive import read_prelude
    from sreworkbook.backups.engines import MongorestoreEngine, PymongoEngine, find_tool
    from sreworkbook.backups.take import take_backup
    from sreworkbook.backups.target import plan_restore
    from sreworkbook.config import Environment
    from sreworkbook.sandbox.seed import seed_database

    dump, restore = find_tool("mongodump", root=ROOT), find_tool("mongorestore", root=ROOT)
    if not (ROOT / ".tools" / "bin" / "ferretdb").is_file() or not (dump and restore):
        print("tools bench: needs .tools/bin/ferretdb and mongodump/mongorestore (make setup)")
        return
    folder = Path(tempfile.mkdtemp(prefix="bench_tools_", dir=args.dir))
    process, uri = _ferretdb(folder / "db")
    client: pymongo.MongoClient[dict[str, object]] = pymongo.MongoClient(
        uri, socketTimeoutMS=600_000
    )
    try:
        began = time.perf_counter()
        anchor = dt.datetime.now(dt.UTC)
        seeded = seed_database(client.tradeai, client.marker.seeds, total=args.docs, anchor=anchor)
        print(
            f"seeded tradeai with {seeded.total:,} documents in {time.perf_counter() - began:.0f} s"
            f" (FerretDB {uri})"
        )
        env = Environment.model_validate(
            {"name": "bench", "mongodb": {"uri": uri, "database": "tradeai"},
             "backups": {"local_dir": str(folder / "backups"), "local_retention_days": 365}}
        )  # fmt: skip
        tools = MongorestoreEngine(uri, client=client, mongodump=dump, mongorestore=restore)
        ours = PymongoEngine(client, workers=args.workers, batch_docs=args.batch_docs)
        print(
            f"engines: {tools.dump_version} / {tools.version}; {ours.version}, "
            f"{args.workers} insert threads, batches of {args.batch_docs} documents"
        )
        dumps: dict[str, list[tuple[float, float]]] = {"mongodump": [], "pymongo": []}
        archive = None
        for i in range(args.repeat):
            for name, engine in (("mongodump", tools), ("pymongo", ours)):
                when = anchor + dt.timedelta(minutes=len(dumps[name]) * 2 + (name == "pymongo"))
                taken = take_backup(env, environ={}, root=ROOT, now=when, client=client,
                                    dump_engine=engine)  # fmt: skip
                if taken.status.value != "OK" or taken.path is None:
                    raise SystemExit(f"take with {name} failed: {taken.findings}")
                phases = {p.name: p.seconds for p in taken.phases}
                dumps[name].append((phases["dump"], phases["verify"]))
                print(
                    f"  take #{i + 1} {name:<9} dump {phases['dump']:6.1f} s  "
                    f"verify {phases['verify']:5.2f} s  {taken.bytes / 1e6:5.1f} MB  "
                    f"{taken.documents:,} docs"
                )
                if name == "mongodump":
                    archive = taken.path
        assert archive is not None
        rates: dict[str, list[float]] = {"mongorestore": [], "pymongo": []}
        for i in range(args.repeat):
            for engine in (tools, ours):
                target = f"bench_{engine.name}_{i}_restore_test"
                t0 = time.perf_counter()
                plan = plan_restore(read_prelude(archive), "tradeai", target=client[target],
                                    timeseries=engine.timeseries, tool_ns=engine.tool_ns)  # fmt: skip
                outcome = engine.restore(archive, plan, target_db=target)
                seconds = time.perf_counter() - t0
                if i == 0:
                    for f in (*plan.findings(), *outcome.findings):
                        print(f"    {engine.name} on FerretDB: {f.severity.value} {f.title}")
                rates[engine.name].append(outcome.total_documents / seconds)
                print(
                    f"  restore #{i + 1} {engine.name:<12} {outcome.total_documents:,} docs in "
                    f"{seconds:5.1f} s ({outcome.total_documents / seconds:7,.0f} docs/s), "
                    f"{outcome.indexes_built} indexes in {outcome.index_seconds:.1f} s"
                )
                client.drop_database(target)
        dump_md = _median([d for d, _ in dumps["mongodump"]])
        dump_py = _median([d for d, _ in dumps["pymongo"]])
        share = max(v / d for d, v in dumps["mongodump"] + dumps["pymongo"])
        restore_ratio = _median(rates["pymongo"]) / _median(rates["mongorestore"])
        print("ratios (medians of the alternating runs; higher is better for the workbook):")
        print(
            f"  restore: pymongo engine / mongorestore docs/s   {restore_ratio:.2f}   (goal >= 1.00)"
        )
        print(
            f"  dump: take with pymongo / take with mongodump   {dump_md / dump_py:.2f}   (goal >= 0.70)"
        )
        print(f"  verification / dump time, worst run            {share:.1%}   (goal <= 10 %)")
    finally:
        client.close()
        process.terminate()
        process.wait(timeout=30)
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
