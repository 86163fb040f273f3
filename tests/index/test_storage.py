"""S3 outputs on a real endpoint (moto's server): runs published, ledger appended, index and
prune working from S3, keys mirroring the local layout with the content types a website needs.
"""

from __future__ import annotations

import json
import posixpath
import re
import shutil
import socket
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from sreworkbook.exceptions import OutputError, ParameterError
from sreworkbook.index.cli import resolve_outputs, run_to_outputs
from sreworkbook.index.retention import RetentionPolicy, prune
from sreworkbook.index.storage import LocalOutputs, S3Outputs, open_outputs, parse_s3_url
from sreworkbook.reports.pipeline import RunRequest
from sreworkbook.results import RunSummary, Status
from support import servers
from support.workbook import probe_workbook

pytestmark = pytest.mark.integration


@pytest.fixture
def workbook(tmp_path: Path) -> Path:
    return probe_workbook(tmp_path)


def bucket(client: Any, name: str) -> str:
    client.create_bucket(Bucket=name)
    return name


def keys(client: Any, name: str, prefix: str = "") -> dict[str, str]:
    """Every key under ``prefix`` and its content type."""
    found = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=name, Prefix=prefix):
        for item in page.get("Contents", ()):
            head = client.head_object(Bucket=name, Key=item["Key"])
            found[item["Key"]] = head["ContentType"]
    return found


def test_runs_round_trip_through_s3(workbook: Path, s3_client: Any, moto_endpoint: str) -> None:
    bucket(s3_client, "site")
    outputs = S3Outputs("s3://site/workbook/", client=s3_client)
    urls = []
    for mode in ("ok", "crit"):
        request = RunRequest(
            "probe", "test", workbook, workbook / "unused", parameters={"mode": mode}
        )
        outcome, url = run_to_outputs(outputs, request, environ={})
        urls.append(url)
        assert not outcome.run_dir.exists()  # the local copy went once published
    assert not (workbook / "unused").exists()
    found = keys(s3_client, "site", "workbook/")
    runs = sorted(k for k in found if k.endswith("/report.html"))
    assert [f"s3://site/{k}" for k in runs] == urls
    for report in runs:
        folder = report.rsplit("/", 1)[0]
        assert found[f"{folder}/report.html"] == "text/html; charset=utf-8"
        assert found[f"{folder}/summary.json"] == "application/json"
        assert found[f"{folder}/probe.ipynb"] == "application/x-ipynb+json"
    assert found["workbook/ledger.jsonl"] == "application/x-ndjson"
    assert found["workbook/index.html"] == "text/html; charset=utf-8"
    assert found["workbook/assets/plotly.min.js"] == "text/javascript; charset=utf-8"
    # keys mirror the local layout: runs/DATE/RUN/..., exactly as the ledger says
    ledger = s3_client.get_object(Bucket="site", Key="workbook/ledger.jsonl")["Body"].read()
    lines = [RunSummary.from_dict(json.loads(x)) for x in ledger.splitlines()]
    assert [r.status for r in lines] == [Status.OK, Status.CRIT]
    assert [f"workbook/{r.report}" for r in lines] == runs
    # every link of the index and of a report resolves to an object under the prefix
    index = s3_client.get_object(Bucket="site", Key="workbook/index.html")["Body"].read().decode()
    assert "2 runs recorded" in index
    hrefs = [h for h in re.findall(r'(?:href|src)="([^"#]+)"', index)]
    assert hrefs and all(f"workbook/{h}" in found for h in hrefs), hrefs
    report = s3_client.get_object(Bucket="site", Key=runs[-1])["Body"].read().decode()
    base = posixpath.dirname(runs[-1])
    for href in re.findall(r'(?:href|src)="([^"#:]+)"', report):
        assert posixpath.normpath(posixpath.join(base, href)) in found, href
    # readable over plain HTTP with the right type, as a static website serves it
    public = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": "arn:aws:s3:::site/workbook/*",
            }
        ],
    }
    s3_client.put_bucket_policy(Bucket="site", Policy=json.dumps(public))
    got = requests.get(f"{moto_endpoint}/site/{runs[0]}", timeout=10)
    assert got.status_code == 200 and got.headers["Content-Type"].startswith("text/html")


def test_staged_folder_holds_the_s3_ledger(s3_client: Any) -> None:
    bucket(s3_client, "staged")
    s3_client.put_object(Bucket="staged", Key="ledger.jsonl", Body=b'{"status": "OK"}\n')
    s3_client.put_object(Bucket="staged", Key="baselines.json", Body=b'{"a": "r1"}')
    with S3Outputs("s3://staged", client=s3_client).staged() as local:
        assert (local / "ledger.jsonl").read_bytes() == b'{"status": "OK"}\n'
        assert (local / "baselines.json").read_bytes() == b'{"a": "r1"}'
    assert not local.exists()


def test_parallel_appends_keep_every_line_and_the_last_index(
    s3_client: Any, moto_endpoint: str
) -> None:

    bucket(s3_client, "busy")
    now = datetime(2026, 11, 20, 7, 30, tzinfo=UTC)
    errors: list[BaseException] = []

    def writer(k: int) -> None:
        client = servers.s3_client(moto_endpoint)
        outputs = S3Outputs("s3://busy/p", client=client)
        try:
            for i in range(8):
                line = line_for(f"w{k}-{i}", now - timedelta(minutes=k * 10 + i))
                written = outputs.append_line(line)
                outputs.rebuild_index(now=now, expected=None, ledger=written)
        except BaseException as exc:  # collected for the main thread
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    ledger = s3_client.get_object(Bucket="busy", Key="p/ledger.jsonl")["Body"].read()
    ids = re.findall(rb'"run_id": "([^"]+)"', ledger)
    assert len(ids) == 32 == len(set(ids))
    index = s3_client.get_object(Bucket="busy", Key="p/index.html")["Body"].read().decode()
    assert "32 runs recorded" in index


def line_for(run_id: str, started: datetime, *, report: bool = False) -> bytes:
    item = RunSummary(
        Status.OK,
        "fine",
        notebook="probe",
        env="test",
        run_id=run_id,
        started_at=f"{started:%Y-%m-%dT%H:%M:%SZ}",
        finished_at=f"{started:%Y-%m-%dT%H:%M:%SZ}",
        report=f"runs/{started:%Y-%m-%d}/{run_id}/report.html" if report else "",
    )
    return (item.to_json() + "\n").encode()


def test_prune_on_s3(s3_client: Any) -> None:
    bucket(s3_client, "old")
    now = datetime.now(UTC) + timedelta(days=2)  # what is uploaded now is two days old
    lines = b""
    for d in range(40, 0, -1):
        run_id = f"run-{d:02d}"
        started = now - timedelta(days=d, hours=1)
        lines += line_for(run_id, started, report=True)
        for name in ("report.html", "summary.json"):
            s3_client.put_object(
                Bucket="old", Key=f"o/runs/{started:%Y-%m-%d}/{run_id}/{name}", Body=b"x"
            )
    s3_client.put_object(Bucket="old", Key="o/ledger.jsonl", Body=lines)
    s3_client.put_object(Bucket="old", Key="o/baselines.json", Body=b'["run-40"]')
    s3_client.put_object(Bucket="old", Key="o/runs/2026-01-01/.staging-x/report.html", Body=b"x")
    outputs = open_outputs("s3://old/o", client=s3_client)
    result = prune(outputs, RetentionPolicy(keep_days=30, keep_runs=5), now=now)
    left = set(keys(s3_client, "old", "o/"))
    kept = re.findall(
        rb'"run_id": "([^"]+)"',
        s3_client.get_object(Bucket="old", Key="o/ledger.jsonl")["Body"].read(),
    )
    assert [k.decode() for k in kept] == ["run-40", *(f"run-{d:02d}" for d in range(29, 0, -1))]
    folders = {k.split("/")[3] for k in left if k.startswith("o/runs/")}
    assert folders == {k.decode() for k in kept}
    assert result.ledger_lines_removed == 10
    assert any(".staging-x" in r.what for r in result.removed)
    index = s3_client.get_object(Bucket="old", Key="o/index.html")["Body"].read().decode()
    assert "30 runs recorded" in index


def test_a_failed_upload_keeps_the_run_and_says_where(workbook: Path, s3_client: Any) -> None:
    bucket(s3_client, "flaky")

    class FailingPuts:  # fault injection: the real client, whose uploads of runs fail
        def __init__(self, client: Any) -> None:
            self.client = client

        def __getattr__(self, name: str) -> Any:
            return getattr(self.client, name)

        def put_object(self, **kwargs: Any) -> Any:
            if "/runs/" in f"/{kwargs['Key']}":
                from botocore.exceptions import EndpointConnectionError

                raise EndpointConnectionError(endpoint_url="http://s3.invalid")
            return self.client.put_object(**kwargs)

    outputs = S3Outputs("s3://flaky", client=FailingPuts(s3_client))
    request = RunRequest("probe", "test", workbook, workbook / "unused")
    with pytest.raises(
        OutputError, match=r"cannot upload .* \(the run is kept in (/\S+)\)"
    ) as info:
        run_to_outputs(outputs, request, environ={})
    kept = Path(re.search(r"kept in (\S+)\)", str(info.value)).group(1))  # type: ignore[union-attr]
    assert list(kept.glob("runs/*/*/report.html"))
    assert "ledger.jsonl" not in keys(s3_client, "flaky")  # no line for a run not uploaded
    shutil.rmtree(kept)


def test_outputs_root_from_option_variable_or_default(tmp_path: Path) -> None:
    env = {"SREWORKBOOK_OUTPUTS": "s3://from-env/p"}
    assert resolve_outputs("s3://b/x", root=tmp_path, environ=env) == "s3://b/x"
    assert resolve_outputs(None, root=tmp_path, environ=env) == "s3://from-env/p"
    assert resolve_outputs(None, root=tmp_path, environ={}) == str(tmp_path / "outputs")
    with pytest.raises(ParameterError, match="pass the S3 URL as a string"):
        resolve_outputs(Path("s3://b/x"), root=tmp_path, environ={})
    assert parse_s3_url("s3://b/a/b/") == ("b", "a/b")
    assert isinstance(open_outputs(tmp_path), LocalOutputs)


def test_every_s3_failure_is_an_output_error(tmp_path: Path) -> None:
    """Nothing answers at the endpoint: botocore's errors never leak past the storage layer."""
    import boto3
    from botocore.config import Config

    from sreworkbook.index.storage import RunFolder

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again: nothing listens there
    client = boto3.client(
        "s3",
        endpoint_url=f"http://127.0.0.1:{port}",
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(connect_timeout=1, read_timeout=1, retries={"max_attempts": 1}),
    )
    outputs = S3Outputs("s3://nowhere/p", client=client)
    now = datetime(2026, 11, 20, tzinfo=UTC)
    calls: dict[str, Callable[[], object]] = {
        "run_folders": lambda: list(outputs.run_folders()),
        "baselines": lambda: list(outputs.baselines()),
        "ledger_file": lambda: outputs.ledger_file().__enter__(),
        "append_line": lambda: outputs.append_line(b"{}\n"),
        "rewrite_ledger": lambda: outputs.rewrite_ledger(lambda line: False),
        "remove": lambda: outputs.remove([RunFolder("runs/d/r", now, ("p/runs/d/r/x",))]),
        "rebuild_index": lambda: outputs.rebuild_index(now=now, expected=None),
        "staged": lambda: outputs.staged().__enter__(),
    }
    for name, call in calls.items():
        with pytest.raises(OutputError, match=r"s3://nowhere/p: cannot"):
            call()
        print(f"{name}: OutputError")
