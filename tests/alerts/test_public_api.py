"""Every name the alert modules export exists, and the package re-exports resolve."""

from __future__ import annotations

import importlib

import pytest

import sreworkbook.alerts as package

MODULES = (
    "alertmanager",
    "diagnose",
    "export",
    "gotemplate",
    "review",
    "routing",
    "ruletests",
    "runbook",
    "selectors",
    "simulate",
    "tuning",
    "validate",
    "view",
)


@pytest.mark.parametrize("name", MODULES)
def test_each_module_exports_what_it_defines(name: str) -> None:
    module = importlib.import_module(f"sreworkbook.alerts.{name}")
    assert module.__doc__ and module.__all__
    assert all(hasattr(module, n) for n in module.__all__)
    assert len(set(module.__all__)) == len(module.__all__)


def test_the_package_reexports_the_workflow() -> None:
    assert all(hasattr(package, n) for n in package.__all__)
    assert {
        "tune_environment",
        "export_bundle",
        "validate_export",
        "alertmanager_config",
        "routing_from_config",
        "simulate",
    } <= set(package.__all__)
