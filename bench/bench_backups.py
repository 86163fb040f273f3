"""Benchmark: archive verification against `gzip -t` and raw disk reads, and its peak memory.

Writes synthetic archives with the library's own writer (no server needed) into a temporary
folder: ~100 MB and >= 1 GiB of documents, each plain and gzip. Then, each in a fresh process,
verifies them and reports throughput (uncompressed MB/s), CPU time and peak RSS, next to
`gzip -t` on the same .gz file and an O_DIRECT `dd` read of the plain file. Prints ratios;
the goal is verification >= 50 % of `gzip -t` for gzip, and flat memory from 100 MB to 1 GB.

    .venv/bin/python bench/bench_backups.py [--size-mb 1024] [--small-mb 100] [--repeat 2]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import resource
import shutil
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
    parser.add_argument("--repeat", type=int, default=2, help="runs per measurement (best kept)")
    parser.add_argument(
        "--dir", type=Path, default=None, help="where to write (default: a temp dir)"
    )
    args = parser.parse_args()
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
    return 0


if __name__ == "__main__":
    sys.exit(main())
