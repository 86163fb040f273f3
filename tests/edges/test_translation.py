"""Every third-party error, through every edge and everything built on one, comes out as a
workbook error naming the service: each ``requests`` exception through the HTTP edge's users,
each botocore exception through the S3 edge's users."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from sreworkbook.checks.net import http_get
from sreworkbook.config import DatadogConfig, NewRelicConfig
from sreworkbook.edges import s3
from sreworkbook.edges.retry import RetryPolicy
from sreworkbook.exceptions import WorkbookError
from sreworkbook.index.storage import S3Outputs
from sreworkbook.notify import Notification, PagerDutyNotifier, SlackNotifier, WebhookNotifier
from sreworkbook.results import Status
from sreworkbook.sources.datadog import DatadogBackend
from sreworkbook.sources.logs import S3LogStore
from sreworkbook.sources.newrelic import NewRelicBackend
from sreworkbook.sources.prometheus import PrometheusSource
from support.errors import RaisingS3, botocore_errors, raising_session, requests_errors

START = datetime(2026, 11, 3, 10, 0, tzinfo=UTC)
END = START + timedelta(minutes=5)
NO_WAIT: dict[str, Any] = {"sleep": lambda s: None}


def _prometheus(session: requests.Session) -> None:
    PrometheusSource("http://127.0.0.1:1", session=session, retries=1, **NO_WAIT).query("up")


def _newrelic(session: requests.Session) -> None:
    config = NewRelicConfig(account_id=1, api_key="k", endpoint="http://127.0.0.1:1/graphql")
    backend = NewRelicBackend(config, {}, session=session, retries=1, **NO_WAIT)
    backend.panel("rpm", START, END, 60)


def _datadog(session: requests.Session) -> None:
    config = DatadogConfig(api_key="a", app_key="b", site_url="http://127.0.0.1:1")
    DatadogBackend(config, {}, session=session, retries=1, **NO_WAIT).panel("rpm", START, END, 60)


def _health_probe(session: requests.Session) -> None:
    http_get("http://127.0.0.1:1/health", timeout_s=1, session=session)


HTTP_USERS: dict[str, tuple[str, Callable[[requests.Session], None]]] = {
    "prometheus": ("prometheus", _prometheus),
    "newrelic": ("newrelic", _newrelic),
    "datadog": ("datadog", _datadog),
    "health probe": ("http://127.0.0.1:1/health", _health_probe),
}


@pytest.mark.parametrize("user", sorted(HTTP_USERS))
def test_every_requests_error_through_every_http_user(user: str) -> None:
    service, call = HTTP_USERS[user]
    for error in requests_errors():
        with pytest.raises(WorkbookError) as caught:
            call(raising_session(error))
        assert str(caught.value).startswith(f"{service}: "), (type(error).__name__, caught.value)
        assert "s3cret" not in str(caught.value)


@pytest.mark.parametrize("kind", [SlackNotifier, WebhookNotifier, PagerDutyNotifier])
def test_every_requests_error_through_every_notifier_is_a_failed_delivery(kind: type) -> None:
    message = Notification("t", Status.CRIT, "down", dedup_key="k")
    for error in requests_errors():
        notifier = kind(
            "http://127.0.0.1:1/hook",
            session=raising_session(error),
            policy=RetryPolicy(retries=1, jitter=0),
            **NO_WAIT,
        )
        delivery = notifier.send(message)
        assert not delivery.ok and delivery.notifier == notifier.name, type(error).__name__
        assert delivery.detail and "s3cret" not in delivery.detail


def _outputs(client: Any) -> None:
    with S3Outputs("s3://bucket/prefix", client=client).ledger_file():
        pass


def _outputs_run_folders(client: Any) -> None:
    list(S3Outputs("s3://bucket/prefix", client=client).run_folders())


S3_USERS: dict[str, Callable[[Any], object]] = {
    "list_objects": lambda c: list(s3.list_objects("bucket", "p/", client=c)),
    "open_object": lambda c: s3.open_object("s3://bucket/key", client=c),
    "head_object": lambda c: s3.head_object("s3://bucket/key", client=c),
    "download": lambda c: s3.download("s3://bucket/key", io.BytesIO(), client=c),
    "logs list": lambda c: S3LogStore(c, "bucket", "logs").list(),
    "logs open": lambda c: S3LogStore(c, "bucket", "logs").open("combined-2026-11-03.log"),
    "outputs ledger": _outputs,
    "outputs runs": _outputs_run_folders,
}


@pytest.mark.parametrize("user", sorted(S3_USERS))
def test_every_botocore_error_through_every_s3_user(user: str) -> None:
    errors = botocore_errors()
    assert len(errors) > 50  # the whole tree, not a sample
    for error in errors:
        if user == "outputs ledger" and s3.is_missing(error):
            continue  # no ledger yet is an empty one, not an error
        with pytest.raises(WorkbookError) as caught:
            S3_USERS[user](RaisingS3(error))
        text = str(caught.value)
        assert "s3" in text, (type(error).__name__, text)


def test_a_stream_that_breaks_while_reading_is_a_workbook_error() -> None:
    class Body(io.RawIOBase):
        def __init__(self, error: BaseException) -> None:
            super().__init__()
            self.error = error

        def read(self, size: int = -1) -> bytes:
            raise self.error

    for error in [*botocore_errors()[:10], ConnectionResetError("reset by peer")]:
        stream = s3.S3Stream(Body(error), url="s3://bucket/key")
        with pytest.raises(WorkbookError, match="s3"):
            stream.read(10)
