"""The e-mail notifier against a real local SMTP sink (aiosmtpd): STARTTLS, implicit TLS,
login, attachments, and which failures are retried."""

from __future__ import annotations

import socket
import time
from pathlib import Path
from typing import Any

from sreworkbook.edges.retry import RetryPolicy
from sreworkbook.notify import EmailNotifier, Notification, email_message
from sreworkbook.sandbox.receivers import SMTPSink
from support.tls import make_certificate

from .conftest import REPORT_URL, Sleeps, fast, summary

# ---------------------------------------------------------------------------------- e-mail


def mailer(port: int, **options: Any) -> EmailNotifier:
    """An e-mail notifier from workbook@ to team@ through the sink on ``port``."""
    options.setdefault("policy", fast())
    return EmailNotifier(
        "127.0.0.1", "workbook@example.com", ["team@example.com"], smtp_port=port, **options
    )


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
    notifier = mailer(
        sink.port,
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


def test_email_starttls_and_login(tmp_path: Path, message: Notification) -> None:
    cert = make_certificate(tmp_path, days=1, name="smtp")
    server_tls, client_tls = cert.server_context(), cert.client_context()
    with SMTPSink(
        tls_context=server_tls, require_starttls=True, credentials={"alerts": "pa55-w0rd!"}
    ) as sink:
        port = sink.port
        notifier = mailer(
            sink.port,
            username="alerts",
            password="${SMTP_PASSWORD}",
            tls_context=client_tls,
            environ={"SMTP_PASSWORD": "pa55-w0rd!"},
        )
        assert notifier.send(message).ok
        (mail,) = sink.received()
        assert mail.tls and mail.login == "alerts"
        plain = mailer(
            port,
            starttls=False,  # the sink demands it: the refusal is final, not retried
            sleep=Sleeps(),
        ).send(message)
        assert not plain.ok and plain.attempts == 1 and plain.status_code == 530
        assert plain.detail.endswith("answered 530 Must issue a STARTTLS command first")

        wrong = mailer(
            sink.port,
            username="alerts",
            password="not-the-pa55",
            tls_context=client_tls,
            sleep=Sleeps(),
        ).send(message)
    assert not wrong.ok and wrong.attempts == 1 and wrong.status_code == 535
    assert wrong.detail.startswith(f"login refused by 127.0.0.1:{port}: 535")
    assert "not-the-pa55" not in wrong.detail


def test_email_implicit_tls(tmp_path: Path, message: Notification) -> None:
    cert = make_certificate(tmp_path, days=1, name="smtp")
    server_tls = cert.server_context()
    with SMTPSink(tls_context=server_tls, implicit_tls=True) as sink:
        delivery = mailer(
            sink.port,
            implicit_tls=True,
            tls_context=cert.client_context(),
        ).send(message)
        assert delivery.ok
        (mail,) = sink.received()
        assert mail.tls

        untrusted = mailer(
            sink.port,
            implicit_tls=True,
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
    delivery = mailer(
        sink.port,
        starttls=False,
        username="alerts",
        password="pw",
        sleep=Sleeps(),
    ).send(message)
    assert not delivery.ok and delivery.attempts == 1
    assert delivery.detail == (
        f"127.0.0.1:{sink.port}: SMTP AUTH extension not supported by server."
    )


def test_email_retries_a_4xx_reply(sink: SMTPSink, message: Notification) -> None:
    sleeps = Sleeps()
    sink.fail_next(1, 451)
    delivery = mailer(
        sink.port,
        starttls=False,
        sleep=sleeps,
    ).send(message)
    assert delivery.ok and delivery.attempts == 2 and sleeps == [1.0]
    assert len(sink.received()) == 1


def test_email_server_down_is_a_failed_delivery(message: Notification) -> None:
    with SMTPSink() as sink:
        port = sink.port
    sleeps = Sleeps()
    delivery = mailer(
        port,
        starttls=False,
        policy=fast(retries=1),
        sleep=sleeps,
    ).send(message)
    assert not delivery.ok and delivery.attempts == 2 and sleeps == [1.0]
    assert delivery.detail == (
        f"cannot connect to 127.0.0.1:{port} (ConnectionRefusedError); gave up after 2 attempts"
    )


def test_a_server_that_never_answers_costs_one_send_deadline(message: Notification) -> None:
    # A server taking the connection and never greeting (a hung MTA, a black-holing proxy):
    # timeouts are retried, but within the send's deadline, not four full timeouts.
    policy = RetryPolicy(timeout_s=2.0, retries=3, backoff_s=0.2, jitter=0.0, deadline_s=3.0)
    with socket.create_server(("127.0.0.1", 0)) as silent:
        began = time.monotonic()
        delivery = mailer(silent.getsockname()[1], starttls=False, policy=policy).send(message)
        took = time.monotonic() - began
    assert not delivery.ok and delivery.attempts == 2  # 2 s, then the 0.8 s left after 0.2 s
    assert 2.5 < took < 3.5
    assert "no answer from 127.0.0.1:" in delivery.detail
    assert delivery.detail.endswith("gave up after 2 attempts")


def test_email_message_is_built_without_a_server(message: Notification) -> None:
    mail, note = email_message(message, "workbook@example.com", ["a@example.com"])
    assert note == "no local report to attach"
    assert mail["Message-ID"].endswith("@example.com>")
    assert mail.get_content_type() == "multipart/alternative"
