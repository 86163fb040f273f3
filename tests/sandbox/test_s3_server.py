"""The sandbox's S3 endpoint: the nightly set's plan, and moto holding it for real."""

from __future__ import annotations

import datetime as dt
import gzip
import io
import time
from pathlib import Path
from typing import Any

import pytest

from sreworkbook.backups.archive import verify_archive
from sreworkbook.backups.inventory import list_local
from sreworkbook.backups.report import Verdict
from sreworkbook.backups.writer import CollectionDump, write_archive
from sreworkbook.config import Environment
from sreworkbook.sandbox import s3_server
from sreworkbook.sandbox.layout import Context, Layout
from sreworkbook.sandbox.process import stop_group
from sreworkbook.sandbox.s3_server import ANOMALIES, plan_nights, start_s3
from support.net import free_port


def test_public_names() -> None:
    assert set(s3_server.__all__) == {"Night", "plan_nights", "start_s3"}


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
    early = plan_nights(dt.datetime(2026, 11, 28, 1, 59, tzinfo=dt.UTC))
    assert early[-1].at == dt.datetime(2026, 11, 27, 2, tzinfo=dt.UTC)


def test_the_flipped_byte_breaks_the_crc_not_the_bson() -> None:
    out = io.BytesIO()
    docs = [{"_id": i, "tradeNumber": f"TRD-2026-{i:07d}"} for i in range(20)]
    write_archive([CollectionDump("tradeai", "trades", docs)], out, gzip=False)
    broken = s3_server._flip_a_byte(out.getvalue())
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


@pytest.mark.integration
def test_the_sandbox_bucket_and_folder(sandbox: Any) -> None:
    sandbox.require("mongodb", "s3")
    from sreworkbook.backups.s3 import client_for, list_objects

    config = sandbox.env.backups
    client = client_for(config.s3)
    keys = sorted(o.key for o in list_objects(config.s3.bucket, config.s3.prefix, client=client))
    assert len(keys) == 34 and all(k.startswith("mongodb/tradeai_backup_") for k in keys)
    local = list_local(Path(config.local_dir))
    assert len(local.objects) == 7
    log = Path(config.log_file).read_text()
    assert log.count("ERROR") == 2


@pytest.mark.integration
def test_the_set_is_cached_and_a_restart_is_quick(sandbox: Any, tmp_path: Path) -> None:
    """A second start on the same day, same seed, reuses the set: only moto and uploads."""
    sandbox.require("mongodb")
    port = free_port()
    env = Environment.model_validate(
        {
            "name": "s3-cache",
            "mongodb": sandbox.env.mongodb.model_dump(),
            "backups": {
                "local_dir": str(tmp_path / "data" / "backups"),
                "s3": {
                    "bucket": "tradeai-backups",
                    "prefix": "mongodb/",
                    "endpoint_url": f"http://127.0.0.1:{port}",
                },
            },
            "sandbox": {"data_dir": str(tmp_path / "data")},
        }
    )
    ctx = Context(env, Layout.of(env, sandbox.root), dt.datetime.now(dt.UTC), lambda s: None)
    timings = []
    for _ in range(2):
        began = time.monotonic()
        record = start_s3(ctx)
        timings.append(time.monotonic() - began)
        try:
            assert record.status == "running" and "34 nightly backups" in record.detail
        finally:
            assert stop_group(record.pid or 0, ticks=record.ticks)
    assert "cached sample, cached nights" in record.detail
    assert timings[1] < 20, timings
    assert len(list_local(tmp_path / "data" / "backups").objects) == 7


def test_a_local_folder_outside_the_data_dir_is_left_alone(tmp_path: Path) -> None:
    env = Environment.model_validate(
        {"name": "t", "backups": {"local_dir": str(tmp_path / "elsewhere")},
         "sandbox": {"data_dir": str(tmp_path / "data")}}
    )  # fmt: skip
    layout = Layout.of(env, tmp_path)
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "precious.tar.gz").write_text("keep me")
    assert env.backups is not None
    note = s3_server._fill_local(layout, env.backups, tmp_path, [])
    assert "left alone" in note
    assert (tmp_path / "elsewhere" / "precious.tar.gz").read_text() == "keep me"


def test_no_mongodb_means_a_clear_failure_not_a_hang() -> None:
    from sreworkbook.exceptions import SandboxError

    began = time.monotonic()
    with pytest.raises(SandboxError, match="never answered on 127.0.0.1:9"):
        s3_server._wait_for_seed("127.0.0.1", 9, "tradeai", unreachable_s=1.5)
    assert time.monotonic() - began < 10
