"""Install closure of each profile: how many packages and MiB `pip install` brings.

For each profile (the base package, and the base plus one extra: fast, lab, sandbox, bench,
test — ``[test]`` holds every other extra) it walks the dependency graph as pip resolves it
(requirements with their extras, environment markers evaluated for this interpreter) through
the distributions installed in this venv (the project venv, which holds every extra), and sums
the bytes of the files each one installed (its RECORD, compiled ``.pyc`` included), as ``du``
would count them in a fresh venv. pip, setuptools and the project itself are left out. Prints
the ratio against the closure before the package was split into extras (993 MiB, 152
packages, measured the same way). Not a test, but ``tests/install/test_extras.py`` reads
``--json`` to hold the base to its goal.

    .venv/bin/python bench/bench_install.py [--json] [--profile base --profile lab ...]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement

PROJECT = "sreworkbook"
#: The runtime closure measured the same way before the split (every dependency in the base).
BEFORE_MIB, BEFORE_PACKAGES = 993.0, 152
GOAL = 0.45
PROFILES = {
    "base": (),
    "fast": ("fast",),
    "lab": ("lab",),
    "sandbox": ("sandbox",),
    "bench": ("bench",),
    "test": ("test",),
}
_LEFT_OUT = {"pip", "setuptools", PROJECT}


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _installed() -> dict[str, metadata.Distribution]:
    found: dict[str, metadata.Distribution] = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if name:
            found.setdefault(_canonical(name), dist)
    return found


def _wanted(requirement: Requirement, extras: set[str]) -> bool:
    if requirement.marker is None:
        return True
    return any(requirement.marker.evaluate({"extra": extra}) for extra in extras or {""})


def closure(extras: tuple[str, ...]) -> dict[str, metadata.Distribution]:
    """The distributions ``pip install sreworkbook[extras]`` installs (here, already)."""
    installed = _installed()
    seen: dict[str, metadata.Distribution] = {}
    todo: list[tuple[str, set[str]]] = [(PROJECT, set(extras))]
    done: set[tuple[str, frozenset[str]]] = set()
    while todo:
        name, wanted_extras = todo.pop()
        key = (_canonical(name), frozenset(wanted_extras))
        if key in done:
            continue
        done.add(key)
        dist = installed.get(key[0])
        if dist is None:
            raise SystemExit(f"{name} is not installed here: run `make setup` first")
        seen[key[0]] = dist
        for text in dist.requires or []:
            requirement = Requirement(text)
            if _wanted(requirement, wanted_extras):
                todo.append((requirement.name, set(requirement.extras)))
    return {name: dist for name, dist in seen.items() if name not in _LEFT_OUT}


def size_bytes(dist: metadata.Distribution) -> int:
    total = 0
    for file in dist.files or []:
        path = Path(str(dist.locate_file(file)))
        if path.is_file():
            total += path.stat().st_size
    return total


def measure(extras: tuple[str, ...]) -> dict[str, object]:
    dists = closure(extras)
    sizes = {name: size_bytes(dist) for name, dist in dists.items()}
    mib = sum(sizes.values()) / 2**20
    largest = sorted(sizes.items(), key=lambda kv: -kv[1])[:8]
    return {
        "packages": len(dists),
        "mib": round(mib, 1),
        "ratio": round(mib / BEFORE_MIB, 3),
        "names": sorted(dists),
        "largest": [(name, round(size / 2**20, 1)) for name, size in largest],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", action="append", choices=sorted(PROFILES))
    parser.add_argument("--json", action="store_true", help="one JSON object on stdout")
    args = parser.parse_args(argv)
    chosen = args.profile or list(PROFILES)
    results = {name: measure(PROFILES[name]) for name in chosen}
    if args.json:
        json.dump(results, sys.stdout)
        print()
        return 0
    print(f"{'install':22} {'packages':>8} {'MiB':>8}  of before ({BEFORE_MIB:.0f} MiB)")
    for name, row in results.items():
        extras = ",".join(PROFILES[name])
        label = f"sreworkbook[{extras}]" if extras else "sreworkbook"
        print(f"{label:22} {row['packages']:>8} {row['mib']:>8.1f}  {row['ratio']:.0%}")
    if "base" in results:
        base = results["base"]
        verdict = "meets" if float(str(base["ratio"])) <= GOAL else "MISSES"
        print(f"the base {verdict} the goal of at most {GOAL:.0%} of before")
        largest = base["largest"]
        assert isinstance(largest, list)
        print("largest in the base: " + ", ".join(f"{n} {m} MiB" for n, m in largest))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
