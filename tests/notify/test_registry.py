"""The registry of channel kinds, building an environment's notifiers, and sending to all."""

from __future__ import annotations

import pytest
import requests

from sreworkbook.config import NotificationsConfig
from sreworkbook.exceptions import ParameterError
from sreworkbook.notify import (
    ChannelOptions,
    Delivery,
    EmailNotifier,
    Notification,
    Notifier,
    NotifierRegistry,
    PagerDutyNotifier,
    SlackNotifier,
    WebhookNotifier,
    default_registry,
    delivery_findings,
    notifiers_for,
    notify_all,
)
from sreworkbook.results import Status
from sreworkbook.sandbox.receivers import SlackReceiver
from support.http import Route, canned_server

from .conftest import fast

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


def test_a_shared_session_is_used(message: Notification) -> None:
    with canned_server({"/hook": Route(body="ok", content_type="text/plain")}) as server:
        with requests.Session() as session:
            session.headers["X-Trace"] = "shared-7"
            assert SlackNotifier(server.url + "/hook", session=session).send(message).ok
            assert WebhookNotifier(server.url + "/hook", session=session).send(message).ok
        assert SlackNotifier(server.url + "/hook").send(message).ok  # a session of its own
    assert [r.header("X-Trace") for r in server.seen] == ["shared-7", "shared-7", ""]


def test_the_registry_builds_what_it_knows_and_names_it_when_not() -> None:
    registry = NotifierRegistry()
    assert registry.names == ()
    config = NotificationsConfig.model_validate({"webhook": {"url": "http://127.0.0.1:9/x"}})
    with pytest.raises(ParameterError, match="unknown notification channel 'webhook'.*none"):
        registry.build(config, ChannelOptions())
    registry.register("webhook", default_registry().get("webhook"))
    (built,) = registry.build(config, ChannelOptions())
    assert isinstance(built, WebhookNotifier)
    with pytest.raises(ParameterError, match="did you mean one of: webhook"):
        registry.get("teams")
    assert default_registry().names == ("slack", "email", "pagerduty", "webhook")


def test_pagerduty_events_go_where_the_section_says(message: Notification) -> None:
    """``events_url`` (the EU region, the sandbox's local receiver) wins over PagerDuty's own."""
    with canned_server({"/v2/enqueue": Route(status=202, body='{"status": "success"}')}) as server:
        config = NotificationsConfig.model_validate(
            {"pagerduty": {"routing_key": "rk-1", "events_url": server.url + "/v2/enqueue"}}
        )
        (notifier,) = notifiers_for(config, environ={})
        assert isinstance(notifier, PagerDutyNotifier)
        assert notifier.send(message).ok
    assert [r.path for r in server.seen] == ["/v2/enqueue"]
    default = NotificationsConfig.model_validate({"pagerduty": {"routing_key": "rk-1"}})
    (notifier,) = notifiers_for(default, environ={})
    assert isinstance(notifier, PagerDutyNotifier)
    assert notifier.endpoint == "https://events.pagerduty.com/v2/enqueue"
