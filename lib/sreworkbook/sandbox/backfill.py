"""Load generated history into a Prometheus data directory with ``promtool``, once per day.

The history is written as OpenMetrics in chunks aligned to promtool's block range, and each
chunk is turned into a block while the next one is written. A stamp records which history a
data directory holds, so the work is skipped until the anchor day or the parameters change.
A cache directory, when given, keeps pristine blocks to copy into other data directories.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import shutil
import subprocess
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from sreworkbook.exceptions import SandboxError
from sreworkbook.known_incidents import write_incidents
from sreworkbook.sandbox.history import HistorySpec, generate
from sreworkbook.sandbox.openmetrics import write_openmetrics

__all__ = ["BLOCK_HOURS", "BackfillReport", "load_history"]

#: promtool's block range for backfilled data; each OpenMetrics chunk becomes one block.
BLOCK_HOURS = 162
_STAMP = "history-stamp.json"
_INCIDENTS = "incidents.json"
_KEEP_CACHED = 4
#: ``progress(what, done, total)``: where a long step has got to (total 0: no count).
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class BackfillReport:
    """What loading the history took. ``source`` is "generated", "cache" or "already loaded"."""

    source: str
    samples: int = 0
    blocks: int = 0
    generate_s: float = 0.0
    write_s: float = 0.0
    promtool_s: float = 0.0
    wall_s: float = 0.0
    text_bytes: int = 0
    disk_bytes: int = 0

    def summary(self) -> str:
        if self.source != "generated":
            return f"history {self.source} ({self.disk_bytes / 2**20:.0f} MiB on disk)"
        return (
            f"history generated: {self.samples:,} samples in {self.blocks} blocks, "
            f"{self.wall_s:.1f} s (numbers {self.generate_s:.1f} s, text {self.write_s:.1f} s, "
            f"promtool {self.promtool_s:.1f} s), {self.text_bytes / 2**20:.0f} MiB of OpenMetrics, "
            f"{self.disk_bytes / 2**20:.0f} MiB on disk"
        )


def _blocks(tsdb: Path) -> list[Path]:
    return sorted(p for p in tsdb.glob("*") if (p / "meta.json").is_file()) if tsdb.is_dir() else []


def _size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) if path.exists() else 0


def _read_stamp(path: Path) -> object:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def load_history(
    spec: HistorySpec,
    *,
    tsdb: Path,
    incidents_file: Path,
    promtool: str,
    cache_dir: Path | None = None,
    log: Callable[[str], None] = lambda s: None,
    progress: Progress = lambda what, done, total: None,
) -> BackfillReport:
    """Make ``tsdb`` hold the history ``spec`` describes, and write the incidents file.

    Call only while Prometheus is not running on ``tsdb``: a different history replaces the
    whole data directory. ``progress(what, done, total)`` follows the long steps.
    """
    key = spec.key()
    stamp = tsdb.parent / _STAMP
    if _read_stamp(stamp) == key and _blocks(tsdb) and incidents_file.is_file():
        return BackfillReport("already loaded", disk_bytes=_size(tsdb))
    shutil.rmtree(tsdb, ignore_errors=True)
    stamp.unlink(missing_ok=True)
    tsdb.mkdir(parents=True)
    if cache_dir is None:
        report = _build(spec, tsdb, incidents_file, promtool, log, progress)
    else:
        report = _from_cache(spec, cache_dir, tsdb, incidents_file, promtool, log, progress)
    stamp.write_text(json.dumps(key), encoding="utf-8")
    return report


def _from_cache(
    spec: HistorySpec,
    cache_dir: Path,
    tsdb: Path,
    incidents_file: Path,
    promtool: str,
    log: Callable[[str], None],
    progress: Progress,
) -> BackfillReport:
    """Copy the history from ``cache_dir``, building it there first if it is missing.

    A lock file per entry serialises its builders, so two sandboxes starting at once with
    the same parameters build it once.
    """
    key = spec.key()
    cache_dir.mkdir(parents=True, exist_ok=True)
    entry = cache_dir / hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
    with entry.with_suffix(".lock").open("w") as lock:
        progress("history: waiting for another sandbox's build", 0, 0)
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _read_stamp(entry / _STAMP) == key:
            entry.touch()  # recently used: pruned last
            report = BackfillReport("reused from cache", disk_bytes=_size(entry / "blocks"))
        else:
            shutil.rmtree(entry, ignore_errors=True)
            (entry / "blocks").mkdir(parents=True)
            report = _build(spec, entry / "blocks", entry / _INCIDENTS, promtool, log, progress)
            (entry / _STAMP).write_text(json.dumps(key), encoding="utf-8")
            _prune(cache_dir, keep=entry)
        for block in _blocks(entry / "blocks"):
            shutil.copytree(block, tsdb / block.name)
        shutil.copyfile(entry / _INCIDENTS, incidents_file)
    return report


def _prune(cache_dir: Path, *, keep: Path) -> None:
    """Keep the newest few cache entries; an entry another sandbox holds locked is kept."""
    entries = sorted(
        (p for p in cache_dir.iterdir() if p.is_dir()),
        key=lambda p: p.stat().st_mtime,
        reverse=True,
    )
    for old in entries[_KEEP_CACHED:]:
        if old == keep:
            continue
        with old.with_suffix(".lock").open("w") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue
            shutil.rmtree(old, ignore_errors=True)
        old.with_suffix(".lock").unlink(missing_ok=True)


def _build(
    spec: HistorySpec,
    out: Path,
    incidents_file: Path,
    promtool: str,
    log: Callable[[str], None],
    progress: Progress,
) -> BackfillReport:
    began = time.monotonic()
    progress("history: generating samples", 0, 0)
    history = generate(spec)
    generated = time.monotonic()
    window = BLOCK_HOURS * 3600
    edges = list(range(spec.start // window * window, spec.end + 1, window))
    samples = text_bytes = 0
    write_s = promtool_s = 0.0
    work = out.parent / "openmetrics-chunks"
    work.mkdir(exist_ok=True)
    log(f"prometheus: writing {len(edges)} chunk(s) of history for promtool")
    futures: list[Future[float]] = []
    with ThreadPoolExecutor(max_workers=1) as pool:
        for i, lo in enumerate(edges):
            progress("history: writing chunks for promtool", i, len(edges))
            chunk = work / f"chunk-{i:02d}.om"
            t0 = time.monotonic()
            with chunk.open("w", encoding="utf-8") as fh:
                samples += write_openmetrics(history, fh, start=lo, end=lo + window)
            write_s += time.monotonic() - t0
            text_bytes += chunk.stat().st_size
            futures.append(pool.submit(_promtool, promtool, chunk, out))
        for i, future in enumerate(futures):
            progress("history: promtool blocks", i, len(futures))
            promtool_s += future.result()
    shutil.rmtree(work, ignore_errors=True)
    write_incidents(incidents_file, history.incidents)
    return BackfillReport(
        "generated",
        samples=samples,
        blocks=len(_blocks(out)),
        generate_s=generated - began,
        write_s=write_s,
        promtool_s=promtool_s,
        wall_s=time.monotonic() - began,
        text_bytes=text_bytes,
        disk_bytes=_size(out),
    )


def _promtool(promtool: str, chunk: Path, out: Path) -> float:
    """Turn one OpenMetrics chunk into a block; returns the seconds it took."""
    began = time.monotonic()
    argv = [
        promtool,
        "tsdb",
        "create-blocks-from",
        "openmetrics",
        f"--max-block-duration={BLOCK_HOURS}h",
        "-q",
        str(chunk),
        str(out),
    ]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=900, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SandboxError(
            f"promtool failed on {chunk.name}: {exc}", component="prometheus"
        ) from exc
    if done.returncode != 0:
        why = (done.stderr.strip() or done.stdout.strip())[-300:]
        raise SandboxError(f"promtool failed on {chunk.name}: {why}", component="prometheus")
    chunk.unlink(missing_ok=True)
    return time.monotonic() - began
