"""The public surface of every module: documented, real, and changed only on purpose.

``tests/public_api.yaml`` lists each module's ``__all__``. A module whose names change fails
here until the list is updated with it — ``UPDATE_PUBLIC_API=1 pytest tests/test_public_api.py``
rewrites the file from the tree, for review in the diff.
"""

from __future__ import annotations

import importlib
import inspect
import os
import pkgutil
from pathlib import Path
from types import ModuleType

import pytest
import yaml

import sreworkbook

SNAPSHOT = Path(__file__).with_name("public_api.yaml")
#: Packages whose exported functions and classes each carry a docstring (the export writers
#: are :mod:`sreworkbook.schedule.export`'s own business).
DOCUMENTED = (
    "sreworkbook.edges",
    "sreworkbook.index",
    "sreworkbook.schedule",
    "sreworkbook.sources",
)
EXCEPT = ("sreworkbook.schedule.export.",)


def _modules() -> dict[str, ModuleType]:
    found = {"sreworkbook": sreworkbook}
    for info in pkgutil.walk_packages(sreworkbook.__path__, "sreworkbook."):
        if not info.name.endswith("__main__"):
            found[info.name] = importlib.import_module(info.name)
    return dict(sorted(found.items()))


MODULES = _modules()


def test_the_snapshot_matches_every_modules_all() -> None:
    current = {name: sorted(getattr(m, "__all__", [])) for name, m in MODULES.items()}
    if os.environ.get("UPDATE_PUBLIC_API"):
        header = "# Each module's __all__ (tests/test_public_api.py): update on purpose, review.\n"
        SNAPSHOT.write_text(header + yaml.safe_dump(current, sort_keys=True), encoding="utf-8")
    recorded = yaml.safe_load(SNAPSHOT.read_text(encoding="utf-8"))
    changed = {m for m in {*current, *recorded} if current.get(m) != recorded.get(m)}
    assert not changed, f"public names changed in {sorted(changed)} (see the module docstring)"


@pytest.mark.parametrize("name", list(MODULES))
def test_every_module_says_what_it_is_for_and_exports_what_exists(name: str) -> None:
    module = MODULES[name]
    summary = (module.__doc__ or "").strip().split("\n\n")[0]
    assert summary.endswith((".", ":", "?", ".)")), f"{name}: its docstring says what it is for"
    exported = list(getattr(module, "__all__", []))
    assert exported == sorted(exported, key=lambda n: (not n.isupper(), n)) or exported == sorted(
        exported
    )
    assert len(set(exported)) == len(exported)
    for public in exported:
        value = getattr(module, public)
        checked = name.startswith(DOCUMENTED) and not name.startswith(EXCEPT)
        if checked and (inspect.isfunction(value) or inspect.isclass(value)):
            assert value.__doc__, f"{name}.{public} has no docstring"
