"""Notifiers against real local servers: the Slack-compatible receiver, an aiosmtpd sink, and a
replay server for recorded PagerDuty answers (PagerDuty itself is never called)."""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import socket
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests

from sreworkbook.alerts.notify import (
    PAGERDUTY_EVENTS_URL,
    Delivery,
    EmailNotifier,
    Notification,
    Notifier,
    PagerDutyNotifier,
    RetryPolicy,
    SlackNotifier,
    WebhookNotifier,
    delivery_findings,
    email_message,
    notifiers_for,
    notify_all,
    pagerduty_event,
    severity_of,
    slack_payload,
    webhook_payload,
)
from sreworkbook.alerts.notify_base import _retry_after
from sreworkbook.config import NotificationsConfig
from sreworkbook.receivers import SlackReceiver, SMTPSink
from sreworkbook.results import Finding, RunSummary, Status
from sreworkbook.secrets import Scrubber

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "pagerduty"
SECRET_PATH = "/services/T0SRE/B0WORK/s3cr3tT0kenXYZ"
ROUTING_KEY = "R0UT1NGKEYR0UT1NGKEYR0UT1NGKEY01"


class Sleeps(list[float]):
    """An injectable ``sleep`` that records instead of waiting."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def summary(status: Status = Status.CRIT, **changes: Any) -> RunSummary:
    base: dict[str, Any] = {
        "status": status,
        "headline": "Error rate 7.2 % over 5 min on /api/trades",
        "metrics": {"error_rate": 0.0724, "p95_ms": 2412.5, "requests": 182_340.0},
        "findings": (
            Finding(Status.WARN, "p95 latency above 2 s", "2.41 s for 12 min"),
            Finding(Status.CRIT, "Error rate above 5 %", "7.2 % for 9 min"),
            Finding(Status.OK, "Memory normal"),
        ),
        "notebook": "health_inspection",
        "env": "prod",
        "run_id": "20240501T0600-ab12",
        "finished_at": "2024-05-01T06:01:12+00:00",
        "parameters": {"mongodb_uri": "mongodb://app:***@db/tradeai"},
        "report": "runs/2024-05-01/20240501T0600-ab12/report.html",
    }
    base.update(changes)
    return RunSummary(**base)


REPORT_URL = "https://reports.example.com/runs/2024-05-01/20240501T0600-ab12/report.html"


@pytest.fixture
def message() -> Notification:
    return Notification.from_summary(summary(), REPORT_URL)


@pytest.fixture
def slack() -> Iterator[SlackReceiver]:
    with SlackReceiver() as receiver:
        yield receiver


@pytest.fixture
def sink() -> Iterator[SMTPSink]:
    with SMTPSink() as server:
        yield server


def fast(retries: int = 3) -> RetryPolicy:
    return RetryPolicy(timeout_s=2.0, retries=retries)


# ----------------------------------------------------------------------------- the message


def test_from_summary_builds_the_job_message(message: Notification) -> None:
    assert message.title == "health_inspection on prod"
    assert message.status is Status.CRIT and not message.resolved
    assert message.label == "CRIT"
    assert message.fields == (
        ("error_rate", "0.0724"),
        ("p95_ms", "2,412.5"),
        ("requests", "182,340"),
    )
    assert message.summary.splitlines() == [
        "CRIT — Error rate above 5 %: 7.2 % for 9 min",
        "WARN — p95 latency above 2 s: 2.41 s for 12 min",
    ]
    assert message.dedup_key == "sreworkbook:prod:health_inspection"
    assert message.source == "prod"
    assert "parameters" not in message.details
    assert message.details["run_id"] == "20240501T0600-ab12"


def test_from_summary_resolves_ok_runs_and_cuts_long_lists() -> None:
    ok = Notification.from_summary(summary(Status.OK), REPORT_URL)
    assert ok.resolved and ok.label == "RESOLVED"
    assert ok.dedup_key == "sreworkbook:prod:health_inspection"
    many = tuple(Finding(Status.WARN, f"finding {i}") for i in range(8))
    cut = Notification.from_summary(summary(findings=many), REPORT_URL, max_findings=3)
    assert cut.summary.splitlines()[-1] == "… and 5 more findings in the report"
    assert not Notification.from_summary(summary(Status.OK), "", resolved=False).resolved


def test_scrubbed_masks_secret_values_everywhere() -> None:
    leaky = summary(
        headline="login failed for mongodb://app:hunter2-pw@db/tradeai",
        findings=(Finding(Status.CRIT, "auth", "password hunter2-pw refused"),),
    )
    message = Notification.from_summary(leaky, REPORT_URL).scrubbed(Scrubber(["hunter2-pw"]))
    assert "hunter2-pw" not in json.dumps(message.to_dict())
    assert message.headline == "login failed for mongodb://app:***@db/tradeai"
    assert message.details["findings"][0]["detail"] == "password *** refused"


def test_retry_after_accepts_seconds_and_http_dates() -> None:
    def answer(**headers: str) -> requests.Response:
        response = requests.Response()
        response.status_code = 429
        response.headers.update(headers)
        return response

    assert _retry_after(answer()) is None
    assert _retry_after(answer(**{"Retry-After": "12"})) == 12.0
    assert _retry_after(answer(**{"Retry-After": "soon"})) is None
    dated = answer(
        **{"Retry-After": "Wed, 01 May 2024 06:00:30 GMT", "Date": "Wed, 01 May 2024 06:00:00 GMT"}
    )
    assert _retry_after(dated) == 30.0


def test_severity_follows_status() -> None:
    assert [severity_of(s) for s in Status] == [
        "info",  # OK
        "warning",  # WARN
        "critical",  # CRIT
        "error",  # UNKNOWN
        "info",  # SKIPPED
        "error",  # ERROR (the notebook itself failed)
    ]


def test_retry_policy_backoff_doubles_and_is_capped() -> None:
    policy = RetryPolicy(backoff_s=1.0, max_backoff_s=5.0)
    assert [policy.backoff(n) for n in (1, 2, 3, 4)] == [1.0, 2.0, 4.0, 5.0]
    with pytest.raises(ValueError, match="timeout_s"):
        RetryPolicy(timeout_s=0)


# ----------------------------------------------------------------------------------- Slack


def test_slack_payload_escapes_and_limits() -> None:
    message = Notification(
        title="x" * 200,
        status=Status.WARN,
        headline="a <b> & c",
        fields=tuple((f"m{i}", str(i)) for i in range(14)),
        report_url="file:///tmp/report.html",
    )
    payload = slack_payload(message, channel="#tradeai-alerts")
    assert payload["channel"] == "#tradeai-alerts"
    header, status = payload["blocks"]
    assert len(header["text"]["text"]) == 150
    assert status["text"]["text"] == ":warning: *WARN* — a &lt;b&gt; &amp; c"
    attachment = payload["attachments"][0]
    assert len(attachment["blocks"][0]["fields"]) == 10
    kinds = [block["type"] for block in attachment["blocks"]]
    assert "actions" not in kinds  # Slack refuses a button whose URL is not http(s)
    assert "file:///tmp/report.html" in json.dumps(attachment)


def test_slack_delivers_blocks_to_the_receiver(slack: SlackReceiver, message: Notification) -> None:
    delivery = SlackNotifier(slack.url, policy=fast()).send(message)

    assert delivery == Delivery("slack", True, 1, 200, "HTTP 200: ok", 0.0)
    (post,) = slack.received()
    assert post.path == "/services/sandbox"
    assert post.headers["content-type"] == "application/json"
    body = post.body
    assert body["text"].startswith("CRIT: health_inspection on prod — Error rate 7.2 %")
    header, status = body["blocks"]
    assert header == {
        "type": "header",
        "text": {"type": "plain_text", "text": "CRIT · health_inspection on prod", "emoji": True},
    }
    assert status["text"] == {
        "type": "mrkdwn",
        "text": ":red_circle: *CRIT* — Error rate 7.2 % over 5 min on /api/trades",
    }
    (attachment,) = body["attachments"]
    assert attachment["color"] == Status.CRIT.colour
    fields, findings, actions, context = attachment["blocks"]
    assert [f["text"] for f in fields["fields"]] == [
        "*error_rate*\n0.0724",
        "*p95_ms*\n2,412.5",
        "*requests*\n182,340",
    ]
    assert findings["text"]["text"].startswith("CRIT — Error rate above 5 %")
    (button,) = actions["elements"]
    assert button["type"] == "button" and button["url"] == REPORT_URL
    assert context["elements"][0]["text"] == "prod · sreworkbook:prod:health_inspection"


def test_slack_resolved_is_green(slack: SlackReceiver) -> None:
    message = Notification.from_summary(summary(Status.OK), REPORT_URL)
    assert SlackNotifier(slack.url).send(message).ok
    body = slack.received()[0].body
    assert body["attachments"][0]["color"] == Status.OK.colour
    assert body["blocks"][0]["text"]["text"].startswith("RESOLVED · ")


def test_slack_429_then_200_waits_retry_after_once(message: Notification) -> None:
    sleeps = Sleeps()
    with SlackReceiver(fail_first=1, fail_status=429, retry_after=7) as slack:
        delivery = SlackNotifier(slack.url, policy=fast(), sleep=sleeps).send(message)
        assert slack.hits == 2
        assert len(slack.received()) == 1
    assert delivery.ok and delivery.attempts == 2 and delivery.status_code == 200
    assert sleeps == [7.0]
    assert delivery.waited_s == 7.0


def test_slack_5xx_backs_off_exponentially(slack: SlackReceiver, message: Notification) -> None:
    sleeps = Sleeps()
    slack.fail_next(2, 500)
    delivery = SlackNotifier(slack.url, policy=fast(), sleep=sleeps).send(message)
    assert delivery.ok and delivery.attempts == 3
    assert sleeps == [1.0, 2.0]


def test_slack_gives_up_after_the_retries(slack: SlackReceiver, message: Notification) -> None:
    sleeps = Sleeps()
    slack.fail_next(10, 503)
    delivery = SlackNotifier(slack.url, policy=fast(retries=2), sleep=sleeps).send(message)
    assert not delivery.ok
    assert delivery.attempts == 3 and delivery.status_code == 503
    assert delivery.detail.endswith("gave up after 3 attempts")
    assert sleeps == [1.0, 2.0]
    assert slack.received() == ()


def test_slack_too_long_retry_after_ends_at_once(
    slack: SlackReceiver, message: Notification
) -> None:
    sleeps = Sleeps()
    slack.fail_next(1, 429, retry_after=3600)
    delivery = SlackNotifier(slack.url, policy=fast(), sleep=sleeps).send(message)
    assert not delivery.ok and delivery.attempts == 1 and delivery.status_code == 429
    assert "Retry-After 3600 s is longer than the 60 s" in delivery.detail
    assert sleeps == []


def test_slack_client_errors_are_final(slack: SlackReceiver, message: Notification) -> None:
    slack.fail_next(1, 404)
    delivery = SlackNotifier(slack.url, policy=fast(), sleep=Sleeps()).send(message)
    assert delivery == Delivery("slack", False, 1, 404, "HTTP 404: no_service", 0.0)


def test_slack_receiver_down_is_a_failed_delivery_not_an_exception(message: Notification) -> None:
    with SlackReceiver() as slack:
        url = f"http://127.0.0.1:{slack.port}{SECRET_PATH}"
    sleeps = Sleeps()
    notifier = SlackNotifier(url, policy=fast(retries=2), sleep=sleeps)

    delivery = notifier.send(message)

    assert not delivery.ok
    assert delivery.attempts == 3 and delivery.status_code is None
    assert delivery.detail.startswith("cannot connect to 127.0.0.1:")
    assert sleeps == [1.0, 2.0]
    assert "s3cr3tT0ken" not in delivery.detail + repr(notifier)


def test_slack_timeout_is_retried_then_reported(message: Notification) -> None:
    with socket.create_server(("127.0.0.1", 0)) as silent:  # accepts, never answers
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/hook"
        policy = RetryPolicy(timeout_s=0.3, retries=1)
        delivery = SlackNotifier(url, policy=policy, sleep=Sleeps()).send(message)
    assert not delivery.ok and delivery.attempts == 2
    assert "no answer from 127.0.0.1" in delivery.detail and "within 0.3 s" in delivery.detail


def test_slack_secret_is_resolved_only_when_sending(
    slack: SlackReceiver, message: Notification
) -> None:
    notifier = SlackNotifier("${SLACK_WEBHOOK_URL}", environ={"SLACK_WEBHOOK_URL": slack.url})
    assert "SLACK_WEBHOOK_URL" in repr(notifier)
    assert notifier.send(message).ok

    missing = SlackNotifier("${SLACK_WEBHOOK_URL}", environ={}).send(message)
    assert missing == Delivery(
        "slack",
        False,
        0,
        None,
        "environment variable SLACK_WEBHOOK_URL is not set "
        "(used by notifications.slack.webhook_url)",
    )


# ---------------------------------------------------------------------------------- e-mail


def test_email_reaches_the_sink(sink: SMTPSink, message: Notification) -> None:
    notifier = EmailNotifier(
        "127.0.0.1",
        "SRE Workbook <workbook@example.com>",
        ["team@example.com", "oncall@example.com"],
        smtp_port=sink.port,
        starttls=False,
        policy=fast(),
    )
    delivery = notifier.send(message)

    assert delivery.ok and delivery.attempts == 1 and delivery.status_code == 250
    assert delivery.detail == (
        f"accepted by 127.0.0.1:{sink.port} for 2 recipients; no local report to attach"
    )
    (mail,) = sink.received()
    assert not mail.tls and mail.login is None
    assert mail.mail_from == "workbook@example.com"
    assert mail.rcpt_tos == ("team@example.com", "oncall@example.com")
    assert mail.subject == (
        "[CRIT] health_inspection on prod: Error rate 7.2 % over 5 min on /api/trades"
    )
    parsed = mail.message()
    assert parsed["To"] == "team@example.com, oncall@example.com"
    assert parsed["X-SREWorkbook-Dedup-Key"] == "sreworkbook:prod:health_inspection"
    text = parsed.get_body(preferencelist=("plain",))
    html = parsed.get_body(preferencelist=("html",))
    assert text is not None and html is not None
    assert f"Report: {REPORT_URL}" in text.get_content()
    assert "p95_ms" in text.get_content() and "2,412.5" in text.get_content()
    assert f'href="{REPORT_URL}"' in html.get_content()
    assert [part.get_filename() for part in parsed.iter_attachments()] == []


def test_email_attaches_a_small_report_and_links_a_large_one(
    sink: SMTPSink, tmp_path: Path
) -> None:
    small = tmp_path / "report.html"
    small.write_text("<html><body>the report</body></html>", encoding="utf-8")
    large = tmp_path / "big" / "report.html"
    large.parent.mkdir()
    large.write_bytes(b"x" * (5 * 1024 * 1024))
    notifier = EmailNotifier(
        "127.0.0.1",
        "workbook@example.com",
        ["team@example.com"],
        smtp_port=sink.port,
        starttls=False,
    )

    sent_small = notifier.send(
        Notification.from_summary(summary(), REPORT_URL, report_path=str(small))
    )
    sent_large = notifier.send(
        Notification.from_summary(summary(), REPORT_URL, report_path=str(large))
    )

    assert sent_small.ok and sent_small.detail.endswith("report attached (0 KB)")
    assert sent_large.ok and sent_large.detail.endswith(
        "report not attached (5.0 MB, limit 5.0 MB)"
    )
    first, second = (mail.message() for mail in sink.wait_for(2))
    (attachment,) = first.iter_attachments()
    assert attachment.get_filename() == "report.html"
    assert attachment.get_content_type() == "text/html"
    assert "the report" in attachment.get_content()
    assert list(second.iter_attachments()) == []
    body = second.get_body(preferencelist=("plain",))
    assert body is not None and REPORT_URL in body.get_content()


def _self_signed(folder: Path) -> tuple[Path, Path]:
    x509 = pytest.importorskip("cryptography.x509")
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "smtp.pem", folder / "smtp.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


def test_email_starttls_and_login(tmp_path: Path, message: Notification) -> None:
    cert_file, key_file = _self_signed(tmp_path)
    server_tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_tls.load_cert_chain(cert_file, key_file)
    client_tls = ssl.create_default_context(cafile=str(cert_file))
    with SMTPSink(
        tls_context=server_tls, require_starttls=True, credentials={"alerts": "pa55-w0rd!"}
    ) as sink:
        port = sink.port
        notifier = EmailNotifier(
            "127.0.0.1",
            "workbook@example.com",
            ["team@example.com"],
            smtp_port=sink.port,
            username="alerts",
            password="${SMTP_PASSWORD}",
            tls_context=client_tls,
            environ={"SMTP_PASSWORD": "pa55-w0rd!"},
            policy=fast(),
        )
        assert notifier.send(message).ok
        (mail,) = sink.received()
        assert mail.tls and mail.login == "alerts"
        plain = EmailNotifier(
            "127.0.0.1",
            "workbook@example.com",
            ["team@example.com"],
            smtp_port=port,
            starttls=False,  # the sink demands it: the refusal is final, not retried
            policy=fast(),
            sleep=Sleeps(),
        ).send(message)
        assert not plain.ok and plain.attempts == 1 and plain.status_code == 530
        assert plain.detail.endswith("answered 530 Must issue a STARTTLS command first")

        wrong = EmailNotifier(
            "127.0.0.1",
            "workbook@example.com",
            ["team@example.com"],
            smtp_port=sink.port,
            username="alerts",
            password="not-the-pa55",
            tls_context=client_tls,
            policy=fast(),
            sleep=Sleeps(),
        ).send(message)
    assert not wrong.ok and wrong.attempts == 1 and wrong.status_code == 535
    assert wrong.detail.startswith(f"login refused by 127.0.0.1:{port}: 535")
    assert "not-the-pa55" not in wrong.detail


def test_email_implicit_tls(tmp_path: Path, message: Notification) -> None:
    cert_file, key_file = _self_signed(tmp_path)
    server_tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_tls.load_cert_chain(cert_file, key_file)
    with SMTPSink(tls_context=server_tls, implicit_tls=True) as sink:
        delivery = EmailNotifier(
            "127.0.0.1",
            "workbook@example.com",
            ["team@example.com"],
            smtp_port=sink.port,
            implicit_tls=True,
            tls_context=ssl.create_default_context(cafile=str(cert_file)),
            policy=fast(),
        ).send(message)
        assert delivery.ok
        (mail,) = sink.received()
        assert mail.tls

        untrusted = EmailNotifier(
            "127.0.0.1",
            "workbook@example.com",
            ["team@example.com"],
            smtp_port=sink.port,
            implicit_tls=True,
            policy=fast(),
            sleep=Sleeps(),
        ).send(message)
    assert not untrusted.ok and untrusted.attempts == 1
    assert "certificate verify failed" in untrusted.detail or "self-signed" in untrusted.detail


def test_email_refuses_to_downgrade_when_starttls_is_missing(
    sink: SMTPSink, message: Notification
) -> None:
    delivery = EmailNotifier(
        "127.0.0.1", "workbook@example.com", ["team@example.com"], smtp_port=sink.port
    ).send(message)
    assert not delivery.ok and delivery.attempts == 1
    assert "does not offer STARTTLS" in delivery.detail
    assert sink.received() == ()


def test_email_login_without_auth_on_the_server_is_final(
    sink: SMTPSink, message: Notification
) -> None:
    delivery = EmailNotifier(
        "127.0.0.1",
        "workbook@example.com",
        ["team@example.com"],
        smtp_port=sink.port,
        starttls=False,
        username="alerts",
        password="pw",
        policy=fast(),
        sleep=Sleeps(),
    ).send(message)
    assert not delivery.ok and delivery.attempts == 1
    assert delivery.detail == (
        f"127.0.0.1:{sink.port}: SMTP AUTH extension not supported by server."
    )


def test_email_retries_a_4xx_reply(sink: SMTPSink, message: Notification) -> None:
    sleeps = Sleeps()
    sink.fail_next(1, 451)
    delivery = EmailNotifier(
        "127.0.0.1",
        "workbook@example.com",
        ["team@example.com"],
        smtp_port=sink.port,
        starttls=False,
        policy=fast(),
        sleep=sleeps,
    ).send(message)
    assert delivery.ok and delivery.attempts == 2 and sleeps == [1.0]
    assert len(sink.received()) == 1


def test_email_server_down_is_a_failed_delivery(message: Notification) -> None:
    with SMTPSink() as sink:
        port = sink.port
    sleeps = Sleeps()
    delivery = EmailNotifier(
        "127.0.0.1",
        "workbook@example.com",
        ["team@example.com"],
        smtp_port=port,
        starttls=False,
        policy=fast(retries=1),
        sleep=sleeps,
    ).send(message)
    assert not delivery.ok and delivery.attempts == 2 and sleeps == [1.0]
    assert delivery.detail == (
        f"cannot connect to 127.0.0.1:{port} (ConnectionRefusedError); gave up after 2 attempts"
    )


def test_email_message_is_built_without_a_server(message: Notification) -> None:
    mail, note = email_message(message, "workbook@example.com", ["a@example.com"])
    assert note == "no local report to attach"
    assert mail["Message-ID"].endswith("@example.com>")
    assert mail.get_content_type() == "multipart/alternative"


# ------------------------------------------------------------------------------- PagerDuty


class PagerDutyReplay:
    """Serves recorded PagerDuty answers in order (the last one repeats); records events."""

    def __init__(self, *names: str) -> None:
        self.answers = [json.loads((FIXTURES / f"{n}.json").read_text()) for n in names]
        self.events: list[dict[str, Any]] = []
        replay = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                event = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                replay.events.append({"path": self.path, "event": event})
                index = min(len(replay.events), len(replay.answers)) - 1
                answer = replay.answers[index]
                if "body" in answer:
                    body = dict(answer["body"])
                    if "dedup_key" in body and event.get("dedup_key"):
                        body["dedup_key"] = event["dedup_key"]  # PagerDuty echoes it
                    data = json.dumps(body).encode()
                else:
                    data = answer["body_text"].encode()
                self.send_response(answer["status"])
                for name, value in answer["headers"].items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v2/enqueue"

    def __enter__(self) -> PagerDutyReplay:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def pagerduty(endpoint: str, sleeps: Sleeps | None = None, retries: int = 3) -> PagerDutyNotifier:
    return PagerDutyNotifier(
        "${PD_ROUTING_KEY}",
        endpoint=endpoint,
        environ={"PD_ROUTING_KEY": ROUTING_KEY},
        policy=fast(retries),
        sleep=sleeps if sleeps is not None else Sleeps(),
    )


def test_pagerduty_trigger_is_accepted(message: Notification) -> None:
    with PagerDutyReplay("accepted") as replay:
        delivery = pagerduty(replay.endpoint).send(message)

    assert delivery == Delivery(
        "pagerduty",
        True,
        1,
        202,
        "Event processed (dedup_key sreworkbook:prod:health_inspection)",
    )
    (request,) = replay.events
    assert request["path"] == "/v2/enqueue"
    event = request["event"]
    assert event["routing_key"] == ROUTING_KEY
    assert event["event_action"] == "trigger"
    assert event["dedup_key"] == "sreworkbook:prod:health_inspection"
    payload = event["payload"]
    assert payload["summary"] == (
        "CRIT: health_inspection on prod — Error rate 7.2 % over 5 min on /api/trades"
    )
    assert payload["source"] == "prod"
    assert payload["severity"] == "critical"
    assert payload["component"] == "health_inspection" and payload["group"] == "prod"
    assert payload["timestamp"] == "2024-05-01T06:01:12+00:00"
    assert payload["custom_details"]["metrics"] == {
        "error_rate": "0.0724",
        "p95_ms": "2,412.5",
        "requests": "182,340",
    }
    assert event["links"] == [{"href": REPORT_URL, "text": "Run report"}]
    assert event["client_url"] == REPORT_URL


def test_pagerduty_resolve_closes_the_same_dedup_key() -> None:
    resolved = Notification.from_summary(summary(Status.OK), REPORT_URL)
    with PagerDutyReplay("accepted") as replay:
        delivery = pagerduty(replay.endpoint).send(resolved)
    assert delivery.ok
    assert replay.events[0]["event"] == {
        "routing_key": ROUTING_KEY,
        "event_action": "resolve",
        "dedup_key": "sreworkbook:prod:health_inspection",
    }


def test_pagerduty_invalid_event_is_final_and_hides_the_key(message: Notification) -> None:
    sleeps = Sleeps()
    with PagerDutyReplay("invalid_event") as replay:
        delivery = pagerduty(replay.endpoint, sleeps).send(message)
    assert not delivery.ok and delivery.attempts == 1 and delivery.status_code == 400
    assert delivery.detail == (
        "HTTP 400: invalid event: Event object is invalid "
        "(Length of 'routing_key' is incorrect (should be 32 characters))"
    )
    assert sleeps == [] and len(replay.events) == 1
    assert ROUTING_KEY not in delivery.detail


def test_pagerduty_rate_limit_then_accepted(message: Notification) -> None:
    sleeps = Sleeps()
    with PagerDutyReplay("rate_limited", "accepted") as replay:
        delivery = pagerduty(replay.endpoint, sleeps).send(message)
    assert delivery.ok and delivery.attempts == 2 and delivery.status_code == 202
    assert sleeps == [1.0]  # no Retry-After from PagerDuty: our backoff
    assert len(replay.events) == 2


def test_pagerduty_rate_limit_that_lasts(message: Notification) -> None:
    sleeps = Sleeps()
    with PagerDutyReplay("rate_limited") as replay:
        delivery = pagerduty(replay.endpoint, sleeps, retries=2).send(message)
    assert not delivery.ok and delivery.attempts == 3 and delivery.status_code == 429
    assert delivery.detail == "HTTP 429: Request Limit Exceeded; gave up after 3 attempts"
    assert sleeps == [1.0, 2.0] and len(replay.events) == 3


def test_pagerduty_resolve_needs_a_dedup_key() -> None:
    bare = Notification("t", Status.OK, "fine", resolved=True)
    delivery = pagerduty("http://127.0.0.1:9/v2/enqueue").send(bare)
    assert not delivery.ok and delivery.attempts == 0
    assert "dedup_key" in delivery.detail


def test_pagerduty_event_defaults() -> None:
    event = pagerduty_event(Notification("t", Status.UNKNOWN, "?"), "key")
    assert event["payload"]["severity"] == "error"
    assert "dedup_key" not in event and "links" not in event
    assert PagerDutyNotifier("key").endpoint == PAGERDUTY_EVENTS_URL


# --------------------------------------------------------------------------------- webhook


def test_webhook_posts_the_summary(slack: SlackReceiver, message: Notification) -> None:
    delivery = WebhookNotifier(slack.url).send(message)
    assert delivery.ok
    body = slack.received()[0].body
    assert body == json.loads(json.dumps(webhook_payload(message)))
    assert body["version"] == 1 and body["status"] == "CRIT" and body["severity"] == "critical"
    assert body["run"]["run_id"] == "20240501T0600-ab12"
    assert "parameters" not in body["run"]


# ------------------------------------------------------------------------ wiring and fan-out


def test_notifiers_for_builds_without_resolving() -> None:
    config = NotificationsConfig.model_validate(
        {
            "slack": {"webhook_url": "${SLACK_WEBHOOK_URL}", "channel": "#tradeai-alerts"},
            "email": {
                "smtp_host": "smtp.example.com",
                "smtp_port": 465,
                "from_addr": "workbook@example.com",
                "to": ["team@example.com"],
                "password": "${SMTP_PASSWORD}",
                "username": "workbook",
            },
            "pagerduty": {"routing_key": "${PD_ROUTING_KEY}"},
            "webhook": {"url": "${WEBHOOK_URL}"},
        }
    )
    notifiers = notifiers_for(config, environ={})
    assert [type(n) for n in notifiers] == [
        SlackNotifier,
        EmailNotifier,
        PagerDutyNotifier,
        WebhookNotifier,
    ]
    assert [n.name for n in notifiers] == ["slack", "email", "pagerduty", "webhook"]
    assert all(isinstance(n, Notifier) for n in notifiers)
    email = notifiers[1]
    assert isinstance(email, EmailNotifier)
    assert email.implicit_tls and not email.starttls
    assert notifiers_for(NotificationsConfig(), environ={}) == []


class Exploding:
    name = "exploding"

    def send(self, message: Notification) -> Delivery:
        raise RuntimeError("token=abc123 leaked in a message")


def test_notify_all_keeps_order_and_never_raises(
    slack: SlackReceiver, message: Notification
) -> None:
    with SlackReceiver() as gone:
        down_url = gone.url
    notifiers: list[Notifier] = [
        SlackNotifier(down_url, policy=fast(retries=0)),
        Exploding(),
        WebhookNotifier(slack.url),
    ]
    down, exploded, webhook = notify_all(notifiers, message)
    assert (down.notifier, down.ok) == ("slack", False)
    assert exploded == Delivery("exploding", False, 1, None, "notifier raised RuntimeError")
    assert (webhook.notifier, webhook.ok) == ("webhook", True)
    assert notify_all([], message) == ()
    findings = delivery_findings((down, exploded, webhook))
    assert [(f.severity, f.title) for f in findings] == [
        (Status.WARN, "slack notification failed"),
        (Status.WARN, "exploding notification failed"),
    ]


def test_a_shared_session_is_used(slack: SlackReceiver, message: Notification) -> None:
    with requests.Session() as session:
        session.headers["X-Trace"] = "1"
        assert SlackNotifier(slack.url, session=session).send(message).ok
