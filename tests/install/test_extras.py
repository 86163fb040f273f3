"""The package's extras: the base stays lean, nothing heavy is imported where it is not used."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
#: Only the sandbox, the lab or the benches use these; never the library or the command.
NEVER_IMPORTED = ("moto", "aiosmtpd", "jupyterlab", "jupyter_server", "nbconvert", "polars")

#: Modules that exist to plug into an extra's own program (JupyterLab loads the contents
#: manager): they import it by design, and nothing else imports them.
PLUG_INS = ("sreworkbook.labserver",)

_IMPORT_ALL = f"""
import importlib, json, pkgutil, sys
import sreworkbook
from sreworkbook.cli import main
for info in pkgutil.walk_packages(sreworkbook.__path__, "sreworkbook."):
    if not info.name.endswith("__main__") and info.name not in {PLUG_INS!r}:
        importlib.import_module(info.name)
for argv in (["--help"], ["run", "--help"], ["schedule", "export", "--help"],
             ["sandbox", "--help"], ["doctor", "--help"], ["backups", "verify", "--help"]):
    try:
        main(argv)
    except SystemExit:
        pass
print("MODULES=" + json.dumps(sorted({{m.split(".")[0] for m in sys.modules}})))
"""


def test_importing_the_package_and_the_command_never_imports_the_extras() -> None:
    """Every module of the library, and the command's parsers, in a clean interpreter."""
    for name in NEVER_IMPORTED[:3]:  # installed here, so their absence below means something
        assert importlib.util.find_spec(name) is not None, name
    done = subprocess.run(
        [sys.executable, "-c", _IMPORT_ALL],
        capture_output=True, text=True, timeout=300, check=False, cwd=ROOT,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    line = next(x for x in done.stdout.splitlines() if x.startswith("MODULES="))
    loaded = set(json.loads(line.removeprefix("MODULES=")))
    assert "sreworkbook" in loaded and "pandas" in loaded
    assert loaded.isdisjoint(NEVER_IMPORTED), sorted(loaded & set(NEVER_IMPORTED))


def _sizes() -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "bench_install.py"), "--json"],
        capture_output=True, text=True, timeout=300, check=True,
    )  # fmt: skip
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def test_the_base_closure_is_within_its_goal_and_each_extra_brings_its_own() -> None:
    sizes = _sizes()
    base = sizes["base"]
    assert base["mib"] <= 0.45 * 993, base["largest"]
    heavy = {"moto", "aiosmtpd", "jupyterlab", "nbconvert", "polars", "pyarrow", "sympy"}
    assert heavy.isdisjoint(base["names"])
    assert {"papermill", "ipykernel", "pandas", "pymongo", "cryptography"} <= set(base["names"])
    assert {"jupyterlab"} <= set(sizes["lab"]["names"]) - set(base["names"])
    assert {"moto", "aiosmtpd", "flask"} <= set(sizes["sandbox"]["names"])
    assert {"nbconvert", "polars", "pyarrow"} <= set(sizes["bench"]["names"])
    everything = set().union(*(sizes[x]["names"] for x in ("fast", "lab", "sandbox", "bench")))
    assert everything < set(sizes["test"]["names"])
    for extra in ("fast", "lab", "sandbox", "bench", "test"):
        assert set(base["names"]) < set(sizes[extra]["names"]), extra
        assert sizes[extra]["mib"] > base["mib"]


_READ = """
import json, sys
if sys.argv[2] == "without":
    sys.modules["polars"] = sys.modules["pyarrow"] = None  # as if not installed
from sreworkbook.sources.logs import LocalLogStore, read_logs
got = read_logs(LocalLogStore(sys.argv[1]))
frame = got.frame.astype(object).where(got.frame.notna(), None)
frame["ts"] = frame["ts"].map(lambda t: t.isoformat() if t is not None else None)
print(json.dumps({"rows": frame.to_dict("records"), "lines": got.stats.lines_scanned,
                  "malformed": got.stats.malformed_lines,
                  "arrow": "pyarrow" in sys.modules and sys.modules["pyarrow"] is not None},
                 default=str))
"""


def test_logs_read_the_same_without_the_fast_extra(tmp_path: Path) -> None:
    """Without polars and pyarrow the log reader parses line by line: the same records."""
    logs = tmp_path / "logs"
    logs.mkdir()
    lines = [
        {"timestamp": "2026-03-01T10:00:00.000Z", "level": "info", "message": "GET /api/trades",
         "correlationId": "c-1", "statusCode": 200, "duration": "165ms", "route": "/api/trades"},
        {"timestamp": "2026-03-01T10:00:01.500Z", "level": "error", "message": "Mongo timeout",
         "correlationId": "c-2", "statusCode": 500, "duration": 1.2, "service": "tradeai"},
        {"timestamp": "2026-03-01T10:00:02Z", "level": "warn", "message": "slow",
         "duration": "2.5s", "userId": "u-7", "extra": {"k": 1}},
    ]  # fmt: skip
    body = "\n".join(json.dumps(x) for x in lines) + "\nnot json at all\n"
    (logs / "combined-2026-03-01.log").write_text(body * 400)

    def read(mode: str) -> dict[str, Any]:
        done = subprocess.run(
            [sys.executable, "-c", _READ, str(logs), mode],
            capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr[-3000:]
        result: dict[str, Any] = json.loads(done.stdout)
        return result

    fast, plain = read("with"), read("without")
    assert fast["arrow"] and not plain["arrow"]
    assert (plain["lines"], plain["malformed"]) == (fast["lines"], fast["malformed"])
    assert (plain["lines"], plain["malformed"]) == (1600, 400)
    assert len(plain["rows"]) == 1200
    assert plain["rows"] == fast["rows"]
    assert {row["duration_ms"] for row in plain["rows"]} == {165.0, 1.2, 2500.0}


@pytest.mark.parametrize("extra", ["lab", "sandbox", "bench", "test", "fast"])
def test_every_extra_is_declared(extra: str) -> None:
    import tomllib

    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    assert extra in extras
