"""The public surface of the index, retention and storage modules: documented and real."""

from __future__ import annotations

import importlib

import pytest

MODULES = [
    "sreworkbook.index.cli",
    "sreworkbook.index.page",
    "sreworkbook.index.ledger_lines",
    "sreworkbook.index.model",
    "sreworkbook.index.render",
    "sreworkbook.index.sample",
    "sreworkbook.index.retention",
    "sreworkbook.index.storage",
]


@pytest.mark.parametrize("name", MODULES)
def test_all_names_exist_and_are_documented(name: str) -> None:
    module = importlib.import_module(name)
    assert module.__doc__ and module.__doc__.strip().splitlines()[0].endswith(".")
    assert module.__all__ == sorted(module.__all__, key=lambda n: (not n.isupper(), n))
    for public in module.__all__:
        value = getattr(module, public)
        if callable(value):
            assert value.__doc__, f"{name}.{public} has no docstring"
