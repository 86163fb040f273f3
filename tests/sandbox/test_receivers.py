"""The local receivers: the Slack-compatible webhook and the SMTP sink, in-process and as the
detached ``python -m sreworkbook.sandbox.receivers`` process the sandbox runs."""

from __future__ import annotations

import json
import mailbox
import os
import signal
import smtplib
import socket
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

import pytest
import requests

from sreworkbook.exceptions import SandboxError
from sreworkbook.sandbox.receivers import SlackReceiver, SMTPSink

FIXED = datetime(2024, 5, 1, 6, 0, tzinfo=UTC)


@pytest.fixture
def slack(tmp_path: Path) -> Iterator[SlackReceiver]:
    with SlackReceiver(jsonl_path=tmp_path / "slack.jsonl", now=lambda: FIXED) as receiver:
        yield receiver


def mail(subject: str = "hello", to: str = "team@example.com") -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = "workbook@example.com"
    message["To"] = to
    message.set_content("body text\n")
    return message


# ------------------------------------------------------------------------------- Slack-like


def test_slack_receiver_records_json_posts(slack: SlackReceiver, tmp_path: Path) -> None:
    answer = requests.post(slack.url, json={"text": "hi", "blocks": []}, timeout=5)
    assert (answer.status_code, answer.text) == (200, "ok")
    other = requests.post(f"http://127.0.0.1:{slack.port}/hooks/x", json=[1, 2], timeout=5)
    assert other.status_code == 200

    first, second = slack.received()
    assert (first.path, first.body) == ("/services/sandbox", {"text": "hi", "blocks": []})
    assert first.received_at == "2024-05-01T06:00:00+00:00"
    assert first.headers["content-type"] == "application/json"
    assert (second.path, second.body) == ("/hooks/x", [1, 2])
    lines = (tmp_path / "slack.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["body"] for line in lines] == [{"text": "hi", "blocks": []}, [1, 2]]
    listed = requests.get(f"http://127.0.0.1:{slack.port}/received", timeout=5).json()
    assert [item["path"] for item in listed] == ["/services/sandbox", "/hooks/x"]


def test_slack_receiver_rejects_what_slack_rejects(slack: SlackReceiver) -> None:
    answer = requests.post(slack.url, data=b"not json", timeout=5)
    assert (answer.status_code, answer.text) == (400, "invalid_payload")
    assert requests.post(slack.url, json="a string", timeout=5).status_code == 400
    assert slack.received() == () and slack.hits == 2
    assert requests.get(f"http://127.0.0.1:{slack.port}/nope", timeout=5).status_code == 404


def test_slack_receiver_fails_on_demand(slack: SlackReceiver) -> None:
    slack.fail_next(2, 429, retry_after=3)
    first = requests.post(slack.url, json={"text": "1"}, timeout=5)
    assert (first.status_code, first.text, first.headers["Retry-After"]) == (
        429,
        "rate_limited",
        "3",
    )
    slack.fail_next(1, 500)  # re-arming replaces what was left
    second = requests.post(slack.url, json={"text": "2"}, timeout=5)
    assert (second.status_code, second.text) == (500, "rollup_error")
    assert "Retry-After" not in second.headers
    assert requests.post(slack.url, json={"text": "3"}, timeout=5).status_code == 200
    assert [p.body["text"] for p in slack.received()] == ["3"]
    assert slack.hits == 3


def test_slack_receiver_wait_for_and_clear(slack: SlackReceiver) -> None:
    assert slack.wait_for(1, timeout_s=0.05) == ()
    requests.post(slack.url, json={"text": "x"}, timeout=5)
    assert len(slack.wait_for(1, timeout_s=2)) == 1
    slack.clear()
    assert slack.received() == ()


def test_slack_receiver_port_lifecycle() -> None:
    receiver = SlackReceiver()
    with pytest.raises(SandboxError, match="not started"):
        _ = receiver.port
    receiver.start()
    port = receiver.port
    with pytest.raises(SandboxError, match=f"cannot listen on 127.0.0.1:{port}"):
        SlackReceiver(port=port).start()
    receiver.stop()
    receiver.stop()  # idempotent
    with pytest.raises(requests.ConnectionError):
        requests.post(f"http://127.0.0.1:{port}/", json={}, timeout=2)


# --------------------------------------------------------------------------------- SMTP sink


def test_smtp_sink_records_to_memory_jsonl_and_mbox(tmp_path: Path) -> None:
    with SMTPSink(
        jsonl_path=tmp_path / "mail.jsonl", mbox_path=tmp_path / "mail.mbox", now=lambda: FIXED
    ) as sink:
        with smtplib.SMTP("127.0.0.1", sink.port, timeout=5) as client:
            client.send_message(mail("first"))
            client.send_message(mail("second", to="a@example.com, b@example.com"))
        assert sink.url == f"smtp://127.0.0.1:{sink.port}"
        first, second = sink.received()
    assert (first.subject, first.mail_from, first.rcpt_tos) == (
        "first",
        "workbook@example.com",
        ("team@example.com",),
    )
    assert second.rcpt_tos == ("a@example.com", "b@example.com")
    assert first.received_at == "2024-05-01T06:00:00+00:00" and not first.tls
    assert "body text" in first.message().get_content()
    lines = [json.loads(line) for line in (tmp_path / "mail.jsonl").read_text().splitlines()]
    assert [line["subject"] for line in lines] == ["first", "second"]
    assert "body text" in lines[0]["data"]
    box = mailbox.mbox(tmp_path / "mail.mbox")
    try:
        assert [m["Subject"] for m in box] == ["first", "second"]
    finally:
        box.close()


def test_smtp_sink_fails_on_demand_and_checks_credentials() -> None:
    with SMTPSink(credentials={"alerts": "secret-pw"}) as sink:
        sink.fail_next(1, 451)
        with smtplib.SMTP("127.0.0.1", sink.port, timeout=5) as client:
            with pytest.raises(smtplib.SMTPDataError) as refused:
                client.send_message(mail())
            assert refused.value.smtp_code == 451
            with pytest.raises(smtplib.SMTPAuthenticationError):
                client.login("alerts", "wrong")
            client.login("alerts", "secret-pw")
            client.send_message(mail("after login"))
        (received,) = sink.received()
    assert (received.subject, received.login) == ("after login", "alerts")


def test_smtp_sink_busy_port_is_a_sandbox_error() -> None:
    with socket.create_server(("127.0.0.1", 0)) as busy:
        port = busy.getsockname()[1]
        with pytest.raises(SandboxError, match=f"smtp-sink: cannot listen on 127.0.0.1:{port}"):
            SMTPSink(port=port).start()


# --------------------------------------------------------------------------- the process


def test_detached_process_serves_until_sigterm(tmp_path: Path) -> None:
    folder = tmp_path / "receivers"
    process = subprocess.Popen(
        [sys.executable, "-m", "sreworkbook.sandbox.receivers", "--dir", str(folder)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONWARNINGS": "error"},
    )
    try:
        assert process.stdout is not None
        info = json.loads(process.stdout.readline())
        assert info == json.loads((folder / "receivers.json").read_text())
        assert info["pid"] == process.pid
        answer = requests.post(info["slack_url"], json={"text": "from a test"}, timeout=5)
        assert answer.text == "ok"
        with smtplib.SMTP(info["smtp_host"], info["smtp_port"], timeout=5) as client:
            client.send_message(mail("to the sink"))
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=15)
    assert process.returncode == 0, stderr
    assert json.loads((folder / "slack.jsonl").read_text())["body"] == {"text": "from a test"}
    assert json.loads((folder / "mail.jsonl").read_text())["subject"] == "to the sink"
    assert (folder / "mail.mbox").stat().st_size > 0
    assert not (folder / "receivers.json").exists()


def test_detached_process_bad_arguments_exit_64(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "sreworkbook.sandbox.receivers", "--slack-port", "x"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 64
    assert "--slack-port" in done.stderr
