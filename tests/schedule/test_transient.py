"""The retry rule: only a source refusing or timing out is worth another attempt."""

from __future__ import annotations

import pytest

from sreworkbook.results import Finding, RunSummary, Status
from sreworkbook.schedule.runner import should_notify
from sreworkbook.schedule.transient import transient_reason


def failed(headline: str, detail: str = "") -> RunSummary:
    return RunSummary(
        status=Status.ERROR,
        headline=headline,
        findings=(Finding(Status.ERROR, "Notebook failed", detail),),
    )


@pytest.mark.parametrize(
    ("headline", "reason"),
    [
        ("The notebook failed at cell 4: SourceTimeout: prometheus: no answer in 5 s", "SourceTimeout"),
        ("The notebook failed at cell 4: ConnectionRefusedError: [Errno 111]", "ConnectionRefusedError"),
        ("The notebook failed at cell 2: requests.exceptions.ConnectTimeout: x", "ConnectTimeout"),
        ("The notebook failed at cell 3: ServerSelectionTimeoutError: 127.0.0.1:27018", "ServerSelectionTimeoutError"),
        ("The notebook failed at cell 3: SourceError: s3: connection refused", "SourceError (connection refused)"),
        ("The notebook failed at cell 3: HTTPError: 503 Server Error: Service Unavailable", "HTTPError (503)"),
        ("The notebook failed at cell 3: SourceError: prometheus: HTTP 401 unauthorized", None),
        ("The notebook failed at cell 3: HTTPError: 404 Client Error: Not Found", None),
        ("The notebook failed at cell 3: ValueError: timeout must be positive", None),
        ("The notebook failed: CellTimeoutError: a cell ran longer than 60 s", None),
        ("The notebook failed: DeadKernelError: the kernel died", None),
        ("The notebook failed at cell 5: KeyError: 'ConnectionErrorCount'", None),
    ],
)  # fmt: skip
def test_transient_causes(headline: str, reason: str | None) -> None:
    assert transient_reason(2, failed(headline)) == reason


def test_only_exit_code_2_is_retried() -> None:
    summary = failed("The notebook failed at cell 4: ConnectionRefusedError: x")
    assert transient_reason(1, summary) is None
    assert transient_reason(64, None, "ConnectionRefusedError") is None
    crit = RunSummary(status=Status.CRIT, headline="ConnectionRefusedError: redis down")
    assert transient_reason(2, crit) is None


def test_findings_and_stderr_are_read_when_needed() -> None:
    summary = failed("The notebook failed at cell 4", "cell 4 raised SourceTimeout: mongodb")
    assert transient_reason(2, summary) == "SourceTimeout"
    stderr = "Traceback ...\nsreworkbook: error: s3: EndpointConnectionError: could not connect\n"
    assert transient_reason(2, None, stderr) == "EndpointConnectionError"
    assert transient_reason(2, None, "sreworkbook: error: disk full") is None


@pytest.mark.parametrize(
    ("notify_on", "status", "expected"),
    [
        (("failure", "crit"), Status.ERROR, True),
        (("failure", "crit"), Status.CRIT, True),
        (("failure", "crit"), Status.UNKNOWN, True),
        (("failure", "crit"), Status.WARN, False),
        (("failure",), Status.CRIT, False),
        (("crit",), Status.ERROR, False),
        (("always",), Status.OK, True),
        ((), Status.ERROR, False),
    ],
)
def test_should_notify(notify_on: tuple[str, ...], status: Status, expected: bool) -> None:
    assert should_notify(notify_on, status) is expected
