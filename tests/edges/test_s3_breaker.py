"""An S3 endpoint that did not answer is not called again for a while, by any client.

Before, every S3 step of a run against a hanging endpoint waited through its own tries in turn
(the backup runbook's two steps: 58 s of a 60 s budget).
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator

import pytest

from sreworkbook.edges import s3
from sreworkbook.exceptions import SourceError, SourceTimeout
from support.http import CannedServer, Route, canned_server

TIMEOUT_S = 0.5
LISTING = b"""<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
<Name>backups</Name><Prefix>daily/</Prefix><KeyCount>1</KeyCount><MaxKeys>1000</MaxKeys>
<IsTruncated>false</IsTruncated>
<Contents><Key>daily/db.tar.gz</Key><LastModified>2026-12-07T02:00:00.000Z</LastModified>
<ETag>"abc"</ETag><Size>1234</Size><StorageClass>STANDARD</StorageClass></Contents>
</ListBucketResult>"""


@pytest.fixture
def hanging_s3() -> Iterator[CannedServer]:
    """Accepts every request and never answers."""
    with canned_server() as server:
        server.on(lambda _: True, Route(hang=True))
        yield server


def _client(url: str) -> object:
    return s3.make_client(
        endpoint_url=url, region="us-east-1", timeout_s=TIMEOUT_S,
        access_key_id="a", secret_access_key="b",
    )  # fmt: skip


def _list(url: str) -> list[s3.S3Object]:
    return list(s3.list_objects("backups", "daily/", client=_client(url)))


def test_after_a_timeout_a_new_client_fails_at_once_without_sending(
    hanging_s3: CannedServer,
) -> None:
    began = time.monotonic()
    with pytest.raises(SourceTimeout):
        _list(hanging_s3.url)
    first_s = time.monotonic() - began
    assert len(hanging_s3.seen) == 3  # botocore's own three tries, each waited out
    assert first_s >= 3 * TIMEOUT_S

    client = _client(hanging_s3.url)  # a new one: the state is the process's, not a client's
    began = time.monotonic()
    with pytest.raises(SourceTimeout) as caught:
        list(s3.list_objects("backups", "daily/", client=client))
    second_s = time.monotonic() - began
    assert second_s < TIMEOUT_S, second_s  # one try sent would wait TIMEOUT_S at least
    assert len(hanging_s3.seen) == 3  # nothing sent
    error = caught.value
    assert (error.source, error.attempts) == ("s3", 0)
    # "just now", or "1 s ago" where making the second client took that long on a busy machine
    assert re.fullmatch(
        rf"s3: S3 at 127\.0\.0\.1:{hanging_s3.port} did not answer within 0\.5 s "
        r"\((just now|\d+ s ago)\): not tried again",
        str(error),
    ), str(error)


def test_after_the_cool_off_the_endpoint_is_tried_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    now = [1000.0]
    monkeypatch.setattr(s3.BREAKER, "clock", lambda: now[0])
    with canned_server() as server:
        server.then(Route(hang=True), Route(hang=True), Route(hang=True))
        server.on(lambda _: True, Route(200, LISTING, content_type="application/xml"))
        with pytest.raises(SourceTimeout):
            _list(server.url)
        assert len(server.seen) == 3
        assert "within 0.5 s (just now): not tried again" in str(s3.BREAKER.refusal(server.url))

        now[0] += s3.COOL_OFF_S - 1  # still cooling off: refused, the age from the timeout
        with pytest.raises(SourceTimeout) as caught:
            _list(server.url)
        assert caught.value.detail == (
            f"S3 at 127.0.0.1:{server.port} did not answer within 0.5 s (59 s ago): not tried again"
        )
        assert len(server.seen) == 3

        now[0] += 1  # a refusal did not restart the cool-off: over now
        [listed] = _list(server.url)
        assert (listed.key, listed.size) == ("daily/db.tar.gz", 1234)
        assert len(server.seen) == 4
        assert s3.BREAKER.refusal(server.url) is None


def test_a_refused_connection_does_not_stop_later_calls(closed_port: int) -> None:
    url = f"http://127.0.0.1:{closed_port}"
    for _ in range(2):  # both sent: each is refused by the port, not by the breaker
        with pytest.raises(SourceError) as caught:
            _list(url)
        assert not isinstance(caught.value, SourceTimeout)
        assert (
            str(caught.value)
            == f"s3: S3 at 127.0.0.1:{closed_port} unreachable: connection refused"
        )
    assert s3.BREAKER.refusal(url) is None


def test_a_call_already_retrying_stops_at_its_next_try(hanging_s3: CannedServer) -> None:
    def another_call_times_out() -> None:  # while this one waits for its first try
        while not hanging_s3.seen:
            time.sleep(0.01)
        s3.BREAKER.failed(hanging_s3.url, 7.0)

    marker = threading.Thread(target=another_call_times_out, daemon=True)
    marker.start()
    with pytest.raises(SourceTimeout, match=r"did not answer within 7 s \((just now|\d s ago)\)"):
        _list(hanging_s3.url)
    marker.join(5)
    assert len(hanging_s3.seen) == 1  # its second and third tries were not sent


def test_other_endpoints_are_not_affected(hanging_s3: CannedServer) -> None:
    with pytest.raises(SourceTimeout):
        _list(hanging_s3.url)
    with canned_server() as healthy:
        healthy.on(lambda _: True, Route(200, LISTING, content_type="application/xml"))
        assert [o.size for o in _list(healthy.url)] == [1234]


def test_a_body_that_stops_coming_opens_it_too() -> None:
    with canned_server() as server:
        server.on(lambda r: r.method == "GET", Route(body=b"x" * 1000, stall_after=100))
        client = _client(server.url)
        stream = s3.open_object("s3://backups/daily/db.tar.gz", client=client)
        began = time.monotonic()
        with pytest.raises(SourceTimeout):
            stream.read()
        assert time.monotonic() - began >= TIMEOUT_S
        refusal = s3.BREAKER.refusal(server.url)
        assert refusal is not None and f"127.0.0.1:{server.port}" in refusal
        before = len(server.seen)
        with pytest.raises(SourceTimeout, match="not tried again"):
            _list(server.url)
        assert len(server.seen) == before
