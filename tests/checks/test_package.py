"""The package's public names: every ``__all__`` resolves, every module says what it is for."""

from __future__ import annotations

import importlib
import pkgutil

import sreworkbook.checks as checks

MODULES = [
    importlib.import_module(f"sreworkbook.checks.{info.name}")
    for info in pkgutil.iter_modules(checks.__path__)
]


def test_the_package_reexports_each_public_module_name() -> None:
    public = [m for m in MODULES if not m.__name__.rsplit(".", 1)[1].startswith("_")]
    exported = {name for m in public for name in m.__all__}
    assert exported == set(checks.__all__)
