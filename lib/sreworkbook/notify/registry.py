"""Which notifiers an environment has: one registry of channel kinds, and sending to them all.

The registry maps a channel's name in ``notifications:`` (``slack``, ``email``, ``pagerduty``,
``webhook``) to a factory building its notifier from that section; :func:`default_registry`
holds the four the workbook ships, and another kind is one ``register`` away. Nothing is
resolved when building: each notifier resolves its ``${ENV}`` references when it sends.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import requests

from sreworkbook.config import NotificationsConfig
from sreworkbook.edges.retry import RetryPolicy
from sreworkbook.notify.message import Delivery, Notification, Notifier
from sreworkbook.notify.smtp import EmailNotifier, SMTPFactory, smtp_connection
from sreworkbook.notify.webhooks import (
    PAGERDUTY_EVENTS_URL,
    PagerDutyNotifier,
    SlackNotifier,
    WebhookNotifier,
)
from sreworkbook.registry import Registry
from sreworkbook.results import Finding

__all__ = [
    "ChannelOptions",
    "NotifierFactory",
    "NotifierRegistry",
    "default_registry",
    "delivery_findings",
    "notifiers_for",
    "notify_all",
]


@dataclass(frozen=True)
class ChannelOptions:
    """What every factory may use besides its section: the environment and test seams.

    SMTP port 465 means implicit TLS (SMTPS); otherwise ``starttls`` decides.
    ``pagerduty_endpoint`` is PagerDuty's events URL when the section sets no ``events_url``.
    """

    environ: Mapping[str, str] = field(default_factory=dict)
    session: requests.Session | None = None
    sleep: Callable[[float], None] = time.sleep
    smtp_factory: SMTPFactory = smtp_connection
    tls_context: ssl.SSLContext | None = None
    policy: RetryPolicy | None = None
    pagerduty_endpoint: str = PAGERDUTY_EVENTS_URL


#: Builds one notifier from its ``notifications:`` section.
NotifierFactory = Callable[[Any, ChannelOptions], Notifier]


class NotifierRegistry(Registry[NotifierFactory]):
    """Channel kinds by name, in the order they were registered (the order of sending)."""

    def __init__(self) -> None:
        super().__init__("notification channel", key="notifications")

    def build(self, config: NotificationsConfig, options: ChannelOptions) -> list[Notifier]:
        """A notifier for every channel ``config`` sets, in the registry's order."""
        sections = {name: getattr(config, name) for name in type(config).model_fields}
        for name, section in sections.items():
            if section is not None:
                self.get(name)  # a configured channel nobody can build is an error
        return [
            self.get(name)(sections[name], options)
            for name in self.names
            if sections.get(name) is not None
        ]


def _common(o: ChannelOptions) -> dict[str, Any]:
    """What every notifier takes from the options."""
    return {"environ": o.environ, "policy": o.policy, "sleep": o.sleep}


def _slack(section: Any, o: ChannelOptions) -> Notifier:
    return SlackNotifier(
        section.webhook_url, channel=section.channel, session=o.session, **_common(o)
    )


def _email(section: Any, o: ChannelOptions) -> Notifier:
    implicit = section.smtp_port == 465
    return EmailNotifier(
        section.smtp_host,
        section.from_addr,
        section.to,
        smtp_port=section.smtp_port,
        username=section.username,
        password=section.password,
        starttls=section.starttls and not implicit,
        implicit_tls=implicit,
        tls_context=o.tls_context,
        smtp_factory=o.smtp_factory,
        **_common(o),
    )


def _pagerduty(section: Any, o: ChannelOptions) -> Notifier:
    endpoint = section.events_url or o.pagerduty_endpoint
    return PagerDutyNotifier(
        section.routing_key, endpoint=endpoint, session=o.session, **_common(o)
    )


def _webhook(section: Any, o: ChannelOptions) -> Notifier:
    return WebhookNotifier(section.url, session=o.session, **_common(o))


def default_registry() -> NotifierRegistry:
    """Slack, e-mail, PagerDuty and webhooks, in that order."""
    registry = NotifierRegistry()
    registry.register("slack", _slack)
    registry.register("email", _email)
    registry.register("pagerduty", _pagerduty)
    registry.register("webhook", _webhook)
    return registry


def notifiers_for(
    config: NotificationsConfig,
    environ: Mapping[str, str],
    *,
    registry: NotifierRegistry | None = None,
    **options: Any,
) -> list[Notifier]:
    """The notifiers an environment configures (``options``: see :class:`ChannelOptions`)."""
    return (registry or default_registry()).build(
        config, ChannelOptions(environ=environ, **options)
    )


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
