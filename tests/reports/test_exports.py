"""The public surface of the index, retention and storage modules: documented and real."""

from __future__ import annotations

import importlib

import pytest

MODULES = [
    "sreworkbook.reports.cli",
    "sreworkbook.reports.index",
    "sreworkbook.reports.index_ledger",
    "sreworkbook.reports.index_model",
    "sreworkbook.reports.index_render",
    "sreworkbook.reports.index_sample",
    "sreworkbook.reports.retention",
    "sreworkbook.reports.storage",
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
