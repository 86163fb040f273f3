"""The sandbox's S3 endpoint: the nightly set's plan, and moto holding it for real."""

from __future__ import annotations

import datetime as dt
import gzip
import io
import os
import time
from pathlib import Path
from typing import Any

import pytest

from sreworkbook.backups.archive import read_prelude, verify_archive
from sreworkbook.backups.engines import find_tool, tool_version
from sreworkbook.backups.inventory import list_local
from sreworkbook.backups.report import Verdict
from sreworkbook.backups.writer import CollectionDump, write_archive
from sreworkbook.config import Environment
from sreworkbook.sandbox import nightly, s3_server
from sreworkbook.sandbox.layout import Context, Layout
from sreworkbook.sandbox.nightly import ANOMALIES, REAL_NIGHTS
from sreworkbook.sandbox.process import stop_group
from sreworkbook.sandbox.s3_server import plan_nights, start_s3
from support.net import free_port


def test_public_names() -> None:
    assert set(s3_server.__all__) == {"Night", "plan_nights", "start_s3"}
    assert set(nightly.__all__) == {
        "ANOMALIES", "REAL_NIGHTS", "BackupSet", "Night", "make_set", "plan_nights",
    }  # fmt: skip


def test_five_weeks_of_nights_ending_with_the_last_2_am() -> None:
    now = dt.datetime(2026, 11, 28, 20, 30, tzinfo=dt.UTC)
    nights = plan_nights(now)
    assert len(nights) == 35
    assert nights[-1].at == dt.datetime(2026, 11, 28, 2, tzinfo=dt.UTC)
    assert nights[0].at == dt.datetime(2026, 10, 25, 2, tzinfo=dt.UTC)
    assert nights[-1].name == "tradeai_backup_20261128_020000.tar.gz"
    kinds = {n.kind for n in nights}
    assert kinds == {"good", "missing", "truncated", "bad-crc", "small"}
    assert sorted(35 - 1 - i for i, n in enumerate(nights) if n.kind != "good") == sorted(ANOMALIES)
    assert [n.at.day for n in nights if n.local] == [22, 23, 24, 25, 26, 27, 28]
    assert nights[-1].fraction == 1.0 and nights[0].fraction == 0.75
    assert [n.back for n in nights if n.real] == [2, 1, 0] == list(range(REAL_NIGHTS))[::-1]
    assert all(n.fraction == 1.0 for n in nights if n.real)
    early = plan_nights(dt.datetime(2026, 11, 28, 1, 59, tzinfo=dt.UTC))
    assert early[-1].at == dt.datetime(2026, 11, 27, 2, tzinfo=dt.UTC)


def test_the_flipped_byte_breaks_the_crc_not_the_bson() -> None:
    out = io.BytesIO()
    docs = [{"_id": i, "tradeNumber": f"TRD-2026-{i:07d}"} for i in range(20)]
    write_archive([CollectionDump("tradeai", "trades", docs)], out, gzip=False)
    broken = nightly.flip_a_byte(out.getvalue())
    report = verify_archive(io.BytesIO(gzip.compress(broken)))
    assert report.verdict is Verdict.CORRUPT
    assert [f.title for f in report.findings] == ["tradeai.trades: CRC mismatch"]


def test_the_job_log_tells_the_story() -> None:
    nights = plan_nights(dt.datetime(2026, 11, 28, 20, tzinfo=dt.UTC))
    lines = s3_server._log_lines(nights, "bk", "mongodb/", {})
    errors = [line for line in lines if "ERROR" in line]
    assert len(errors) == 2
    assert "mongodump failed" in errors[0] and "2026-11-16" in errors[0]
    assert "upload to s3://bk/mongodb/tradeai_backup_20261119_020000.tar.gz failed" in errors[1]


ROOT = Path(__file__).resolve().parents[2]


def dump_tool() -> str:
    """What the sandbox dumps with: the real mongodump's version (required in CI), else ours."""
    found = find_tool("mongodump", root=ROOT)
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail("mongodump not available — required when CI=true (make mongo-tools)")
        return "sreworkbook-archive-writer/1"
    return tool_version(found)


@pytest.mark.integration
def test_the_sandbox_bucket_and_folder(sandbox: Any) -> None:
    """34 nights in S3, 7 in the folder; the newest are the real mongodump of all 100,000 docs."""
    sandbox.require("mongodb", "s3")
    from sreworkbook.backups.s3 import client_for, list_objects

    config = sandbox.env.backups
    client = client_for(config.s3)
    objects = sorted(
        list_objects(config.s3.bucket, config.s3.prefix, client=client), key=lambda o: o.key
    )
    keys = [o.key for o in objects]
    assert len(keys) == 34 and all(k.startswith("mongodb/tradeai_backup_") for k in keys)
    local = list_local(Path(config.local_dir))
    assert len(local.objects) == 7
    log = Path(config.log_file).read_text()
    assert log.count("ERROR") == 2
    newest = local.objects[-1]
    header = read_prelude(newest.location).header
    assert header.tool_version == dump_tool(), header  # written by the real mongodump
    report = verify_archive(newest.location)
    assert report.verdict is Verdict.OK and report.documents == 100_000
    assert {c.collection: c.documents for c in report.collections} == {
        "users": 5000, "customers": 15000, "promotions": 2000, "trades": 48000, "audit_logs": 30000,
    }  # fmt: skip
    by_name = {o.name: o for o in local.objects}
    assert {by_name[n].size for n in list(by_name)[-REAL_NIGHTS:]} == {newest.size}
    older = verify_archive(local.objects[0].location)  # six nights back: written from the dump
    assert older.verdict is Verdict.OK and 95_000 < older.documents < 100_000
    assert older.header is not None and older.header.tool_version.startswith("sreworkbook")
    assert objects[-1].size == newest.size  # the S3 copy of the newest night is the same archive


@pytest.mark.integration
def test_the_set_is_cached_and_a_restart_is_quick(sandbox: Any) -> None:
    """A second start on the same seed reuses the set the sandbox made: no dump, only uploads."""
    sandbox.require("mongodb", "s3")
    port = free_port()
    data_dir = Path(sandbox.env.sandbox.data_dir)  # the running sandbox's cache
    local_dir = data_dir / "restart-test-backups"
    env = Environment.model_validate(
        {
            "name": "s3-cache",
            "mongodb": sandbox.env.mongodb.model_dump(),
            "backups": {
                "local_dir": str(local_dir),
                "s3": {
                    "bucket": "tradeai-backups",
                    "prefix": "mongodb/",
                    "endpoint_url": f"http://127.0.0.1:{port}",
                },
            },
            "sandbox": {"data_dir": str(data_dir)},
        }
    )
    ctx = Context(env, Layout.of(env, sandbox.root), dt.datetime.now(dt.UTC), lambda s: None)
    began = time.monotonic()
    record = start_s3(ctx)
    took = time.monotonic() - began
    try:
        assert record.status == "running" and "34 nightly backups" in record.detail
        assert "cached set" in record.detail and dump_tool() in record.detail
    finally:
        assert stop_group(record.pid or 0, ticks=record.ticks)
    assert took < 60, took
    assert len(list_local(local_dir).objects) == 7


def test_a_local_folder_outside_the_data_dir_is_left_alone(tmp_path: Path) -> None:
    env = Environment.model_validate(
        {"name": "t", "backups": {"local_dir": str(tmp_path / "elsewhere")},
         "sandbox": {"data_dir": str(tmp_path / "data")}}
    )  # fmt: skip
    layout = Layout.of(env, tmp_path)
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "precious.tar.gz").write_text("keep me")
    assert env.backups is not None
    made = nightly.BackupSet(tmp_path, {}, "t", 0, 0.0, "")
    note = s3_server._fill_local(layout, env.backups, made, [])
    assert "left alone" in note
    assert (tmp_path / "elsewhere" / "precious.tar.gz").read_text() == "keep me"


def test_no_mongodb_means_a_clear_failure_not_a_hang() -> None:
    from sreworkbook.exceptions import SandboxError

    began = time.monotonic()
    with pytest.raises(SandboxError, match="never answered on 127.0.0.1:9"):
        s3_server._wait_for_seed("127.0.0.1", 9, "tradeai", unreachable_s=1.5)
    assert time.monotonic() - began < 10
