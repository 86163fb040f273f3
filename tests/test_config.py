"""Parameter files: validation names the file and key; extends; secrets stay references."""

from __future__ import annotations

from pathlib import Path

import pytest

from sreworkbook.config import load_environment, workbook_root
from sreworkbook.exceptions import MissingFileError, ParameterError, SecretError

ROOT = Path(__file__).resolve().parent.parent


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_shipped_files_validate() -> None:
    sandbox = load_environment("sandbox", root=ROOT)
    assert sandbox.service is not None and sandbox.service.base_url == "http://127.0.0.1:18080"
    production = load_environment("example-production", root=ROOT)
    assert production.mongodb is not None and production.mongodb.uri == "${TRADEAI_MONGO_URI}"
    assert "TRADEAI_MONGO_URI" in production.secret_references()
    assert production.thresholds.memory_crit_pct == 90


def test_unknown_key_names_file_and_key(tmp_path: Path) -> None:
    path = _write(tmp_path, "e.yaml", "name: e\nredis:\n  url: redis://x\n  passwrd: x\n")
    with pytest.raises(ParameterError) as info:
        load_environment(str(path), root=tmp_path)
    assert info.value.source == str(path)
    assert info.value.key == "redis.passwrd"
    assert "unknown key" in str(info.value)


def test_wrong_type_names_key(tmp_path: Path) -> None:
    path = _write(tmp_path, "e.yaml", "name: e\nthresholds:\n  memory_crit_pct: lots\n")
    with pytest.raises(ParameterError, match=r"e.yaml: thresholds.memory_crit_pct: "):
        load_environment(str(path), root=tmp_path)


def test_malformed_yaml_names_line(tmp_path: Path) -> None:
    path = _write(tmp_path, "e.yaml", "name: e\nredis: [unclosed\n")
    with pytest.raises(ParameterError, match=r"e.yaml: not valid YAML at line 3"):
        load_environment(str(path), root=tmp_path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(MissingFileError, match="nothere.yaml: parameter file not found"):
        load_environment("nothere", root=tmp_path)


def test_not_a_mapping(tmp_path: Path) -> None:
    path = _write(tmp_path, "e.yaml", "- a\n- b\n")
    with pytest.raises(ParameterError, match="must be a mapping"):
        load_environment(str(path), root=tmp_path)


def test_bad_url(tmp_path: Path) -> None:
    path = _write(tmp_path, "e.yaml", "name: e\nservice:\n  base_url: localhost:8080\n")
    with pytest.raises(ParameterError, match="service.base_url"):
        load_environment(str(path), root=tmp_path)


def test_extends_merges_deeply(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "base.yaml",
        "name: base\nthresholds:\n  memory_crit_pct: 95\n  cpu_warn_pct: 70\n",
    )
    child = _write(
        tmp_path, "child.yaml", "extends: base.yaml\nname: child\nthresholds:\n  cpu_warn_pct: 60\n"
    )
    env = load_environment(str(child), root=tmp_path)
    assert env.name == "child"
    assert env.thresholds.memory_crit_pct == 95
    assert env.thresholds.cpu_warn_pct == 60


def test_extends_cycle_and_missing_parent(tmp_path: Path) -> None:
    a = _write(tmp_path, "a.yaml", "extends: b.yaml\n")
    _write(tmp_path, "b.yaml", "extends: a.yaml\n")
    with pytest.raises(ParameterError, match="extends itself"):
        load_environment(str(a), root=tmp_path)
    c = _write(tmp_path, "c.yaml", "extends: gone.yaml\n")
    with pytest.raises(ParameterError, match="c.yaml: extends: gone.yaml not found"):
        load_environment(str(c), root=tmp_path)


def test_secrets_resolve_only_on_demand(tmp_path: Path) -> None:
    path = _write(tmp_path, "e.yaml", "name: e\nmongodb:\n  uri: ${MONGO_URI}\n")
    env = load_environment(str(path), root=tmp_path)  # loading needs no secret
    assert env.mongodb is not None
    uri = env.secret(env.mongodb.uri, {"MONGO_URI": "mongodb://u:pw@h/"}, key="mongodb.uri")
    assert uri == "mongodb://u:pw@h/"
    with pytest.raises(SecretError, match="MONGO_URI is not set \\(used by mongodb.uri\\)"):
        env.secret(env.mongodb.uri, {}, key="mongodb.uri")
    resolve = env.resolver({"MONGO_URI": "mongodb://h/"})  # the same, as a resolve function
    assert resolve(env.mongodb.uri) == "mongodb://h/" and resolve("plain") == "plain"
    with pytest.raises(SecretError, match="MONGO_URI is not set"):
        env.resolver({})(env.mongodb.uri)


def test_masked_hides_literal_passwords(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "e.yaml",
        "name: e\nredis:\n  url: redis://:hunter22@cache:6379/0\n"
        "prometheus:\n  url: http://p:9090\n  password: hunter22\n",
    )
    shown = load_environment(str(path), root=tmp_path).masked()
    assert "hunter22" not in str(shown)
    assert shown["redis"]["url"] == "redis://:***@cache:6379/0"


def test_workbook_root_found_from_a_subfolder() -> None:
    assert workbook_root(ROOT / "notebooks") == ROOT
    assert workbook_root(ROOT / "notebooks" / "runbooks") == ROOT
    with pytest.raises(ParameterError, match="no workbook here.*SREWORKBOOK_HOME"):
        workbook_root(Path("/"), package_dir=Path("/"))


def _workbook(tmp_path: Path, name: str) -> Path:
    folder = tmp_path / name
    (folder / "parameters").mkdir(parents=True)
    (folder / "notebooks").mkdir()
    (folder / "parameters" / "prod.yaml").write_text("name: prod\n")
    return folder


def test_workbook_root_is_never_just_the_cwd(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    # From another folder, an editable install finds the checkout it was installed from.
    assert workbook_root(elsewhere) == ROOT
    other = _workbook(tmp_path, "other")
    # SREWORKBOOK_HOME wins over everything, the cwd included.
    home = {"SREWORKBOOK_HOME": str(other)}
    assert workbook_root(ROOT / "notebooks", environ=home) == other
    # An environment file given as a path names its workbook, relative paths from the cwd.
    env_file = str(other / "parameters" / "prod.yaml")
    assert workbook_root(ROOT / "notebooks", env=env_file) == other
    assert workbook_root(tmp_path, env="other/parameters/prod.yaml") == other
    # A name is looked up in the workbook around the cwd.
    assert workbook_root(other / "notebooks", env="prod") == other


def test_a_home_without_parameters_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ParameterError, match="SREWORKBOOK_HOME=.*no parameters/") as caught:
        workbook_root(ROOT, environ={"SREWORKBOOK_HOME": str(tmp_path)})
    assert caught.value.key == "SREWORKBOOK_HOME"
