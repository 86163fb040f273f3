"""Telling people: Slack, e-mail, PagerDuty Events API v2 and webhooks, for alerts and runs alike.

Build a :class:`Notification` (``Notification.from_summary(summary, report_url)`` for a run),
get the configured notifiers with :func:`notifiers_for` and send with :func:`notify_all`::

    notifiers = notifiers_for(env.notifications, os.environ)
    deliveries = notify_all(notifiers, Notification.from_summary(summary, url))

Every notifier meets one :class:`Notifier` protocol (``send(message) -> Delivery``) and comes
from one :class:`NotifierRegistry`. HTTP channels go through the HTTP edge (timeout, retries
on 429, 5xx and connection errors with backoff, ``Retry-After`` up to 60 s); e-mail retries
4xx replies. A failed delivery is a :class:`Delivery` with ``ok=False``, never an exception,
and no secret appears in it: ``${ENV}`` references are resolved only inside ``send``.

- :mod:`~sreworkbook.notify.message` — Notification, Delivery, the Notifier protocol;
- :mod:`~sreworkbook.notify.webhooks` — Slack, PagerDuty, webhook; :mod:`~sreworkbook.notify.smtp`
  — e-mail;
- :mod:`~sreworkbook.notify.registry` — the registry, :func:`notifiers_for`, :func:`notify_all`;
- :mod:`~sreworkbook.notify.channels` — the channels of a scheduled run's environment.
"""

from sreworkbook.edges.retry import RetryPolicy
from sreworkbook.notify.channels import Channels, channels_of
from sreworkbook.notify.message import (
    NOTIFY_POLICY,
    Delivery,
    Notification,
    Notifier,
    format_value,
    severity_of,
)
from sreworkbook.notify.registry import (
    ChannelOptions,
    NotifierRegistry,
    default_registry,
    delivery_findings,
    notifiers_for,
    notify_all,
)
from sreworkbook.notify.smtp import (
    MAX_ATTACHMENT_BYTES,
    EmailNotifier,
    SMTPFactory,
    email_message,
    smtp_connection,
)
from sreworkbook.notify.webhooks import (
    PAGERDUTY_EVENTS_URL,
    PagerDutyNotifier,
    SlackNotifier,
    WebhookNotifier,
    pagerduty_event,
    slack_payload,
    webhook_payload,
)

__all__ = [
    "MAX_ATTACHMENT_BYTES",
    "NOTIFY_POLICY",
    "PAGERDUTY_EVENTS_URL",
    "ChannelOptions",
    "Channels",
    "Delivery",
    "EmailNotifier",
    "Notification",
    "Notifier",
    "NotifierRegistry",
    "PagerDutyNotifier",
    "RetryPolicy",
    "SMTPFactory",
    "SlackNotifier",
    "WebhookNotifier",
    "channels_of",
    "default_registry",
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
