"""The error tree: one root, builtins mixed in, context carried as attributes."""

from __future__ import annotations

import inspect

import sreworkbook.exceptions as exc_module
from sreworkbook.exceptions import (
    MissingFileError,
    ParameterError,
    SourceError,
    SourceTimeout,
    WorkbookError,
)


def test_every_public_error_is_a_workbook_error() -> None:
    for name in exc_module.__all__:
        cls = getattr(exc_module, name)
        assert inspect.isclass(cls) and issubclass(cls, WorkbookError), name


def test_builtins_and_attributes() -> None:
    error = ParameterError("bad", source="f.yaml", key="a.b")
    assert isinstance(error, ValueError) and str(error) == "f.yaml: a.b: bad"
    missing = MissingFileError("x.ipynb", what="notebook")
    assert isinstance(missing, FileNotFoundError) and isinstance(missing, ParameterError)
    timeout = SourceTimeout("no answer", source="prometheus", query="up", status=None)
    assert isinstance(timeout, TimeoutError) and isinstance(timeout, SourceError)
    assert timeout.query == "up"
