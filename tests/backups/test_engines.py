"""Dump and restore engines: pure pymongo on FerretDB, the mongo-tools plumbing, both directions."""

from __future__ import annotations

import os
import stat
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sreworkbook.backups import engines as engines_module
from sreworkbook.backups.archive import read_prelude, verify_archive
from sreworkbook.backups.engines import (
    MongorestoreEngine,
    PymongoEngine,
    make_engine,
    mongodump_argv,
    mongorestore_argv,
)
from sreworkbook.backups.fingerprint import fingerprint_archive, fingerprint_database
from sreworkbook.backups.mongo_tools import tool_failure
from sreworkbook.backups.report import Verdict
from sreworkbook.backups.target import CollectionPlan, Omission, RestorePlan, plan_restore
from sreworkbook.backups.writer import CollectionDump, write_archive
from sreworkbook.exceptions import ParameterError, SourceError

from .conftest import MongoServer, MongoTools

SECRET_URI = "mongodb://app:S3cr3t-pw@127.0.0.1:27017/?authSource=admin"


PLAN = RestorePlan(
    "tradeai",
    (
        CollectionPlan("trades", indexes=({"key": {"a": 1}, "name": "a_1"},)),
        CollectionPlan("recent", type="view", restore=False),
    ),
    (
        Omission("recent", "view", "no views"),
        Omission("trades", "index ttl", "no TTL"),
        Omission("trades", "collection option validator", "no validators"),
    ),
)


def test_mongorestore_arguments_map_namespaces_and_leave_out_what_the_target_lacks() -> None:
    argv = mongorestore_argv(
        "/t/mongorestore", Path("/tmp/c.yaml"), Path("/b/x.tar.gz"), PLAN,
        target_db="tradeai_restore_test", gzip=True, workers=2,
    )  # fmt: skip
    assert argv == [
        "/t/mongorestore",
        "--config=/tmp/c.yaml",
        "--archive=/b/x.tar.gz",
        "--nsInclude=tradeai.*",
        "--nsFrom=tradeai.*",
        "--nsTo=tradeai_restore_test.*",
        "--stopOnError",
        "--bypassDocumentValidation",
        "--numInsertionWorkersPerCollection=2",
        "--gzip",
        "--nsExclude=tradeai.recent",
        "--noIndexRestore",
        "--noOptionsRestore",
    ]
    assert mongodump_argv("/t/mongodump", Path("/c"), "tradeai", Path("/o"), gzip=True) == [
        "/t/mongodump", "--config=/c", "--db=tradeai", "--archive=/o", "--gzip",
    ]  # fmt: skip


def fake_tools(root: Path, *, fail: bool = False) -> Path:
    """Stand-ins for mongodump/mongorestore that record their argv and config file."""
    tools = root / ".tools" / "bin"
    tools.mkdir(parents=True)
    for name in ("mongodump", "mongorestore"):
        script = tools / name
        script.write_text(
            "#!/bin/sh\n"
            f'printf "%s\\n" "$@" > "{root}/{name}.argv"\n'
            'for a in "$@"; do case "$a" in --config=*) /bin/cp "${a#--config=}" '
            f'"{root}/{name}.config";; --archive=*) out="${{a#--archive=}}";; esac; done\n'
            + (
                f'echo "Failed: connection to {SECRET_URI} refused" >&2; exit 1\n'
                if fail
                else (
                    'echo "finished restoring tradeai_restore_test.trades (3 documents, 0 failures)" >&2\n'
                    '[ "$0" != "${0%mongodump}" ] && printf x > "$out"\nexit 0\n'
                )
            )
        )
        script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return tools


def test_mongorestore_engine_runs_the_tool_with_the_uri_kept_out_of_argv(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "nothing"))  # PATH comes first: keep it empty
    # This test's own temporary folders (drills running beside it have theirs in /tmp).
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    tools = fake_tools(tmp_path)
    engine = make_engine("auto", client=None, uri=SECRET_URI, root=tmp_path)
    assert isinstance(engine, MongorestoreEngine)
    archive = tmp_path / "x.archive.gz"
    write_archive([CollectionDump("tradeai", "trades", [{"_id": i} for i in range(3)])], archive)
    plan = RestorePlan("tradeai", (CollectionPlan("trades"),))
    outcome = engine.restore(archive, plan, target_db="tradeai_restore_test")
    assert outcome.documents == {"trades": 3} and outcome.engine == "mongorestore"
    argv = (tmp_path / "mongorestore.argv").read_text()
    assert "S3cr3t" not in argv and "--gzip" in argv and "--nsTo=tradeai_restore_test.*" in argv
    assert (tmp_path / "mongorestore.config").read_text() == f'uri: "{SECRET_URI}"\n'
    dumped = engine.dump("tradeai", tmp_path / "out.archive.gz")
    assert dumped.bytes == 1 and "--db=tradeai" in (tmp_path / "mongodump.argv").read_text()
    assert tools.is_dir() and not list(scratch.glob("sreworkbook-mongorestore-*/tools.yaml"))


def test_a_failing_tool_is_a_source_error_with_the_password_masked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "nothing"))
    fake_tools(tmp_path, fail=True)
    engine = make_engine("mongorestore", client=None, uri=SECRET_URI, root=tmp_path)
    archive = tmp_path / "x.archive.gz"
    write_archive([CollectionDump("tradeai", "trades", [{"_id": 1}])], archive)
    with pytest.raises(SourceError, match="exit 1") as caught:
        engine.restore(archive, RestorePlan("tradeai", ()), target_db="t_restore_test")
    assert "S3cr3t" not in str(caught.value) and "***" in str(caught.value)


def test_a_tool_failure_is_one_line_naming_the_lost_host() -> None:
    stamp = "2026-12-07T16:10:34.629+0000\t"
    lost = (
        "connection(127.0.0.1:56881[-3]) incomplete read of message header: read tcp "
        "127.0.0.1:35094->127.0.0.1:56881: read: connection reset by peer"
    )
    output = (
        f"{stamp}preparing collections to restore from\n"
        f"{stamp}Failed: drill_restore_test.customers: error restoring from "
        f"`/tmp/x/tradeai_backup_20261207_020000.tar.gz`:  {lost}: {lost}\n"
        f"{stamp}4000 document(s) restored successfully. 0 document(s) failed to restore.\n"
    )
    assert tool_failure(output) == (
        "drill_restore_test.customers: lost the connection to 127.0.0.1:56881 "
        "(connection reset by peer)"
    )
    assert tool_failure(f"{stamp}Failed: cannot open archive\n") == "cannot open archive"
    assert tool_failure("a\nb\nc\nd\n") == "b | c | d"
    assert tool_failure("") == "no output"


def test_engine_choice(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "nothing"))
    assert isinstance(make_engine("auto", client=None, uri="", root=tmp_path), PymongoEngine)
    assert isinstance(make_engine("pymongo", client=None, uri="", root=tmp_path), PymongoEngine)
    with pytest.raises(ParameterError, match="Database Tools, or `make mongo-tools`"):
        make_engine("mongorestore", client=None, uri="", root=tmp_path)
    with pytest.raises(ParameterError, match="did you mean one of: auto, pymongo, mongorestore"):
        make_engine("bsondump", client=None, uri="", root=tmp_path)


@pytest.fixture
def source(mongo_client: Any) -> Iterator[str]:
    name = f"engsrc_{uuid.uuid4().hex[:8]}"
    db = mongo_client[name]
    db.orders.insert_many([{"_id": i, "sku": f"S{i % 17}", "qty": i} for i in range(2000)])
    db.orders.create_index([("sku", 1), ("qty", -1)])
    db.users.insert_many([{"email": f"{i}@x.example"} for i in range(100)])
    db.users.create_index("email", unique=True)
    db.create_collection("empty")
    yield name
    mongo_client.drop_database(name)


@pytest.mark.integration
def test_pymongo_round_trip(mongo_client: Any, source: str, tmp_path: Path) -> None:
    engine = PymongoEngine(mongo_client, batch_bytes=16 << 10)  # many small batches
    dumped = engine.dump(source, tmp_path / "a.archive.gz")
    assert dumped.documents == 2100 and verify_archive(dumped.path).verdict is Verdict.OK
    target = f"{source}_restore_test"
    try:
        plan = plan_restore(read_prelude(dumped.path), source, target=mongo_client[target])
        outcome = engine.restore(dumped.path, plan, target_db=target)
        assert outcome.documents == {"empty": 0, "orders": 2000, "users": 100}
        assert outcome.indexes_built == 2 and outcome.findings == ()
        assert fingerprint_database(mongo_client, target) == fingerprint_database(
            mongo_client, source
        )
        assert fingerprint_archive(dumped.path) == fingerprint_database(mongo_client, source)
        names = {ix["name"] for ix in mongo_client[target].users.list_indexes()}
        assert names == {"_id_", "email_1"}
    finally:
        mongo_client.drop_database(target)


@pytest.mark.integration
def test_an_index_the_data_breaks_is_a_warning(mongo_client: Any, tmp_path: Path) -> None:
    archive = tmp_path / "a.archive.gz"
    unique = {"v": 2, "key": {"e": 1}, "name": "e_1", "unique": True}
    write_archive(
        [
            CollectionDump(
                "dup", "u", [{"_id": 1, "e": "a"}, {"_id": 2, "e": "a"}], indexes=[unique]
            )
        ],
        archive,
    )
    try:
        plan = plan_restore(read_prelude(archive), "dup", target=None)
        outcome = PymongoEngine(mongo_client).restore(archive, plan, target_db="dup_restore_test")
        assert outcome.documents == {"u": 2} and outcome.indexes_built == 0
        assert [f.title for f in outcome.findings] == ["u: index e_1 not built"]
    finally:
        mongo_client.drop_database("dup_restore_test")


@pytest.mark.integration
@pytest.mark.parametrize("direction", ["mongodump->pymongo", "pymongo->mongorestore"])
def test_one_engine_restores_what_the_other_dumped(
    mongo_tools: MongoTools, ferretdb: MongoServer, mongo_client: Any, source: str, tmp_path: Path,
    direction: str,
) -> None:  # fmt: skip
    """The real tools and the pymongo engine read each other's archives: same data, same hashes."""
    tools = MongorestoreEngine(
        ferretdb.uri, client=mongo_client, mongodump=mongo_tools.mongodump,
        mongorestore=mongo_tools.mongorestore,
    )  # fmt: skip
    ours = PymongoEngine(mongo_client, batch_docs=300)  # several batches per collection
    dumper, restorer = (tools, ours) if direction.startswith("mongodump") else (ours, tools)
    dumped = dumper.dump(source, tmp_path / "x.archive.gz")
    assert dumped.documents == 2100 and verify_archive(dumped.path).verdict is Verdict.OK
    header = read_prelude(dumped.path).header
    writer = "sreworkbook-archive-writer/1" if dumper is ours else "100.18.0"
    assert header.tool_version.startswith(writer)
    source_prints = fingerprint_database(mongo_client, source)
    assert fingerprint_archive(dumped.path) == source_prints
    target = f"{source}_restore_test"
    try:
        plan = plan_restore(read_prelude(dumped.path), source, target=mongo_client[target],
                            timeseries=restorer.timeseries, tool_ns=restorer.tool_ns)  # fmt: skip
        outcome = restorer.restore(dumped.path, plan, target_db=target)
        assert outcome.documents == {"empty": 0, "orders": 2000, "users": 100}
        assert outcome.indexes_built == 2
        restored = fingerprint_database(mongo_client, target)
        assert {n: f.documents for n, f in restored.items()} == {
            "empty": 0,
            "orders": 2000,
            "users": 100,
        }
        assert restored == source_prints  # per collection: count and content hash
        names = {ix["name"]: ix for ix in mongo_client[target].users.list_indexes()}
        assert set(names) == {"_id_", "email_1"} and names["email_1"].get("unique") is True
        ns_warnings = sorted(o.collection for o in plan.omissions if o.what == "index option ns")
        assert ns_warnings == (["orders", "users"] if restorer is tools else [])
    finally:
        mongo_client.drop_database(target)
    assert fingerprint_database(mongo_client, source) == source_prints  # the source untouched


def test_tool_version_reads_the_first_version_line(tmp_path: Path) -> None:
    fake = tmp_path / "mongorestore"
    fake.write_text(
        "#!/bin/sh\necho 'mongorestore version: 100.18.0-8fa3cfc8'\necho 'git version: x'\n"
    )
    fake.chmod(0o755)
    assert engines_module.tool_version(str(fake)) == "100.18.0-8fa3cfc8"
    assert engines_module.tool_version(str(tmp_path / "missing")) == "unknown"


@pytest.mark.integration
def test_the_built_tools_say_their_version(mongo_tools: MongoTools) -> None:
    version = engines_module.tool_version(mongo_tools.mongorestore)
    assert version != "unknown" and version[0].isdigit(), version


def test_config_file_is_private(tmp_path: Path) -> None:
    engine = MongorestoreEngine(SECRET_URI, client=None, mongodump="x", mongorestore="y")
    config = engine._config(tmp_path)
    assert stat.S_IMODE(os.stat(config).st_mode) == 0o600
