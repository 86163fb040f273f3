"""HTTP notifiers: Slack incoming webhook, PagerDuty Events API v2, and a generic JSON webhook.

Each renders a :class:`~sreworkbook.notify.message.Notification` with a pure function
(:func:`slack_payload`, :func:`pagerduty_event`, :func:`webhook_payload`) and posts it through
the HTTP edge (:class:`~sreworkbook.edges.http.HttpEdge`: timeout, retries, ``Retry-After``).
Secrets (``${ENV}`` references) are resolved inside ``send``; a missing one is a failed
delivery naming the variable, never its value.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Mapping
from typing import Any

import requests

from sreworkbook.edges.http import HttpEdge, Reply
from sreworkbook.edges.retry import RetryPolicy
from sreworkbook.exceptions import SecretError, SourceError
from sreworkbook.notify.message import (
    NOTIFY_POLICY,
    Delivery,
    Notification,
    masked_target,
    resolve_failure,
    scrubber_for,
    severity_of,
)
from sreworkbook.results import Status
from sreworkbook.secrets import resolve

__all__ = [
    "PAGERDUTY_EVENTS_URL",
    "USER_AGENT",
    "PagerDutyNotifier",
    "SlackNotifier",
    "WebhookNotifier",
    "pagerduty_event",
    "slack_payload",
    "webhook_payload",
]

PAGERDUTY_EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"
USER_AGENT = "sreworkbook-notify/1"

_EMOJI = {
    Status.OK: ":white_check_mark:",
    Status.WARN: ":warning:",
    Status.CRIT: ":red_circle:",
    Status.UNKNOWN: ":grey_question:",
    Status.SKIPPED: ":fast_forward:",
    Status.ERROR: ":x:",
    Status.TIMEOUT: ":hourglass:",
    Status.ABORTED: ":skull:",
}
_SLACK_MAX_FIELDS = 10  # Block Kit: at most 10 fields in a section


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _mrkdwn(text: str) -> str:
    """``text`` safe inside Slack mrkdwn: the three control characters escaped."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _is_web_url(url: str) -> bool:
    return url.startswith(("http://", "https://"))


def slack_payload(message: Notification, *, channel: str | None = None) -> dict[str, Any]:
    """An incoming-webhook body: ``text`` fallback, Block Kit blocks, a status-coloured bar.

    The header and the status line are top-level ``blocks``; the key metrics, the findings, the
    report button and the context line sit in one attachment whose ``color`` is the status
    colour (green when resolved). A report URL that is not http(s) is shown as text, since
    Slack rejects a button with any other URL.
    """
    label = message.label
    emoji = ":large_green_circle:" if message.resolved else _EMOJI[message.status]
    colour = Status.OK.colour if message.resolved else message.status.colour
    fallback = f"{label}: {message.title} — {message.headline}"
    if message.report_url:
        fallback += f" ({message.report_url})"
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {
                "type": "plain_text",
                "text": _cut(f"{label} · {message.title or 'SRE Workbook'}", 150),
                "emoji": True,
            },
        },
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": _cut(f"{emoji} *{label}* — {_mrkdwn(message.headline)}", 3000),
            },
        },
    ]
    detail: list[dict[str, Any]] = []
    if message.fields:
        detail.append(
            {
                "type": "section",
                "fields": [
                    {"type": "mrkdwn", "text": _cut(f"*{_mrkdwn(name)}*\n{_mrkdwn(value)}", 2000)}
                    for name, value in message.fields[:_SLACK_MAX_FIELDS]
                ],
            }
        )
    if message.summary:
        detail.append(
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": _cut(_mrkdwn(message.summary), 3000)},
            }
        )
    if _is_web_url(message.report_url) and len(message.report_url) <= 3000:
        detail.append(
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "action_id": "open_report",
                        "text": {"type": "plain_text", "text": "Open the report"},
                        "url": message.report_url,
                    }
                ],
            }
        )
    elif message.report_url:
        detail.append(
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": _cut(f"Report: {_mrkdwn(message.report_url)}", 3000),
                },
            }
        )
    context = " · ".join(part for part in (message.source, message.dedup_key) if part)
    if context:
        detail.append(
            {"type": "context", "elements": [{"type": "mrkdwn", "text": _mrkdwn(context)}]}
        )
    payload: dict[str, Any] = {
        "text": fallback,
        "blocks": blocks,
        "attachments": [{"color": colour, "fallback": fallback, "blocks": detail}],
    }
    if channel:
        payload["channel"] = channel
    return payload


def pagerduty_event(
    message: Notification, routing_key: str, *, client: str = "SRE Workbook"
) -> dict[str, Any]:
    """An Events API v2 event: ``trigger`` (summary, source, severity, details, links) or ``resolve``."""
    if message.resolved:
        return {
            "routing_key": routing_key,
            "event_action": "resolve",
            "dedup_key": message.dedup_key,
        }
    details = message.details
    payload: dict[str, Any] = {
        "summary": _cut(f"{message.label}: {message.title} — {message.headline}", 1024),
        "source": message.source or "sreworkbook",
        "severity": severity_of(message.status),
        "class": "sreworkbook run",
        "custom_details": {
            "status": message.status.value,
            "headline": message.headline,
            "findings": message.summary,
            "metrics": dict(message.fields),
            "report_url": message.report_url,
        },
    }
    for key, name in (("component", "notebook"), ("group", "env"), ("timestamp", "finished_at")):
        if details.get(name):
            payload[key] = str(details[name])
    event: dict[str, Any] = {
        "routing_key": routing_key,
        "event_action": "trigger",
        "payload": payload,
        "client": client,
    }
    if message.dedup_key:
        event["dedup_key"] = message.dedup_key[:255]
    if _is_web_url(message.report_url):
        event["client_url"] = message.report_url
        event["links"] = [{"href": message.report_url, "text": "Run report"}]
    return event


def webhook_payload(message: Notification) -> dict[str, Any]:
    """The generic webhook body: the notification and the run summary it came from."""
    return {"version": 1, **message.to_dict()}


#: Decides a final (non-retried) answer: (delivered?, what to say).
Judge = Callable[[Reply], tuple[bool, str]]


def judge_2xx(reply: Reply) -> tuple[bool, str]:
    """Any 2xx is delivered; otherwise not. The status and the start of the body, either way."""
    body = reply.snippet()
    return reply.ok, f"HTTP {reply.status}" + (f": {body}" if body else "")


def _judge_pagerduty(reply: Reply) -> tuple[bool, str]:
    body = reply.json_object()
    if not isinstance(body, dict):
        return judge_2xx(reply)
    if reply.ok:
        key = body.get("dedup_key")
        said = str(body.get("message") or body.get("status") or "accepted")
        return True, said + (f" (dedup_key {key})" if key else "")
    errors = body.get("errors")
    problems = "; ".join(str(e) for e in errors) if isinstance(errors, list) else ""
    said = ": ".join(str(body[k]) for k in ("status", "message") if body.get(k))
    text = f"HTTP {reply.status}" + (f": {said}" if said else "")
    return False, text + (f" ({problems})" if problems else "")


class _HttpNotifier:
    """Shared plumbing: a secret URL or key resolved at send time, posted through the edge."""

    name: str

    def __init__(
        self,
        *,
        name: str,
        environ: Mapping[str, str] | None = None,
        policy: RetryPolicy | None = None,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        draw: Callable[[], float] = random.random,
    ) -> None:
        """``environ`` resolves the references; ``policy``: retries and timeouts (default:
        :data:`~sreworkbook.notify.message.NOTIFY_POLICY`); without a ``session`` each send
        opens its own; ``sleep`` and ``draw`` are for tests."""
        self.name = name
        self._environ: Mapping[str, str] = environ if environ is not None else {}
        self.policy = policy or NOTIFY_POLICY
        self._session = session
        self._sleep = sleep
        self._draw = draw

    def _resolve(self, value: str, key: str) -> str:
        return resolve(value, self._environ, key=key)

    def _post(
        self,
        url: str,
        payload: Mapping[str, Any],
        secrets: list[str | None],
        judge: Judge = judge_2xx,
    ) -> Delivery:
        """POST ``payload`` as JSON; the outcome as a :class:`Delivery`, never raising."""
        scrubber = scrubber_for(secrets)
        edge = HttpEdge(
            self.name, session=self._session, policy=self.policy, sleep=self._sleep, draw=self._draw
        )
        body = json.dumps(payload, default=str, ensure_ascii=False).encode("utf-8")
        headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT}
        try:
            reply = edge.post(url, data=body, headers=headers)
        except SourceError as exc:
            detail = scrubber.scrub(exc.detail)
            return Delivery(self.name, False, exc.attempts or 0, exc.status, detail, exc.waited_s)
        ok, detail = judge(reply)
        return Delivery(
            self.name, ok, reply.attempts, reply.status, scrubber.scrub(detail), reply.waited_s
        )


class SlackNotifier(_HttpNotifier):
    """Posts to a Slack incoming webhook (or anything that speaks its protocol)."""

    def __init__(
        self,
        webhook_url: str,
        *,
        channel: str | None = None,
        name: str = "slack",
        **options: Any,
    ) -> None:
        super().__init__(name=name, **options)
        self._webhook_url = webhook_url
        self.channel = channel

    def __repr__(self) -> str:
        return (
            f"SlackNotifier(name={self.name!r}, webhook_url={masked_target(self._webhook_url)!r})"
        )

    def send(self, message: Notification) -> Delivery:
        """Post ``message``; 429/5xx/connection errors are retried, anything else is final."""
        try:
            url = self._resolve(self._webhook_url, "notifications.slack.webhook_url")
        except SecretError as exc:
            return resolve_failure(self.name, str(exc))
        return self._post(url, slack_payload(message, channel=self.channel), [url])


class PagerDutyNotifier(_HttpNotifier):
    """Sends Events API v2 events: trigger while a job is failing, resolve once it is OK."""

    def __init__(
        self,
        routing_key: str,
        *,
        endpoint: str = PAGERDUTY_EVENTS_URL,
        client: str = "SRE Workbook",
        name: str = "pagerduty",
        **options: Any,
    ) -> None:
        super().__init__(name=name, **options)
        self._routing_key = routing_key
        self.endpoint = endpoint
        self.client = client

    def __repr__(self) -> str:
        return f"PagerDutyNotifier(name={self.name!r}, endpoint={self.endpoint!r})"

    def send(self, message: Notification) -> Delivery:
        """Enqueue one event; a 202 is delivered, a 400 (invalid event) is final."""
        if message.resolved and not message.dedup_key:
            return resolve_failure(self.name, "a resolve event needs the notification's dedup_key")
        try:
            key = self._resolve(self._routing_key, "notifications.pagerduty.routing_key")
        except SecretError as exc:
            return resolve_failure(self.name, str(exc))
        event = pagerduty_event(message, key, client=self.client)
        return self._post(self.endpoint, event, [key], _judge_pagerduty)


class WebhookNotifier(_HttpNotifier):
    """POSTs the notification and its run summary as JSON to any URL."""

    def __init__(
        self,
        url: str,
        *,
        name: str = "webhook",
        **options: Any,
    ) -> None:
        super().__init__(name=name, **options)
        self._url = url

    def __repr__(self) -> str:
        return f"WebhookNotifier(name={self.name!r}, url={masked_target(self._url)!r})"

    def send(self, message: Notification) -> Delivery:
        """Post :func:`webhook_payload`; any 2xx is delivered."""
        try:
            url = self._resolve(self._url, "notifications.webhook.url")
        except SecretError as exc:
            return resolve_failure(self.name, str(exc))
        return self._post(url, webhook_payload(message), [url])
