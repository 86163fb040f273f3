"""An S3 endpoint answering 200 with something that is not S3's XML: said as it is, once."""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path

import pytest

from sreworkbook.backups.inventory import collect, evaluate_policy
from sreworkbook.config import BackupsConfig
from sreworkbook.edges import s3
from sreworkbook.exceptions import SourceError
from sreworkbook.results import Status
from support.http import CannedServer, Route, canned_server

GARBAGE = random.Random(1).randbytes(300)
NOW = dt.datetime(2026, 12, 7, 6, 0, tzinfo=dt.UTC)


@pytest.fixture
def garbage_s3() -> CannedServer:
    with canned_server() as server:
        server.on(lambda _: True, Route(200, GARBAGE, content_type="application/xml"))
        yield server


def _client(server: CannedServer) -> object:
    return s3.make_client(
        endpoint_url=server.url, region="us-east-1", access_key_id="a", secret_access_key="b"
    )


def test_a_200_with_garbage_is_said_as_such_not_as_a_500(garbage_s3: CannedServer) -> None:
    with pytest.raises(SourceError) as caught:
        list(s3.list_objects("backups", "daily/", client=_client(garbage_s3)))
    message = str(caught.value)
    # Before: "s3: 500: Internal Server Error", after botocore had retried it 4 times.
    assert message.startswith(f"s3: 127.0.0.1:{garbage_s3.port} answered HTTP 200 with binary data")
    assert "(300 bytes, application/xml) instead of S3 XML: " in message
    assert "500" not in message and message.isprintable()
    assert len(garbage_s3.seen) == 1  # garbage does not fix itself: not retried


def test_a_refused_endpoint_is_one_line_naming_host_and_cause(closed_port: int) -> None:
    client = s3.make_client(
        endpoint_url=f"http://127.0.0.1:{closed_port}", region="us-east-1",
        access_key_id="a", secret_access_key="b",
    )  # fmt: skip
    try:
        list(s3.list_objects("backups", "daily/", client=client))
    except s3.boto_errors() as exc:
        error = s3.translate(exc, query="s3://backups/daily/")
    else:
        pytest.fail("listing a closed port succeeded")
    # Before: "EndpointConnectionError: Could not connect to the endpoint URL: "http://..."".
    assert str(error) == f"s3: S3 at 127.0.0.1:{closed_port} unreachable: connection refused"


def test_an_html_page_is_named_by_its_title() -> None:
    page = b"<html><head><title>Captive portal</title></head><body>log in</body></html>"
    with canned_server() as server:
        server.on(lambda _: True, Route(200, page, content_type="text/html"))
        with pytest.raises(
            SourceError, match="answered HTTP 200 with an HTML page .* titled 'Captive portal'"
        ):
            list(s3.list_objects("backups", "", client=_client(server)))


def test_the_backup_inventory_is_unknown_when_s3_cannot_be_listed(
    garbage_s3: CannedServer, tmp_path: Path
) -> None:
    config = BackupsConfig.model_validate(
        {"s3": {"bucket": "backups", "endpoint_url": garbage_s3.url}}
    )
    inventory, findings, tiers = collect(config, root=tmp_path, s3_client=_client(garbage_s3))
    [finding] = findings
    assert (finding.severity, finding.title) == (Status.UNKNOWN, "S3 backups cannot be listed")
    assert "answered HTTP 200 with binary data" in finding.detail
    # Nothing was listed, so nothing is judged missing there: S3 is not a tier to hold copies.
    assert tiers == frozenset() and not inventory.objects
    policy = evaluate_policy(inventory.objects, now=NOW, tiers=tiers)
    assert not [f for f in policy.findings if "s3" in f.title]
