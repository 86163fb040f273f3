"""Slack, PagerDuty and webhook notifiers against real local servers: the Slack-compatible
receiver, and a replay of recorded PagerDuty answers (PagerDuty itself is never called)."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sreworkbook.notify import (
    PAGERDUTY_EVENTS_URL,
    Delivery,
    Notification,
    PagerDutyNotifier,
    RetryPolicy,
    SlackNotifier,
    WebhookNotifier,
    pagerduty_event,
    slack_payload,
    webhook_payload,
)
from sreworkbook.results import Status
from sreworkbook.sandbox.receivers import SlackReceiver
from support.http import CannedServer, Request, Route, canned_server

from .conftest import REPORT_URL, ROUTING_KEY, SECRET_PATH, Sleeps, fast, summary

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "pagerduty"


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


# ------------------------------------------------------------------------------- PagerDuty


def _replayed(answer: dict[str, Any]) -> Route:
    def body(request: Request) -> Any:
        if "body" not in answer:
            return answer["body_text"]
        said = dict(answer["body"])
        event = request.json()
        if "dedup_key" in said and event.get("dedup_key"):
            said["dedup_key"] = event["dedup_key"]  # PagerDuty echoes it
        return said

    return Route(answer["status"], body, headers=dict(answer["headers"]))


@contextmanager
def pagerduty_replay(*names: str) -> Iterator[CannedServer]:
    """Recorded PagerDuty answers in order (the last one repeats); the events in ``seen``."""
    answers = [json.loads((FIXTURES / f"{n}.json").read_text()) for n in names]
    with canned_server() as server:
        server.then(*(_replayed(a) for a in answers[:-1]))
        server.on(lambda request: True, _replayed(answers[-1]))
        yield server


def endpoint(server: CannedServer) -> str:
    return f"{server.url}/v2/enqueue"


def pagerduty(endpoint: str, sleeps: Sleeps | None = None, retries: int = 3) -> PagerDutyNotifier:
    return PagerDutyNotifier(
        "${PD_ROUTING_KEY}",
        endpoint=endpoint,
        environ={"PD_ROUTING_KEY": ROUTING_KEY},
        policy=fast(retries),
        sleep=sleeps if sleeps is not None else Sleeps(),
    )


def test_pagerduty_trigger_is_accepted(message: Notification) -> None:
    with pagerduty_replay("accepted") as replay:
        delivery = pagerduty(endpoint(replay)).send(message)

    assert delivery == Delivery(
        "pagerduty",
        True,
        1,
        202,
        "Event processed (dedup_key sreworkbook:prod:health_inspection)",
    )
    (request,) = replay.seen
    assert request.path == "/v2/enqueue"
    event = request.json()
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
    with pagerduty_replay("accepted") as replay:
        delivery = pagerduty(endpoint(replay)).send(resolved)
    assert delivery.ok
    assert replay.seen[0].json() == {
        "routing_key": ROUTING_KEY,
        "event_action": "resolve",
        "dedup_key": "sreworkbook:prod:health_inspection",
    }


def test_pagerduty_invalid_event_is_final_and_hides_the_key(message: Notification) -> None:
    sleeps = Sleeps()
    with pagerduty_replay("invalid_event") as replay:
        delivery = pagerduty(endpoint(replay), sleeps).send(message)
    assert not delivery.ok and delivery.attempts == 1 and delivery.status_code == 400
    assert delivery.detail == (
        "HTTP 400: invalid event: Event object is invalid "
        "(Length of 'routing_key' is incorrect (should be 32 characters))"
    )
    assert sleeps == [] and len(replay.seen) == 1
    assert ROUTING_KEY not in delivery.detail


def test_pagerduty_rate_limit_then_accepted(message: Notification) -> None:
    sleeps = Sleeps()
    with pagerduty_replay("rate_limited", "accepted") as replay:
        delivery = pagerduty(endpoint(replay), sleeps).send(message)
    assert delivery.ok and delivery.attempts == 2 and delivery.status_code == 202
    assert sleeps == [1.0]  # no Retry-After from PagerDuty: our backoff
    assert len(replay.seen) == 2


def test_pagerduty_rate_limit_that_lasts(message: Notification) -> None:
    sleeps = Sleeps()
    with pagerduty_replay("rate_limited") as replay:
        delivery = pagerduty(endpoint(replay), sleeps, retries=2).send(message)
    assert not delivery.ok and delivery.attempts == 3 and delivery.status_code == 429
    assert delivery.detail == "HTTP 429: Request Limit Exceeded; gave up after 3 attempts"
    assert sleeps == [1.0, 2.0] and len(replay.seen) == 3


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
