"""The e-mail notifier: SMTP (optional STARTTLS or implicit TLS, login), plain text + HTML.

The report is linked in both parts and attached when a local copy is given and smaller than
``max_attachment_bytes`` (5 MB). Transient SMTP failures (connection errors, timeouts, 4xx
replies) are retried with backoff; 5xx replies and TLS or login failures are final. A server
that does not offer STARTTLS when it was asked for is a failure, never a silent downgrade.
One send takes at most the policy's ``deadline_s`` (60 s by default) with its retries: a server
that takes the connection and never answers costs a scheduled job a minute, not four timeouts.
"""

from __future__ import annotations

import html
import mimetypes
import random
import smtplib
import ssl
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Protocol

from sreworkbook.edges.retry import MIN_TIMEOUT_S, Deadline, RetryPolicy
from sreworkbook.exceptions import SecretError
from sreworkbook.notify.message import (
    NOTIFY_POLICY,
    Delivery,
    Notification,
    resolve_failure,
    scrubber_for,
)
from sreworkbook.results import Status
from sreworkbook.secrets import Scrubber, resolve

__all__ = [
    "MAX_ATTACHMENT_BYTES",
    "EmailNotifier",
    "SMTPFactory",
    "email_message",
    "smtp_connection",
]

MAX_ATTACHMENT_BYTES = 5 * 1024 * 1024
#: How long one send may take, retries included, when the policy sets no ``deadline_s``.
SEND_DEADLINE_S = 60.0


class SMTPFactory(Protocol):
    """Opens an SMTP connection; ``tls_context`` set means implicit TLS (SMTPS, port 465)."""

    def __call__(
        self, host: str, port: int, *, timeout: float, tls_context: ssl.SSLContext | None
    ) -> smtplib.SMTP: ...


def smtp_connection(
    host: str, port: int, *, timeout: float, tls_context: ssl.SSLContext | None
) -> smtplib.SMTP:
    """The default :class:`SMTPFactory`: ``smtplib.SMTP``, or ``SMTP_SSL`` for implicit TLS."""
    if tls_context is not None:
        return smtplib.SMTP_SSL(host, port, timeout=timeout, context=tls_context)
    return smtplib.SMTP(host, port, timeout=timeout)


def _size(count: int) -> str:
    return f"{count / 1024 / 1024:.1f} MB" if count >= 1024 * 1024 else f"{count / 1024:.0f} KB"


def _text_body(message: Notification) -> str:
    lines = [f"{message.label}: {message.title}", "", message.headline, ""]
    if message.fields:
        width = max(len(name) for name, _ in message.fields)
        lines += [f"  {name.ljust(width)}  {value}" for name, value in message.fields] + [""]
    if message.summary:
        lines += [message.summary, ""]
    if message.report_url:
        lines += [f"Report: {message.report_url}", ""]
    if message.dedup_key:
        lines.append(f"-- {message.source} · {message.dedup_key}")
    return "\n".join(lines) + "\n"


def _html_body(message: Notification) -> str:
    esc = html.escape
    colour = Status.OK.colour if message.resolved else message.status.colour
    rows = "".join(
        f'<tr><td style="padding:2px 12px 2px 0;color:#57606a">{esc(name)}</td>'
        f'<td style="padding:2px 0;font-weight:600">{esc(value)}</td></tr>'
        for name, value in message.fields
    )
    summary = "<br>".join(esc(line) for line in message.summary.splitlines())
    link = (
        f'<p><a href="{esc(message.report_url, quote=True)}" style="background:{colour};'
        f'color:#fff;padding:6px 14px;border-radius:4px;text-decoration:none">'
        f"Open the report</a></p>"
        if message.report_url
        else ""
    )
    return (
        '<!DOCTYPE html><html><body style="font-family:system-ui,sans-serif;margin:0">'
        f'<div style="border-left:8px solid {colour};padding:8px 16px;background:#f6f8fa">'
        f'<p style="margin:4px 0"><span style="background:{colour};color:#fff;padding:2px 10px;'
        f'border-radius:4px;font-weight:700">{esc(message.label)}</span> '
        f"<b>{esc(message.title)}</b></p>"
        f'<p style="font-size:1.1em;margin:8px 0">{esc(message.headline)}</p>'
        f"{'<table>' + rows + '</table>' if rows else ''}"
        f"{'<p>' + summary + '</p>' if summary else ''}"
        f"{link}</div></body></html>"
    )


def email_message(
    message: Notification,
    from_addr: str,
    to: Sequence[str],
    *,
    max_attachment_bytes: int = MAX_ATTACHMENT_BYTES,
) -> tuple[EmailMessage, str]:
    """The e-mail for ``message`` and a note on the report attachment (attached, or why not)."""
    mail = EmailMessage()
    mail["Subject"] = f"[{message.label}] {message.title}: {message.headline}"
    mail["From"] = from_addr
    mail["To"] = ", ".join(to)
    mail["Date"] = formatdate(localtime=False, usegmt=True)
    domain = from_addr.rpartition("@")[2].strip("> ") or "sreworkbook.invalid"
    mail["Message-ID"] = make_msgid(domain=domain)
    if message.dedup_key:
        mail["X-SREWorkbook-Dedup-Key"] = message.dedup_key
    mail.set_content(_text_body(message))
    mail.add_alternative(_html_body(message), subtype="html")
    note = "no local report to attach"
    if message.report_path:
        path = Path(message.report_path)
        try:
            size = path.stat().st_size
            if size >= max_attachment_bytes:
                note = f"report not attached ({_size(size)}, limit {_size(max_attachment_bytes)})"
            else:
                kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
                maintype, _, subtype = kind.partition("/")
                mail.add_attachment(
                    path.read_bytes(), maintype=maintype, subtype=subtype, filename=path.name
                )
                note = f"report attached ({_size(size)})"
        except OSError as exc:
            note = f"report not attached ({type(exc).__name__}: {exc.strerror or 'unreadable'})"
    return mail, note


class _Final(Exception):
    """An SMTP failure that retrying will not fix."""

    def __init__(self, detail: str, code: int | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.code = code


class _Transient(_Final):
    """An SMTP failure worth retrying."""


def _reply(exc: smtplib.SMTPResponseException) -> str:
    text = (
        exc.smtp_error.decode("utf-8", "replace")
        if isinstance(exc.smtp_error, bytes)
        else str(exc.smtp_error)
    )
    return f"{exc.smtp_code} {' '.join(text.split())}"


def _hang_up(smtp: smtplib.SMTP, *, polite: bool) -> None:
    """Close the session; once the mail is accepted, trouble saying QUIT changes nothing."""
    if polite:
        try:
            smtp.quit()
            return
        except (smtplib.SMTPException, OSError):
            pass
    smtp.close()


class EmailNotifier:
    """Sends the notification as an e-mail through an SMTP server."""

    def __init__(
        self,
        smtp_host: str,
        from_addr: str,
        to: Sequence[str],
        *,
        smtp_port: int = 587,
        username: str | None = None,
        password: str | None = None,
        starttls: bool = True,
        implicit_tls: bool = False,
        tls_context: ssl.SSLContext | None = None,
        environ: Mapping[str, str] | None = None,
        name: str = "email",
        policy: RetryPolicy | None = None,
        smtp_factory: SMTPFactory = smtp_connection,
        sleep: Callable[[float], None] = time.sleep,
        draw: Callable[[], float] = random.random,
        max_attachment_bytes: int = MAX_ATTACHMENT_BYTES,
    ) -> None:
        self.name = name
        self.smtp_host = smtp_host
        self.smtp_port = smtp_port
        self.from_addr = from_addr
        self.to = tuple(to)
        self._username = username
        self._password = password
        self.starttls = starttls
        self.implicit_tls = implicit_tls
        self._tls_context = tls_context
        self._environ: Mapping[str, str] = environ if environ is not None else {}
        self.policy = policy or replace(NOTIFY_POLICY, timeout_s=30.0)
        self._factory = smtp_factory
        self._sleep = sleep
        self._draw = draw
        self.max_attachment_bytes = max_attachment_bytes

    def __repr__(self) -> str:
        return (
            f"EmailNotifier(name={self.name!r}, smtp={self.smtp_host}:{self.smtp_port}, "
            f"to={list(self.to)!r})"
        )

    def send(self, message: Notification) -> Delivery:
        """Build and send the e-mail, retrying transient failures; never raises."""
        try:
            host = resolve(self.smtp_host, self._environ, key="notifications.email.smtp_host")
            username = (
                resolve(self._username, self._environ, key="notifications.email.username")
                if self._username
                else None
            )
            password = (
                resolve(self._password, self._environ, key="notifications.email.password")
                if self._password
                else None
            )
        except SecretError as exc:
            return resolve_failure(self.name, str(exc))
        if not self.to:
            return resolve_failure(self.name, "no recipients")
        scrubber = scrubber_for([password])
        mail, note = email_message(
            message, self.from_addr, self.to, max_attachment_bytes=self.max_attachment_bytes
        )
        attempts, waited = 0, 0.0
        last: _Final | None = None
        deadline = Deadline.after(self.policy.deadline_s or SEND_DEADLINE_S)
        for attempt in range(self.policy.retries + 1):
            if attempt:
                wait = self.policy.backoff(attempt, self._draw())
                if wait + MIN_TIMEOUT_S >= deadline.remaining():
                    break  # no time left for another try
                self._sleep(wait)
                waited += wait
            attempts += 1
            timeout_s = max(MIN_TIMEOUT_S, min(self.policy.timeout_s, deadline.remaining()))
            try:
                refused = self._deliver(host, username, password, mail, timeout_s)
            except _Transient as exc:
                last = exc
                continue
            except _Final as exc:
                return self._failed(exc, attempts, waited, scrubber)
            where = f"{host}:{self.smtp_port}"
            accepted = len(self.to) - len(refused)
            detail = f"accepted by {where} for {accepted} recipient{'s' if accepted != 1 else ''}; {note}"
            if refused:
                detail += "; refused: " + ", ".join(
                    f"{addr} ({code})" for addr, (code, _text) in sorted(refused.items())
                )
            return Delivery(self.name, True, attempts, 250, scrubber.scrub(detail), waited)
        assert last is not None
        last = _Final(f"{last.detail}; gave up after {attempts} attempts", last.code)
        return self._failed(last, attempts, waited, scrubber)

    def _failed(self, exc: _Final, attempts: int, waited: float, scrubber: Scrubber) -> Delivery:
        return Delivery(self.name, False, attempts, exc.code, scrubber.scrub(exc.detail), waited)

    def _deliver(
        self,
        host: str,
        username: str | None,
        password: str | None,
        mail: EmailMessage,
        timeout_s: float,
    ) -> dict[str, tuple[int, bytes]]:
        """One SMTP session; failures mapped to :class:`_Transient` or :class:`_Final`."""
        where = f"{host}:{self.smtp_port}"
        wants_tls = self.implicit_tls or self.starttls
        context = (self._tls_context or ssl.create_default_context()) if wants_tls else None
        try:
            smtp = self._factory(
                host,
                self.smtp_port,
                timeout=timeout_s,
                tls_context=context if self.implicit_tls else None,
            )
            sent = False
            try:
                smtp.ehlo()
                if self.starttls and not self.implicit_tls:
                    if not smtp.has_extn("starttls"):
                        raise _Final(
                            f"{where} does not offer STARTTLS (set starttls: false only for a "
                            "trusted local relay)"
                        )
                    smtp.starttls(context=context)
                    smtp.ehlo()
                if username:
                    smtp.login(username, password or "")
                refused = smtp.send_message(mail, from_addr=self.from_addr, to_addrs=list(self.to))
                sent = True
                return refused
            finally:
                _hang_up(smtp, polite=sent)
        except _Final:
            raise
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            listed = ", ".join(f"{a} ({c})" for a, (c, _) in sorted(exc.recipients.items()))
            kind = _Transient if all(400 <= c < 500 for c in codes) else _Final
            raise kind(f"every recipient refused: {listed}", max(codes, default=None)) from None
        except smtplib.SMTPAuthenticationError as exc:
            raise _Final(f"login refused by {where}: {_reply(exc)}", exc.smtp_code) from None
        except smtplib.SMTPResponseException as exc:
            kind = _Transient if 400 <= exc.smtp_code < 500 or exc.smtp_code < 0 else _Final
            raise kind(f"{where} answered {_reply(exc)}", exc.smtp_code) from None
        except smtplib.SMTPServerDisconnected as exc:
            if isinstance(exc.__context__, TimeoutError):  # smtplib's words for a read timeout
                raise _Transient(f"no answer from {where} within {timeout_s:.3g} s") from None
            raise _Transient(f"{where} closed the connection") from None
        except smtplib.SMTPException as exc:  # smtplib's own words, e.g. no usable AUTH method
            raise _Final(f"{where}: {exc}") from None
        except ssl.SSLError as exc:
            reason = getattr(exc, "verify_message", None) or exc.reason or type(exc).__name__
            raise _Final(f"TLS with {where} failed: {reason}") from None
        except TimeoutError:
            raise _Transient(f"no answer from {where} within {timeout_s:.3g} s") from None
        except OSError as exc:  # refused, reset, unreachable (SMTPException is an OSError too)
            raise _Transient(f"cannot connect to {where} ({type(exc).__name__})") from None
