"""``backups take``: the nightly backup as one command, on a real FerretDB and a real S3 endpoint.

The cases that need a full database (the scheduled nightly job, a dump failing verification on
the sandbox, the failure notification) are in ``test_take_sandbox.py``; here small databases
on the module's own FerretDB and moto server check each rule.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gzip as gzip_lib
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from sreworkbook.backups import take as take_module
from sreworkbook.backups.archive import verify_archive
from sreworkbook.backups.engines import DumpOutcome, Engine, MongorestoreEngine, PymongoEngine
from sreworkbook.backups.manifest import load_manifest
from sreworkbook.backups.report import Verdict
from sreworkbook.backups.take import TakeResult, backup_name, take_backup
from sreworkbook.backups.target import RestorePlan
from sreworkbook.config import Environment, S3Config
from sreworkbook.exceptions import ParameterError, SourceError
from sreworkbook.results import Status

from .conftest import MongoServer, MongoTools, S3Server

ROOT = Path(__file__).resolve().parents[2]  # where make mongo-tools put the real tools
NOW = dt.datetime(2026, 11, 28, 2, 0, 5, tzinfo=dt.UTC)
BUCKET = "take-backups"


def test_public_names() -> None:
    assert set(take_module.__all__) == {
        "DUMP_ENGINES", "LEDGER_NAME", "TakeResult", "backup_name", "take_backup",
    }  # fmt: skip


def test_the_seeds_naming() -> None:
    assert backup_name("tradeai", NOW) == "tradeai_backup_20261128_020005.tar.gz"
    later = dt.datetime(2026, 11, 28, 4, 0, 5, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    assert backup_name("tradeai", later) == "tradeai_backup_20261128_020005.tar.gz"  # UTC


class Corrupting:
    """A real engine whose archive gets one byte flipped inside a document after the dump."""

    def __init__(self, inner: Engine) -> None:
        self.inner = inner
        self.name = inner.name
        self.timeseries = inner.timeseries
        self.tool_ns = inner.tool_ns

    @property
    def version(self) -> str:
        return self.inner.version

    @property
    def dump_version(self) -> str:
        return self.inner.dump_version

    def dump(self, database: str, out: Path, *, gzip: bool = True) -> DumpOutcome:
        done = self.inner.dump(database, out, gzip=gzip)
        plain = bytearray(gzip_lib.decompress(out.read_bytes()))
        at = plain.rfind(b"sku-") + 4  # inside the last order's sku
        plain[at] ^= 0x01
        out.write_bytes(gzip_lib.compress(bytes(plain)))
        return done

    def restore(self, archive: Path, plan: RestorePlan, *, target_db: str) -> Any:
        raise AssertionError("take never restores")


class Partial(PymongoEngine):
    """Dumps only some collections (a dump that silently lost one)."""

    def dump(self, database: str, out: Path, *, gzip: bool = True) -> DumpOutcome:
        from sreworkbook.backups.writer import dump_database

        result = dump_database(self.client, database, out, collections=["orders"], gzip=gzip)
        return DumpOutcome(self.name, out, out.stat().st_size, 0.0, result.documents)


@pytest.fixture
def database(mongo_client: Any) -> Iterator[str]:
    name = f"take_{uuid.uuid4().hex[:8]}"
    db = mongo_client[name]
    db.orders.insert_many([{"_id": i, "sku": f"sku-{i % 13}", "qty": i} for i in range(1500)])
    db.users.insert_many([{"_id": i, "email": f"{i}@x.example"} for i in range(40)])
    db.users.create_index("email", unique=True)
    yield name
    mongo_client.drop_database(name)


@pytest.fixture
def s3(s3_server: S3Server, s3_env: None) -> Any:
    client = s3_server.client()
    with contextlib.suppress(client.exceptions.BucketAlreadyOwnedByYou):
        client.create_bucket(Bucket=BUCKET)
    return client


def environment(
    ferretdb: MongoServer, s3_server: S3Server, database: str, folder: Path
) -> Environment:
    return Environment.model_validate(
        {
            "name": "take-test",
            "mongodb": {"uri": ferretdb.uri, "database": database},
            "backups": {
                "local_dir": str(folder),
                "name_pattern": r"take_\w+_backup_(\d{8})_(\d{6})\.tar\.gz",
                "s3": {
                    "bucket": BUCKET,
                    "prefix": f"{database}/",
                    "endpoint_url": s3_server.endpoint_url,
                },
                "local_retention_days": 7,
            },
        }
    )


def keys(s3: Any, prefix: str) -> list[str]:
    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", [])
    return sorted(str(o["Key"]) for o in listed)


@pytest.mark.integration
def test_a_good_backup_is_kept_uploaded_and_old_ones_pruned(
    ferretdb: MongoServer, s3_server: S3Server, s3: Any, mongo_client: Any, database: str,
    mongo_tools: MongoTools, tmp_path: Path,
) -> None:  # fmt: skip
    folder = tmp_path / "backups"
    folder.mkdir()
    old = [NOW - dt.timedelta(days=d) for d in (8, 10)]
    recent = NOW - dt.timedelta(days=6)
    for at in (*old, recent):
        (folder / backup_name(database, at)).write_bytes(b"an old night")
        (folder / (backup_name(database, at) + ".manifest.json")).write_text("{}")
    env = environment(ferretdb, s3_server, database, folder)
    result = take_backup(env, environ={}, root=ROOT, now=NOW, client=mongo_client)
    assert result.status is Status.OK, result.findings
    assert result.engine == "mongodump" and result.tool_version.startswith("mongodump 100.")
    name = backup_name(database, NOW)
    assert result.path == folder / name and result.documents == 1540
    assert [p.name for p in result.phases] == ["dump", "verify", "keep", "upload", "prune"]
    report = verify_archive(folder / name)
    assert report.verdict is Verdict.OK and report.compressed
    manifest = load_manifest(folder / name)
    assert manifest is not None and manifest.matches(folder / name)
    assert manifest.report.documents == 1540
    assert keys(s3, f"{database}/") == [f"{database}/{name}", f"{database}/{name}.manifest.json"]
    assert result.url == f"s3://{BUCKET}/{database}/{name}"
    assert sorted(result.pruned) == sorted(backup_name(database, at) for at in old)
    left = sorted(p.name for p in folder.iterdir())
    assert left == sorted(
        [name, name + ".manifest.json", backup_name(database, recent),
         backup_name(database, recent) + ".manifest.json"]
    )  # fmt: skip
    metrics = result.metrics()
    assert metrics["backup_documents"] == 1540 and metrics["pruned_local"] == 2
    assert 0 < metrics["verify_share"] < 1
    assert result.headline().startswith(f"Backup {name}: 1,540 documents, ")


@pytest.mark.integration
def test_a_dump_failing_verification_is_never_kept_nor_uploaded(
    ferretdb: MongoServer, s3_server: S3Server, s3: Any, mongo_client: Any, database: str,
    mongo_tools: MongoTools, tmp_path: Path,
) -> None:  # fmt: skip
    folder = tmp_path / "backups"
    env = environment(ferretdb, s3_server, database, folder)
    good = take_backup(env, environ={}, root=tmp_path, now=NOW, client=mongo_client)
    assert good.status is Status.OK
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    uploaded = keys(s3, f"{database}/")
    ancient = folder / backup_name(database, NOW - dt.timedelta(days=30))
    ancient.write_bytes(b"past retention, yet no prune after a failure")
    tools = MongorestoreEngine(
        ferretdb.uri, client=mongo_client, mongodump=mongo_tools.mongodump,
        mongorestore=mongo_tools.mongorestore,
    )  # fmt: skip
    bad = take_backup(
        env, environ={}, root=tmp_path, now=NOW + dt.timedelta(days=1), client=mongo_client,
        dump_engine=Corrupting(tools),
    )  # fmt: skip
    assert bad.status is Status.CRIT and not bad.kept and bad.url == ""
    crit = [f for f in bad.findings if f.severity is Status.CRIT]
    assert [f.title for f in crit] == ["dump fails verification: corrupt"]
    assert "orders: CRC mismatch" in crit[0].detail
    assert [p.name for p in bad.phases] == ["dump", "verify"]
    assert keys(s3, f"{database}/") == uploaded  # nothing uploaded
    assert {p.name: p.read_bytes() for p in folder.iterdir() if p != ancient} == before
    assert ancient.exists()  # nothing pruned either
    assert bad.headline().startswith("The backup failed (dump fails verification: corrupt)")


@pytest.mark.integration
def test_a_dump_missing_a_collection_fails(
    ferretdb: MongoServer, s3_server: S3Server, s3: Any, mongo_client: Any, database: str,
    tmp_path: Path,
) -> None:  # fmt: skip
    env = environment(ferretdb, s3_server, database, tmp_path / "b")
    result = take_backup(
        env, environ={}, root=tmp_path, now=NOW, client=mongo_client,
        dump_engine=Partial(mongo_client),
    )  # fmt: skip
    assert result.status is Status.CRIT and not result.kept
    assert result.findings[0].title == "dump fails verification: collections missing"
    assert result.findings[0].detail.endswith(": users")
    assert keys(s3, f"{database}/") == [] and list((tmp_path / "b").iterdir()) == []


@pytest.mark.integration
def test_nothing_is_replaced_locally_or_in_s3(
    ferretdb: MongoServer, s3_server: S3Server, s3: Any, mongo_client: Any, database: str,
    tmp_path: Path,
) -> None:  # fmt: skip
    folder = tmp_path / "b"
    env = environment(ferretdb, s3_server, database, folder)
    engine = PymongoEngine(mongo_client)
    first = take_backup(env, environ={}, root=tmp_path, now=NOW, client=mongo_client,
                        dump_engine=engine)  # fmt: skip
    assert first.status is Status.OK and first.engine == "pymongo"
    again = take_backup(env, environ={}, root=tmp_path, now=NOW, client=mongo_client,
                        dump_engine=engine)  # fmt: skip
    assert again.status is Status.CRIT and again.findings[0].title == "dump failed"
    assert "already exists: not replaced" in again.findings[0].detail
    # Another copy of that name in S3 (taken elsewhere): the local one is kept, S3 left alone.
    later = NOW + dt.timedelta(hours=1)
    name = backup_name(database, later)
    s3.put_object(Bucket=BUCKET, Key=f"{database}/{name}", Body=b"someone else's")
    third = take_backup(env, environ={}, root=tmp_path, now=later, client=mongo_client,
                        dump_engine=engine)  # fmt: skip
    assert third.status is Status.CRIT and third.kept
    assert third.findings[-1].title == "backup not uploaded to S3"
    assert "already exists (14 bytes): not replaced" in third.findings[-1].detail
    body = s3.get_object(Bucket=BUCKET, Key=f"{database}/{name}")["Body"].read()
    assert body == b"someone else's"
    assert third.phase("prune") is None  # no pruning while the offsite copy is missing


@pytest.mark.integration
def test_an_unreachable_server_is_a_failed_dump_not_a_traceback(tmp_path: Path) -> None:
    env = Environment.model_validate(
        {
            "name": "down",
            "mongodb": {
                "uri": "mongodb://127.0.0.1:9/?serverSelectionTimeoutMS=500",
                "database": "tradeai",
            },
            "backups": {"local_dir": str(tmp_path / "b")},
        }
    )
    result = take_backup(env, environ={}, root=tmp_path, now=NOW, engine="pymongo")
    assert result.status is Status.CRIT and result.findings[0].title == "dump failed"
    assert list((tmp_path / "b").iterdir()) == []


def test_bad_configuration_is_bad_input(tmp_path: Path) -> None:
    base = {"name": "x", "mongodb": {"uri": "mongodb://127.0.0.1:9/", "database": "tradeai"}}
    no_folder = Environment.model_validate({**base, "backups": {"s3": {"bucket": "b"}}})
    with pytest.raises(ParameterError, match="backups.local_dir") as caught:
        take_backup(no_folder, environ={}, root=tmp_path, now=NOW)
    assert caught.value.key == "backups.local_dir"
    odd = Environment.model_validate(
        {**base, "backups": {"local_dir": str(tmp_path), "name_pattern": r"db_(\d{8})\.gz"}}
    )
    with pytest.raises(ParameterError, match="tradeai_backup_20261128_020005.tar.gz"):
        take_backup(odd, environ={}, root=tmp_path, now=NOW)
    with pytest.raises(ParameterError, match="no backups section"):
        take_backup(Environment.model_validate(base), environ={}, root=tmp_path, now=NOW)
    with pytest.raises(ParameterError, match="did you mean one of: auto, mongodump, pymongo"):
        take_backup(odd, environ={}, root=tmp_path, now=NOW, engine="mongorestore")


def test_the_run_summary_is_a_ledger_line() -> None:
    result = TakeResult("tradeai_backup_20261128_020005.tar.gz", "mongodump", "mongodump 100.18.0")
    started = NOW
    summary = result.run_summary(
        env="prod", started=started, finished=started + dt.timedelta(seconds=42), token="abc123",
        engine="auto",
    )  # fmt: skip
    line = json.loads(summary.to_json())
    assert line["notebook"] == "backups_take" and line["env"] == "prod"
    assert line["run_id"] == "20261128T020005Z-backups_take-prod-abc123"
    assert line["duration_s"] == 42 and line["report"] == ""
    assert line["findings"][-1]["title"] == "dump engine: mongodump (mongodump 100.18.0)"


def test_an_s3_edge_error_during_upload_is_said_once(tmp_path: Path) -> None:
    said = "127.0.0.1:9 answered HTTP 200 with an HTML page"

    class Client:  # S3 has no such object yet, then answers the upload with a web page
        def head_object(self, **_: Any) -> None:
            raise ClientError({"Error": {"Code": "404"}}, "HeadObject")

        def upload_file(self, *_: Any) -> None:
            raise SourceError(said, source="s3", status=200)  # as the S3 edge's guard raises

    archive = tmp_path / "tradeai_backup_20261128_020005.tar.gz"
    archive.write_bytes(b"x")
    with pytest.raises(SourceError) as caught:
        take_module._upload(archive, S3Config(bucket="b"), Client(), str)
    assert str(caught.value) == f"s3: {said}"  # not "s3: upload failed: s3: ..."
