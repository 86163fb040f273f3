"""The repository's shape: dependencies agree, notebooks are thin and stripped, CI calls make test."""

from __future__ import annotations

import ast
import json
import re
import tomllib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").rglob("*.ipynb"))
# conda-forge spells a few packages differently from PyPI.
CONDA_NAMES = {"prometheus_client": "prometheus-client", "redis-py": "redis"}


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~ \[;]", requirement, maxsplit=1)[0].strip().lower()


def test_environment_yml_lists_the_same_python_dependencies() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    wanted = {_name(r) for r in project["dependencies"]}
    wanted |= {_name(r) for name in ("fast", "lab", "sandbox") for r in extras[name]}
    conda = yaml.safe_load((ROOT / "environment.yml").read_text())["dependencies"]
    pip = next(d for d in conda if isinstance(d, dict))["pip"]
    listed = {CONDA_NAMES.get(_name(d), _name(d)) for d in conda if isinstance(d, str)}
    listed |= {_name(d) for d in pip if not d.startswith("-e")}
    servers = {"python", "pip", "mongodb", "mongo-tools", "prometheus", "redis-server"}
    assert wanted == listed - servers
    assert {"mongodb", "mongo-tools", "prometheus", "redis-server"} <= listed
    assert "-e ." in pip


def test_ci_runs_the_readme_test_command() -> None:
    assert "make test" in (ROOT / ".ci" / "run").read_text()
    readme = (ROOT / "README.md").read_text()
    assert readme.index("make demo") < 600 and readme.index("make test") < 600


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_papermill_reads_every_parameter(path: Path, caplog: pytest.LogCaptureFixture) -> None:
    import papermill

    nb = json.loads(path.read_text())
    lines = [line for line in "".join(nb["cells"][1]["source"]).splitlines() if line.strip()]
    declared = papermill.inspect_notebook(str(path))
    assert len(declared) == len(lines)
    assert all(info["help"] for info in declared.values())
    assert "Unable to parse" not in caplog.text


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebooks_are_thin_and_stripped(path: Path) -> None:
    nb = json.loads(path.read_text())
    cells = nb["cells"]
    assert cells[0]["cell_type"] == "markdown", "cell 1 says what the notebook answers"
    assert "parameters" in cells[1]["metadata"].get("tags", []), "cell 2 is tagged parameters"
    for line in "".join(cells[1]["source"]).splitlines():
        assert re.match(r"^\w+: \w[\w\[\], ]* = .+  # .+", line), f"parameter line {line!r}"
    for cell in cells:
        if cell["cell_type"] != "code":
            continue
        assert cell.get("outputs") == [], "outputs are stripped in git"
        assert cell.get("execution_count") is None
        tree = ast.parse("".join(cell["source"]))
        defs = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.ClassDef)]
        assert not defs, "functions and classes belong in lib/"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebooks_name_the_kernel_as_it_names_itself(path: Path) -> None:
    """JupyterLab rewrites a kernelspec that differs from the kernel's own and marks the
    notebook modified on open; ``language_info`` is filled by ``sreworkbook.labserver``."""
    from jupyter_client.kernelspec import KernelSpecManager

    spec = KernelSpecManager().get_kernel_spec("python3")
    metadata = json.loads(path.read_text())["metadata"]
    assert metadata["kernelspec"] == {
        "display_name": spec.display_name,
        "language": spec.language,
        "name": "python3",
    }
    assert metadata["language_info"] == {"name": "python"}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_notebook_concludes_the_same_way(path: Path) -> None:
    """One ``reports.emit(result)`` with one argument: no 4-tuples, no keyword forms."""
    nb = json.loads(path.read_text())
    calls = [
        node
        for cell in nb["cells"]
        if cell["cell_type"] == "code"
        for node in ast.walk(ast.parse("".join(cell["source"])))
        if isinstance(node, ast.Call) and ast.unparse(node.func) == "reports.emit"
    ]
    assert len(calls) == 1, "one conclusion per notebook"
    (call,) = calls
    assert len(call.args) == 1 and not call.keywords, ast.unparse(call)
    unpacked = [
        node
        for cell in nb["cells"]
        if cell["cell_type"] == "code"
        for node in ast.walk(ast.parse("".join(cell["source"])))
        if isinstance(node, ast.Assign)
        and isinstance(node.targets[0], ast.Tuple)
        and {getattr(e, "id", "") for e in node.targets[0].elts} >= {"status", "headline"}
    ]
    assert not unpacked, "a result object, not a 4-tuple"


def test_there_is_a_notebook() -> None:
    assert any(p.name == "health_inspection.ipynb" for p in NOTEBOOKS)
