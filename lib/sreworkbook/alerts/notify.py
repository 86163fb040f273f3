"""Notifications for runs and alerts: Slack, e-mail, PagerDuty Events API v2, generic webhook.

Build a :class:`Notification` (``Notification.from_summary(summary, report_url)`` for a run),
get the configured notifiers with :func:`notifiers_for` and send with :func:`notify_all`::

    notifiers = notifiers_for(env.notifications, os.environ)
    deliveries = notify_all(notifiers, Notification.from_summary(summary, url))

Every notifier has a timeout and retries 429 (honouring ``Retry-After``), 5xx and connection
errors with exponential backoff. A failed delivery is a :class:`Delivery` with ``ok=False``,
never an exception, and no secret appears in it: ``${ENV}`` references are resolved only
inside ``send``.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor

import requests

from sreworkbook.alerts.notify_base import (
    Delivery,
    Notification,
    Notifier,
    RetryPolicy,
    format_value,
    severity_of,
)
from sreworkbook.alerts.notify_email import (
    MAX_ATTACHMENT_BYTES,
    EmailNotifier,
    SMTPFactory,
    email_message,
    smtp_connection,
)
from sreworkbook.alerts.notify_http import (
    PAGERDUTY_EVENTS_URL,
    PagerDutyNotifier,
    SlackNotifier,
    WebhookNotifier,
    pagerduty_event,
    slack_payload,
    webhook_payload,
)
from sreworkbook.config import NotificationsConfig
from sreworkbook.results import Finding

__all__ = [
    "MAX_ATTACHMENT_BYTES",
    "PAGERDUTY_EVENTS_URL",
    "Delivery",
    "EmailNotifier",
    "Notification",
    "Notifier",
    "PagerDutyNotifier",
    "RetryPolicy",
    "SMTPFactory",
    "SlackNotifier",
    "WebhookNotifier",
    "delivery_findings",
    "email_message",
    "format_value",
    "notifiers_for",
    "notify_all",
    "pagerduty_event",
    "severity_of",
    "slack_payload",
    "smtp_connection",
    "webhook_payload",
]


def notifiers_for(
    config: NotificationsConfig,
    environ: Mapping[str, str],
    *,
    session: requests.Session | None = None,
    sleep: Callable[[float], None] = time.sleep,
    smtp_factory: SMTPFactory = smtp_connection,
    tls_context: ssl.SSLContext | None = None,
    policy: RetryPolicy | None = None,
    pagerduty_endpoint: str = PAGERDUTY_EVENTS_URL,
) -> list[Notifier]:
    """The notifiers an environment configures, in the order Slack, e-mail, PagerDuty, webhook.

    Nothing is resolved here: each notifier resolves its ``${ENV}`` references from
    ``environ`` when it sends. SMTP port 465 means implicit TLS (SMTPS); otherwise
    ``starttls`` decides. ``pagerduty_endpoint`` is for tests and PagerDuty's EU region.
    """
    found: list[Notifier] = []
    if config.slack is not None:
        found.append(
            SlackNotifier(
                config.slack.webhook_url,
                channel=config.slack.channel,
                environ=environ,
                policy=policy,
                session=session,
                sleep=sleep,
            )
        )
    if config.email is not None:
        email = config.email
        implicit = email.smtp_port == 465
        found.append(
            EmailNotifier(
                email.smtp_host,
                email.from_addr,
                email.to,
                smtp_port=email.smtp_port,
                username=email.username,
                password=email.password,
                starttls=email.starttls and not implicit,
                implicit_tls=implicit,
                tls_context=tls_context,
                environ=environ,
                policy=policy,
                smtp_factory=smtp_factory,
                sleep=sleep,
            )
        )
    if config.pagerduty is not None:
        found.append(
            PagerDutyNotifier(
                config.pagerduty.routing_key,
                endpoint=pagerduty_endpoint,
                environ=environ,
                policy=policy,
                session=session,
                sleep=sleep,
            )
        )
    if config.webhook is not None:
        found.append(
            WebhookNotifier(
                config.webhook.url, environ=environ, policy=policy, session=session, sleep=sleep
            )
        )
    return found


def _send(notifier: Notifier, message: Notification) -> Delivery:
    try:
        return notifier.send(message)
    except Exception as exc:  # a third-party notifier broke its contract: still not our crash
        name = getattr(notifier, "name", type(notifier).__name__)
        return Delivery(str(name), False, 1, None, f"notifier raised {type(exc).__name__}")


def notify_all(notifiers: Sequence[Notifier], message: Notification) -> tuple[Delivery, ...]:
    """Send ``message`` through every notifier at once; the deliveries in the notifiers' order.

    One slow or failing channel neither delays nor stops the others, and nothing raises.
    """
    if not notifiers:
        return ()
    if len(notifiers) == 1:
        return (_send(notifiers[0], message),)
    with ThreadPoolExecutor(max_workers=len(notifiers), thread_name_prefix="notify") as pool:
        return tuple(pool.map(lambda n: _send(n, message), notifiers))


def delivery_findings(deliveries: Sequence[Delivery]) -> tuple[Finding, ...]:
    """A WARN finding per failed delivery, for the run summary (delivered ones say nothing)."""
    return tuple(d.to_finding() for d in deliveries if not d.ok)
