"""Probing a real FerretDB for what it can hold, before restoring into it."""

from __future__ import annotations

import io
from typing import Any

import pytest

from sreworkbook.backups.archive import read_prelude
from sreworkbook.backups.report import CollectionMetadata
from sreworkbook.backups.target import (
    collection_metadata,
    describe_server,
    index_request,
    plan_restore,
)
from sreworkbook.backups.writer import CollectionDump, write_archive
from sreworkbook.exceptions import ArchiveError

ID = {"v": 2, "key": {"_id": 1}, "name": "_id_"}


def prelude_of(dumps: list[CollectionDump]) -> Any:
    out = io.BytesIO()
    write_archive(dumps, out, gzip=False)
    out.seek(0)
    return read_prelude(out)


DUMPS = [
    CollectionDump(
        "src",
        "events",
        indexes=[
            ID,
            {"v": 2, "key": {"at": 1}, "name": "at_ttl", "expireAfterSeconds": 60},
            {"v": 2, "key": {"k": 1}, "name": "k_partial", "partialFilterExpression": {"k": 1}},
            {"v": 2, "key": {"s": 1}, "name": "s_sparse", "sparse": True},
            {"v": 2, "key": {"u": 1}, "name": "u_unique", "unique": True},
            {"v": 2, "key": {"a": 1, "b": -1}, "name": "a_b"},
        ],
    ),
    CollectionDump("src", "capped", indexes=[ID], options={"capped": True, "size": 4096}),
    CollectionDump("src", "checked", indexes=[ID], options={"validator": {"x": {"$type": "int"}}}),
    CollectionDump("src", "recent", type="view", options={"viewOn": "events", "pipeline": []}),
    CollectionDump("src", "metrics", type="timeseries", options={"timeseries": {"timeField": "t"}}),
    CollectionDump("elsewhere", "ignored", indexes=[ID]),
]


def test_without_probing_everything_is_planned_as_dumped() -> None:
    plan = plan_restore(prelude_of(DUMPS), "src", target=None, timeseries=True)
    assert [c.name for c in plan.collections] == [
        "events",
        "capped",
        "checked",
        "recent",
        "metrics",
    ]
    assert plan.omissions == () and plan.restored == ("events", "capped", "checked", "metrics")
    assert [ix["name"] for ix in plan.collections[0].indexes] == [
        "at_ttl", "k_partial", "s_sparse", "u_unique", "a_b",
    ]  # fmt: skip


def test_timeseries_is_left_to_mongorestore() -> None:
    plan = plan_restore(prelude_of(DUMPS), "src", target=None)
    assert plan.skipped == ("metrics",)
    assert [f.title for f in plan.findings()] == ["metrics: collection not restored (target limit)"]


@pytest.mark.integration
def test_ferretdb_limits_are_found_before_restoring(mongo_client: Any) -> None:
    scratch = mongo_client["probe_restore_test"]
    mongo_client.drop_database("probe_restore_test")
    try:
        plan = plan_restore(
            prelude_of(DUMPS), "src", target=scratch, server=describe_server(mongo_client)
        )
        assert plan.server.startswith("FerretDB ")
        omitted = {(o.collection, o.what): o.reason for o in plan.omissions}
        assert set(omitted) == {
            ("events", "index at_ttl option expireAfterSeconds"),
            ("events", "index k_partial option partialFilterExpression"),
            ("events", "index s_sparse option sparse"),
            ("checked", "collection option validator"),
            ("recent", "view"),
            ("metrics", "collection"),
        }
        assert "expireAfterSeconds" in omitted[("events", "index at_ttl option expireAfterSeconds")]
        assert omitted[("events", "index s_sparse option sparse")] == "accepted but not kept"
        assert "0x" not in omitted[("checked", "collection option validator")]  # no Go pointers
        titles = [f.title for f in plan.findings()]
        assert (
            "events: index at_ttl built without option expireAfterSeconds (target limit)" in titles
        )
        events = plan.get("events")
        assert events is not None  # every index is built, without what the target refuses
        assert [dict(ix) for ix in events.indexes] == [
            {"v": 2, "key": {"at": 1}, "name": "at_ttl"},
            {"v": 2, "key": {"k": 1}, "name": "k_partial"},
            {"v": 2, "key": {"s": 1}, "name": "s_sparse"},
            {"v": 2, "key": {"u": 1}, "name": "u_unique", "unique": True},
            {"v": 2, "key": {"a": 1, "b": -1}, "name": "a_b"},
        ]
        capped = plan.get("capped")
        assert capped is not None and capped.options == {"capped": True, "size": 4096}
        assert plan.indexes_reduced and plan.options_reduced
        assert plan.skipped == ("recent", "metrics")
        assert scratch.list_collection_names() == []  # the probes are gone
    finally:
        mongo_client.drop_database("probe_restore_test")


@pytest.mark.integration
def test_mongorestores_ns_is_probed_and_named_per_collection(mongo_client: Any) -> None:
    """FerretDB refuses the ``ns`` that mongorestore adds to every index it creates."""
    dumps = [
        CollectionDump("src", "users", indexes=[ID, {"v": 2, "key": {"e": 1}, "name": "e_1"}]),
        CollectionDump("src", "plain", indexes=[ID]),
    ]
    scratch = mongo_client["ns_restore_test"]
    mongo_client.drop_database("ns_restore_test")
    try:
        assert plan_restore(prelude_of(dumps), "src", target=scratch).omissions == ()
        plan = plan_restore(prelude_of(dumps), "src", target=scratch, tool_ns=True)
        assert [(o.collection, o.what) for o in plan.omissions] == [("users", "index option ns")]
        finding = plan.findings()[0]
        assert (
            finding.title
            == "users: index option ns refused by the target, indexes built without it"
        )
        assert finding.detail.startswith('Index option "ns" is unknown: ')
        assert finding.detail.endswith("built by the workbook without it: e_1")
        assert plan.indexes_reduced and not plan.options_reduced
        assert scratch.list_collection_names() == []
    finally:
        mongo_client.drop_database("ns_restore_test")


def test_index_request_and_metadata() -> None:
    assert index_request({"v": 2, "key": {"a": 1}, "name": "a", "ns": "x.y", "unique": True}) == {
        "key": {"a": 1},
        "name": "a",
        "unique": True,
    }
    assert collection_metadata(CollectionMetadata("d", "c")) == ({}, [])
    with pytest.raises(ArchiveError):
        collection_metadata(CollectionMetadata("d", "c", metadata="{not json"))
