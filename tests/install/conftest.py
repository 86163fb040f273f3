"""The production install, built for real: a wheelhouse of the base package, a fresh venv.

The wheelhouse holds the wheels of the base dependencies and of the build backend
(``pip wheel``, cached in ``.tools/wheelhouse/KEY`` where KEY hashes that list, the
interpreter and the platform, so a later session reuses it) plus a wheel of the project built
fresh from the checkout. The fresh venv installs ``sreworkbook`` from it with ``--no-index``: nothing from an
extra can slip in. The container tier copies the same wheelhouse into its image.

Outside CI a failed build skips the tests that need it; under ``CI=true`` it fails them.
"""

from __future__ import annotations

import hashlib
import os
import platform
import shutil
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
IN_CI = os.environ.get("CI") == "true"
WHEEL_CACHE = ROOT / ".tools" / "wheelhouse"


def unavailable(message: str) -> None:
    """Skip the calling test, or fail it under ``CI=true``."""
    if IN_CI:
        pytest.fail(f"{message} (CI=true: the install tier must run)")
    pytest.skip(message)


def base_requirements() -> list[str]:
    """``[project].dependencies`` of pyproject.toml, and the build backend (setuptools), so
    that the project builds from source without an index (the container build does)."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return [*pyproject["project"]["dependencies"], *pyproject["build-system"]["requires"]]


def _run(argv: list[str], *, timeout: float, what: str) -> None:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        unavailable(f"{what}: {exc}")
        return
    if done.returncode != 0:
        unavailable(f"{what} failed: {(done.stderr or done.stdout)[-2000:]}")


@dataclass(frozen=True)
class Wheelhouse:
    """Wheels for ``pip install --no-index --find-links``: the base closure and the project."""

    deps: Path
    project: Path

    @property
    def find_links(self) -> list[str]:
        return ["--find-links", str(self.deps), "--find-links", str(self.project)]


@pytest.fixture(scope="session")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Wheelhouse:
    """The base dependencies' wheels (cached) and a wheel of the checkout (fresh)."""
    requirements = base_requirements()
    key = hashlib.sha256(
        "\n".join([*requirements, sys.version, platform.platform()]).encode()
    ).hexdigest()[:16]
    deps = WHEEL_CACHE / key
    if not (deps / ".complete").is_file():
        started = time.monotonic()
        shutil.rmtree(deps, ignore_errors=True)
        deps.mkdir(parents=True)
        _run(
            [sys.executable, "-m", "pip", "wheel", "--quiet", "--wheel-dir", str(deps),
             *requirements],
            timeout=1200, what="pip wheel of the base dependencies",
        )  # fmt: skip
        (deps / ".complete").write_text(f"built in {time.monotonic() - started:.0f} s\n")
        for old in WHEEL_CACHE.iterdir():  # keep the cache to the current key
            if old.is_dir() and old != deps:
                shutil.rmtree(old, ignore_errors=True)
    project = tmp_path_factory.mktemp("project-wheel")
    build = tmp_path_factory.mktemp("project-build")
    source = shutil.copytree(
        ROOT,
        build / "src",
        ignore=shutil.ignore_patterns(
            ".git", ".venv", ".tools", ".sandbox", "outputs", "node_modules", "*.egg-info",
            "__pycache__", ".*_cache", "build",
        ),
    )  # fmt: skip
    _run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir",
         str(project), str(source)],
        timeout=600, what="pip wheel of the project",
    )  # fmt: skip
    return Wheelhouse(deps=deps, project=project)


@dataclass(frozen=True)
class BaseVenv:
    """A venv holding ``pip install sreworkbook`` and nothing else."""

    path: Path
    install_s: float

    @property
    def python(self) -> Path:
        return self.path / "bin" / "python"

    @property
    def sreworkbook(self) -> Path:
        return self.path / "bin" / "sreworkbook"

    def packages(self) -> set[str]:
        done = subprocess.run(
            [str(self.python), "-m", "pip", "list", "--format=freeze"],
            capture_output=True, text=True, check=True, timeout=120,
        )  # fmt: skip
        return {line.split("==")[0].lower() for line in done.stdout.splitlines() if line}


@pytest.fixture(scope="session")
def base_venv(
    wheelhouse: Wheelhouse, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[BaseVenv]:
    """A fresh venv with the base package only, installed from the wheelhouse (no index)."""
    path = tmp_path_factory.mktemp("base") / "venv"
    started = time.monotonic()
    _run([sys._base_executable, "-m", "venv", str(path)], timeout=300, what="python -m venv")
    _run(
        [str(path / "bin" / "python"), "-m", "pip", "install", "--quiet", "--no-index",
         *wheelhouse.find_links, "sreworkbook"],
        timeout=900, what="pip install sreworkbook (base) into a fresh venv",
    )  # fmt: skip
    yield BaseVenv(path, time.monotonic() - started)
    shutil.rmtree(path, ignore_errors=True)
